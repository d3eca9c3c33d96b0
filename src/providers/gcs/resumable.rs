//! Uploads through the GCS JSON API's resumable protocol
//! (<https://cloud.google.com/storage/docs/performing-resumable-uploads>), which real GCS and
//! fake-gcs-server both accept (fake-gcs-server answers object_store's XML-API writes with 400
//! "invalid uploadType"). A session is started with the bearer token; its URI then authorises the
//! chunks on its own. Chunks are a multiple of 256 KiB, each answered 308 with the range GCS has
//! persisted; the last one carries the total size. One chunk is buffered at a time. A failed
//! upload cancels its session, so nothing becomes visible.

use crate::providers::chunks::read_error;
use crate::providers::http::transport_error;
use crate::providers::object_store_errors::from_answer;
use crate::providers::{ByteStream, ErrorKind, ProviderError, Step};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// 8 MiB: Google recommends at least 8 MiB per chunk; it must be a multiple of 256 KiB.
pub const CHUNK: usize = 8 * 1024 * 1024;

/// Where an upload goes. `api` is the base URL (`https://storage.googleapis.com`).
pub struct Target<'a> {
    pub http: &'a reqwest::Client,
    pub api: &'a str,
    pub bucket: &'a str,
    pub name: &'a str,
}

pub async fn upload(target: &Target<'_>, token: &SecretString, body: ByteStream) -> Result<u64, ProviderError> {
    let session = start(target, token).await?;
    let result = send(target, &session, body).await;
    if result.is_err() {
        cancel(target.http, &session).await;
    }
    result.map_err(|e| e.at(Step::Write))
}

async fn start(target: &Target<'_>, token: &SecretString) -> Result<String, ProviderError> {
    // Bucket names are URL-safe (the parser allows only [a-z0-9._-]).
    let url = format!("{}/upload/storage/v1/b/{}/o", target.api, target.bucket);
    let response = target
        .http
        .post(url)
        .query(&[("uploadType", "resumable"), ("name", target.name)])
        .bearer_auth(token.expose_secret())
        .header(CONTENT_TYPE, "application/json; charset=UTF-8")
        .body("{}")
        .send()
        .await
        .map_err(|e| transport_error(&e, target.api).at(Step::Write))?;
    let status = response.status();
    let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if !status.is_success() {
        return Err(from_answer(status, &response.text().await.unwrap_or_default()).at(Step::Write));
    }
    location.ok_or_else(|| {
        ProviderError::new(ErrorKind::Provider, "GCS started an upload session without a session URI.").at(Step::Write)
    })
}

/// Sends the body chunk by chunk; returns the total size once GCS has the whole object.
async fn send(target: &Target<'_>, session: &str, mut body: ByteStream) -> Result<u64, ProviderError> {
    let mut buffer = BytesMut::new();
    // Bytes GCS has persisted: the offset of the buffer's first byte.
    let mut offset = 0u64;
    while let Some(item) = body.next().await {
        let item = item.map_err(read_error)?;
        buffer.extend_from_slice(&item);
        // Only a chunk known not to be the last goes out now: the last must carry the total.
        while buffer.len() > CHUNK {
            let chunk = buffer.split_to(CHUNK).freeze();
            let persisted = put_chunk(target, session, offset, chunk.clone(), None).await?;
            // GCS may keep less than it was sent: what it lacks goes out again with the next chunk.
            let kept = persisted.checked_sub(offset).filter(|k| *k <= CHUNK as u64).ok_or_else(|| {
                ProviderError::new(ErrorKind::Provider, "GCS reported an upload range that does not match.")
            })?;
            if kept < CHUNK as u64 {
                let mut rest = BytesMut::from(&chunk[kept as usize..]);
                rest.extend_from_slice(&buffer);
                buffer = rest;
            }
            offset = persisted;
        }
    }
    let total = offset + buffer.len() as u64;
    put_chunk(target, session, offset, buffer.freeze(), Some(total)).await?;
    Ok(total)
}

/// PUTs one chunk at `offset`; `total` marks the last one. Returns the bytes GCS has persisted.
async fn put_chunk(
    target: &Target<'_>,
    session: &str,
    offset: u64,
    chunk: Bytes,
    total: Option<u64>,
) -> Result<u64, ProviderError> {
    let len = chunk.len() as u64;
    let range = match total {
        Some(total) if len == 0 => format!("bytes */{total}"),
        Some(total) => format!("bytes {offset}-{}/{total}", offset + len - 1),
        None => format!("bytes {offset}-{}/*", offset + len - 1),
    };
    let response = target
        .http
        .put(session)
        .header(CONTENT_RANGE, range)
        .body(chunk)
        .send()
        .await
        .map_err(|e| transport_error(&e, target.api))?;
    let status = response.status();
    match (status.as_u16(), total) {
        // "308 Resume Incomplete": `Range: bytes=0-N` says what GCS has; no header means nothing.
        (308, None) => Ok(response
            .headers()
            .get(RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("bytes=0-"))
            .and_then(|last| last.parse::<u64>().ok())
            .map_or(0, |last| last + 1)),
        (200 | 201, Some(total)) => check_size(response, total).await,
        (308, Some(_)) | (200 | 201, None) => Err(ProviderError::new(
            ErrorKind::Provider,
            format!("GCS answered HTTP {} to an upload chunk out of turn.", status.as_u16()),
        )),
        _ => Err(from_answer(status, &response.text().await.unwrap_or_default())),
    }
}

/// The finished object's size as GCS reports it must be what we sent.
async fn check_size(response: reqwest::Response, total: u64) -> Result<u64, ProviderError> {
    let object: serde_json::Value = response.json().await.unwrap_or_default();
    let size = object.get("size").and_then(|s| s.as_str()).and_then(|s| s.parse::<u64>().ok());
    match size {
        Some(size) if size != total => {
            Err(ProviderError::new(ErrorKind::Provider, format!("GCS stored {size} bytes of the {total} sent.")))
        }
        _ => Ok(total),
    }
}

/// Cancels a session (GCS answers 499); best effort, the upload has failed already.
async fn cancel(http: &reqwest::Client, session: &str) {
    match http.delete(session).timeout(Duration::from_secs(10)).send().await {
        Ok(response) => tracing::debug!(status = %response.status(), "cancelled a GCS upload session"),
        Err(e) => tracing::warn!(error = %e.without_url(), "could not cancel a GCS upload session"),
    }
}
