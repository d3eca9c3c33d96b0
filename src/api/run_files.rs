//! A directory run's files in the API: its manifest listed by folder or searched by name, and one
//! file or folder downloaded (a file as itself, a folder as a tar) or restored into a granted
//! folder, reading only the part of the artifact up to it.

use super::auth::ApiUser;
use super::error::{ApiError, ErrorBody};
use crate::error::AppError;
use crate::runs::restore::RestoreTarget;
use crate::runs::runner::Runner;
use crate::runs::single_file::Listed;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

#[derive(OpenApi)]
#[openapi(
    paths(list, download, restore),
    components(schemas(FileEntry, FileListing, PathRestoreInput, PathRestored)),
    tags((name = "Backup run files", description = "Browse a directory backup and get one file or folder back"))
)]
pub struct RunFilesApi;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/backup-runs/{id}/files", web::get().to(list))
        .route("/backup-runs/{id}/files/download", web::get().to(download))
        .route("/backup-runs/{id}/files/restore", web::post().to(restore));
}

/// An entry of the backup's file list.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct FileEntry {
    pub name: String,
    /// Relative to the backed-up folder, `/`-separated.
    pub path: String,
    /// `file`, `dir` or `symlink`.
    pub kind: String,
    /// A file's size; a folder's, the size of every file below it.
    pub size: u64,
    /// A folder's files (at any depth); 1 for a file.
    pub files: u64,
    /// Modification time, seconds since 1970.
    pub mtime: i64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct FileListing {
    /// The folder listed ("" for the top).
    pub folder: String,
    pub data: Vec<FileEntry>,
    /// Entries that matched beyond the first 1000.
    pub more: u64,
    /// Files and bytes in the whole backup.
    pub total_files: u64,
    pub total_bytes: u64,
}

#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The folder to list ("" or absent: the top).
    #[serde(default)]
    pub folder: String,
    /// A part of a name to search for in every folder (case-insensitive).
    #[serde(default)]
    pub q: String,
}

#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PathQuery {
    /// The file or folder, as listed (`path`).
    #[serde(default)]
    pub path: String,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct PathRestoreInput {
    /// The file or folder, as listed (`path`).
    #[serde(default)]
    pub path: String,
    /// An absolute path on the server: a new or empty folder inside a folder granted to the
    /// workspace for reading and writing. The file or folder keeps its name inside it.
    #[serde(default)]
    pub target: String,
}

/// What a restore of one path did.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct PathRestored {
    pub files: u64,
    pub bytes: u64,
    /// Bytes of the artifact read from the destination (the scan stops once the path is past).
    pub bytes_read: u64,
    /// The whole artifact's size.
    pub artifact_bytes: u64,
    pub seconds: f64,
}

fn errors(e: AppError) -> ApiError {
    match e {
        AppError::NotFound(m) => ApiError::not_found(m),
        AppError::BadRequest(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
        AppError::Unavailable(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, m),
        AppError::Internal(e) if let Some(outage) = crate::error::outage_in(&e) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, outage.message())
        }
        other => ApiError::internal(other),
    }
}

fn entry(l: Listed) -> FileEntry {
    FileEntry { name: l.name, path: l.path, kind: l.kind, size: l.size, files: l.files, mtime: l.mtime }
}

/// A folder of a directory run's file list, or the entries whose name matches `q`.
#[utoipa::path(
    get,
    path = "/api/v1/backup-runs/{id}/files",
    tag = "Backup run files",
    params(("id" = Uuid, Path, description = "Run UUID"), ListQuery),
    responses(
        (status = 200, description = "The folder's entries, folders first", body = FileListing),
        (status = 404, description = "No such run, no file list, or no such folder", body = ErrorBody),
    )
)]
pub async fn list(
    user: ApiUser,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let search = Some(query.q.as_str()).filter(|q| !q.trim().is_empty());
    let listing =
        runner.list_files(&user.workspace_id, &id.to_string(), &query.folder, search).await.map_err(errors)?;
    Ok(HttpResponse::Ok().json(FileListing {
        folder: listing.folder,
        more: listing.more,
        total_files: listing.totals.files,
        total_bytes: listing.totals.bytes,
        data: listing.entries.into_iter().map(entry).collect(),
    }))
}

/// One file's bytes as they were backed up, or a folder as a tar.
#[utoipa::path(
    get,
    path = "/api/v1/backup-runs/{id}/files/download",
    tag = "Backup run files",
    params(("id" = Uuid, Path, description = "Run UUID"), PathQuery),
    responses(
        (status = 200, description = "The file (application/octet-stream) or the folder (application/x-tar)",
            headers(("Content-Disposition" = String, description = "attachment; filename=…"))),
        (status = 404, description = "No such run, or the path is not in its file list", body = ErrorBody),
        (status = 422, description = "No `path` given", body = ErrorBody),
    )
)]
pub async fn download(
    user: ApiUser,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
    query: web::Query<PathQuery>,
) -> Result<HttpResponse, ApiError> {
    let got = runner.download_path(&user.workspace_id, &id.to_string(), &query.path).await.map_err(errors)?;
    Ok(HttpResponse::Ok()
        .content_type(got.content_type)
        .insert_header(header::ContentDisposition::attachment(got.file_name))
        .streaming(got.body))
}

/// Restores one file or folder into a granted folder; says how long it took and how much of the
/// artifact was read.
#[utoipa::path(
    post,
    path = "/api/v1/backup-runs/{id}/files/restore",
    tag = "Backup run files",
    params(("id" = Uuid, Path, description = "Run UUID")),
    request_body = PathRestoreInput,
    responses(
        (status = 200, description = "Restored", body = PathRestored),
        (status = 403, description = "Viewers cannot restore", body = ErrorBody),
        (status = 404, description = "No such run, or the path is not in its file list", body = ErrorBody),
        (status = 422, description = "`target` is not a new or empty folder in a granted folder, or the restore failed", body = ErrorBody),
    )
)]
pub async fn restore(
    user: ApiUser,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
    body: web::Json<PathRestoreInput>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    // Another workspace's run is not found, whatever the body says.
    let run = runner.find(&user.workspace_id, &id.to_string()).await.map_err(|e| match e {
        crate::db::DbError::NotFound => ApiError::not_found("Backup run not found"),
        other => other.into(),
    })?;
    if body.path.trim().is_empty() {
        let fields = crate::fields::FieldErrors::single("path", "Choose a file or a folder of the backup.");
        return Err(ApiError::invalid(&fields));
    }
    let access = runner.grants().access(&user.workspace_id).await?;
    let place = match RestoreTarget::parse("directory", &body.target, &access) {
        Ok(RestoreTarget::Directory(place)) => place,
        Ok(_) => return Err(ApiError::invalid(&crate::fields::FieldErrors::single("target", "Choose a folder."))),
        Err(fields) => return Err(ApiError::invalid(&fields)),
    };
    let done = runner.restore_path(&user.workspace_id, &run.id, &body.path, &place).await.map_err(errors)?;
    Ok(HttpResponse::Ok().json(PathRestored {
        files: done.files,
        bytes: done.bytes,
        bytes_read: done.bytes_read,
        artifact_bytes: done.artifact_bytes,
        seconds: done.millis as f64 / 1000.0,
    }))
}
