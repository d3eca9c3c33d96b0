//! Running a plan once: check its destination, stream the source to it (retrying transient
//! failures from the start), record the outcome, then apply retention.

use super::copies::{CopyEnd, Target, Unusable, failure_line, tee, transient};
use super::copies_store::{self, COPY_SUCCEEDED, RunCopyRow};
use super::retention::Retained;
use super::source::SourceStream;
use super::store::{self, FAILED, PARTIAL, QUEUED, RunEnd, RunRow, SKIPPED, SUCCEEDED};
use crate::artifacts::{FirstError, SourceRead, counted, encryption, workspace_key};
use crate::crypto::CredentialCipher;
use crate::db::{Db, DbError};
use crate::destinations::service::DestinationService;
use crate::grants::GrantService;
use crate::plans::domain::Source;
use crate::plans::store::{self as plans, PlanRow};
use crate::providers::{ErrorKind, ProviderError};
use chrono::{NaiveDateTime, Utc};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ATTEMPTS: u32 = 3;
/// How long a finished run waits for the database to come back to record its end.
pub(super) const RECORD_END_FOR: Duration = Duration::from_secs(3600);
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
    passed: SourceRead,
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
    /// The time retention counts back from (tests fix it).
    clock: crate::config::clock::Clock,
    /// Directory runs' manifests, read to their end, waiting for their run's end to be saved.
    manifests: super::manifests::PendingManifests,
}

/// What the uploads of a run gave: each copy's end, the source bytes read, what the walk skipped.
struct Uploaded {
    copies: Vec<CopyEnd>,
    read: u64,
    notes: Option<String>,
}

/// How a run's attempt ended: at least one copy holds the artifact under `key`, or none does
/// (failed: an error; skipped: a reason); with every copy's own end.
enum Outcome {
    Uploaded { key: String, read: u64, notes: Option<String>, copies: Vec<CopyEnd> },
    Failed { error: String, copies: Vec<CopyEnd> },
    Skipped { reason: String, copies: Vec<CopyEnd> },
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
        Runner {
            db,
            destinations,
            cipher,
            grants,
            data_dir,
            live: Arc::default(),
            instance,
            clock: Default::default(),
            manifests: Arc::default(),
        }
    }

    /// The same runner with retention counting back from `clock`.
    pub fn with_clock(self, clock: crate::config::clock::Clock) -> Runner {
        Runner { clock, ..self }
    }

    pub(super) fn pending_manifests(&self) -> &super::manifests::PendingManifests {
        &self.manifests
    }

    pub(super) fn clock(&self) -> crate::config::clock::Clock {
        self.clock
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
        let (bytes, read_bytes) = (live.passed.load(Ordering::Relaxed), live.read.load(Ordering::Relaxed));
        let secs = live.since.elapsed().as_secs_f64().max(0.001);
        Some(Progress { bytes, read_bytes, bytes_per_second: (read_bytes as f64 / secs) as u64 })
    }

    /// Runs the plan and records how it ended. Retention runs before the success is recorded,
    /// so a run that shows "succeeded" has finished everything, a failed delete included.
    async fn execute(&self, plan: PlanRow, run: RunRow) {
        let outcome = self.attempt(&plan, &run.id).await;
        if !matches!(outcome, Outcome::Uploaded { .. }) {
            // A run that uploaded nothing keeps no list of files.
            drop(self.take_manifest(&run.id));
        }
        let names: HashMap<String, String> =
            self.destinations().names(&plan.workspace_id).await.unwrap_or_default().into_iter().collect();
        let (end, copies, key) = match outcome {
            Outcome::Uploaded { key, read, notes, copies } => {
                // Saved first: the run counts as uploaded only with its list of files.
                let manifest_problem = match self.take_manifest(&run.id) {
                    Some(pending) => self.save_manifest(&run.workspace_id, &run.id, pending).await,
                    None => None,
                };
                let rows: Vec<_> = copies.iter().map(|c| c.row(&run.id, &run.workspace_id, Some(&key))).collect();
                // Recorded before retention (which counts this run) and before the end, so that
                // crash recovery finds what to delete should the process die in between.
                let (id, recorded, k, dest) = (run.id.clone(), rows.clone(), key.clone(), run.destination_id.clone());
                let note = move |c: &mut crate::db::DbConn| {
                    copies_store::record(c, &id, &recorded)?;
                    store::note_artifact(c, &id, &k, dest.as_deref())
                };
                let mut retained = match self.db.run(note).await {
                    Ok(()) => self.apply_retention(&plan, &run.id).await,
                    Err(e) => Retained { problem: Some(format!("recording the new backup failed: {e}")), note: None },
                };
                if let Some(problem) = manifest_problem {
                    retained.problem = Some(retained.problem.map_or(problem.clone(), |p| format!("{problem}; {p}")));
                }
                let (problem, notes) = (retained.problem, join_notes(notes, retained.note));
                let held = copies.iter().find(|c| c.position == 0 && c.status == COPY_SUCCEEDED);
                let held = held.or_else(|| copies.iter().find(|c| c.status == COPY_SUCCEEDED));
                let failures = failure_lines(&copies, &names);
                let status = if failures.is_empty() { SUCCEEDED } else { PARTIAL };
                let mut error = (!failures.is_empty()).then(|| format!("Some copies failed: {}.", failures.join("; ")));
                if let Some(p) = problem {
                    error = Some(match error {
                        Some(e) => format!("{e} Retention: {p}"),
                        None => format!("Retention: {p}"),
                    });
                }
                let end = RunEnd {
                    status,
                    // By the runner's clock, which retention counted from (tests fix it).
                    finished_at: self.clock().now(),
                    bytes: held.map_or(0, |c| i64::try_from(c.bytes).unwrap_or(i64::MAX)),
                    sha256: held.and_then(|c| c.sha256.clone()),
                    object_key: Some(key.clone()),
                    error,
                    notes,
                    read_bytes: Some(i64::try_from(read).unwrap_or(i64::MAX)),
                };
                (end, rows, Some(key))
            }
            Outcome::Failed { error, copies } => {
                let error = match copies.len() {
                    0 | 1 => error,
                    _ => format!("Every copy failed: {}.", failure_lines(&copies, &names).join("; ")),
                };
                (
                    end_without_artifact(FAILED, error),
                    copies.iter().map(|c| c.row(&run.id, &run.workspace_id, None)).collect(),
                    None,
                )
            }
            Outcome::Skipped { reason, copies } => (
                end_without_artifact(SKIPPED, reason),
                copies.iter().map(|c| c.row(&run.id, &run.workspace_id, None)).collect(),
                None,
            ),
        };
        let recorded = self.record_end(&run.id, end, copies.clone()).await;
        // The live counts serve the run's pages until its end is written: taken away at the end
        // of the upload, the pages had fallen back to the row's counts (written every few
        // seconds, none yet for a short run) while the manifest and retention were still saved.
        self.live.lock().map(|mut l| l.remove(&run.id)).ok();
        if let Ok(false) = recorded
            && let Some(key) = key
        {
            // Another instance took this one for dead and marked the run interrupted meanwhile;
            // that stands, so the artifacts it does not count are not kept either.
            tracing::warn!(run = %run.id, "the run was marked interrupted meanwhile; removing its artifacts");
            for copy in copies.iter().filter(|c| c.status == COPY_SUCCEEDED) {
                let Some(destination) = &copy.destination_id else { continue };
                if let Ok((_, Ok(provider))) = self.destinations.provider(&run.workspace_id, destination).await {
                    let _ = provider.delete(&key).await;
                }
                let (id, position, now) = (run.id.clone(), copy.position, Utc::now().naive_utc());
                let _ = self.db.run(move |c| copies_store::mark_pruned(c, &id, position, now)).await;
            }
        }
    }

    /// Writes the run's end, waiting out a database outage (the run is over; only its record is
    /// missing). Ok(false): the run had been marked interrupted meanwhile, which stands.
    async fn record_end(&self, run_id: &str, end: RunEnd, copies: Vec<RunCopyRow>) -> Result<bool, DbError> {
        let mut pause = Duration::from_secs(1);
        let give_up = Instant::now() + RECORD_END_FOR;
        loop {
            let (id, owner, end, copies) = (run_id.to_owned(), self.instance.to_string(), end.clone(), copies.clone());
            let finished = move |c: &mut crate::db::DbConn| {
                crate::db::write_transaction(c, |c| {
                    let finished = store::finish(c, &id, &owner, end)?;
                    if finished {
                        copies_store::record(c, &id, &copies)?;
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
        // The primary (position 0) and the copies that can be written now; the others end here.
        let (mut targets, mut ended) = (Vec::new(), Vec::new());
        let primary = match plan.destination_id.clone() {
            None => Err(Unusable::Failed("the plan has no destination (it was deleted); choose one".into())),
            Some(id) => match self.usable(&plan.workspace_id, &id).await {
                Ok(provider) => {
                    targets.push(Target { position: 0, destination_id: id, provider, lock: None });
                    Ok(())
                }
                Err(Unusable::Skipped(r)) => {
                    ended.push(CopyEnd::skipped(0, id, r.clone()));
                    Err(Unusable::Skipped(r))
                }
                Err(Unusable::Failed(e)) => {
                    ended.push(CopyEnd::failed(0, Some(id), e.clone(), None));
                    Err(Unusable::Failed(e))
                }
            },
        };
        let (ready, not_ready) = self.copy_targets(&plan.workspace_id, &plan.id).await;
        targets.extend(ready);
        ended.extend(not_ready);
        let (targets, unlockable) = self.with_locks(plan, targets).await;
        ended.extend(unlockable);
        if targets.is_empty() {
            return match primary {
                Err(Unusable::Skipped(reason)) => Outcome::Skipped { reason, copies: ended },
                Err(Unusable::Failed(error)) => Outcome::Failed { error, copies: ended },
                Ok(()) => Outcome::Failed { error: "nothing to write to".into(), copies: ended },
            };
        }
        let started = Utc::now().naive_utc();
        let (id, owner, dest) = (run_id.to_owned(), self.instance.to_string(), plan.destination_id.clone());
        let (ws, pid) = (plan.workspace_id.clone(), plan.id.clone());
        let start = move |c: &mut crate::db::DbConn| {
            crate::db::write_transaction(c, |c| {
                let started = store::start(c, &id, &owner, dest.as_deref(), started)?;
                if started {
                    crate::notifications::emit::run_started(c, &ws, &pid)?;
                }
                Ok(started)
            })
        };
        let interrupted = |error: String| Outcome::Failed { error, copies: Vec::new() };
        match self.db.run(start).await {
            Ok(true) => {}
            // Marked interrupted while it waited; nothing to do.
            Ok(false) => return interrupted("the run was interrupted before it started".into()),
            Err(e) => return interrupted(format!("recording the start failed: {e}")),
        }
        for target in &targets {
            self.remove_leftovers(target.provider.as_ref(), plan, run_id).await;
        }
        let source = Source::from_db(&plan.source_kind, &plan.source_path);
        let extension = if plan.encrypt { format!("{}.dpbe", source.extension()) } else { source.extension().into() };
        let key = object_key(&plan.slug, started, run_id, &extension);
        let result = self.upload(&targets, plan, &source, &key, run_id).await;
        match result {
            Ok(Uploaded { mut copies, read, notes }) => {
                copies.extend(ended);
                copies.sort_by_key(|c| c.position);
                if copies.iter().any(|c| c.status == COPY_SUCCEEDED) {
                    Outcome::Uploaded { key, read, notes, copies }
                } else {
                    let error = copies.iter().find_map(|c| c.error.clone()).unwrap_or_default();
                    Outcome::Failed { error, copies }
                }
            }
            Err(e) => {
                let mut copies: Vec<CopyEnd> = targets
                    .iter()
                    .map(|t| CopyEnd::failed(t.position, Some(t.destination_id.clone()), e.to_string(), Some(started)))
                    .collect();
                copies.extend(ended);
                copies.sort_by_key(|c| c.position);
                Outcome::Failed { error: e.to_string(), copies }
            }
        }
    }

    /// Streams the source to `key` on every target at once (see `copies.rs`: one read, teed).
    /// Targets that failed transiently start over together after a pause, reading the source
    /// again for them (a stream cannot be rewound, and the provider removed the partial upload).
    async fn upload(
        &self,
        targets: &[Target],
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
        let mut pending: Vec<&Target> = targets.iter().collect();
        let mut done = Uploaded { copies: Vec::new(), read: 0, notes: None };
        let mut attempt = 1;
        loop {
            let started = Utc::now().naive_utc();
            let source_error = FirstError::default();
            let read = SourceRead::default();
            let SourceStream { body, notes, size } = match self.read_source(plan, source, read.clone(), run_id).await {
                Ok(found) => found,
                // Copies already written keep theirs; with none, the run fails on this.
                Err(e) if !done.copies.is_empty() => {
                    let e = unreadable(e).to_string();
                    done.copies.extend(pending.iter().map(|t| failed(t, e.clone(), started)));
                    return Ok(done);
                }
                Err(e) => return Err(unreadable(e)),
            };
            // Its own error: a provider fed a broken body only says it cannot write.
            let body = source_error.noting(body);
            let body = match &artifact_key {
                Some(k) => encryption::encrypt(body, k),
                None => body,
            };
            // Counted, not hashed: each copy takes the checksum of what it received (copies.rs).
            let passed = SourceRead::default();
            let body = counted(body, passed.clone());
            let live = Live { passed: passed.clone(), read: read.clone(), since: Instant::now() };
            self.live.lock().map(|mut l| l.insert(run_id.to_owned(), live)).ok();
            let ticker = self.record_progress(run_id, passed.clone(), read.clone());
            // The size is only for the progress shown: asked while the upload starts, and
            // recorded before the run can end.
            let ((), written) = tokio::join!(self.record_expected(plan, run_id, size), tee(body, &pending, key));
            ticker.abort();
            let passed = passed.load(Ordering::Relaxed);
            let source_error = source_error.take().map(|e| e.to_string());
            let mut retry = Vec::new();
            for (target, w) in pending.into_iter().zip(written) {
                match w.result {
                    Ok(n) if n == passed && w.received == passed && source_error.is_none() => {
                        if let Some(lock) = &target.lock {
                            self.record_lock(plan, run_id, target.position, lock).await;
                        }
                        done.copies.push(CopyEnd::succeeded(target, n, w.sha256, started));
                        done.read = read.load(Ordering::Relaxed);
                        done.notes = notes.as_ref().and_then(super::source::SourceNotes::text);
                    }
                    Ok(n) => {
                        let _ = target.provider.delete(key).await;
                        let why = source_error.clone().unwrap_or_else(|| format!("it stored {n} bytes of {passed}"));
                        done.copies.push(failed(target, format!("The upload is incomplete: {why}"), started));
                    }
                    Err(e) if let Some(source) = &source_error => {
                        let e = format!("Reading the source failed: {source} (the upload was abandoned: {e})");
                        done.copies.push(failed(target, e, started));
                    }
                    Err(e) if transient(&e) && attempt < ATTEMPTS => {
                        tracing::warn!(run = %run_id, copy = target.position, attempt, error = %e, "upload failed; retrying");
                        retry.push(target);
                    }
                    Err(e) => done.copies.push(failed(target, e.to_string(), started)),
                }
            }
            if retry.is_empty() {
                return Ok(done);
            }
            tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
            attempt += 1;
            pending = retry;
        }
    }

    /// Records how many bytes reading the source will take, when that could be known.
    async fn record_expected(&self, plan: &PlanRow, run_id: &str, size: BoxFuture<'_, Result<u64, String>>) {
        let expected = size
            .await
            .inspect_err(|e| tracing::info!(plan = %plan.id, error = %e, "the source's size is not known"))
            .ok()
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let id = run_id.to_owned();
        if let Err(e) = self.db.run(move |c| store::expect(c, &id, expected)).await {
            tracing::warn!(run = %run_id, error = %e, "recording the source's size failed");
        }
    }

    /// Writes the run's byte counts to its row now and then, for pages another instance serves.
    fn record_progress(&self, run_id: &str, passed: SourceRead, read: SourceRead) -> tokio::task::JoinHandle<()> {
        let (db, id) = (self.db.clone(), run_id.to_owned());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                let bytes = i64::try_from(passed.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
                let read = i64::try_from(read.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
                let id = id.clone();
                let _ = db.run(move |c| store::progress(c, &id, bytes, read)).await;
            }
        })
    }
}

/// A run's notes: what the source noted (a walk's skipped entries, a dump's warning), then what
/// retention kept locked.
fn join_notes(walk: Option<String>, retention: Option<String>) -> Option<String> {
    match (walk, retention) {
        (Some(a), Some(b)) => Some(format!("{a} {b}")),
        (a, b) => a.or(b),
    }
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

fn failed(target: &Target, error: String, started: NaiveDateTime) -> CopyEnd {
    CopyEnd::failed(target.position, Some(target.destination_id.clone()), error, Some(started))
}

/// "copy 1 (“Offsite”): …" for every copy that did not succeed.
fn failure_lines(copies: &[CopyEnd], names: &HashMap<String, String>) -> Vec<String> {
    copies
        .iter()
        .filter(|c| c.status != COPY_SUCCEEDED)
        .map(|c| {
            let name = c.destination_id.as_ref().and_then(|d| names.get(d)).map_or("deleted", String::as_str);
            failure_line(c.position, name, c.error.as_deref().unwrap_or("no reason recorded"))
        })
        .collect()
}

/// `{plan-slug}/{timestamp}-{run-id}.tar.zst`: sorts by time within a plan's folder.
pub fn object_key(slug: &str, at: NaiveDateTime, run_id: &str, extension: &str) -> String {
    format!("{slug}/{}-{run_id}.{extension}", at.format("%Y%m%dT%H%M%SZ"))
}
