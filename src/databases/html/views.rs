//! A database, its prerequisite steps, backups (base backups and dumps) and clones as the pages
//! write them.

use crate::artifacts::postgres::wal::prereq::{Outcome, Step};
use crate::databases::archive_store::{BaseBackupRow, CloneRow};
use crate::databases::backups::Backup;
use crate::databases::domain::slot_name;
use crate::databases::service::{Database, version};
use crate::databases::{base, clones};
use crate::runs::store as runs;
use crate::web::format::human_bytes;
use crate::web::time::{ago, exact};
use chrono::NaiveDateTime;

/// One step of the prerequisite check.
pub struct StepView {
    /// PostgreSQL's name for what was checked (`wal_level`, `max_wal_senders`, …).
    pub name: &'static str,
    /// `pass`, `warn`, `fail` or `not-checked` (its class).
    pub outcome: &'static str,
    pub label: &'static str,
    pub message: String,
}

impl From<Step> for StepView {
    fn from(step: Step) -> StepView {
        let (outcome, label) = match step.outcome {
            Outcome::Pass => ("pass", "✓ pass"),
            Outcome::Warn => ("warn", "! warn"),
            Outcome::Fail => ("fail", "✗ fail"),
            Outcome::NotChecked => ("not-checked", "· not checked"),
        };
        StepView { name: step.name, outcome, label, message: step.message }
    }
}

/// The check's answer beside the URL field: every step, or what keeps it from running.
#[derive(Default)]
pub struct Checks {
    pub steps: Vec<StepView>,
    /// Fields to fix before anything could be checked.
    pub problems: Vec<String>,
}

impl Checks {
    pub fn of(steps: Vec<Step>) -> Checks {
        Checks { steps: steps.into_iter().map(StepView::from).collect(), problems: Vec::new() }
    }

    pub fn failed(&self) -> bool {
        self.steps.iter().any(|s| s.outcome == "fail")
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.problems.is_empty()
    }

    /// The warnings of a check that passed, for the message after a save.
    pub fn warnings(&self) -> Vec<String> {
        self.steps.iter().filter(|s| s.outcome == "warn").map(|s| format!("{}: {}", s.name, s.message)).collect()
    }
}

/// A database as the list and its page show it (its URL without the password).
pub struct DatabaseView {
    pub id: String,
    pub name: String,
    /// The database's name on its server (what an in-place restore asks to be typed).
    pub dbname: String,
    pub url: String,
    pub destination: Option<String>,
    pub status: String,
    /// The badge's class: active, testing, failed or disabled.
    pub badge: &'static str,
    pub status_message: String,
    pub archiving: bool,
    pub replaced: bool,
    /// "3 minutes ago", or empty when no WAL arrived yet; the exact time beside it.
    pub last_received: String,
    pub last_received_exact: String,
    pub lag: String,
    pub slot_wal_status: String,
    pub slot: String,
    pub received_lsn: String,
    pub receiver: String,
    pub schedule_preview: String,
    pub base_schedule: String,
    pub next_base: String,
    pub window_days: i64,
    pub min_base_backups: i64,
    pub encrypt: bool,
    pub server_version: String,
    pub segment_size: String,
}

impl DatabaseView {
    pub fn new(d: Database, now: NaiveDateTime) -> DatabaseView {
        let dbname = d.dbname();
        let row = d.row;
        let badge = match row.status.as_str() {
            "ok" => "active",
            "failed" => "failed",
            "stopped" => "disabled",
            _ => "testing",
        };
        DatabaseView {
            slot: slot_name(&row.id),
            server_version: version(u32::try_from(row.server_version).unwrap_or(0)),
            segment_size: human_bytes(u64::try_from(row.seg_size).unwrap_or(0)),
            last_received: row.last_received_at.map(|t| ago(t, now).to_string()).unwrap_or_default(),
            last_received_exact: row.last_received_at.map(exact).unwrap_or_default(),
            lag: row.lag_bytes.map(|b| human_bytes(u64::try_from(b).unwrap_or(0))).unwrap_or_default(),
            next_base: row.next_base_at.filter(|_| row.archiving).map(exact).unwrap_or_default(),
            badge,
            id: row.id,
            name: row.name,
            url: d.url,
            destination: d.destination_name,
            status: row.status,
            status_message: row.status_message.unwrap_or_default(),
            archiving: row.archiving,
            replaced: row.replaced_by.is_some(),
            slot_wal_status: row.slot_wal_status.unwrap_or_default(),
            received_lsn: row.received_lsn.unwrap_or_default(),
            receiver: row.receiver_instance.unwrap_or_default(),
            schedule_preview: d.schedule_preview,
            base_schedule: row.base_schedule,
            window_days: row.window_days,
            min_base_backups: row.min_base_backups,
            encrypt: row.encrypt,
            dbname,
        }
    }

    /// Still connecting: the list and the page look again in a few seconds.
    pub fn starting(&self) -> bool {
        self.status == "starting"
    }
}

/// A row of the backups list: a base backup, or a run of a `pg_dump` plan of the same database.
pub struct BackupView {
    pub id: String,
    /// The plan's name for a dump; empty for a base backup.
    pub dump_of: String,
    pub status: String,
    pub running: bool,
    pub trigger: String,
    pub started: String,
    pub stopped: String,
    pub size: String,
    pub start_lsn: String,
    pub stop_lsn: String,
    pub timeline: String,
    pub error: String,
    /// A base backup that succeeded (it restores as a clone), or a dump whose artifact is still
    /// there (its run's restore page).
    pub restorable: bool,
}

impl BackupView {
    pub fn is_dump(&self) -> bool {
        !self.dump_of.is_empty()
    }
}

impl From<Backup> for BackupView {
    fn from(backup: Backup) -> BackupView {
        match backup {
            Backup::Base(b) => BackupView::from(b),
            Backup::Dump(run, plan) => BackupView {
                running: run.status == runs::RUNNING || run.status == runs::QUEUED,
                restorable: run.status == runs::SUCCEEDED && run.pruned_at.is_none() && run.object_key.is_some(),
                started: exact(run.started_at.unwrap_or(run.created_at)),
                stopped: run.finished_at.map(exact).unwrap_or_default(),
                size: human_bytes(u64::try_from(run.bytes).unwrap_or(0)),
                start_lsn: String::new(),
                stop_lsn: String::new(),
                timeline: String::new(),
                error: run.error.unwrap_or_default(),
                dump_of: plan,
                id: run.id,
                status: run.status,
                trigger: run.trigger,
            },
        }
    }
}

impl From<BaseBackupRow> for BackupView {
    fn from(b: BaseBackupRow) -> BackupView {
        BackupView {
            running: b.status == base::RUNNING,
            restorable: b.status == base::SUCCEEDED,
            started: exact(b.started_at),
            stopped: b.stopped_at.map(exact).unwrap_or_default(),
            size: human_bytes(u64::try_from(b.bytes).unwrap_or(0)),
            start_lsn: b.start_lsn.unwrap_or_default(),
            stop_lsn: b.stop_lsn.unwrap_or_default(),
            timeline: b.timeline.map(|t| t.to_string()).unwrap_or_default(),
            error: b.error.unwrap_or_default(),
            dump_of: String::new(),
            id: b.id,
            status: b.status,
            trigger: b.trigger,
        }
    }
}

pub struct CloneView {
    pub id: String,
    pub name: String,
    /// The second it was restored to, or "end of the archive".
    pub target: String,
    pub status: String,
    pub error: String,
    /// Where it listens, without a password.
    pub url: String,
    pub timeline: String,
}

impl CloneView {
    pub fn new(clone: CloneRow, url: String) -> CloneView {
        CloneView {
            target: clone.target_time.map_or_else(|| "the end of the archive".to_owned(), exact),
            timeline: clone.timeline.map(|t| t.to_string()).unwrap_or_default(),
            error: clone.error.unwrap_or_default(),
            id: clone.id,
            name: clone.name,
            status: clone.status,
            url,
        }
    }

    /// Restoring, or being copied back into the source: it can be neither stopped nor deleted.
    pub fn busy(&self) -> bool {
        self.status == clones::RESTORING || self.status == clones::COPYING
    }

    pub fn can_start(&self) -> bool {
        self.status == clones::STOPPED
    }

    pub fn can_stop(&self) -> bool {
        self.status == clones::RUNNING
    }

    /// A running clone can become the database (a switch).
    pub fn can_switch(&self) -> bool {
        self.status == clones::RUNNING
    }

    /// An in-place restore's clone once copied back: its cluster is gone, so it has no address.
    pub fn copied(&self) -> bool {
        self.status == clones::COPIED
    }

    /// What the status means, beside it.
    pub fn status_note(&self) -> &'static str {
        match self.status.as_str() {
            clones::RESTORING => "replaying the archive to its second",
            clones::COPYING => "copying back into the source (pg_restore --clean)",
            clones::COPIED => "copied back into the source; its cluster was removed",
            clones::STOPPED => "its data stays on this host",
            _ => "",
        }
    }
}
