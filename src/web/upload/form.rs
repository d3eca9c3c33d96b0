//! A page's upload: a `multipart/form-data` form with one file among a few short text fields.
//! The file is streamed into a private file under the same limit as the API's raw body
//! (`DEVPILOT_IMPORT_MAX_BYTES`); the text fields are read whole, but each is short and there are
//! few, so memory stays bounded whatever is sent. A file input left empty comes as a part with
//! an empty file name: no file.

use super::{Upload, UploadError, UploadLimits, save};
use crate::hostfs::private::PrivateTemp;
use crate::web::limits::{DRAIN_BYTES, DRAIN_TIME, drain};
use actix_multipart::{Multipart, MultipartError};
use actix_web::HttpRequest;
use actix_web::http::header;
use futures::{Stream, StreamExt};
use tokio::time::{Instant, timeout_at};

/// The most a text field may hold (a path, a database's name), and how many there may be.
const TEXT_FIELD_BYTES: usize = 4 * 1024;
const TEXT_FIELDS: usize = 32;
/// What the text fields and the parts' headers may add to the file's own limit.
const FORM_OVERHEAD: u64 = (TEXT_FIELDS * (TEXT_FIELD_BYTES + 1024)) as u64;

/// A form as sent: its text fields, and its file saved privately (gone when this is dropped).
#[derive(Debug, Default)]
pub struct FormUpload {
    pub fields: Vec<(String, String)>,
    pub file: Option<Upload>,
    /// The file's name on the sender's side, as it said.
    pub file_name: String,
}

/// Reads a `multipart/form-data` body: `file_field` into a private file, up to the upload limit,
/// every other field as text. A refused body is read on (and thrown away) for a while, so that
/// the browser gets the answer rather than a reset connection.
pub async fn receive_form(
    req: &HttpRequest,
    mut payload: impl Stream<Item = Result<bytes::Bytes, actix_web::error::PayloadError>> + Unpin + 'static,
    limits: &UploadLimits,
    file_field: &str,
) -> Result<FormUpload, UploadError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != "multipart/form-data" {
        drain(&mut payload).await;
        return Err(UploadError::Malformed("send the form as multipart/form-data, with the file in it".into()));
    }
    let announced = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limits.max_bytes.saturating_add(FORM_OVERHEAD)) {
        drain(&mut payload).await;
        return Err(UploadError::TooLarge { limit: limits.max_bytes });
    }
    let mut parts = Multipart::new(req.headers(), payload);
    let mut form = FormUpload::default();
    match read_parts(&mut parts, &mut form, limits, file_field).await {
        Ok(()) => Ok(form),
        Err(e) => {
            // What was written goes before the client is heard out.
            drop(form);
            if !matches!(e, UploadError::Broken(_)) {
                drain_parts(&mut parts).await;
            }
            Err(e)
        }
    }
}

async fn read_parts(
    parts: &mut Multipart,
    form: &mut FormUpload,
    limits: &UploadLimits,
    file_field: &str,
) -> Result<(), UploadError> {
    while let Some(field) = parts.next().await {
        let mut field = field.map_err(unreadable)?;
        let name = field.name().unwrap_or_default().to_owned();
        if name == file_field {
            let file_name = field.content_disposition().and_then(|d| d.get_filename()).unwrap_or_default().to_owned();
            if form.file.is_some() {
                return Err(UploadError::Malformed(format!("the form holds more than one “{file_field}”")));
            }
            if file_name.is_empty() {
                // No file chosen: the browser still sends the (empty) part.
                while let Some(chunk) = field.next().await {
                    chunk.map_err(unreadable)?;
                }
                continue;
            }
            let folder = PrivateTemp::create(&limits.data_dir).map_err(UploadError::Disk)?;
            let (path, file) = folder.new_file("upload").map_err(UploadError::Disk)?;
            let bytes = save(&mut field, tokio::fs::File::from_std(file), limits.max_bytes, unreadable).await?;
            form.file = Some(Upload { path, bytes, _folder: folder });
            form.file_name = file_name.chars().filter(|c| !c.is_control()).take(200).collect();
        } else {
            if form.fields.len() >= TEXT_FIELDS {
                return Err(UploadError::Malformed(format!("the form has more than {TEXT_FIELDS} fields")));
            }
            let value = match field.bytes(TEXT_FIELD_BYTES).await {
                Ok(value) => value.map_err(unreadable)?,
                Err(_) => return Err(UploadError::Malformed(format!("the field “{name}” is too long"))),
            };
            let value = String::from_utf8(value.to_vec())
                .map_err(|_| UploadError::Malformed(format!("the field “{name}” is not UTF-8 text")))?;
            form.fields.push((name, value));
        }
    }
    Ok(())
}

fn unreadable(e: MultipartError) -> UploadError {
    match e {
        MultipartError::Payload(e) => UploadError::Broken(e),
        other => UploadError::Malformed(other.to_string()),
    }
}

/// Reads on what is left of a refused form, this far and this long at most.
async fn drain_parts(parts: &mut Multipart) {
    let deadline = Instant::now() + DRAIN_TIME;
    let mut drained = 0usize;
    while let Ok(Some(Ok(mut field))) = timeout_at(deadline, parts.next()).await {
        while let Ok(Some(Ok(chunk))) = timeout_at(deadline, field.next()).await {
            drained += chunk.len();
            if drained > DRAIN_BYTES {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use actix_web::{FromRequest, web};
    use std::path::Path;

    const BOUNDARY: &str = "XyZ";

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, file_name, value) in parts {
            out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            let disposition = match file_name {
                Some(f) => format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n"),
                None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n"),
            };
            out.extend_from_slice(disposition.as_bytes());
            if file_name.is_some() {
                out.extend_from_slice(b"Content-Type: application/octet-stream\r\n");
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        out
    }

    async fn send(dir: &Path, max_bytes: u64, content_type: &str, body: Vec<u8>) -> Result<FormUpload, UploadError> {
        std::fs::create_dir_all(dir.join("tmp")).expect("tmp");
        let limits = UploadLimits::new(dir.to_path_buf(), max_bytes);
        let request = TestRequest::post().insert_header(("content-type", content_type)).set_payload(body);
        let (req, mut payload) = request.to_http_parts();
        let payload = web::Payload::from_request(&req, &mut payload).await.expect("payload");
        receive_form(&req, payload, &limits, "file").await
    }

    fn leftovers(dir: &Path) -> usize {
        std::fs::read_dir(dir.join("tmp")).expect("tmp").count()
    }

    #[actix_web::test]
    async fn the_file_is_saved_privately_and_the_text_fields_read_in_any_order() {
        let dir = tempfile::tempdir().expect("dir");
        let multipart = format!("multipart/form-data; boundary={BOUNDARY}");
        let parts =
            body(&[("database", None, b"imported"), ("file", Some("fruit.sql"), b"select 1;"), ("into", None, b"new")]);
        let form = send(dir.path(), 1024, &multipart, parts).await.expect("read");
        let fields: Vec<(&str, &str)> = form.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(fields, [("database", "imported"), ("into", "new")]);
        let file = form.file.as_ref().expect("the file");
        assert_eq!((std::fs::read(file.path()).expect("file"), file.bytes), (b"select 1;".to_vec(), 9));
        assert_eq!(form.file_name, "fruit.sql");
        drop(form);
        assert_eq!(leftovers(dir.path()), 0, "the file goes with the form");

        // A file input left empty is no file.
        let empty = send(dir.path(), 1024, &multipart, body(&[("file", Some(""), b""), ("path", None, b"/x")])).await;
        let empty = empty.expect("read");
        assert!(empty.file.is_none() && empty.fields == [("path".to_owned(), "/x".to_owned())]);
    }

    #[actix_web::test]
    async fn too_large_files_and_fields_and_other_bodies_are_refused_and_nothing_is_left() {
        let dir = tempfile::tempdir().expect("dir");
        let multipart = format!("multipart/form-data; boundary={BOUNDARY}");
        let big = body(&[("file", Some("big.sql"), &[b'x'; 2000])]);
        let refused = send(dir.path(), 1000, &multipart, big).await.expect_err("too large");
        assert!(matches!(refused, UploadError::TooLarge { limit: 1000 }), "{refused}");
        assert_eq!(leftovers(dir.path()), 0, "the partial file is gone");

        let long = body(&[("database", None, &[b'd'; TEXT_FIELD_BYTES + 1])]);
        let refused = send(dir.path(), 1000, &multipart, long).await.expect_err("a long field");
        assert!(refused.to_string().contains("“database” is too long"), "{refused}");

        let urlencoded = send(dir.path(), 1000, "application/x-www-form-urlencoded", b"a=b".to_vec()).await;
        assert!(urlencoded.expect_err("not a form").to_string().contains("multipart/form-data"));
        let garbled = send(dir.path(), 1000, &multipart, b"--nope".to_vec()).await;
        assert!(matches!(garbled, Err(UploadError::Malformed(_))), "{garbled:?}");
        assert_eq!(leftovers(dir.path()), 0);
    }
}
