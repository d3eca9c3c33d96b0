//! Writing data back: the database itself to a second (`pitr`), a clone becoming the database
//! (`switch`), a clone from one base backup (`restore`), and dumps into a database of its server
//! (`import` of a request body, `restore-from-path` of a granted file or a destination object).

use super::clones::{CloneEnvelope, clone_resource};
use super::{Body, DatabaseEnvelope, DatabaseResource, owned_body};
use crate::api::auth::ApiUser;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::responses::JsonBodyErrors;
use crate::artifacts::postgres::import::{Compression, DumpFormat};
use crate::databases::imports::{DumpFrom, ImportTarget};
use crate::databases::service::DatabaseService;
use crate::fields::FieldErrors;
use crate::runs::imports::Imported;
use crate::web::upload::{UploadLimits, receive};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct PitrBody {
    /// A second of the recovery window.
    pub target_time: DateTime<Utc>,
    /// The database's name, typed: its objects are replaced by their state at `target_time`.
    #[serde(default)]
    pub confirm: String,
}

/// Restores the database in place to `target_time`: a clone at that second on Devpilot's host,
/// whose database is then copied back into the source with `pg_restore --clean` (objects the
/// backup knows are replaced; objects created later stay). Follow the returned clone's status:
/// `restoring`, `copying`, then `copied` (or `failed`).
#[utoipa::path(post, path = "/api/v1/databases/{id}/pitr", tag = "Databases", params(("id" = Uuid, Path)), request_body = PitrBody,
    responses((status = 202, description = "Restoring", body = CloneEnvelope),
        (status = 403, description = "Viewers cannot restore", body = ErrorBody),
        (status = 404, description = "No such database in this workspace", body = ErrorBody),
        (status = 409, description = "No restore can start now", body = ErrorBody), JsonBodyErrors))]
pub async fn pitr(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
    body: Body<PitrBody>,
) -> Result<HttpResponse, actix_web::Error> {
    user.require_write()?;
    let body = owned_body(&service, &user, &id, body).await?;
    let clone = service
        .pitr_in_place(&user.workspace_id, &id.to_string(), body.target_time, &body.confirm, &user.actor())
        .await?;
    Ok(HttpResponse::Accepted().json(CloneEnvelope { data: clone_resource(&service, clone).await }))
}

#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct SwitchBody {
    /// A running clone of this database.
    pub clone_id: Uuid,
}

/// Makes a running clone the protected database: a new database record (this one's name and
/// settings) archives the clone's WAL under a prefix of its own and takes a base backup now;
/// this record stops archiving, is renamed and kept until deleted.
#[utoipa::path(post, path = "/api/v1/databases/{id}/switch", tag = "Databases", params(("id" = Uuid, Path)), request_body = SwitchBody,
    responses((status = 200, description = "The database now protected", body = DatabaseEnvelope),
        (status = 403, description = "Viewers cannot switch", body = ErrorBody),
        (status = 404, description = "No such database in this workspace", body = ErrorBody),
        (status = 409, description = "Already replaced", body = ErrorBody), JsonBodyErrors))]
pub async fn switch(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
    body: Body<SwitchBody>,
) -> Result<HttpResponse, actix_web::Error> {
    user.require_write()?;
    let body = owned_body(&service, &user, &id, body).await?;
    let database =
        service.switch(&user.workspace_id, &id.to_string(), &body.clone_id.to_string(), &user.actor()).await?;
    Ok(HttpResponse::Ok().json(DatabaseEnvelope { data: DatabaseResource::from(database), checks: Vec::new() }))
}

#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct RestoreBody {
    /// A succeeded base backup of this database.
    pub backup_id: Uuid,
    /// The clone's name.
    pub new_name: String,
}

/// Restores one base backup as a clone: the cluster as it was when that backup stopped.
#[utoipa::path(post, path = "/api/v1/databases/{id}/restore", tag = "Databases", params(("id" = Uuid, Path)), request_body = RestoreBody,
    responses((status = 202, description = "Restoring", body = CloneEnvelope),
        (status = 403, description = "Viewers cannot restore", body = ErrorBody),
        (status = 404, description = "No such database in this workspace", body = ErrorBody),
        (status = 409, description = "No clone can be made now", body = ErrorBody), JsonBodyErrors))]
pub async fn restore(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
    body: Body<RestoreBody>,
) -> Result<HttpResponse, actix_web::Error> {
    user.require_write()?;
    let body = owned_body(&service, &user, &id, body).await?;
    let clone = service
        .restore_base_backup(
            &user.workspace_id,
            &id.to_string(),
            &body.backup_id.to_string(),
            &body.new_name,
            &user.actor(),
        )
        .await?;
    Ok(HttpResponse::Accepted().json(CloneEnvelope { data: clone_resource(&service, clone).await }))
}

/// What was imported.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct ImportedResource {
    pub imported: bool,
    /// `custom` (pg_restore) or `sql` (psql).
    pub format: String,
    /// `gzip` or `zstd` when the file was compressed.
    pub compression: Option<String>,
    pub database: String,
}

fn imported(what: Imported, database: String) -> ImportedResource {
    ImportedResource {
        imported: true,
        format: match what.format {
            DumpFormat::Custom => "custom",
            DumpFormat::PlainSql => "sql",
        }
        .into(),
        compression: what.compression.map(|c| {
            match c {
                Compression::Gzip => "gzip",
                Compression::Zstd => "zstd",
            }
            .into()
        }),
        database,
    }
}

/// Where an import goes, as the query string of `import` says it.
#[derive(Debug, serde::Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// A database of the protected database's server; default: the protected one itself.
    #[serde(default)]
    pub database: Option<String>,
    /// `new` (default: created for the import; a name that exists is refused) or `existing`.
    #[serde(default)]
    pub into: Option<String>,
    /// For `existing`: the database's name, typed to confirm its objects are replaced.
    #[serde(default)]
    pub confirm: Option<String>,
}

impl ImportQuery {
    fn target(&self, default_database: &str) -> ImportTarget {
        ImportTarget {
            database: self.database.clone().unwrap_or_else(|| default_database.to_owned()),
            into: self.into.clone().unwrap_or_default(),
            confirm: self.confirm.clone().unwrap_or_default(),
        }
    }
}

/// Imports the request body — a SQL dump or a custom-format archive, optionally gzip or zstd
/// compressed, sent as `application/octet-stream` or `application/sql` — into a database of the
/// server. Streamed to a private file with a size limit (`DEVPILOT_IMPORT_MAX_BYTES`), never held
/// in memory; one transaction, stopped at the first error.
#[utoipa::path(post, path = "/api/v1/databases/{id}/import", tag = "Databases", params(("id" = Uuid, Path), ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The dump"),
    responses((status = 200, description = "Imported", body = ImportedResource),
        (status = 403, description = "Viewers cannot import", body = ErrorBody),
        (status = 404, description = "No such database in this workspace", body = ErrorBody),
        (status = 413, description = "Larger than the import limit", body = ErrorBody),
        (status = 415, description = "Not sent as a dump's content type", body = ErrorBody),
        (status = 422, description = "Not a dump, a target refused, or the import failed", body = ErrorBody)))]
pub async fn import(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<DatabaseService>,
    limits: web::Data<UploadLimits>,
    id: web::Path<Uuid>,
    query: web::Query<ImportQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let id = id.to_string();
    let database = service.get(&user.workspace_id, &id).await?;
    let upload = receive(&req, payload, &limits).await?;
    let target = query.target(&database.dbname());
    let what = service.import(&user.workspace_id, &id, DumpFrom::Upload(upload.path().to_path_buf()), &target).await?;
    drop(upload);
    Ok(HttpResponse::Ok().json(imported(what, target.database)))
}

#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct RestoreFromPathBody {
    /// An absolute path in a folder granted to the workspace for reading…
    #[serde(default)]
    pub path: Option<String>,
    /// …or the key of an object in the database's destination (one of the two).
    #[serde(default)]
    pub object_key: Option<String>,
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub into: Option<String>,
    #[serde(default)]
    pub confirm: Option<String>,
}

/// Imports a dump that is already somewhere: a file in a granted folder, or an object in the
/// database's destination.
#[utoipa::path(post, path = "/api/v1/databases/{id}/restore-from-path", tag = "Databases", params(("id" = Uuid, Path)),
    request_body = RestoreFromPathBody,
    responses((status = 200, description = "Imported", body = ImportedResource),
        (status = 403, description = "Viewers cannot import", body = ErrorBody),
        (status = 404, description = "No such database in this workspace", body = ErrorBody), JsonBodyErrors))]
pub async fn restore_from_path(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
    body: Body<RestoreFromPathBody>,
) -> Result<HttpResponse, actix_web::Error> {
    user.require_write()?;
    let body = owned_body(&service, &user, &id, body).await?;
    let id = id.to_string();
    let database = service.get(&user.workspace_id, &id).await?;
    let from = match (body.path.filter(|p| !p.trim().is_empty()), body.object_key.filter(|k| !k.trim().is_empty())) {
        (Some(path), None) => DumpFrom::HostFile(path),
        (None, Some(key)) => DumpFrom::Object(key),
        (Some(_), Some(_)) => {
            return Err(
                ApiError::invalid(&FieldErrors::single("path", "Give a path or an object_key, not both.")).into()
            );
        }
        (None, None) => {
            return Err(ApiError::invalid(&FieldErrors::single(
                "path",
                "Give the dump's path (in a folder granted to this workspace) or an object_key in the destination.",
            ))
            .into());
        }
    };
    let query = ImportQuery { database: body.database, into: body.into, confirm: body.confirm };
    let target = query.target(&database.dbname());
    let what = service.import(&user.workspace_id, &id, from, &target).await?;
    Ok(HttpResponse::Ok().json(imported(what, target.database)))
}
