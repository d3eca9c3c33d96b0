//! Uploads as one streamed request of the JSON API (`uploadType=media`, chunked transfer
//! encoding: <https://cloud.google.com/storage/docs/uploads-downloads#uploads>), which real GCS
//! and fake-gcs-server both accept (fake-gcs-server answers object_store's XML-API writes with
//! 400 "invalid uploadType", and its resumable path is slow and memory-hungry). Memory stays
//! bounded whatever the size: the body streams as the artifact is read. The object exists only
//! once the request completes, so a cut-off upload leaves nothing visible; the run retries it
//! from the start, which is also what a resumable session without resumption would do.
//!
//! A request has no overall time limit — a large artifact takes as long as it takes — but one
//! whose body stops moving for the stall timeout (a server that no longer reads) fails.

use crate::providers::chunks::read_error;
use crate::providers::http::transport_error;
use crate::providers::object_store_errors::from_answer;
use crate::providers::{ByteStream, ErrorKind, ProviderError, Step};
use futures::StreamExt;
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where an upload goes. `api` is the base URL (`https://storage.googleapis.com`).
pub struct Target<'a> {
    pub http: &'a reqwest::Client,
    pub api: &'a str,
    pub bucket: &'a str,
    pub name: &'a str,
    pub stall_timeout: Duration,
}

pub async fn upload(target: &Target<'_>, token: &SecretString, body: ByteStream) -> Result<u64, ProviderError> {
    let progress = Arc::new(Progress::new());
    let counted = {
        let progress = Arc::clone(&progress);
        body.map(move |chunk| {
            match &chunk {
                Ok(bytes) => progress.moved(bytes.len()),
                Err(e) => progress.read_failed(e),
            }
            chunk
        })
    };
    // Bucket names are URL-safe (the parser allows only [a-z0-9._-]); the name is a query value.
    let url = format!("{}/upload/storage/v1/b/{}/o", target.api, target.bucket);
    let request = target
        .http
        .post(url)
        .query(&[("uploadType", "media"), ("name", target.name)])
        .bearer_auth(token.expose_secret())
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(reqwest::Body::wrap_stream(counted))
        .send();
    let response = tokio::select! {
        response = request => response.map_err(|e| match progress.read_failure() {
            // The artifact's own stream stopped the upload, not GCS.
            Some(e) => read_error(e),
            None => transport_error(&e, target.api).at(Step::Write),
        })?,
        () = progress.stalled(target.stall_timeout) => {
            return Err(ProviderError::new(
                ErrorKind::Timeout,
                format!("{} stopped taking the upload for {} s.", target.api, target.stall_timeout.as_secs()),
            )
            .at(Step::Write));
        }
    };
    let status = response.status();
    if !status.is_success() {
        return Err(from_answer(status, &response.text().await.unwrap_or_default()).at(Step::Write));
    }
    let sent = progress.bytes.load(Ordering::Acquire);
    check_size(response, sent).await
}

/// How far the body has got, and when it last moved.
struct Progress {
    started: Instant,
    bytes: AtomicU64,
    last_moved_ms: AtomicU64,
    read_failure: Mutex<Option<(std::io::ErrorKind, String)>>,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            started: Instant::now(),
            bytes: AtomicU64::new(0),
            last_moved_ms: AtomicU64::new(0),
            read_failure: Mutex::new(None),
        }
    }

    fn read_failed(&self, e: &std::io::Error) {
        if let Ok(mut slot) = self.read_failure.lock() {
            *slot = Some((e.kind(), e.to_string()));
        }
    }

    fn read_failure(&self) -> Option<std::io::Error> {
        let slot = self.read_failure.lock().ok()?;
        slot.as_ref().map(|(kind, message)| std::io::Error::new(*kind, message.clone()))
    }

    fn moved(&self, len: usize) {
        self.bytes.fetch_add(len as u64, Ordering::AcqRel);
        self.last_moved_ms.store(self.started.elapsed().as_millis() as u64, Ordering::Release);
    }

    /// Resolves once nothing has moved for `limit`.
    async fn stalled(&self, limit: Duration) {
        let every = (limit / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        loop {
            tokio::time::sleep(every).await;
            let idle = self
                .started
                .elapsed()
                .saturating_sub(Duration::from_millis(self.last_moved_ms.load(Ordering::Acquire)));
            if idle >= limit {
                return;
            }
        }
    }
}

/// The finished object's size as GCS reports it must be what we sent.
async fn check_size(response: reqwest::Response, sent: u64) -> Result<u64, ProviderError> {
    let object: serde_json::Value = response.json().await.unwrap_or_default();
    let size = object.get("size").and_then(|s| s.as_str()).and_then(|s| s.parse::<u64>().ok());
    match size {
        Some(size) if size != sent => {
            Err(ProviderError::new(ErrorKind::Provider, format!("GCS stored {size} bytes of the {sent} sent."))
                .at(Step::Write))
        }
        _ => Ok(sent),
    }
}
