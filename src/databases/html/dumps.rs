//! "Load a dump" on a database's page: a file uploaded from the browser, or one already on this
//! host (a path in a folder granted to the workspace) or in the database's destination (an object
//! key), loaded into a database of the source's server — a new one, or an existing one once its
//! name is typed. The same `DatabaseService::import` the API's `import` and `restore-from-path`
//! call.
//!
//! The upload is a `multipart/form-data` form that htmx sends with the CSRF token as the
//! `X-CSRF-Token` header, which lets the CSRF check pass it without reading its body (a form's
//! token is in its body, and reading that would cap it at 256 KiB); the body is then streamed
//! into a private file under `DEVPILOT_IMPORT_MAX_BYTES` (`web::upload::form`). Without script
//! the browser would send no header, and the upload is refused like any request without its token.

use super::detail::{Forms, page};
use super::views::DatabaseView;
use crate::artifacts::postgres::import::{Compression, DumpFormat};
use crate::auth::CurrentUser;
use crate::auth::session::is_htmx;
use crate::databases::imports::{DumpFrom, ImportTarget};
use crate::databases::service::{DatabaseError, DatabaseService};
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::runs::imports::Imported;
use crate::web::limits::drain;
use crate::web::upload::form::receive_form;
use crate::web::upload::{UploadError, UploadLimits};
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

/// One of the two forms as typed, with what was refused or, once loaded, what was.
#[derive(Default)]
pub(super) struct DumpForm {
    values: Vec<(String, String)>,
    pub errors: FieldErrors,
    /// A refusal that is no one field's (the source cannot be reached, a full disk, …).
    pub refused: String,
    /// What was loaded, and where.
    pub outcome: String,
}

impl DumpForm {
    /// The form as sent; the target is the protected database (`dbname`) unless another is typed.
    fn typed(values: Vec<(String, String)>, dbname: &str) -> DumpForm {
        let mut form = DumpForm { values, ..DumpForm::default() };
        form.default_database(dbname);
        form
    }

    fn default_database(&mut self, dbname: &str) {
        if self.value("database").trim().is_empty() {
            self.values.retain(|(k, _)| k != "database");
            self.values.push(("database".into(), dbname.to_owned()));
        }
    }

    pub fn value(&self, field: &str) -> &str {
        form_value(&self.values, field).unwrap_or_default()
    }

    pub fn error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or_default().to_owned()
    }

    pub fn replaces_existing(&self) -> bool {
        self.value("into") == "existing"
    }

    fn target(&self) -> ImportTarget {
        ImportTarget {
            database: self.value("database").trim().to_owned(),
            into: self.value("into").to_owned(),
            confirm: self.value("confirm").to_owned(),
        }
    }

    fn refused(&self) -> bool {
        !self.errors.is_empty() || !self.refused.is_empty()
    }

    /// The service's answer: what was loaded, or its refusal next to the fields it names (a dump
    /// that is not one, or that failed, next to `source_field`).
    fn answer(&mut self, outcome: Result<Imported, DatabaseError>, source_field: &str) -> Result<(), AppError> {
        match outcome {
            Ok(what) => self.outcome = loaded(&what, &self.target()),
            Err(DatabaseError::Invalid(errors)) => {
                let own = ["database", "into", "confirm", "path", "object_key", source_field];
                for (field, message) in errors.iter() {
                    if own.contains(&field) {
                        self.errors.add(field, message);
                    } else {
                        self.refused = message.to_owned();
                    }
                }
            }
            Err(DatabaseError::Unprocessable(message)) => self.errors.add(source_field, message),
            Err(DatabaseError::Refused(message)) => self.refused = message,
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

/// What "Load a dump" shows: its two forms, for one database.
#[derive(Default)]
pub(super) struct Dumps {
    pub id: String,
    /// The protected database's name on its server: the target unless another is typed.
    pub dbname: String,
    pub destination: String,
    pub upload: DumpForm,
    pub from_path: DumpForm,
}

impl Dumps {
    /// The forms for `d`'s page, the target's name filled in where none was typed.
    pub fn of(mut self, d: &DatabaseView) -> Dumps {
        self.id = d.id.clone();
        self.dbname = d.dbname.clone();
        self.destination = d.destination.clone().unwrap_or_default();
        self.upload.default_database(&d.dbname);
        self.from_path.default_database(&d.dbname);
        self
    }

    pub fn refused(&self) -> bool {
        self.upload.refused() || self.from_path.refused()
    }
}

#[derive(Template)]
#[template(path = "databases/dumps_partial.html")]
struct DumpsPartial {
    layout: Layout,
    dumps: Dumps,
}

/// "Imported … into …", for the outcome and the flash.
fn loaded(what: &Imported, target: &ImportTarget) -> String {
    let format = match what.format {
        DumpFormat::Custom => "a custom-format archive (pg_restore)",
        DumpFormat::PlainSql => "a SQL dump (psql)",
    };
    let compression = match what.compression {
        Some(Compression::Gzip) => ", gzip-compressed",
        Some(Compression::Zstd) => ", zstd-compressed",
        None => "",
    };
    let into = if target.into == "existing" { "the existing database" } else { "the new database" };
    format!("Loaded {format}{compression} into {into} “{}”.", target.database)
}

/// The forms' section alone for htmx, or the page around it.
async fn answer(
    req: &HttpRequest,
    user: &CurrentUser,
    service: &DatabaseService,
    id: &str,
    dumps: Dumps,
) -> Result<HttpResponse, AppError> {
    if !is_htmx(req) {
        return page(user, service, id, None, Forms { dumps, ..Forms::default() }).await;
    }
    let database = service.get(&user.workspace_id, id).await?;
    let dumps = dumps.of(&DatabaseView::new(database, chrono::Utc::now().naive_utc()));
    let status = if dumps.refused() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    render(status, &DumpsPartial { layout: Layout::for_user(user, "databases"), dumps })
}

/// `POST /databases/{id}/import`: the uploaded file. Who asks and which database are settled
/// before a byte of the body is read.
pub(super) async fn import(
    req: HttpRequest,
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    limits: web::Data<UploadLimits>,
    path: web::Path<String>,
    mut payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let allowed = match user.require_write() {
        Ok(()) => service.get(&user.workspace_id, &path).await.map_err(AppError::from),
        Err(e) => Err(e),
    };
    let database = match allowed {
        Ok(database) => database,
        Err(e) => {
            drain(&mut payload).await;
            return Err(e);
        }
    };
    let mut form = DumpForm::default();
    match receive_form(&req, payload, &limits, "file").await {
        Err(e @ UploadError::Disk(_)) => form.refused = e.to_string(),
        Err(e) => form.errors.add("file", e.to_string()),
        Ok(sent) => {
            form = DumpForm::typed(sent.fields, &database.dbname());
            match &sent.file {
                None => form.errors.add("file", "Choose the dump file to upload."),
                Some(file) => {
                    let from = DumpFrom::Upload(file.path().to_path_buf());
                    let outcome = service.import(&user.workspace_id, &path, from, &form.target()).await;
                    form.answer(outcome, "file")?;
                    if !form.outcome.is_empty() {
                        form.outcome = format!("“{}”: {}", sent.file_name, form.outcome);
                    }
                }
            }
        }
    }
    answer(&req, &user, &service, &path, Dumps { upload: form, ..Dumps::default() }).await
}

/// `POST /databases/{id}/restore-from-path`: a path in a granted folder or an object key.
pub(super) async fn restore_from_path(
    req: HttpRequest,
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    path: web::Path<String>,
    fields: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let database = service.get(&user.workspace_id, &path).await?;
    let mut form = DumpForm::typed(fields.into_inner(), &database.dbname());
    let typed = |field: &str| Some(form.value(field).trim().to_owned()).filter(|v| !v.is_empty());
    let from = match (typed("path"), typed("object_key")) {
        (Some(file), None) => Some((DumpFrom::HostFile(file), "path")),
        (None, Some(key)) => Some((DumpFrom::Object(key), "object_key")),
        (Some(_), Some(_)) => {
            form.errors.add("path", "Give a path or an object key, not both.");
            None
        }
        (None, None) => {
            form.errors.add("path", "Give the dump's path (in a folder granted to this workspace) or an object key.");
            None
        }
    };
    if let Some((from, source_field)) = from {
        let outcome = service.import(&user.workspace_id, &path, from, &form.target()).await;
        form.answer(outcome, source_field)?;
    }
    if !form.outcome.is_empty() && !is_htmx(&req) {
        Flash::ok(form.outcome).set(&session);
        return Ok(see_other(&format!("/databases/{path}")));
    }
    answer(&req, &user, &service, &path, Dumps { from_path: form, ..Dumps::default() }).await
}
