//! Clones from a database's page: "Restore to a point in time" (a new cluster at a second of the
//! recovery window, typed in UTC), and stopping, starting and deleting a clone, the first and
//! last after a confirmation page.

use super::detail::{Forms, RestoreForm, page};
use super::views::CloneView;
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::databases::archive_store::CloneRow;
use crate::databases::service::{DatabaseError, DatabaseService};
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::web::time::exact;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, NaiveDateTime, Utc};

/// The `datetime-local` input's value, read as UTC; blank is the end of the archive.
pub(super) fn parse_target(typed: &str) -> Result<Option<DateTime<Utc>>, String> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(None);
    }
    let bare = typed.trim_end_matches("UTC").trim_end_matches('Z').trim();
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(bare, format).ok())
        .map(|at| Some(at.and_utc()))
        .ok_or_else(|| format!("“{typed}” is not a date and time: enter one in UTC, like 2026-03-04T05:06:07."))
}

pub(super) async fn pitr_clone(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let mut restore = RestoreForm {
        target_time: form_value(&form, "target_time").unwrap_or_default().trim().to_owned(),
        new_name: form_value(&form, "new_name").unwrap_or_default().to_owned(),
        ..RestoreForm::default()
    };
    let target = match parse_target(&restore.target_time) {
        Ok(target) => target,
        Err(message) => {
            restore.errors = FieldErrors::single("target_time", message);
            return page(&user, &service, &path, None, Forms { restore, ..Forms::default() }).await;
        }
    };
    match service.pitr_clone(&user.workspace_id, &path, target, &restore.new_name, &Actor::web(&user)).await {
        Ok(clone) => {
            let to = target.map_or_else(|| "the end of the archive".to_owned(), |t| exact(t.naive_utc()));
            Flash::ok(format!("Restoring “{}” to {to}: it shows under Clones, running once it is ready.", clone.name))
                .set(&session);
            Ok(see_other(&format!("/databases/{path}")))
        }
        Err(DatabaseError::Invalid(errors)) => {
            restore.errors = errors;
            page(&user, &service, &path, None, Forms { restore, ..Forms::default() }).await
        }
        Err(DatabaseError::Refused(message)) => {
            restore.refused = message;
            page(&user, &service, &path, None, Forms { restore, ..Forms::default() }).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A clone of the workspace, or 404.
pub(super) async fn find_clone(service: &DatabaseService, workspace: &str, id: &str) -> Result<CloneRow, AppError> {
    service
        .clones(workspace, None)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| AppError::NotFound("Clone not found".into()))
}

pub(super) async fn start(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    set_running(user, &service, &path, true, &session).await
}

pub(super) async fn stop(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    set_running(user, &service, &path, false, &session).await
}

async fn set_running(
    user: CurrentUser,
    service: &DatabaseService,
    id: &str,
    run: bool,
    session: &Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let clone = find_clone(service, &user.workspace_id, id).await?;
    match service.set_clone_running(&user.workspace_id, id, run, &Actor::web(&user)).await {
        Ok(c) if run => Flash::ok(format!("Clone “{}” is running.", c.name)).set(session),
        Ok(c) => Flash::ok(format!("Clone “{}” is stopped; its data stays until it is deleted.", c.name)).set(session),
        Err(DatabaseError::Refused(message)) => Flash::error(message).set(session),
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&format!("/databases/{}", clone.database_id)))
}

pub(super) async fn delete(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let clone = find_clone(&service, &user.workspace_id, &path).await?;
    match service.delete_clone(&user.workspace_id, &path, &Actor::web(&user)).await {
        Ok(()) => Flash::ok(format!("Clone “{}” stopped and deleted with its data.", clone.name)).set(&session),
        Err(DatabaseError::Refused(message)) => Flash::error(message).set(&session),
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&format!("/databases/{}", clone.database_id)))
}

#[derive(Template)]
#[template(path = "databases/clone_confirm.html")]
struct ConfirmPage {
    layout: Layout,
    clone: CloneView,
    database_id: String,
    /// `stop` or `delete`.
    action: &'static str,
}

async fn confirm(user: CurrentUser, service: &DatabaseService, id: &str, action: &'static str) -> HttpResult {
    user.require_write()?;
    let clone = find_clone(service, &user.workspace_id, id).await?;
    let database_id = clone.database_id.clone();
    let url = service.clone_url(&clone).await;
    let layout = Layout::for_user(&user, "databases");
    render(StatusCode::OK, &ConfirmPage { layout, clone: CloneView::new(clone, url), database_id, action })
}

type HttpResult = Result<HttpResponse, AppError>;

pub(super) async fn confirm_stop(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
) -> HttpResult {
    confirm(user, &service, &path, "stop").await
}

pub(super) async fn confirm_delete(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
) -> HttpResult {
    confirm(user, &service, &path, "delete").await
}

#[cfg(test)]
mod tests {
    use super::parse_target;

    #[test]
    fn the_browser_s_local_time_is_read_as_utc() {
        let at = |s: &str| parse_target(s).map(|t| t.map(|t| t.to_rfc3339()));
        assert_eq!(at("2026-03-04T05:06:07"), Ok(Some("2026-03-04T05:06:07+00:00".into())));
        assert_eq!(at("2026-03-04T05:06"), Ok(Some("2026-03-04T05:06:00+00:00".into())));
        assert_eq!(at("2026-03-04 05:06:07 UTC"), Ok(Some("2026-03-04T05:06:07+00:00".into())));
        assert_eq!(at("  "), Ok(None), "blank: the end of the archive");
        assert!(at("yesterday").is_err_and(|m| m.contains("in UTC")));
    }
}
