//! Copies: a run reads its source once and writes the primary and every copy at the same time.
//!
//! Why a tee rather than copying from the primary afterwards:
//! - one read of the source gives every copy the same consistent snapshot (a database dumped
//!   once, a folder walked once), and the source is not read twice;
//! - a copy never depends on the primary being readable afterwards: when the primary's upload
//!   fails (the reason to have copies), the others still get the artifact;
//! - the run takes about as long as its slowest copy, not the sum of the uploads.
//!
//! The encrypted, counted stream is split into one bounded channel per copy ([`QUEUE`] chunks;
//! `Bytes` clones share their buffer), so memory stays a few chunks per copy whatever the size.
//! Each copy hashes what it received on its own task (the run hashes nothing before the tee), so
//! one destination costs one SHA-256 pass, on a core beside the source's.
//! The slowest copy paces the others. A copy whose upload fails drops its receiver and is left out
//! of the tee; the others go on.
//!
//! Retries: a copy that failed transiently (unreachable, timed out) is retried from the start,
//! alone or with the others that did, by reading the source again for them (a stream cannot be
//! rewound, and the provider removed the partial upload); copies that succeeded keep what they
//! wrote. Each copy therefore records the checksum of the bytes it received: a retried copy holds
//! a later snapshot than the others. With a single destination this is exactly the former
//! behaviour: the whole upload starts over, up to three attempts in all.

use super::copies_store::{COPY_FAILED, COPY_SKIPPED, COPY_SUCCEEDED, RunCopyRow};
use super::runner::Runner;
use crate::artifacts::ByteStream;
use crate::artifacts::checksum::Digesting;
use crate::providers::{ErrorKind, Provider, ProviderError};
use bytes::Bytes;
use chrono::{NaiveDateTime, Utc};
use futures::StreamExt;
use tokio::sync::mpsc;

/// Chunks queued per copy: the slowest copy holds back the reading after this many.
pub const QUEUE: usize = 4;

/// One destination a run writes: the primary (position 0) or a copy.
pub struct Target {
    pub position: i64,
    pub destination_id: String,
    pub provider: Box<dyn Provider>,
    /// The Object Lock its upload carries (the policy of its position says so).
    pub lock: Option<crate::providers::lock::ObjectLock>,
}

/// What one copy's upload of one attempt gave.
pub struct Written {
    pub result: Result<u64, ProviderError>,
    /// SHA-256 (hex) and size of what this copy received from the tee.
    pub sha256: String,
    pub received: u64,
}

/// Streams `body` into every target at once under `key`; one answer per target, in order.
pub async fn tee(body: ByteStream, targets: &[&Target], key: &str) -> Vec<Written> {
    let mut senders = Vec::with_capacity(targets.len());
    let mut uploads = Vec::with_capacity(targets.len());
    for target in targets {
        let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(QUEUE);
        senders.push(Some(tx));
        let (received, digest) = Digesting::new(tokio_stream_of(rx));
        uploads.push(async move {
            let result = match &target.lock {
                Some(lock) => target.provider.put_locked(key, received, lock).await,
                None => target.provider.put(key, received).await,
            };
            let (sha256, received) = digest.finish();
            Written { result, sha256, received }
        });
    }
    let pump = pump(body, senders);
    let (_, written) = futures::join!(pump, futures::future::join_all(uploads));
    written
}

/// Hands every chunk to each copy still listening, in turn (so the slowest paces the rest); a
/// source error is handed to all, so each abandons its upload. Stops reading once nobody listens.
async fn pump(mut body: ByteStream, mut senders: Vec<Option<mpsc::Sender<std::io::Result<Bytes>>>>) {
    while let Some(chunk) = body.next().await {
        let failed = chunk.as_ref().err().map(|e| (e.kind(), e.to_string()));
        for slot in senders.iter_mut() {
            let Some(tx) = slot else { continue };
            let item = match (&chunk, &failed) {
                (Ok(bytes), _) => Ok(bytes.clone()),
                (Err(_), Some((kind, message))) => Err(std::io::Error::new(*kind, message.clone())),
                (Err(e), None) => Err(std::io::Error::other(e.to_string())),
            };
            // A closed receiver: that copy's upload ended (it failed); leave it out from now on.
            if tx.send(item).await.is_err() {
                *slot = None;
            }
        }
        if failed.is_some() || senders.iter().all(Option::is_none) {
            return;
        }
    }
}

fn tokio_stream_of(mut rx: mpsc::Receiver<std::io::Result<Bytes>>) -> ByteStream {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// How one copy of a run ended.
pub struct CopyEnd {
    pub position: i64,
    pub destination_id: Option<String>,
    pub status: &'static str,
    pub bytes: u64,
    pub sha256: Option<String>,
    pub error: Option<String>,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: NaiveDateTime,
}

impl CopyEnd {
    pub fn succeeded(target: &Target, bytes: u64, sha256: String, started_at: NaiveDateTime) -> CopyEnd {
        CopyEnd {
            position: target.position,
            destination_id: Some(target.destination_id.clone()),
            status: COPY_SUCCEEDED,
            bytes,
            sha256: Some(sha256),
            error: None,
            started_at: Some(started_at),
            finished_at: Utc::now().naive_utc(),
        }
    }

    pub fn failed(
        position: i64,
        destination_id: Option<String>,
        error: String,
        started: Option<NaiveDateTime>,
    ) -> CopyEnd {
        CopyEnd {
            position,
            destination_id,
            status: COPY_FAILED,
            bytes: 0,
            sha256: None,
            error: Some(error),
            started_at: started,
            finished_at: Utc::now().naive_utc(),
        }
    }

    pub fn skipped(position: i64, destination_id: String, reason: String) -> CopyEnd {
        CopyEnd { status: COPY_SKIPPED, ..CopyEnd::failed(position, Some(destination_id), reason, None) }
    }

    pub fn row(&self, run_id: &str, workspace: &str, key: Option<&str>) -> RunCopyRow {
        let ok = self.status == COPY_SUCCEEDED;
        RunCopyRow {
            run_id: run_id.to_owned(),
            workspace_id: workspace.to_owned(),
            position: self.position,
            destination_id: self.destination_id.clone(),
            status: self.status.to_owned(),
            bytes: i64::try_from(self.bytes).unwrap_or(i64::MAX),
            sha256: self.sha256.clone(),
            object_key: key.filter(|_| ok).map(str::to_owned),
            error: self.error.clone(),
            pruned_at: None,
            started_at: self.started_at,
            finished_at: Some(self.finished_at),
        }
    }
}

/// A copy's failure as the run's error names it: "copy 2 (“Offsite”): …".
pub fn failure_line(position: i64, name: &str, error: &str) -> String {
    match position {
        0 => format!("primary (“{name}”): {error}"),
        n => format!("copy {n} (“{name}”): {error}"),
    }
}

impl Runner {
    /// The plan's copies (positions 1, 2) ready to write, and those that cannot be written this
    /// time (a destination failed, disabled or unusable), already ended.
    pub(super) async fn copy_targets(&self, workspace: &str, plan: &str) -> (Vec<Target>, Vec<CopyEnd>) {
        let (ws, pid) = (workspace.to_owned(), plan.to_owned());
        let copies = match self.db().run(move |c| crate::plans::copies::of_plan(c, &ws, &pid)).await {
            Ok(copies) => copies,
            Err(e) => {
                tracing::warn!(plan, error = %e, "could not read the plan's copies");
                return (Vec::new(), Vec::new());
            }
        };
        let (mut ready, mut ended) = (Vec::new(), Vec::new());
        for (position, destination_id) in copies {
            match self.usable(workspace, &destination_id).await {
                Ok(provider) => ready.push(Target { position, destination_id, provider, lock: None }),
                Err(Unusable::Skipped(reason)) => ended.push(CopyEnd::skipped(position, destination_id, reason)),
                Err(Unusable::Failed(e)) => ended.push(CopyEnd::failed(position, Some(destination_id), e, None)),
            }
        }
        (ready, ended)
    }

    /// A destination's provider if a run may write to it now.
    pub(super) async fn usable(&self, workspace: &str, destination_id: &str) -> Result<Box<dyn Provider>, Unusable> {
        use crate::destinations::domain::Status;
        let (destination, provider) = self
            .destinations()
            .provider(workspace, destination_id)
            .await
            .map_err(|e| Unusable::Failed(format!("the destination cannot be used: {e}")))?;
        match destination.status {
            Status::Failed => {
                let last = destination.last_test_message.unwrap_or_else(|| "no message".into());
                Err(Unusable::Failed(format!("destination failed its last test: {last}")))
            }
            Status::Disabled => Err(Unusable::Skipped(format!("destination “{}” is disabled", destination.name))),
            _ => provider.map_err(|e| Unusable::Failed(e.to_string())),
        }
    }
}

/// Why a destination cannot be written now.
pub enum Unusable {
    Skipped(String),
    Failed(String),
}

/// Whether a failure is worth another attempt.
pub fn transient(e: &ProviderError) -> bool {
    matches!(e.kind, ErrorKind::Unreachable | ErrorKind::Timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// Collects what it is given; fails after `fail_after` chunks when set.
    struct Sink {
        got: Mutex<Vec<u8>>,
        fail_after: Option<usize>,
    }

    #[async_trait]
    impl Provider for Sink {
        fn steps(&self) -> &'static [crate::providers::Step] {
            &[]
        }
        async fn test(&self) -> Result<String, ProviderError> {
            Ok(String::new())
        }
        async fn put(&self, _key: &str, mut body: ByteStream) -> Result<u64, ProviderError> {
            let mut n = 0;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| ProviderError::new(ErrorKind::Provider, e.to_string()))?;
                if self.fail_after == Some(n) {
                    return Err(ProviderError::new(ErrorKind::Unreachable, "cut"));
                }
                self.got.lock().expect("lock").extend_from_slice(&chunk);
                n += 1;
            }
            Ok(self.got.lock().expect("lock").len() as u64)
        }
        async fn get(&self, _key: &str) -> Result<ByteStream, ProviderError> {
            Err(ProviderError::new(ErrorKind::NotFound, "no"))
        }
        async fn list(&self, _prefix: &str) -> Result<Vec<crate::providers::StoredObject>, ProviderError> {
            Ok(Vec::new())
        }
        async fn delete(&self, _key: &str) -> Result<(), ProviderError> {
            Ok(())
        }
    }

    fn target(position: i64, fail_after: Option<usize>) -> Target {
        let provider = Box::new(Sink { got: Mutex::new(Vec::new()), fail_after });
        Target { position, destination_id: format!("d{position}"), provider, lock: None }
    }

    #[tokio::test]
    async fn every_copy_gets_the_same_bytes_and_a_failing_one_is_dropped() {
        let chunks: Vec<std::io::Result<Bytes>> = (0..50u8).map(|i| Ok(Bytes::from(vec![i; 1000]))).collect();
        let body = futures::stream::iter(chunks).boxed();
        let targets = [target(0, None), target(1, Some(3)), target(2, None)];
        let written = tee(body, &targets.iter().collect::<Vec<_>>(), "k").await;
        assert_eq!(written.len(), 3);
        assert_eq!(written[0].result.as_ref().ok(), Some(&50_000));
        assert_eq!(written[2].result.as_ref().ok(), Some(&50_000));
        assert_eq!(written[0].sha256, written[2].sha256);
        assert_eq!(written[0].received, 50_000);
        let failed = written[1].result.as_ref().expect_err("copy 1 was cut");
        assert!(transient(failed));
        assert!(written[1].received < 50_000);
    }

    #[tokio::test]
    async fn a_source_error_reaches_every_copy() {
        let chunks: Vec<std::io::Result<Bytes>> =
            vec![Ok(Bytes::from_static(b"abc")), Err(std::io::Error::other("disk gone"))];
        let targets = [target(0, None), target(1, None)];
        let written = tee(futures::stream::iter(chunks).boxed(), &targets.iter().collect::<Vec<_>>(), "k").await;
        for w in written {
            let e = w.result.expect_err("abandoned");
            assert!(e.to_string().contains("disk gone"), "{e}");
        }
    }
}
