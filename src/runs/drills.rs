//! Restore drills: proof that a plan's newest backup restores. A drill fetches the newest
//! successful artifact into Devpilot's private temporary folder, checks its size and SHA-256
//! against the run's record, decrypts it, decompresses it to the end and reads every entry:
//! a directory's files against the manifest recorded at backup (size and hash), a SQLite file
//! with `PRAGMA integrity_check` on a private copy, a PostgreSQL dump restored into a throwaway
//! database on the plan's own (granted) server, counted table by table and dropped. Nothing is
//! written where a workspace can see it; the temporary files go when the drill ends.
//!
//! Each plan drills on its own schedule (weekly by default) or when someone presses "Drill
//! now"; the scheduler claims a due drill as it claims a due run, so several instances never both
//! drill. A failed drill is notified (`drill.failed`).

use super::drills_store::{self as store, DrillEnd, DrillRow, FAILED, PASSED, RUNNING, ScheduleRow};
use super::restore::artifact_kind;
use super::runner::Runner;
use super::store::RunRow;
use crate::artifacts::checksum::Digesting;
use crate::artifacts::inspect::{self, CheckError};
use crate::artifacts::postgres::Reachable;
use crate::artifacts::{ByteStream, encryption, postgres::tools, workspace_key};
use crate::audit::{Action, Actor, Entry, Subject};
use crate::db::DbError;
use crate::error::AppError;
use crate::hostfs::private::PrivateTemp;
use crate::plans::schedule::Schedule;
use crate::plans::store::{self as plans, PlanRow};
use chrono::{NaiveDateTime, Utc};
use futures::StreamExt;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

/// Why a drill could not start.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("This plan has no successful backup to drill yet.")]
    NothingToDrill,
    #[error("{0}")]
    Schedule(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<DrillError> for AppError {
    fn from(e: DrillError) -> AppError {
        match e {
            DrillError::Db(e) => e.into(),
            e => AppError::BadRequest(e.to_string()),
        }
    }
}

/// A drill that passed: what it checked and how many artifact bytes it read.
struct Passed {
    checked: String,
}

/// What a drill found, with the run and copy it read.
struct Outcome {
    run_id: Option<String>,
    copy_position: i64,
    bytes_read: u64,
    result: Result<Passed, String>,
}

/// A plan's drill schedule as its page and the API show it.
#[derive(Debug, Clone)]
pub struct DrillSchedule {
    pub schedule: String,
    pub enabled: bool,
    pub next_drill_at: Option<NaiveDateTime>,
}

impl Runner {
    /// "Drill now": records the drill (audited, with who asked) and runs it in the background;
    /// returns its id.
    pub async fn drill_now(&self, workspace: &str, plan_id: &str, by: &Actor) -> Result<String, DrillError> {
        let (ws, pid) = (workspace.to_owned(), plan_id.to_owned());
        let plan = self.db().run(move |c| plans::find(c, &ws, &pid)).await?;
        if self.newest_artifact(&plan).await?.is_none() {
            return Err(DrillError::NothingToDrill);
        }
        let drill = self.new_drill(&plan, "manual");
        let entry = Entry::new(
            by,
            workspace,
            Subject::plan(&plan.id, &plan.name),
            Action::Tested,
            format!("Restore drill {} started.", drill.id),
        );
        let row = drill.clone();
        self.db().run(move |c| crate::audit::store::with_entry(c, &entry, |c| store::insert(c, &row))).await?;
        let id = drill.id.clone();
        let runner = self.clone();
        tokio::spawn(async move { runner.execute_drill(plan, drill).await });
        Ok(id)
    }

    fn new_drill(&self, plan: &PlanRow, trigger: &str) -> DrillRow {
        DrillRow {
            id: uuid::Uuid::new_v4().to_string(),
            workspace_id: plan.workspace_id.clone(),
            plan_id: plan.id.clone(),
            run_id: None,
            copy_position: 0,
            status: RUNNING.into(),
            trigger_kind: trigger.into(),
            started_at: Utc::now().naive_utc(),
            finished_at: None,
            checked: None,
            error: None,
            bytes_read: 0,
            owner_id: Some(self.instance().to_owned()),
        }
    }

    /// The plan's newest succeeded (or partial) run whose artifact is still kept.
    async fn newest_artifact(&self, plan: &PlanRow) -> Result<Option<RunRow>, DbError> {
        let (ws, pid) = (plan.workspace_id.clone(), plan.id.clone());
        let runs = self.db().run(move |c| super::store::for_plan(c, &ws, &pid, 200)).await?;
        Ok(runs.into_iter().find(|r| {
            [super::store::SUCCEEDED, super::store::PARTIAL].contains(&r.status.as_str())
                && r.pruned_at.is_none()
                && r.object_key.is_some()
        }))
    }

    /// One drill, a plan's, by id (workspace-scoped).
    pub async fn drill(&self, workspace: &str, id: &str) -> Result<DrillRow, DbError> {
        let (ws, id) = (workspace.to_owned(), id.to_owned());
        self.db().run(move |c| store::find(c, &ws, &id)).await
    }

    /// A plan's drills, newest first.
    pub async fn drills_of_plan(&self, workspace: &str, plan: &str, limit: i64) -> Result<Vec<DrillRow>, DbError> {
        let (ws, pid) = (workspace.to_owned(), plan.to_owned());
        self.db().run(move |c| store::for_plan(c, &ws, &pid, limit)).await
    }

    /// Each plan's latest finished drill, with the plan's name (the overview's block).
    pub async fn latest_drills(&self, workspace: &str) -> Result<Vec<(DrillRow, String)>, DbError> {
        let ws = workspace.to_owned();
        self.db().run(move |c| store::latest_per_plan(c, &ws)).await
    }

    /// The run (and copy) of the plan that passed its latest passed drill and is still kept: what
    /// retention keeps whatever its rules say.
    pub async fn last_passed_drill(&self, workspace: &str, plan: &str) -> Result<Option<(String, i64)>, DbError> {
        let (ws, pid) = (workspace.to_owned(), plan.to_owned());
        self.db().run(move |c| store::last_passed(c, &ws, &pid)).await
    }

    /// The plan's drill schedule (the weekly default when it has none of its own yet).
    pub async fn drill_schedule(&self, workspace: &str, plan: &str) -> Result<DrillSchedule, DbError> {
        let (ws, pid) = (workspace.to_owned(), plan.to_owned());
        let row = self.db().run(move |c| store::schedule_of(c, &ws, &pid)).await?;
        Ok(match row {
            Some(row) => {
                DrillSchedule { schedule: row.schedule, enabled: row.enabled, next_drill_at: row.next_drill_at }
            }
            None => DrillSchedule {
                schedule: crate::plans::store::DEFAULT_DRILL_SCHEDULE.into(),
                enabled: true,
                next_drill_at: crate::plans::store::next_default_drill(Utc::now().naive_utc()),
            },
        })
    }

    /// Changes the plan's drill schedule (a 5-field cron expression, UTC) and whether it runs;
    /// audited. A bad expression is the `drill_schedule` field's error.
    pub async fn set_drill_schedule(
        &self,
        workspace: &str,
        plan_id: &str,
        schedule: &str,
        enabled: bool,
        by: &Actor,
    ) -> Result<DrillSchedule, DrillError> {
        let parsed = Schedule::parse(schedule.trim()).map_err(DrillError::Schedule)?;
        let (ws, pid) = (workspace.to_owned(), plan_id.to_owned());
        let plan = self.db().run(move |c| plans::find(c, &ws, &pid)).await?;
        let now = Utc::now().naive_utc();
        let row = ScheduleRow {
            plan_id: plan.id.clone(),
            workspace_id: workspace.to_owned(),
            schedule: schedule.trim().to_owned(),
            enabled,
            next_drill_at: if enabled { parsed.next_after(now) } else { None },
            updated_at: now,
        };
        let detail = format!("Restore drills: {} ({}).", if enabled { "enabled" } else { "disabled" }, row.schedule);
        let entry = Entry::new(by, workspace, Subject::plan(&plan.id, &plan.name), Action::Updated, detail);
        let saved = row.clone();
        self.db().run(move |c| crate::audit::store::with_entry(c, &entry, |c| store::save_schedule(c, &saved))).await?;
        Ok(DrillSchedule { schedule: row.schedule, enabled: row.enabled, next_drill_at: row.next_drill_at })
    }

    /// The scheduler's part: gives plans without a drill schedule the weekly default (plans stored
    /// before a new plan got it as it was created, or restored from such a backup), then claims
    /// and starts every due drill; returns how many it started.
    pub async fn start_due_drills(&self, now: NaiveDateTime) -> Result<usize, DbError> {
        let missing = self.db().run(store::plans_without_schedule).await?;
        for (workspace, plan) in missing {
            self.db().run(move |c| crate::plans::store::give_default_drills(c, &workspace, &plan, now)).await?;
        }
        let due = self.db().run(move |c| store::due(c, now)).await?;
        let mut started = 0;
        for (workspace, plan_id, schedule, seen) in due {
            let next = Schedule::parse(&schedule).ok().and_then(|s| s.next_after(now));
            let (ws, pid) = (workspace.clone(), plan_id.clone());
            let plan = self.db().run(move |c| plans::find(c, &ws, &pid)).await?;
            // A plan with nothing to drill yet only moves its time on.
            let drill = self.newest_artifact(&plan).await?.map(|_| self.new_drill(&plan, "schedule"));
            let (pid, row) = (plan_id.clone(), drill.clone());
            let won = self.db().run(move |c| store::claim(c, &pid, seen, next, row.as_ref())).await?;
            if let (true, Some(drill)) = (won, drill) {
                let runner = self.clone();
                tokio::spawn(async move { runner.execute_drill(plan, drill).await });
                started += 1;
            }
        }
        Ok(started)
    }

    /// Runs the drill and records how it ended (notifying a failure in the same transaction).
    async fn execute_drill(&self, plan: PlanRow, drill: DrillRow) {
        let outcome = self.check_newest(&plan).await;
        let (status, checked, error) = match outcome.result {
            Ok(passed) => (PASSED, Some(passed.checked), None),
            Err(error) => (FAILED, None, Some(error)),
        };
        if status == FAILED {
            tracing::warn!(plan = %plan.id, drill = %drill.id, error = ?error, "a restore drill failed");
        }
        let end = DrillEnd {
            status,
            finished_at: Utc::now().naive_utc(),
            run_id: outcome.run_id,
            copy_position: outcome.copy_position,
            checked,
            error,
            bytes_read: i64::try_from(outcome.bytes_read).unwrap_or(i64::MAX),
        };
        let id = drill.id.clone();
        let recorded = self
            .db()
            .run(move |c| {
                crate::db::write_transaction(c, |c| {
                    store::finish(c, &id, end)?;
                    if status == FAILED {
                        crate::notifications::drill_events::drill_failed(c, &id)?;
                    }
                    Ok(())
                })
            })
            .await;
        if let Err(e) = recorded {
            tracing::error!(drill = %drill.id, error = %e, "recording a drill's end failed");
        }
    }

    /// Finds the newest artifact and checks it.
    async fn check_newest(&self, plan: &PlanRow) -> Outcome {
        let mut outcome = Outcome { run_id: None, copy_position: 0, bytes_read: 0, result: Err(String::new()) };
        let run = match self.newest_artifact(plan).await {
            Ok(Some(run)) => run,
            Ok(None) => {
                outcome.result = Err("the plan has no successful backup to drill".into());
                return outcome;
            }
            Err(e) => {
                outcome.result = Err(format!("the database could not be read: {e}"));
                return outcome;
            }
        };
        outcome.run_id = Some(run.id.clone());
        let opened = match self.artifact_of(&plan.workspace_id, &run.id).await {
            Ok(opened) => opened,
            Err(e) => {
                outcome.result = Err(e.to_string());
                return outcome;
            }
        };
        outcome.copy_position = opened.copy_position;
        let temp = match PrivateTemp::create(self.data_dir()) {
            Ok(temp) => temp,
            Err(e) => {
                outcome.result = Err(format!("a private temporary folder could not be made: {e}"));
                return outcome;
            }
        };
        let fetched = self.fetch_checked(&run, opened.body, &temp).await;
        outcome.bytes_read = fetched.as_ref().map_or_else(|(n, _)| *n, |(n, _)| *n);
        outcome.result = match fetched {
            Err((_, error)) => Err(error),
            Ok((_, path)) => self.read_through(plan, &run, &path, &temp).await,
        };
        // The private copy and anything made from it go now.
        drop(temp);
        outcome
    }

    /// Downloads the artifact into the private folder, checking its size and SHA-256 against the
    /// run's record: (bytes read, the file) or (bytes read, why it failed).
    async fn fetch_checked(
        &self,
        run: &RunRow,
        body: ByteStream,
        temp: &PrivateTemp,
    ) -> Result<(u64, std::path::PathBuf), (u64, String)> {
        let (path, file) = temp.new_file("artifact").map_err(|e| (0, format!("a private temporary file: {e}")))?;
        let mut file = tokio::fs::File::from_std(file);
        let (mut stream, digest) = Digesting::new(body);
        while let Some(chunk) = stream.next().await {
            let written = match chunk {
                Ok(chunk) => file.write_all(&chunk).await,
                Err(e) => {
                    return Err((digest.bytes(), format!("reading the artifact from the destination failed: {e}")));
                }
            };
            written.map_err(|e| (digest.bytes(), format!("writing the private copy failed: {e}")))?;
        }
        file.flush().await.map_err(|e| (digest.bytes(), format!("writing the private copy failed: {e}")))?;
        let (actual, size) = digest.finish();
        let recorded = u64::try_from(run.bytes).unwrap_or(0);
        if size < recorded {
            return Err((
                size,
                format!("the artifact is truncated: it ended early, after {size} of the {recorded} bytes recorded"),
            ));
        }
        let expected = run.sha256.clone().unwrap_or_default();
        if !actual.eq_ignore_ascii_case(expected.trim()) {
            return Err((size, format!("checksum mismatch: expected {}, got {actual}", expected.trim())));
        }
        Ok((size, path))
    }

    /// Decrypts and reads the checked private copy through, by what it holds.
    async fn read_through(
        &self,
        plan: &PlanRow,
        run: &RunRow,
        path: &std::path::Path,
        temp: &PrivateTemp,
    ) -> Result<Passed, String> {
        let file = tokio::fs::File::open(path).await.map_err(|e| format!("the private copy cannot be read: {e}"))?;
        let mut body: ByteStream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).boxed();
        let undecryptable = Arc::new(Mutex::new(None::<String>));
        if run.encrypted {
            let key = workspace_key::for_workspace(self.db(), self.cipher(), &plan.workspace_id)
                .await
                .map_err(|e| format!("the workspace's key cannot be opened: {e}"))?;
            body = noting_errors(encryption::decrypt(body, &key), undecryptable.clone());
        }
        let checked = match artifact_kind(run) {
            "postgres" => self.drill_postgres(plan, body).await,
            "sqlite" => drill_sqlite(body, temp).await,
            _ => self.drill_directory(&plan.workspace_id, run, body).await,
        };
        if let Some(detail) = undecryptable.lock().ok().and_then(|e| e.clone()) {
            return Err(format!("the artifact cannot be decrypted with the workspace's key ({detail})"));
        }
        checked
    }

    async fn drill_directory(&self, workspace: &str, run: &RunRow, body: ByteStream) -> Result<Passed, String> {
        let manifest =
            self.manifest(workspace, &run.id).await.map_err(|e| format!("the manifest cannot be read: {e}"))?;
        let has_manifest = manifest.is_some();
        let (lines, feeder) = match manifest {
            Some((_, parts)) => {
                // Lines go to the blocking reader a part at a time.
                let (tx, mut rx) =
                    tokio::sync::mpsc::channel::<std::io::Result<Vec<crate::artifacts::manifest::Line>>>(2);
                let feeder = tokio::spawn(async move {
                    let mut parts = parts;
                    loop {
                        let (stop, item) = match parts.next_part().await {
                            Ok(Some(lines)) => (false, Ok(lines)),
                            Ok(None) => break,
                            Err(e) => (true, Err(std::io::Error::other(e.to_string()))),
                        };
                        if tx.send(item).await.is_err() || stop {
                            break;
                        }
                    }
                });
                let lines = std::iter::from_fn(move || rx.blocking_recv()).flat_map(|part| match part {
                    Ok(lines) => lines.into_iter().map(Ok).collect::<Vec<_>>(),
                    Err(e) => vec![Err(e)],
                });
                (Some(lines), Some(feeder))
            }
            None => (None, None),
        };
        let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(body));
        let read = tokio::task::spawn_blocking(move || inspect::directory(reader, lines))
            .await
            .map_err(|e| format!("the drill stopped: {e}"))?;
        if let Some(feeder) = feeder {
            feeder.abort();
        }
        let read = read.map_err(|e| match e {
            CheckError::Unreadable(detail) => {
                format!("the archive cannot be read to its end (damaged or ended early): {detail}")
            }
            CheckError::Differs(detail) => detail,
        })?;
        let size = crate::web::format::human_bytes(read.bytes);
        let checked = if has_manifest {
            format!("{} files, {size}, every hash matched", thousands(read.files))
        } else {
            format!(
                "{} entries, {size}, read to the end (no manifest was recorded for this run)",
                thousands(read.entries)
            )
        };
        Ok(Passed { checked })
    }

    /// Restores into a throwaway database on the plan's own server (checked against the
    /// workspace's grants now), counts every table's rows, then drops it.
    async fn drill_postgres(&self, plan: &PlanRow, body: ByteStream) -> Result<Passed, String> {
        let source = self.checked_source(plan).await?;
        let mut url = source.url.clone();
        url.dbname = format!("devpilot_drill_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let throwaway = Reachable { url, endpoint: source.reachable().endpoint };
        let created =
            throwaway.create_database().await.map_err(|e| format!("the throwaway database could not be made: {e}"))?;
        let restored = tools::restore(&created, body, false).await;
        let counted = match restored {
            Ok(()) => throwaway.row_counts().await.map_err(|e| format!("counting rows failed: {e}")),
            Err(e) => Err(format!("pg_restore failed: {e}")),
        };
        let dropped = throwaway.drop_database().await;
        let counts = counted?;
        dropped.map_err(|e| format!("the throwaway database could not be dropped: {e}"))?;
        let rows: i64 = counts.iter().map(|(_, n)| n).sum();
        Ok(Passed {
            checked: format!(
                "{} tables, {} rows",
                thousands(counts.len() as u64),
                thousands(u64::try_from(rows).unwrap_or(0))
            ),
        })
    }
}

/// Writes the SQLite file into the private folder and runs `PRAGMA integrity_check` on it.
async fn drill_sqlite(mut body: ByteStream, temp: &PrivateTemp) -> Result<Passed, String> {
    let (path, file) = temp.new_file("restored.sqlite").map_err(|e| format!("a private temporary file: {e}"))?;
    let mut file = tokio::fs::File::from_std(file);
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("reading the artifact failed: {e}"))?;
        size += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(|e| format!("writing the private copy failed: {e}"))?;
    }
    file.flush().await.map_err(|e| format!("writing the private copy failed: {e}"))?;
    drop(file);
    tokio::task::spawn_blocking(move || inspect::sqlite_integrity(&path))
        .await
        .map_err(|e| format!("the drill stopped: {e}"))?
        .map_err(|e| e.to_string())?;
    Ok(Passed { checked: format!("integrity_check ok ({})", crate::web::format::human_bytes(size)) })
}

/// Keeps the first error of a stream (decryption's), which the readers after it only see as a
/// broken stream.
fn noting_errors(body: ByteStream, slot: Arc<Mutex<Option<String>>>) -> ByteStream {
    body.inspect(move |chunk| {
        if let (Err(e), Ok(mut slot)) = (chunk, slot.lock()) {
            slot.get_or_insert_with(|| e.to_string());
        }
    })
    .boxed()
}

/// 48211 → "48,211".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_separated() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1204), "1,204");
        assert_eq!(super::thousands(48_211_000), "48,211,000");
    }
}
