//! Running a plan once: check its destination, stream the source to it (retrying transient
//! failures from the start), record the outcome, then apply retention.

use super::store::{self, FAILED, QUEUED, RunEnd, RunRow, SKIPPED, SUCCEEDED};
use crate::artifacts::checksum::{DigestHandle, Digesting};
use crate::artifacts::{ByteStream, SourceRead, encryption, workspace_key};
use crate::crypto::CredentialCipher;
use crate::db::{Db, DbError};
use crate::destinations::domain::Status;
use crate::destinations::service::DestinationService;
use crate::grants::GrantService;
use crate::plans::domain::Source;
use crate::plans::store::{self as plans, PlanRow};
use crate::providers::{ErrorKind, Provider, ProviderError};
use chrono::{NaiveDateTime, Utc};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ATTEMPTS: u32 = 3;
/// How long a finished run waits for the database to come back to record its end.
const RECORD_END_FOR: Duration = Duration::from_secs(3600);
/// How often a running upload's byte count is written to its row (the page reads memory first).
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Manual,
    Schedule,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
        }
    }
}

/// A running upload as this instance sees it in memory.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Bytes uploaded (compressed, maybe encrypted).
    pub bytes: u64,
    /// Bytes read from the source.
    pub read_bytes: u64,
    /// Source bytes read per second since this attempt started.
    pub bytes_per_second: u64,
}

#[derive(Clone)]
struct Live {
    digest: DigestHandle,
    read: SourceRead,
    since: Instant,
}

#[derive(Clone)]
pub struct Runner {
    db: Db,
    destinations: DestinationService,
    cipher: Arc<CredentialCipher>,
    grants: GrantService,
    /// The data folder: restores download into its private temporary folder.
    data_dir: std::path::PathBuf,
    live: Arc<Mutex<HashMap<String, Live>>>,
    /// This process's instance id: the owner of the runs it executes.
    instance: Arc<str>,
}

/// A finished upload: its size, the source bytes read, its digest, what the walk skipped.
struct Uploaded {
    bytes: u64,
    read: u64,
    sha256: String,
    notes: Option<String>,
}

/// Why a run did not succeed: failed (an error) or skipped (a reason).
enum Outcome {
    Succeeded { bytes: u64, read: u64, sha256: String, key: String, notes: Option<String> },
    Failed(String),
    Skipped(String),
}

impl Runner {
    pub fn new(
        db: Db,
        destinations: DestinationService,
        cipher: Arc<CredentialCipher>,
        grants: GrantService,
        data_dir: std::path::PathBuf,
        instance: Arc<str>,
    ) -> Runner {
        Runner { db, destinations, cipher, grants, data_dir, live: Arc::default(), instance }
    }

    /// Devpilot's data folder.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// What of this machine each workspace may use.
    pub fn grants(&self) -> &GrantService {
        &self.grants
    }

    pub(super) fn db(&self) -> &Db {
        &self.db
    }

    pub(super) fn cipher(&self) -> &CredentialCipher {
        &self.cipher
    }

    pub(super) fn destinations(&self) -> &DestinationService {
        &self.destinations
    }

    /// Queues a run of the plan and starts it in the background; returns its id. One started by
    /// a person (`by`) is recorded in the audit log with the run.
    pub async fn start(
        &self,
        workspace: &str,
        plan_id: &str,
        trigger: Trigger,
        by: Option<&crate::audit::Actor>,
    ) -> Result<String, DbError> {
        let (ws, pid) = (workspace.to_owned(), plan_id.to_owned());
        let plan = self.db.run(move |c| plans::find(c, &ws, &pid)).await?;
        let run = self.queued(&plan, trigger);
        let insert = run.clone();
        let entry = by.map(|by| {
            let subject = crate::audit::Subject::plan(&plan.id, &plan.name);
            let detail = format!("Run {}.", run.id);
            crate::audit::Entry::new(by, workspace, subject, crate::audit::Action::RunStarted, detail)
        });
        self.db
            .run(move |c| match &entry {
                Some(entry) => crate::audit::store::with_entry(c, entry, |c| store::insert(c, &insert)),
                None => store::insert(c, &insert),
            })
            .await?;
        Ok(self.spawn(plan, run))
    }

    /// The scheduler's start: claims the plan's slot `seen` (moving it to `next`) and records the
    /// queued run in one transaction; starts it if this instance won the claim.
    pub async fn start_due(
        &self,
        plan: PlanRow,
        seen: NaiveDateTime,
        next: Option<NaiveDateTime>,
    ) -> Result<Option<String>, DbError> {
        let run = self.queued(&plan, Trigger::Schedule);
        let (pid, insert) = (plan.id.clone(), run.clone());
        let claimed = self.db.run(move |c| store::claim(c, &pid, seen, next, &insert)).await?;
        Ok(claimed.then(|| self.spawn(plan, run)))
    }

    fn queued(&self, plan: &PlanRow, trigger: Trigger) -> RunRow {
        RunRow {
            id: uuid::Uuid::new_v4().to_string(),
            workspace_id: plan.workspace_id.clone(),
            plan_id: plan.id.clone(),
            destination_id: plan.destination_id.clone(),
            status: QUEUED.into(),
            trigger: trigger.as_str().into(),
            started_at: None,
            finished_at: None,
            bytes: 0,
            sha256: None,
            object_key: None,
            error: None,
            pruned_at: None,
            created_at: Utc::now().naive_utc(),
            source_kind: Some(plan.source_kind.clone()),
            encrypted: plan.encrypt,
            owner_id: Some(self.instance.to_string()),
            notes: None,
            expected_bytes: None,
            read_bytes: None,
        }
    }

    fn spawn(&self, plan: PlanRow, run: RunRow) -> String {
        let id = run.id.clone();
        let runner = self.clone();
        tokio::spawn(async move { runner.execute(plan, run).await });
        id
    }

    /// Bytes so far and the rate, while this instance runs it.
    pub fn progress(&self, run_id: &str) -> Option<Progress> {
        let live = self.live.lock().ok()?.get(run_id)?.clone();
        let (bytes, read_bytes) = (live.digest.bytes(), live.read.load(Ordering::Relaxed));
        let secs = live.since.elapsed().as_secs_f64().max(0.001);
        Some(Progress { bytes, read_bytes, bytes_per_second: (read_bytes as f64 / secs) as u64 })
    }

    /// Runs the plan and records how it ended. Retention runs before the success is recorded,
    /// so a run that shows "succeeded" has finished everything, a failed delete included.
    async fn execute(&self, plan: PlanRow, run: RunRow) {
        let outcome = self.attempt(&plan, &run.id).await;
        let end = match outcome {
            Outcome::Succeeded { bytes, read, sha256, key, notes } => {
                let problem = self.apply_retention(&plan, &run.id, &key, &run.destination_id).await;
                RunEnd {
                    status: SUCCEEDED,
                    finished_at: Utc::now().naive_utc(),
                    bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
                    sha256: Some(sha256),
                    object_key: Some(key),
                    error: problem.map(|p| format!("Retention: {p}")),
                    notes,
                    read_bytes: Some(i64::try_from(read).unwrap_or(i64::MAX)),
                }
            }
            Outcome::Failed(e) => end_without_artifact(FAILED, e),
            Outcome::Skipped(reason) => end_without_artifact(SKIPPED, reason),
        };
        let artifact = end.object_key.clone().filter(|_| end.status == SUCCEEDED);
        if let Ok(false) = self.record_end(&run.id, end).await
            && let (Some(key), Some(destination)) = (artifact, &run.destination_id)
        {
            // Another instance took this one for dead and marked the run interrupted meanwhile;
            // that stands, so the artifact it does not count is not kept either.
            tracing::warn!(run = %run.id, "the run was marked interrupted meanwhile; removing its artifact");
            if let Ok((_, Ok(provider))) = self.destinations.provider(&run.workspace_id, destination).await {
                let _ = provider.delete(&key).await;
            }
        }
    }

    /// Writes the run's end, waiting out a database outage (the run is over; only its record is
    /// missing). Ok(false): the run had been marked interrupted meanwhile, which stands.
    async fn record_end(&self, run_id: &str, end: RunEnd) -> Result<bool, DbError> {
        let mut pause = Duration::from_secs(1);
        let give_up = Instant::now() + RECORD_END_FOR;
        loop {
            let (id, owner, end) = (run_id.to_owned(), self.instance.to_string(), end.clone());
            let finished = move |c: &mut crate::db::DbConn| {
                crate::db::write_transaction(c, |c| {
                    let finished = store::finish(c, &id, &owner, end)?;
                    if finished {
                        crate::notifications::emit::run_ended(c, &id)?;
                    }
                    Ok(finished)
                })
            };
            match self.db.run(finished).await {
                Err(e) if e.outage().is_some() && Instant::now() < give_up => {
                    tracing::warn!(run = %run_id, error = %e, "the database is unavailable; recording the run's end later");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
                Err(e) => {
                    tracing::error!(run = %run_id, error = %e, "recording a run's end failed");
                    return Err(e);
                }
                recorded => return recorded,
            }
        }
    }

    async fn attempt(&self, plan: &PlanRow, run_id: &str) -> Outcome {
        let Some(destination_id) = plan.destination_id.clone() else {
            return Outcome::Failed("the plan has no destination (it was deleted); choose one".into());
        };
        let (destination, provider) = match self.destinations.provider(&plan.workspace_id, &destination_id).await {
            Ok(found) => found,
            Err(e) => return Outcome::Failed(format!("the destination cannot be used: {e}")),
        };
        match destination.status {
            Status::Failed => {
                let last = destination.last_test_message.unwrap_or_else(|| "no message".into());
                return Outcome::Failed(format!("destination failed its last test: {last}"));
            }
            Status::Disabled => return Outcome::Skipped(format!("destination “{}” is disabled", destination.name)),
            _ => {}
        }
        let provider = match provider {
            Ok(p) => p,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let started = Utc::now().naive_utc();
        let (id, owner, dest) = (run_id.to_owned(), self.instance.to_string(), destination_id.clone());
        let (ws, pid) = (plan.workspace_id.clone(), plan.id.clone());
        let start = move |c: &mut crate::db::DbConn| {
            crate::db::write_transaction(c, |c| {
                let started = store::start(c, &id, &owner, &dest, started)?;
                if started {
                    crate::notifications::emit::run_started(c, &ws, &pid)?;
                }
                Ok(started)
            })
        };
        match self.db.run(start).await {
            Ok(true) => {}
            // Marked interrupted while it waited; nothing to do.
            Ok(false) => return Outcome::Failed("the run was interrupted before it started".into()),
            Err(e) => return Outcome::Failed(format!("recording the start failed: {e}")),
        }
        self.remove_leftovers(provider.as_ref(), plan, run_id).await;
        let source = Source::from_db(&plan.source_kind, &plan.source_path);
        let extension = if plan.encrypt { format!("{}.dpbe", source.extension()) } else { source.extension().into() };
        let key = object_key(&plan.slug, started, run_id, &extension);
        let expected = self.expected_size(plan, &source).await.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let id = run_id.to_owned();
        if let Err(e) = self.db.run(move |c| store::expect(c, &id, expected)).await {
            tracing::warn!(run = %run_id, error = %e, "recording the source's size failed");
        }
        let result = self.upload(provider.as_ref(), plan, &source, &key, run_id).await;
        self.live.lock().map(|mut l| l.remove(run_id)).ok();
        match result {
            Ok(Uploaded { bytes, read, sha256, notes }) => Outcome::Succeeded { bytes, read, sha256, key, notes },
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    /// Streams the source to `key`; transient failures start over after a pause (a stream
    /// cannot be rewound, and the provider removed the partial upload).
    async fn upload(
        &self,
        provider: &dyn Provider,
        plan: &PlanRow,
        source: &Source,
        key: &str,
        run_id: &str,
    ) -> Result<Uploaded, ProviderError> {
        let unreadable = |e: String| ProviderError::new(ErrorKind::Provider, format!("Reading the source failed: {e}"));
        let artifact_key =
            match plan.encrypt {
                true => Some(workspace_key::for_workspace(&self.db, &self.cipher, &plan.workspace_id).await.map_err(
                    |e| ProviderError::new(ErrorKind::Provider, format!("Encryption is not possible: {e}")),
                )?),
                false => None,
            };
        let mut attempt = 1;
        loop {
            let source_error = Arc::new(Mutex::new(None));
            let read = SourceRead::default();
            let (body, notes) = self.read_source(plan, source, read.clone()).await.map_err(unreadable)?;
            let body = note_error(body, source_error.clone());
            let body = match &artifact_key {
                Some(k) => encryption::encrypt(body, k),
                None => body,
            };
            let (body, digest) = Digesting::new(body);
            let live = Live { digest: digest.clone(), read: read.clone(), since: Instant::now() };
            self.live.lock().map(|mut l| l.insert(run_id.to_owned(), live)).ok();
            let ticker = self.record_progress(run_id, digest.clone(), read.clone());
            let result = provider.put(key, body).await;
            ticker.abort();
            let (sha256, passed) = digest.finish();
            let source_error = source_error.lock().ok().and_then(|e| e.clone());
            match result {
                Ok(written) if written == passed && source_error.is_none() => {
                    let notes = notes.as_ref().and_then(super::source::SourceNotes::text);
                    return Ok(Uploaded { bytes: written, read: read.load(Ordering::Relaxed), sha256, notes });
                }
                Ok(written) => {
                    let _ = provider.delete(key).await;
                    let why = source_error.unwrap_or_else(|| format!("it stored {written} bytes of {passed}"));
                    return Err(ProviderError::new(ErrorKind::Provider, format!("The upload is incomplete: {why}")));
                }
                Err(e) if let Some(source) = source_error => {
                    return Err(ProviderError::new(
                        ErrorKind::Provider,
                        format!("Reading the source failed: {source} (the upload was abandoned: {e})"),
                    ));
                }
                Err(e) if transient(&e) && attempt < ATTEMPTS => {
                    tracing::warn!(run = %run_id, attempt, error = %e, "upload failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes the run's byte counts to its row now and then, for pages another instance serves.
    fn record_progress(&self, run_id: &str, digest: DigestHandle, read: SourceRead) -> tokio::task::JoinHandle<()> {
        let (db, id) = (self.db.clone(), run_id.to_owned());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                let bytes = i64::try_from(digest.bytes()).unwrap_or(i64::MAX);
                let read = i64::try_from(read.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
                let id = id.clone();
                let _ = db.run(move |c| store::progress(c, &id, bytes, read)).await;
            }
        })
    }
}

/// Keeps the source's own error: the provider only sees a broken body and says "cannot write".
fn note_error(body: ByteStream, slot: Arc<Mutex<Option<String>>>) -> ByteStream {
    body.inspect(move |chunk| {
        if let (Err(e), Ok(mut slot)) = (chunk, slot.lock()) {
            slot.get_or_insert_with(|| e.to_string());
        }
    })
    .boxed()
}

fn end_without_artifact(status: &'static str, error: String) -> RunEnd {
    let finished_at = Utc::now().naive_utc();
    RunEnd {
        status,
        finished_at,
        bytes: 0,
        sha256: None,
        object_key: None,
        error: Some(error),
        notes: None,
        read_bytes: None,
    }
}

fn transient(e: &ProviderError) -> bool {
    matches!(e.kind, ErrorKind::Unreachable | ErrorKind::Timeout)
}

/// `{plan-slug}/{timestamp}-{run-id}.tar.zst`: sorts by time within a plan's folder.
pub fn object_key(slug: &str, at: NaiveDateTime, run_id: &str, extension: &str) -> String {
    format!("{slug}/{}-{run_id}.{extension}", at.format("%Y%m%dT%H%M%SZ"))
}
