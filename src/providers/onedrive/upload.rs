//! Uploads: up to 4 MB in one PUT; above, an upload session. A session's fragments must carry
//! the file's total size, which a stream does not know until it ends, so a larger artifact is
//! first spooled to an unnamed temporary file (memory holds one 10 MiB fragment at most). The
//! fragments are multiples of 320 KiB, contiguous, sent to a pre-authenticated URL without the
//! token; where Graph expects the next one (`nextExpectedRanges`) is where the next starts, a
//! throttled fragment waits out `Retry-After`, and a failed upload cancels its session, which
//! leaves nothing behind.

use super::graph::{graph_error, throttled};
use super::{DriveItem, OneDriveProvider, encode_path};
use crate::providers::chunks::{fill_past, read_error};
use crate::providers::http::{origin, transport_error};
use crate::providers::{ByteStream, ErrorKind, ProviderError};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Graph's limit for a simple upload.
pub const SIMPLE_MAX: usize = 4 * 1024 * 1024;
/// 32 × 320 KiB: within Microsoft's advice (5–10 MiB) and far below its 60 MiB ceiling.
pub const FRAGMENT: u64 = 32 * 320 * 1024;
/// Tries of one fragment (throttling, a dropped connection, a range Graph did not expect).
const FRAGMENT_ATTEMPTS: usize = 8;

/// Where Graph left a session after a fragment.
enum Progress {
    /// The byte Graph expects next.
    Next(u64),
    Done(DriveItem),
}

impl OneDriveProvider {
    pub(super) async fn upload(&self, key: &str, mut body: ByteStream) -> Result<u64, ProviderError> {
        let mut buffer = BytesMut::new();
        if fill_past(&mut body, &mut buffer, SIMPLE_MAX).await? {
            self.make_parents(key).await?;
            let data = buffer.freeze();
            let url = format!("{}/content?@microsoft.graph.conflictBehavior=replace", self.item_url(key));
            let response = self.send(|| self.api.put(&url).body(data.clone())).await?;
            let item: DriveItem = response.json().await.map_err(unexpected)?;
            return check_size(&item, data.len() as u64);
        }
        let (mut file, total) = spool(buffer, body).await?;
        self.make_parents(key).await?;
        let session = self.create_session(key).await?;
        match self.send_fragments(&session, &mut file, total).await {
            Ok(item) => check_size(&item, total),
            Err(e) => {
                // Cancelling discards the fragments Graph holds; nothing appears in the folder.
                if let Ok(request) = self.transfer.request(reqwest::Method::DELETE, &session) {
                    let _ = request.send().await;
                }
                Err(e)
            }
        }
    }

    /// The folders on the way to `key`, made where missing (Graph makes none for a session).
    async fn make_parents(&self, key: &str) -> Result<(), ProviderError> {
        let Some((dir, _)) = key.rsplit_once('/') else { return Ok(()) };
        let exists = self.send(|| self.api.get(self.item_url(dir))).await;
        match exists {
            Ok(_) => return Ok(()),
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut parent = String::new();
        for name in dir.split('/') {
            let url = format!("{}/children", self.folder_url(&parent));
            let body = serde_json::json!({"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "fail"});
            match self.send(|| self.api.post(&url).json(&body)).await {
                Ok(_) => {}
                Err(e) if e.code.as_deref() == Some("nameAlreadyExists") => {}
                Err(e) => return Err(e),
            }
            parent = if parent.is_empty() { name.to_owned() } else { format!("{parent}/{name}") };
        }
        Ok(())
    }

    async fn create_session(&self, key: &str) -> Result<String, ProviderError> {
        let url = format!("{}/createUploadSession", self.item_url(key));
        let body = serde_json::json!({"item": {"@microsoft.graph.conflictBehavior": "replace"}});
        let response = self.send(|| self.api.post(&url).json(&body)).await?;
        let answer: serde_json::Value = response.json().await.map_err(unexpected)?;
        answer["uploadUrl"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ProviderError::new(ErrorKind::Provider, "Microsoft Graph opened no upload session."))
    }

    /// Proves the folder writable without making anything: a session opened and cancelled.
    pub(super) async fn check_writable(&self) -> Result<(), ProviderError> {
        let probe = format!(".devpilot-write-check-{}", uuid::Uuid::new_v4().simple());
        let url = format!("{}/{}:/{}:/createUploadSession", self.drive, self.folder, encode_path(&probe));
        let body = serde_json::json!({"item": {"@microsoft.graph.conflictBehavior": "fail"}});
        let response = self.send(|| self.api.post(&url).json(&body)).await?;
        let answer: serde_json::Value = response.json().await.map_err(unexpected)?;
        if let Some(session) = answer["uploadUrl"].as_str() {
            let cancelled = self.transfer.request(reqwest::Method::DELETE, session)?.send().await;
            cancelled.map_err(|e| transport_error(&e, &origin(session)))?;
        }
        Ok(())
    }

    async fn send_fragments(
        &self,
        session: &str,
        file: &mut tokio::fs::File,
        total: u64,
    ) -> Result<DriveItem, ProviderError> {
        let mut offset = 0u64;
        let mut tries = 0usize;
        loop {
            let len = FRAGMENT.min(total - offset);
            let data = read_at(file, offset, len).await?;
            match self.put_fragment(session, offset, data, total).await {
                Ok(Progress::Done(item)) => return Ok(item),
                Ok(Progress::Next(next)) if next > offset && next <= total => {
                    offset = next;
                    tries = 0;
                }
                Ok(Progress::Next(next)) => {
                    return Err(ProviderError::new(
                        ErrorKind::Provider,
                        format!("Microsoft Graph expects byte {next} next, after a fragment from byte {offset}."),
                    ));
                }
                Err(Retry::After(wait)) if tries < FRAGMENT_ATTEMPTS => {
                    tries += 1;
                    tokio::time::sleep(wait).await;
                }
                // Graph holds other bytes than we thought (a fragment's answer was lost): ask.
                Err(Retry::Resume(_)) if tries < FRAGMENT_ATTEMPTS => {
                    tries += 1;
                    match self.expected(session).await? {
                        Some(next) if next <= total => offset = next,
                        _ => return Err(ProviderError::new(ErrorKind::Provider, "The upload session ended early.")),
                    }
                }
                Err(Retry::After(_)) => {
                    return Err(ProviderError::new(ErrorKind::Provider, "Microsoft Graph kept throttling the upload."));
                }
                Err(Retry::Resume(e) | Retry::Fail(e)) => return Err(e),
            }
        }
    }

    /// One fragment: `Content-Range: bytes {start}-{end}/{total}`, no Authorization header.
    async fn put_fragment(&self, session: &str, offset: u64, data: Bytes, total: u64) -> Result<Progress, Retry> {
        let end = offset + data.len() as u64 - 1;
        let request = self.transfer.request(reqwest::Method::PUT, session).map_err(Retry::Fail)?;
        let sent = request
            .header(reqwest::header::CONTENT_RANGE, format!("bytes {offset}-{end}/{total}"))
            .header(reqwest::header::CONTENT_LENGTH, data.len())
            .body(data)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Err(Retry::Resume(transport_error(&e, &origin(session)))),
        };
        match response.status() {
            StatusCode::ACCEPTED => {
                let answer: serde_json::Value = response.json().await.map_err(|e| Retry::Fail(unexpected(e)))?;
                next_expected(&answer)
                    .map(Progress::Next)
                    .ok_or_else(|| Retry::Fail(ProviderError::new(ErrorKind::Provider, "Graph named no next range.")))
            }
            StatusCode::OK | StatusCode::CREATED => {
                response.json().await.map(Progress::Done).map_err(|e| Retry::Fail(unexpected(e)))
            }
            StatusCode::RANGE_NOT_SATISFIABLE => Err(Retry::Resume(graph_error(response).await)),
            _ => match throttled(&response, 0) {
                Some(wait) => Err(Retry::After(wait)),
                None => Err(Retry::Fail(graph_error(response).await)),
            },
        }
    }

    /// The session's status: the first byte Graph still expects.
    async fn expected(&self, session: &str) -> Result<Option<u64>, ProviderError> {
        let response = self.transfer.get(session)?.send().await.map_err(|e| transport_error(&e, &origin(session)))?;
        if !response.status().is_success() {
            return Err(graph_error(response).await);
        }
        let answer: serde_json::Value = response.json().await.map_err(unexpected)?;
        Ok(next_expected(&answer))
    }
}

enum Retry {
    /// Throttled: the same fragment again after this long.
    After(std::time::Duration),
    /// Where Graph stands is unknown: ask the session, go on from there.
    Resume(ProviderError),
    Fail(ProviderError),
}

/// The start of the first of `nextExpectedRanges` (`"12345-"` or `"12345-67890"`).
fn next_expected(answer: &serde_json::Value) -> Option<u64> {
    answer["nextExpectedRanges"][0].as_str()?.split('-').next()?.parse().ok()
}

/// The stream into an unnamed temporary file (gone when closed); the file and its size.
async fn spool(first: BytesMut, mut body: ByteStream) -> Result<(tokio::fs::File, u64), ProviderError> {
    let disk = |e: std::io::Error| {
        ProviderError::new(ErrorKind::Provider, format!("spooling the upload to a temporary file failed: {e}"))
    };
    let std_file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|e| disk(std::io::Error::other(e)))?
        .map_err(disk)?;
    let mut file = tokio::fs::File::from_std(std_file);
    let mut total = first.len() as u64;
    file.write_all(&first).await.map_err(disk)?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(read_error)?;
        total += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(disk)?;
    }
    file.flush().await.map_err(disk)?;
    Ok((file, total))
}

async fn read_at(file: &mut tokio::fs::File, offset: u64, len: u64) -> Result<Bytes, ProviderError> {
    let disk =
        |e: std::io::Error| ProviderError::new(ErrorKind::Provider, format!("reading the spooled upload failed: {e}"));
    file.seek(std::io::SeekFrom::Start(offset)).await.map_err(disk)?;
    let mut data = vec![0u8; len as usize];
    file.read_exact(&mut data).await.map_err(disk)?;
    Ok(Bytes::from(data))
}

fn check_size(item: &DriveItem, sent: u64) -> Result<u64, ProviderError> {
    if item.size != sent {
        let message = format!("OneDrive stored {} bytes of {sent}.", item.size);
        return Err(ProviderError::new(ErrorKind::Provider, message));
    }
    Ok(sent)
}

fn unexpected(e: reqwest::Error) -> ProviderError {
    ProviderError::new(ErrorKind::Provider, format!("Microsoft Graph answered something unexpected: {e}."))
}
