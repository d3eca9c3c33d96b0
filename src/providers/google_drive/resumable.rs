//! Drive's resumable upload protocol: a session URI, then `PUT`s of 8 MiB chunks with
//! `Content-Range`, each answered `308 Resume Incomplete` with the bytes kept so far, the last
//! one (which carries the total) with the file. Memory holds one chunk at a time.

use super::{DriveFile, GoogleDriveProvider, api_error};
use crate::providers::chunks::fill_past;
use crate::providers::http::{origin, transport_error};
use crate::providers::{ByteStream, ErrorKind, ProviderError};
use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;

/// Resumable chunks must be multiples of 256 KiB; 8 MiB is Google's suggested size.
const CHUNK: usize = 8 * 1024 * 1024;
/// Re-sends of a chunk the server only partly stored, before giving up.
const CHUNK_ATTEMPTS: usize = 4;

/// Where a chunk left the upload.
enum ChunkOutcome {
    /// Bytes the server holds so far.
    Stored(u64),
    Complete(DriveFile),
}

impl GoogleDriveProvider {
    /// Opens a resumable session: a new file in the folder, or new content for `existing`.
    pub(super) async fn start_upload(&self, key: &str, existing: Option<&DriveFile>) -> Result<String, ProviderError> {
        // `fields` shapes the answer to the last chunk: Drive sends no size unless asked.
        let query = [("uploadType", "resumable"), ("supportsAllDrives", "true"), ("fields", "id,name,size")];
        let request = match existing {
            Some(file) => {
                self.http.patch(format!("{}/files/{}", self.upload, file.id)).query(&query).json(&serde_json::json!({}))
            }
            None => self.http.post(format!("{}/files", self.upload)).query(&query).json(&serde_json::json!({
                "name": key,
                "parents": [self.folder_id],
                "mimeType": "application/octet-stream",
            })),
        };
        let request = request.header("X-Upload-Content-Type", "application/octet-stream");
        let response = self.send(request, &self.upload).await?;
        response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| ProviderError::new(ErrorKind::Provider, "Google Drive opened no upload session."))
    }

    /// Sends `data` (starting at byte `offset`); `total` only with the last chunk.
    async fn put_chunk(
        &self,
        session: &str,
        offset: u64,
        data: Bytes,
        total: Option<u64>,
    ) -> Result<ChunkOutcome, ProviderError> {
        let total_text = total.map_or_else(|| "*".to_owned(), |t| t.to_string());
        let range = if data.is_empty() {
            format!("bytes */{total_text}")
        } else {
            format!("bytes {offset}-{}/{total_text}", offset + data.len() as u64 - 1)
        };
        // The session URI is the credential; Google needs no bearer token on it.
        let response = self
            .http
            .put(session)
            .header(reqwest::header::CONTENT_RANGE, range)
            .body(data)
            .send()
            .await
            .map_err(|e| transport_error(&e, &origin(&self.upload)))?;
        match response.status() {
            StatusCode::PERMANENT_REDIRECT => Ok(ChunkOutcome::Stored(stored_bytes(&response))),
            StatusCode::OK | StatusCode::CREATED => response.json().await.map(ChunkOutcome::Complete).map_err(|e| {
                ProviderError::new(ErrorKind::Provider, format!("Google Drive finished the upload oddly: {e}."))
            }),
            _ => Err(api_error(response).await),
        }
    }

    /// Sends one chunk, re-sending whatever part of it the server did not keep.
    async fn send_chunk(
        &self,
        session: &str,
        offset: u64,
        chunk: Bytes,
        total: Option<u64>,
    ) -> Result<ChunkOutcome, ProviderError> {
        let end = offset + chunk.len() as u64;
        let mut at = offset;
        for _ in 0..CHUNK_ATTEMPTS {
            let rest = chunk.slice((at - offset) as usize..);
            match self.put_chunk(session, at, rest, total).await? {
                ChunkOutcome::Stored(stored) if stored >= end && total.is_none() => {
                    return Ok(ChunkOutcome::Stored(stored));
                }
                ChunkOutcome::Stored(stored) if stored > at || (stored == at && at < end) => at = stored,
                ChunkOutcome::Stored(stored) => {
                    return Err(ProviderError::new(
                        ErrorKind::Provider,
                        format!("Google Drive lost part of the upload (it holds {stored} of {end} bytes)."),
                    ));
                }
                complete => return Ok(complete),
            }
        }
        Err(ProviderError::new(ErrorKind::Provider, "Google Drive kept refusing part of an upload chunk."))
    }

    /// Streams the body in chunks; returns the finished file and the bytes sent.
    pub(super) async fn upload_body(
        &self,
        session: &str,
        mut body: ByteStream,
    ) -> Result<(DriveFile, u64), ProviderError> {
        let mut buffer = BytesMut::new();
        let mut offset = 0u64;
        loop {
            let ended = fill_past(&mut body, &mut buffer, CHUNK).await?;
            if ended {
                let last = buffer.split().freeze();
                let total = offset + last.len() as u64;
                return match self.send_chunk(session, offset, last, Some(total)).await? {
                    ChunkOutcome::Complete(file) => Ok((file, total)),
                    ChunkOutcome::Stored(n) => Err(ProviderError::new(
                        ErrorKind::Provider,
                        format!("Google Drive did not finish the upload ({n} of {total} bytes stored)."),
                    )),
                };
            }
            let chunk = buffer.split_to(CHUNK).freeze();
            offset = match self.send_chunk(session, offset, chunk, None).await? {
                ChunkOutcome::Stored(n) => n,
                ChunkOutcome::Complete(_) => {
                    return Err(ProviderError::new(ErrorKind::Provider, "Google Drive ended the upload early."));
                }
            };
        }
    }
}

/// The `Range: bytes=0-N` of a 308 answer: N + 1 bytes are stored (none without the header).
fn stored_bytes(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get(reqwest::header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('-').next())
        .and_then(|n| n.parse::<u64>().ok())
        .map_or(0, |last| last + 1)
}
