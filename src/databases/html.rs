//! The Databases pages (point-in-time recovery): the list, the form with its prerequisite check,
//! a database's own page (status, recovery window, backups, clones, restoring to a second as a
//! clone or in place, a base backup as a clone, switching to a clone, loading a dump) and its
//! deletion. Thin like every page: parsing and rendering; the rules are
//! `DatabaseService`'s, the same methods the JSON API calls.

mod clones;
mod detail;
mod dumps;
mod form;
mod list;
mod restores;
mod timeline;
mod views;

use super::service::DatabaseError;
use crate::error::AppError;
use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/databases", web::get().to(list::list))
        .route("/databases", web::post().to(form::create))
        .route("/databases/new", web::get().to(form::new_form))
        .route("/databases/table", web::get().to(list::table))
        .route("/databases/check", web::post().to(form::check))
        .route("/databases/{id}", web::get().to(detail::show))
        .route("/databases/{id}", web::post().to(form::update))
        .route("/databases/{id}/edit", web::get().to(form::edit_form))
        .route("/databases/{id}/live", web::get().to(detail::live))
        .route("/databases/{id}/backup", web::post().to(detail::back_up_now))
        .route("/databases/{id}/pause", detail::archiving_to(false))
        .route("/databases/{id}/resume", detail::archiving_to(true))
        .route("/databases/{id}/pitr-clone", web::post().to(clones::pitr_clone))
        .route("/databases/{id}/pitr", web::post().to(restores::in_place))
        .route("/databases/{id}/restore", web::get().to(restores::base_restore_form))
        .route("/databases/{id}/restore", web::post().to(restores::base_restore))
        .route("/databases/{id}/import", web::post().to(dumps::import))
        .route("/databases/{id}/restore-from-path", web::post().to(dumps::restore_from_path))
        .route("/databases/{id}/delete", web::get().to(detail::confirm_delete))
        .route("/databases/{id}/delete", web::post().to(detail::delete))
        .route("/database-clones/{id}/start", web::post().to(clones::start))
        .route("/database-clones/{id}/stop", web::get().to(clones::confirm_stop))
        .route("/database-clones/{id}/stop", web::post().to(clones::stop))
        .route("/database-clones/{id}/delete", web::get().to(clones::confirm_delete))
        .route("/database-clones/{id}/delete", web::post().to(clones::delete))
        .route("/database-clones/{id}/switch", web::get().to(restores::confirm_switch))
        .route("/database-clones/{id}/switch", web::post().to(restores::switch));
}

/// What a page answers when a service call fails outside a form (a form shows its errors next
/// to their fields instead).
impl From<DatabaseError> for AppError {
    fn from(e: DatabaseError) -> Self {
        match e {
            DatabaseError::NotFound => AppError::NotFound("Database not found".into()),
            DatabaseError::Refused(message) | DatabaseError::Unprocessable(message) => AppError::BadRequest(message),
            DatabaseError::Db(e) => e.into(),
            other => match other.field_errors() {
                Some(errors) => {
                    let detail: Vec<&str> = errors.iter().map(|(_, m)| m).collect();
                    AppError::BadRequest(detail.join(" "))
                }
                None => AppError::Internal(anyhow::anyhow!(other.to_string())),
            },
        }
    }
}
