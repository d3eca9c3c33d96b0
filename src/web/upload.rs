//! A file sent as a request's raw body (a dump to import): streamed into a private file under the
//! data folder as it arrives, never held in memory, up to a limit of its own
//! (`DEVPILOT_IMPORT_MAX_BYTES`, far above the 256 KiB of every other body, which is why the
//! routes in [`STREAMED_BODIES`] are left unread by the API's guard and the CSRF check). Past the
//! limit the file goes at once and the answer is 413, naming the limit. A page's upload comes as
//! a `multipart/form-data` form instead ([`form`]), saved the same way.

pub mod form;

use super::format::human_bytes;
use super::limits::drain;
use crate::hostfs::private::PrivateTemp;
use actix_web::HttpRequest;
use actix_web::dev::ResourceDef;
use actix_web::error::PayloadError;
use actix_web::http::header;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Routes whose handler reads the body itself under its own limit: the API's import (a raw body,
/// [`receive`]) and the database page's (a form, [`form::receive_form`]), whose CSRF token must
/// then come as the header, since its body is not read before the handler.
pub const STREAMED_BODIES: &[&str] = &["/api/v1/databases/{id}/import", "/databases/{id}/import"];

/// Media types a dump is sent as.
pub const DUMP_TYPES: &[&str] =
    &["application/octet-stream", "application/sql", "application/gzip", "application/x-gzip", "application/zstd"];

/// Whether the route at `path` streams its own body (see [`STREAMED_BODIES`]).
pub fn streams_its_body(path: &str) -> bool {
    STREAMED_BODIES.iter().any(|pattern| ResourceDef::new(*pattern).is_match(path))
}

/// Where uploads go and how large they may be (app data, from the settings).
#[derive(Debug, Clone)]
pub struct UploadLimits {
    data_dir: PathBuf,
    max_bytes: u64,
}

impl UploadLimits {
    pub fn new(data_dir: PathBuf, max_bytes: u64) -> UploadLimits {
        UploadLimits { data_dir, max_bytes }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }
}

/// An upload saved whole; its private folder (and the file) goes when this is dropped.
#[derive(Debug)]
pub struct Upload {
    path: PathBuf,
    pub bytes: u64,
    _folder: PrivateTemp,
}

impl Upload {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(
        "The upload is larger than {}, the most this server accepts (DEVPILOT_IMPORT_MAX_BYTES={limit}); nothing was kept.",
        human_bytes(*limit)
    )]
    TooLarge { limit: u64 },
    #[error("Send the file as the raw request body with Content-Type {types}; “{0}” is not one of them.", types = DUMP_TYPES.join(", "))]
    WrongType(String),
    #[error("The upload broke off before it was complete: {0}.")]
    Broken(PayloadError),
    /// A form (`multipart/form-data`) that does not parse.
    #[error("The upload could not be read: {0}.")]
    Malformed(String),
    /// Writing the private copy failed (a full disk, say): Devpilot's side.
    #[error("Saving the upload failed: {}.", crate::hostfs::describe(.0))]
    Disk(std::io::Error),
}

/// Streams the request's body into a new private file, refusing a body announced or found to be
/// larger than the limit, and a content type that is not one of [`DUMP_TYPES`].
pub async fn receive(
    req: &HttpRequest,
    mut payload: impl Stream<Item = Result<Bytes, PayloadError>> + Unpin,
    limits: &UploadLimits,
) -> Result<Upload, UploadError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !DUMP_TYPES.contains(&essence.as_str()) {
        return Err(UploadError::WrongType(content_type.chars().filter(|c| !c.is_control()).take(100).collect()));
    }
    let announced = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limits.max_bytes) {
        drain(&mut payload).await;
        return Err(UploadError::TooLarge { limit: limits.max_bytes });
    }
    let folder = PrivateTemp::create(&limits.data_dir).map_err(UploadError::Disk)?;
    let (path, file) = folder.new_file("upload").map_err(UploadError::Disk)?;
    match save(&mut payload, tokio::fs::File::from_std(file), limits.max_bytes, UploadError::Broken).await {
        Ok(bytes) => Ok(Upload { path, bytes, _folder: folder }),
        Err(e) => {
            // What was written goes before the client is heard out.
            drop(folder);
            if matches!(e, UploadError::TooLarge { .. }) {
                drain(&mut payload).await;
            }
            Err(e)
        }
    }
}

/// Writes the body into `file`; on any error the caller drops the folder with what was written.
async fn save<E>(
    payload: &mut (impl Stream<Item = Result<Bytes, E>> + Unpin),
    mut file: tokio::fs::File,
    limit: u64,
    broken: impl Fn(E) -> UploadError,
) -> Result<u64, UploadError> {
    let mut written = 0u64;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(&broken)?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(UploadError::TooLarge { limit });
        }
        file.write_all(&chunk).await.map_err(UploadError::Disk)?;
    }
    file.flush().await.map_err(UploadError::Disk)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use actix_web::{FromRequest, web};

    fn limits(dir: &Path, max_bytes: u64) -> UploadLimits {
        std::fs::create_dir_all(dir.join("tmp")).expect("tmp");
        UploadLimits::new(dir.to_path_buf(), max_bytes)
    }

    fn leftovers(dir: &Path) -> usize {
        std::fs::read_dir(dir.join("tmp")).expect("tmp").count()
    }

    async fn send(request: TestRequest, limits: &UploadLimits) -> Result<Upload, UploadError> {
        let (req, mut payload) = request.to_http_parts();
        let payload = web::Payload::from_request(&req, &mut payload).await.expect("payload");
        receive(&req, payload, limits).await
    }

    #[actix_web::test]
    async fn a_body_within_the_limit_is_saved_privately_and_goes_with_the_upload() {
        let dir = tempfile::tempdir().expect("dir");
        let limits = limits(dir.path(), 1024);
        let request = TestRequest::post().insert_header(("content-type", "application/sql")).set_payload("select 1;");
        let upload = send(request, &limits).await.expect("saved");
        assert_eq!((std::fs::read(upload.path()).expect("file"), upload.bytes), (b"select 1;".to_vec(), 9));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(upload.path()).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        drop(upload);
        assert_eq!(leftovers(dir.path()), 0);
    }

    #[actix_web::test]
    async fn too_large_or_wrongly_typed_bodies_are_refused_and_nothing_is_left() {
        let dir = tempfile::tempdir().expect("dir");
        let limits = limits(dir.path(), 1000);
        let announced = TestRequest::post()
            .insert_header(("content-type", "application/octet-stream"))
            .set_payload(vec![b'x'; 1001]);
        let refused = send(announced, &limits).await.expect_err("announced too large");
        assert!(matches!(refused, UploadError::TooLarge { limit: 1000 }), "{refused}");
        assert!(refused.to_string().contains("1000 B") || refused.to_string().contains("1000"), "{refused}");

        // No Content-Length: found out while streaming, the partial file removed.
        let (req, _) = TestRequest::post().insert_header(("content-type", "application/gzip")).to_http_parts();
        let chunks = (0..5).map(|_| Ok::<_, PayloadError>(Bytes::from(vec![b'y'; 300])));
        let refused = receive(&req, futures::stream::iter(chunks), &limits).await.expect_err("streamed too large");
        assert!(matches!(refused, UploadError::TooLarge { .. }), "{refused}");
        assert_eq!(leftovers(dir.path()), 0, "the partial upload is gone");

        let json = TestRequest::post().insert_header(("content-type", "application/json")).set_payload("{}");
        assert!(matches!(send(json, &limits).await, Err(UploadError::WrongType(_))));
        assert_eq!(leftovers(dir.path()), 0);
        assert!(streams_its_body("/api/v1/databases/5f0c/import"));
        assert!(
            !streams_its_body("/api/v1/databases/5f0c/import/more") && !streams_its_body("/api/v1/backup-schedules")
        );
    }
}
