//! Base backups: `pg_basebackup` streamed (tar, zstd, encrypted when the database is) into the
//! destination on the database's schedule and on demand, recorded with their start and stop LSN,
//! timeline and time. After each, retention removes base backups and WAL older than the recovery
//! window, never what the window (or the minimum count of base backups) still needs.

use super::archive_store::{self as archive, BaseBackupEnd, BaseBackupRow};
use super::service::{DatabaseError, DatabaseService};
use super::store::{self, DatabaseRow};
use crate::artifacts::checksum::Digesting;
use crate::artifacts::postgres::wal::basebackup;
use crate::artifacts::{compression, encryption};
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::plans::schedule::Schedule;
use chrono::Utc;

pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

impl DatabaseService {
    /// Starts a base backup in the background; returns its id.
    pub async fn start_base_backup(
        &self,
        workspace: &str,
        id: &str,
        by: Option<&Actor>,
    ) -> Result<String, DatabaseError> {
        let database = self.get(workspace, id).await?;
        if database.row.destination_id.is_none() {
            return Err(DatabaseError::Refused("The database has no destination: edit it and choose one.".into()));
        }
        let row = BaseBackupRow {
            id: uuid::Uuid::now_v7().to_string(),
            database_id: id.to_owned(),
            workspace_id: workspace.to_owned(),
            status: RUNNING.into(),
            trigger: if by.is_some() { "manual" } else { "schedule" }.into(),
            instance_id: Some(self.instance.to_string()),
            object_key: None,
            timeline: None,
            start_lsn: None,
            stop_lsn: None,
            started_at: Utc::now().naive_utc(),
            stopped_at: None,
            bytes: 0,
            sha256: None,
            error: None,
        };
        let base_id = row.id.clone();
        match by {
            Some(by) => {
                let entry = Entry::new(
                    by,
                    workspace,
                    Subject::database(id, database.name()),
                    Action::RunStarted,
                    "Base backup",
                );
                self.db.run(move |c| audit::store::with_entry(c, &entry, |c| archive::insert_base(c, &row))).await?;
            }
            None => self.db.run(move |c| archive::insert_base(c, &row)).await?,
        }
        let (service, base) = (self.clone(), base_id.clone());
        tokio::spawn(async move {
            let end = service.take_base_backup(&database.row, &base).await;
            let ok = end.status == SUCCEEDED;
            let id = base.clone();
            if let Err(e) = service.db.run(move |c| archive::end_base(c, &id, end)).await {
                tracing::error!(base = %base, error = %e, "recording a base backup's end failed");
            }
            if ok && let Err(e) = service.apply_retention(&database.row).await {
                tracing::warn!(database = %database.row.id, error = %e, "retention of the archive failed");
            }
        });
        Ok(base_id)
    }

    async fn take_base_backup(&self, row: &DatabaseRow, base_id: &str) -> BaseBackupEnd {
        self.stream_base_backup(row, base_id).await.unwrap_or_else(|error| BaseBackupEnd {
            status: FAILED.into(),
            object_key: None,
            timeline: None,
            start_lsn: None,
            stop_lsn: None,
            stopped_at: Some(Utc::now().naive_utc()),
            bytes: 0,
            sha256: None,
            error: Some(error),
        })
    }

    async fn stream_base_backup(&self, row: &DatabaseRow, base_id: &str) -> Result<BaseBackupEnd, String> {
        let provider = self.provider_of(row).await?;
        let key = self.artifact_key(row).await?;
        let checked = self.checked(row).await?;
        let bins = self.binaries().map_err(|e| e.to_string())?;
        let (body, points) = basebackup::stream(&bins, &checked).map_err(|e| e.to_string())?;
        let body = compression::compress(body);
        let body = match &key {
            Some(k) => encryption::encrypt(body, k),
            None => body,
        };
        let (body, digest) = Digesting::new(body);
        let suffix = if key.is_some() { "tar.zst.dpbe" } else { "tar.zst" };
        let started = Utc::now().naive_utc();
        let object_key = format!("{}/base/{}-{base_id}.{suffix}", row.archive_prefix, started.format("%Y%m%dT%H%M%SZ"));
        let ticker = self.record_base_progress(base_id, digest.clone());
        let put = provider.put(&object_key, body).await;
        ticker.abort();
        let (sha256, passed) = digest.finish();
        let points = points.await.unwrap_or_else(|_| Err("pg_basebackup ended without its report".into()));
        match (put, points) {
            (Ok(written), Ok(points)) if written == passed => Ok(BaseBackupEnd {
                status: SUCCEEDED.into(),
                object_key: Some(object_key),
                timeline: i32::try_from(points.timeline).ok(),
                start_lsn: Some(points.start_lsn.to_string()),
                stop_lsn: Some(points.stop_lsn.to_string()),
                stopped_at: Some(Utc::now().naive_utc()),
                bytes: i64::try_from(written).unwrap_or(i64::MAX),
                sha256: Some(sha256),
                error: None,
            }),
            (put, points) => {
                let _ = provider.delete(&object_key).await;
                Err(match (put, points) {
                    (_, Err(e)) => checked.url.redact(&e),
                    (Err(e), _) => e.to_string(),
                    (Ok(written), _) => format!("the destination stored {written} of {passed} bytes"),
                })
            }
        }
    }

    fn record_base_progress(
        &self,
        id: &str,
        digest: crate::artifacts::checksum::DigestHandle,
    ) -> tokio::task::JoinHandle<()> {
        let (db, id) = (self.db.clone(), id.to_owned());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                let (id, bytes) = (id.clone(), i64::try_from(digest.bytes()).unwrap_or(i64::MAX));
                let _ = db.run(move |c| archive::base_progress(c, &id, bytes)).await;
            }
        })
    }

    /// Keeps every base backup newer than the window and at least the minimum count of the
    /// newest; removes older ones and the WAL before the oldest kept one's start.
    pub(super) async fn apply_retention(&self, row: &DatabaseRow) -> Result<usize, String> {
        let id = row.id.clone();
        let bases = self.db.run(move |c| archive::base_backups(c, &id)).await.map_err(|e| e.to_string())?;
        let cutoff = Utc::now().naive_utc() - chrono::Duration::days(row.window_days);
        let minimum = usize::try_from(row.min_base_backups).unwrap_or(1);
        let (kept, removable) = retained(bases, cutoff, minimum);
        let Some(oldest) = kept.last().cloned() else { return Ok(0) };
        let provider = self.provider_of(row).await?;
        let mut removed = 0;
        for base in removable {
            if let Some(key) = &base.object_key {
                provider.delete(key).await.map_err(|e| e.to_string())?;
            }
            let id = base.id.clone();
            self.db.run(move |c| archive::delete_base(c, &id)).await.map_err(|e| e.to_string())?;
            removed += 1;
        }
        let start =
            oldest.start_lsn.as_deref().and_then(|l| l.parse::<crate::artifacts::postgres::wal::names::Lsn>().ok());
        let size =
            crate::artifacts::postgres::wal::names::SegmentSize::new(u64::try_from(row.seg_size).unwrap_or(16 << 20));
        let (Some(start), Ok(size)) = (start, size) else { return Ok(removed) };
        let first_needed = i64::try_from(size.segment_of(start)).unwrap_or(0);
        let id = row.id.clone();
        let files = self.db.run(move |c| archive::wal_files(c, &id)).await.map_err(|e| e.to_string())?;
        for file in files.into_iter().filter(|f| f.kind != archive::HISTORY && f.segno < first_needed) {
            provider.delete(&file.object_key).await.map_err(|e| e.to_string())?;
            let (id, name) = (row.id.clone(), file.name.clone());
            self.db.run(move |c| archive::forget_wal(c, &id, &name)).await.map_err(|e| e.to_string())?;
            removed += 1;
        }
        Ok(removed)
    }
}

/// Which succeeded base backups retention keeps (newest first) and which it removes: every one
/// that stopped inside the window (after `cutoff`), at least `minimum` of the newest, and the
/// newest one that stopped before the window (its first second is restored from it). Base
/// backups that did not succeed are neither.
fn retained(
    bases: Vec<BaseBackupRow>,
    cutoff: chrono::NaiveDateTime,
    minimum: usize,
) -> (Vec<BaseBackupRow>, Vec<BaseBackupRow>) {
    let mut succeeded: Vec<BaseBackupRow> = bases.into_iter().filter(|b| b.status == SUCCEEDED).collect();
    succeeded.sort_by_key(|b| std::cmp::Reverse(b.started_at));
    let (mut kept, mut removable) = (Vec::new(), Vec::new());
    for base in succeeded {
        let inside = base.stopped_at.is_some_and(|t| t >= cutoff);
        let window_start_uncovered =
            kept.last().is_none_or(|newer: &BaseBackupRow| newer.stopped_at.is_some_and(|t| t >= cutoff));
        if inside || kept.len() < minimum.max(1) || window_start_uncovered {
            kept.push(base);
        } else {
            removable.push(base);
        }
    }
    (kept, removable)
}

/// Starts the base backups that are due, each claimed so that one instance takes it.
pub async fn start_due(service: &DatabaseService) -> Result<usize, crate::db::DbError> {
    let now = Utc::now().naive_utc();
    let due = service.db.run(move |c| store::due_bases(c, now)).await?;
    let mut started = 0;
    for row in due {
        let Some(seen) = row.next_base_at else { continue };
        let next = Schedule::parse(&row.base_schedule).ok().and_then(|s| s.next_after(now));
        let id = row.id.clone();
        if service.db.run(move |c| store::claim_due_base(c, &id, seen, next)).await?
            && service.start_base_backup(&row.workspace_id, &row.id, None).await.is_ok()
        {
            started += 1;
        }
    }
    Ok(started)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDateTime};

    fn base(id: &str, days_ago: i64, status: &str, now: NaiveDateTime) -> BaseBackupRow {
        BaseBackupRow {
            id: id.into(),
            database_id: "d".into(),
            workspace_id: "w".into(),
            status: status.into(),
            trigger: "schedule".into(),
            instance_id: None,
            object_key: Some(format!("{id}.tar.zst")),
            timeline: Some(1),
            start_lsn: Some("0/1000000".into()),
            stop_lsn: Some("0/1000100".into()),
            started_at: now - Duration::days(days_ago),
            stopped_at: Some(now - Duration::days(days_ago) + Duration::minutes(1)),
            bytes: 1,
            sha256: None,
            error: None,
        }
    }

    fn ids(rows: &[BaseBackupRow]) -> Vec<&str> {
        rows.iter().map(|b| b.id.as_str()).collect()
    }

    #[test]
    fn retention_keeps_the_window_its_first_second_and_the_minimum() {
        let now = Utc::now().naive_utc();
        let cutoff = now - Duration::days(7);
        let all = vec![
            base("d1", 1, SUCCEEDED, now),
            base("d3", 3, SUCCEEDED, now),
            base("d8", 8, SUCCEEDED, now),
            base("d9", 9, SUCCEEDED, now),
            base("d20", 20, SUCCEEDED, now),
            base("failed", 2, FAILED, now),
        ];
        let (kept, removed) = retained(all.clone(), cutoff, 2);
        assert_eq!(ids(&kept), ["d1", "d3", "d8"], "inside, plus the one covering the window's start");
        assert_eq!(ids(&removed), ["d9", "d20"]);
        let (kept, removed) = retained(all, cutoff, 4);
        assert_eq!(ids(&kept), ["d1", "d3", "d8", "d9"], "at least the minimum");
        assert_eq!(ids(&removed), ["d20"]);
        let (kept, removed) = retained(vec![base("old", 30, SUCCEEDED, now)], cutoff, 1);
        assert_eq!((ids(&kept), removed.len()), (vec!["old"], 0), "the only one is never removed");
    }
}
