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
    // Under their prefixes: a request for another page passes two prefix checks here, not the
    // patterns of every route below.
    cfg.service(
        web::scope("/databases")
            .route("", web::get().to(list::list))
            .route("", web::post().to(form::create))
            .route("/new", web::get().to(form::new_form))
            .route("/table", web::get().to(list::table))
            .route("/check", web::post().to(form::check))
            .route("/{id}", web::get().to(detail::show))
            .route("/{id}", web::post().to(form::update))
            .route("/{id}/edit", web::get().to(form::edit_form))
            .route("/{id}/live", web::get().to(detail::live))
            .route("/{id}/backup", web::post().to(detail::back_up_now))
            .route("/{id}/pause", detail::archiving_to(false))
            .route("/{id}/resume", detail::archiving_to(true))
            .route("/{id}/pitr-clone", web::post().to(clones::pitr_clone))
            .route("/{id}/pitr", web::post().to(restores::in_place))
            .route("/{id}/restore", web::get().to(restores::base_restore_form))
            .route("/{id}/restore", web::post().to(restores::base_restore))
            .route("/{id}/import", web::post().to(dumps::import))
            .route("/{id}/restore-from-path", web::post().to(dumps::restore_from_path))
            .route("/{id}/delete", web::get().to(detail::confirm_delete))
            .route("/{id}/delete", web::post().to(detail::delete)),
    );
    cfg.service(
        web::scope("/database-clones")
            .route("/{id}/start", web::post().to(clones::start))
            .route("/{id}/stop", web::get().to(clones::confirm_stop))
            .route("/{id}/stop", web::post().to(clones::stop))
            .route("/{id}/delete", web::get().to(clones::confirm_delete))
            .route("/{id}/delete", web::post().to(clones::delete))
            .route("/{id}/switch", web::get().to(restores::confirm_switch))
            .route("/{id}/switch", web::post().to(restores::switch)),
    );
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
