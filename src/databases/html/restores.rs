//! Writing a database back from its page: "Restore in place" (the database itself to a second,
//! its name typed to confirm), "Restore as a clone" of one base backup (a form page of its own,
//! reached from the backup's row), and "Make this the database" on a running clone (a switch,
//! after a page that says what happens). The same service methods as the API's `pitr`,
//! `restore` and `switch`.

use super::clones::{find_clone, parse_target};
use super::detail::{Forms, RestoreForm, page};
use super::views::{BackupView, CloneView, DatabaseView};
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::databases::service::{DatabaseError, DatabaseService};
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::web::time::exact;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

type HttpResult = Result<HttpResponse, AppError>;

/// Field errors of `fields` stay next to them; any other (a clone's name taken) is the form's.
fn split(errors: FieldErrors, fields: &[&str], form: &mut RestoreForm) {
    for (field, message) in errors.iter() {
        if fields.contains(&field) {
            form.errors.add(field, message);
        } else {
            form.refused = message.to_owned();
        }
    }
}

/// The page with the in-place form as typed, and what was refused (422).
async fn in_place_again(user: &CurrentUser, service: &DatabaseService, id: &str, typed: RestoreForm) -> HttpResult {
    page(user, service, id, None, Forms { in_place: typed, ..Forms::default() }).await
}

/// `POST /databases/{id}/pitr`: the database itself back to a second.
pub(super) async fn in_place(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> HttpResult {
    user.require_write()?;
    let database = service.get(&user.workspace_id, &path).await?;
    let mut typed = RestoreForm {
        target_time: form_value(&form, "target_time").unwrap_or_default().trim().to_owned(),
        confirm: form_value(&form, "confirm").unwrap_or_default().to_owned(),
        ..RestoreForm::default()
    };
    let target = match parse_target(&typed.target_time) {
        Ok(Some(target)) => target,
        Ok(None) => {
            typed.errors = FieldErrors::single("target_time", "Enter the second to go back to, in UTC.");
            return in_place_again(&user, &service, &path, typed).await;
        }
        Err(message) => {
            typed.errors = FieldErrors::single("target_time", message);
            return in_place_again(&user, &service, &path, typed).await;
        }
    };
    match service.pitr_in_place(&user.workspace_id, &path, target, &typed.confirm, &Actor::web(&user)).await {
        Ok(clone) => {
            Flash::ok(format!(
                "Restoring “{}” in place to {} through the clone “{}”: its row below shows restoring, copying, then \
                 copied.",
                database.dbname(),
                exact(target.naive_utc()),
                clone.name
            ))
            .set(&session);
            Ok(see_other(&format!("/databases/{path}")))
        }
        Err(DatabaseError::Invalid(errors)) => {
            split(errors, &["target_time", "confirm"], &mut typed);
            in_place_again(&user, &service, &path, typed).await
        }
        Err(DatabaseError::Refused(message)) => {
            typed.refused = message;
            in_place_again(&user, &service, &path, typed).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "databases/base_restore.html")]
struct BaseRestorePage {
    layout: Layout,
    d: DatabaseView,
    /// The base backup, when it is one of the database's.
    backup: Option<BackupView>,
    backup_id: String,
    form: RestoreForm,
}

async fn base_restore_page(
    user: &CurrentUser,
    service: &DatabaseService,
    id: &str,
    backup_id: &str,
    form: RestoreForm,
) -> HttpResult {
    let database = service.get(&user.workspace_id, id).await?;
    let backup = service
        .base_backups(&user.workspace_id, id)
        .await?
        .into_iter()
        .find(|b| b.id == backup_id)
        .map(BackupView::from)
        .filter(|b| b.restorable);
    if backup.is_none() && form.refused.is_empty() && form.errors.is_empty() {
        return Err(AppError::NotFound("No succeeded base backup of this database has that id".into()));
    }
    let status = if form.refused.is_empty() && form.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let d = DatabaseView::new(database, chrono::Utc::now().naive_utc());
    let layout = Layout::for_user(user, "databases");
    render(status, &BaseRestorePage { layout, d, backup, backup_id: backup_id.to_owned(), form })
}

#[derive(serde::Deserialize)]
pub(super) struct BackupQuery {
    #[serde(default)]
    backup: String,
}

/// `GET /databases/{id}/restore?backup=…`: the name of the clone to restore that backup as.
pub(super) async fn base_restore_form(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
    query: web::Query<BackupQuery>,
) -> HttpResult {
    user.require_write()?;
    base_restore_page(&user, &service, &path, &query.backup, RestoreForm::default()).await
}

/// `POST /databases/{id}/restore`: a clone of one base backup, as it was when it stopped.
pub(super) async fn base_restore(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> HttpResult {
    user.require_write()?;
    let backup_id = form_value(&form, "backup_id").unwrap_or_default().trim().to_owned();
    let mut typed = RestoreForm {
        new_name: form_value(&form, "new_name").unwrap_or_default().to_owned(),
        ..RestoreForm::default()
    };
    let by = Actor::web(&user);
    match service.restore_base_backup(&user.workspace_id, &path, &backup_id, &typed.new_name, &by).await {
        Ok(clone) => {
            Flash::ok(format!(
                "Restoring the base backup as “{}”: it shows under Clones, running once it is ready.",
                clone.name
            ))
            .set(&session);
            Ok(see_other(&format!("/databases/{path}")))
        }
        Err(DatabaseError::Invalid(errors)) => {
            split(errors, &["new_name"], &mut typed);
            base_restore_page(&user, &service, &path, &backup_id, typed).await
        }
        Err(DatabaseError::Refused(message)) => {
            typed.refused = message;
            base_restore_page(&user, &service, &path, &backup_id, typed).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "databases/switch.html")]
struct SwitchPage {
    layout: Layout,
    d: DatabaseView,
    clone: CloneView,
    /// Why it cannot be done now, instead of the button.
    refused: String,
}

/// `GET /database-clones/{id}/switch`: what a switch does, and the button.
pub(super) async fn confirm_switch(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
) -> HttpResult {
    user.require_write()?;
    let clone = find_clone(&service, &user.workspace_id, &path).await?;
    let database = service.get(&user.workspace_id, &clone.database_id).await?;
    let served = database.url.contains(&format!("@127.0.0.1:{}/", clone.port));
    let d = DatabaseView::new(database, chrono::Utc::now().naive_utc());
    let url = service.clone_url(&clone).await;
    let clone = CloneView::new(clone, url);
    let refused = if served {
        format!("The clone “{}” is this database's server already: it was switched to.", clone.name)
    } else if d.replaced {
        "This database was already replaced by a switch: switch from the database that replaced it.".to_owned()
    } else if !clone.can_switch() {
        format!("The clone is {}; only a running clone can become the database.", clone.status)
    } else {
        String::new()
    };
    render(StatusCode::OK, &SwitchPage { layout: Layout::for_user(&user, "databases"), d, clone, refused })
}

/// `POST /database-clones/{id}/switch`: to the new record's page.
pub(super) async fn switch(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
    session: Session,
) -> HttpResult {
    user.require_write()?;
    let clone = find_clone(&service, &user.workspace_id, &path).await?;
    let old = clone.database_id.clone();
    match service.switch(&user.workspace_id, &old, &clone.id, &Actor::web(&user)).await {
        Ok(new) => {
            let before = service.get(&user.workspace_id, &old).await.map(|d| d.name().to_owned()).unwrap_or_default();
            Flash::ok(format!(
                "“{}” is now the clone “{}”: its WAL is archived under a prefix of its own and its first base backup is \
                 running. The record from before the switch is kept as “{before}” until you delete it.",
                new.name(),
                clone.name
            ))
            .set(&session);
            Ok(see_other(&format!("/databases/{}", new.id())))
        }
        Err(DatabaseError::Refused(message)) => {
            Flash::error(message).set(&session);
            Ok(see_other(&format!("/databases/{old}")))
        }
        Err(DatabaseError::Invalid(errors)) => {
            let detail: Vec<&str> = errors.iter().map(|(_, m)| m).collect();
            Flash::error(detail.join(" ")).set(&session);
            Ok(see_other(&format!("/databases/{old}")))
        }
        Err(e) => Err(e.into()),
    }
}
