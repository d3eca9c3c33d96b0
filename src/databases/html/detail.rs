//! A database's own page: its status and receiver, the recovery window as a bar, its backups
//! (base backups, "Back up now", and the dumps of its `pg_dump` plans), clones and the forms that
//! restore (a clone at a second, the database in place, a dump loaded); pausing and resuming
//! archiving; deleting it once its name is typed. The live part (status, window, backups,
//! clones) looks again every few seconds while something starts, runs, restores or copies.

use super::dumps::Dumps;
use super::timeline::{self, WindowView};
use super::views::{BackupView, CloneView, DatabaseView};
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::databases::service::{DatabaseError, DatabaseService};
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

/// What changes while one looks: drawn in the page and polled alone.
pub(super) struct Live {
    pub d: DatabaseView,
    /// The bar, or why the archive could not be read (`window_error`).
    pub window: Option<WindowView>,
    pub window_error: String,
    pub backups: Vec<BackupView>,
    pub clones: Vec<CloneView>,
}

impl Live {
    /// Something is starting, running or restoring: look again in a few seconds.
    pub fn polling(&self) -> bool {
        self.d.starting() || self.backups.iter().any(|b| b.running) || self.clones.iter().any(CloneView::busy)
    }
}

pub(super) async fn live_of(service: &DatabaseService, workspace: &str, id: &str) -> Result<Live, AppError> {
    let database = service.get(workspace, id).await?;
    let clones = service.clones_with_urls(workspace, &database).await?;
    let clones = clones.into_iter().map(|(clone, url)| CloneView::new(clone, url)).collect();
    let d = DatabaseView::new(database, chrono::Utc::now().naive_utc());
    let (window, window_error) = match service.recovery_timeline(workspace, id).await {
        Ok(found) => (Some(timeline::window(&found)), String::new()),
        Err(DatabaseError::Refused(message)) => (None, message),
        Err(e) => return Err(e.into()),
    };
    let backups = match service.backups(workspace, id).await {
        Ok(all) => all.into_iter().map(BackupView::from).collect(),
        // The source's URL cannot be opened to find its dumps: the base backups alone.
        Err(DatabaseError::Refused(_)) => {
            service.base_backups(workspace, id).await?.into_iter().map(BackupView::from).collect()
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Live { d, window, window_error, backups, clones })
}

/// The "Restore to a point in time" form (or "Restore in place", which has `confirm` instead of
/// `new_name`) as typed, with what was refused.
#[derive(Default)]
pub(super) struct RestoreForm {
    pub target_time: String,
    pub new_name: String,
    pub confirm: String,
    pub errors: FieldErrors,
    /// A refusal that is no one field's (no free port, no server binaries, …).
    pub refused: String,
}

impl RestoreForm {
    pub fn error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or_default().to_owned()
    }

    fn refused(&self) -> bool {
        !self.errors.is_empty() || !self.refused.is_empty()
    }
}

/// The page's forms as typed: blank but the one that was sent (and refused, or answered).
#[derive(Default)]
pub(super) struct Forms {
    pub restore: RestoreForm,
    pub in_place: RestoreForm,
    pub dumps: Dumps,
}

#[derive(Template)]
#[template(path = "databases/show.html")]
pub(super) struct ShowPage {
    layout: Layout,
    flash: Option<Flash>,
    live: Live,
    restore: RestoreForm,
    in_place: RestoreForm,
    dumps: Dumps,
}

#[derive(Template)]
#[template(path = "databases/live_partial.html")]
struct LivePartial {
    layout: Layout,
    live: Live,
}

/// The page, with its forms as given (422 when one was refused).
pub(super) async fn page(
    user: &CurrentUser,
    service: &DatabaseService,
    id: &str,
    flash: Option<Flash>,
    forms: Forms,
) -> Result<HttpResponse, AppError> {
    let live = live_of(service, &user.workspace_id, id).await?;
    let Forms { restore, in_place, dumps } = forms;
    let dumps = dumps.of(&live.d);
    let refused = restore.refused() || in_place.refused() || dumps.refused();
    let status = if refused { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let layout = Layout::for_user(user, "databases");
    render(status, &ShowPage { layout, flash, live, restore, in_place, dumps })
}

pub(super) async fn show(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    page(&user, &service, &path, Flash::take(&session), Forms::default()).await
}

/// The live part alone, for the page's polling.
pub(super) async fn live(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let live = live_of(&service, &user.workspace_id, &path).await?;
    render(StatusCode::OK, &LivePartial { layout: Layout::for_user(&user, "databases"), live })
}

pub(super) async fn back_up_now(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    match service.start_base_backup(&user.workspace_id, &path, Some(&Actor::web(&user))).await {
        Ok(_) => Flash::ok("Base backup started: it shows below as it runs.").set(&session),
        Err(DatabaseError::Refused(message)) => Flash::error(message).set(&session),
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&format!("/databases/{path}")))
}

/// `POST /databases/{id}/pause` or `/resume`.
pub(super) fn archiving_to(on: bool) -> actix_web::Route {
    web::post().to(
        move |user: CurrentUser, service: web::Data<DatabaseService>, path: web::Path<String>, session: Session| async move {
            user.require_write()?;
            match service.set_archiving(&user.workspace_id, &path, on, &Actor::web(&user)).await {
                Ok(d) if on => Flash::ok(format!("Archiving of “{}” resumes.", d.name())).set(&session),
                Ok(d) => Flash::ok(format!(
                    "Archiving of “{}” is paused. Its replication slot stays, so the source keeps the WAL until \
                     archiving resumes.",
                    d.name()
                ))
                .set(&session),
                Err(DatabaseError::Refused(message)) => Flash::error(message).set(&session),
                Err(e) => return Err(AppError::from(e)),
            }
            Ok(see_other(&format!("/databases/{path}")))
        },
    )
}

#[derive(Template)]
#[template(path = "databases/delete.html")]
struct DeletePage {
    layout: Layout,
    d: DatabaseView,
    clones: Vec<String>,
    typed: String,
    error: String,
}

async fn delete_page(
    user: &CurrentUser,
    service: &DatabaseService,
    id: &str,
    typed: String,
    error: String,
) -> Result<HttpResponse, AppError> {
    let database = service.get(&user.workspace_id, id).await?;
    let clones = service.clones(&user.workspace_id, Some(id)).await?.into_iter().map(|c| c.name).collect();
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let d = DatabaseView::new(database, chrono::Utc::now().naive_utc());
    render(status, &DeletePage { layout: Layout::for_user(user, "databases"), d, clones, typed, error })
}

pub(super) async fn confirm_delete(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    delete_page(&user, &service, &path, String::new(), String::new()).await
}

/// Deletes once the database's name was typed.
pub(super) async fn delete(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let database = service.get(&user.workspace_id, &path).await?;
    let typed = form_value(&form, "confirm").unwrap_or_default().trim().to_owned();
    if typed != database.name() {
        let error = format!("Type “{}” exactly to delete this database.", database.name());
        return delete_page(&user, &service, &path, typed, error).await;
    }
    let flash = match service.delete(&user.workspace_id, &path, &Actor::web(&user)).await? {
        None => Flash::ok(format!(
            "Deleted “{}”; its replication slot was dropped. The archive stays in the destination.",
            database.name()
        )),
        Some(problem) => Flash::error(format!(
            "Deleted “{}”, but its replication slot could not be dropped ({problem}): drop it on the source, or it \
             keeps WAL there.",
            database.name()
        )),
    };
    flash.set(&session);
    Ok(see_other("/databases"))
}
