//! A directory run's manifest in the database: its totals in `run_manifests`, its lines in parts
//! (`run_manifest_parts`, each one zstd frame of JSON lines, see [`crate::artifacts::manifest`]),
//! written when the run's archive has been read to its end, and read back part by part so no
//! reader holds a whole manifest in memory.

use super::runner::Runner;
use crate::artifacts::ByteStream;
use crate::artifacts::directory::ManifestSlot;
use crate::artifacts::manifest::{self, Line, Totals, Written};
use crate::db::schema::{run_manifest_parts as parts, run_manifests as manifests};
use crate::db::{Db, DbConn, DbError};
use crate::hostfs::private::PrivateTemp;

/// Manifests whose archive has been read to its end, by run, waiting for their run's end.
pub(super) type PendingManifests =
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, (Written, PrivateTemp)>>>;
use chrono::Utc;
use diesel::prelude::*;

/// Replaces the run's manifest with `written` (an earlier attempt's goes).
pub fn save(conn: &mut DbConn, workspace: &str, run_id: &str, written: &Written) -> QueryResult<()> {
    crate::db::write_transaction(conn, |conn| {
        diesel::delete(parts::table.filter(parts::run_id.eq(run_id))).execute(conn)?;
        diesel::delete(manifests::table.filter(manifests::run_id.eq(run_id))).execute(conn)?;
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        diesel::insert_into(manifests::table)
            .values((
                manifests::run_id.eq(run_id),
                manifests::workspace_id.eq(workspace),
                manifests::files.eq(signed(written.totals.files)),
                manifests::bytes.eq(signed(written.totals.bytes)),
                manifests::entries.eq(signed(written.totals.entries)),
                manifests::created_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        for index in 0..written.parts() {
            let bytes = written.part(index).map_err(|e| diesel::result::Error::QueryBuilderError(Box::new(e)))?;
            diesel::insert_into(parts::table)
                .values((parts::run_id.eq(run_id), parts::part.eq(index as i64), parts::entries.eq(bytes)))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The run's manifest totals, when one was recorded (directory runs since manifests exist).
pub fn totals(conn: &mut DbConn, workspace: &str, run_id: &str) -> QueryResult<Option<Totals>> {
    let row: Option<(i64, i64, i64)> = manifests::table
        .filter(manifests::workspace_id.eq(workspace))
        .filter(manifests::run_id.eq(run_id))
        .select((manifests::entries, manifests::files, manifests::bytes))
        .first(conn)
        .optional()?;
    let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(row.map(|(entries, files, bytes)| Totals {
        entries: unsigned(entries),
        files: unsigned(files),
        bytes: unsigned(bytes),
    }))
}

/// One part's compressed lines, if the run has that many.
fn part(conn: &mut DbConn, run_id: &str, index: i64) -> QueryResult<Option<Vec<u8>>> {
    parts::table
        .filter(parts::run_id.eq(run_id))
        .filter(parts::part.eq(index))
        .select(parts::entries)
        .first(conn)
        .optional()
}

/// Reads a recorded manifest a part at a time (a blocking reader: call it off the async threads,
/// or through [`Parts::next_part`] from async code).
#[derive(Clone)]
pub struct Parts {
    db: Db,
    run_id: String,
    next: i64,
}

impl Parts {
    /// The next part's lines; None after the last.
    pub async fn next_part(&mut self) -> Result<Option<Vec<Line>>, DbError> {
        let (id, index) = (self.run_id.clone(), self.next);
        let Some(bytes) = self.db.run(move |c| part(c, &id, index)).await? else { return Ok(None) };
        self.next += 1;
        let lines = manifest::lines_of_part(&bytes)
            .map_err(|e| DbError::Query(diesel::result::Error::DeserializationError(Box::new(e))))?;
        Ok(Some(lines))
    }

    /// Every line passed to `each` in order, a part at a time; stops early when it says so.
    pub async fn each(mut self, mut each: impl FnMut(Line) -> bool) -> Result<(), DbError> {
        while let Some(lines) = self.next_part().await? {
            for line in lines {
                if !each(line) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

impl Runner {
    /// The run's manifest, if it has one: its totals and a reader of its lines. Workspace-scoped.
    pub async fn manifest(&self, workspace: &str, run_id: &str) -> Result<Option<(Totals, Parts)>, DbError> {
        let (ws, id) = (workspace.to_owned(), run_id.to_owned());
        let totals = self.db().run(move |c| totals(c, &ws, &id)).await?;
        Ok(totals.map(|t| (t, Parts { db: self.db().clone(), run_id: run_id.to_owned(), next: 0 })))
    }

    /// A directory source's stream that records its manifest: once the archive has been read to
    /// its end, the manifest waits (in its private file) for the run's end, which saves it
    /// ([`Runner::save_manifest`]) before the run counts as uploaded. Nothing here needs the
    /// database, so an upload finishes during a database outage.
    pub(super) fn saving_manifest(
        &self,
        run_id: &str,
        body: ByteStream,
        slot: ManifestSlot,
        temp: PrivateTemp,
    ) -> ByteStream {
        let (pending, id) = (self.pending_manifests().clone(), run_id.to_owned());
        crate::artifacts::then_at_end(body, async move {
            if let Some(written) = slot.lock().ok().and_then(|mut s| s.take())
                && let Ok(mut pending) = pending.lock()
            {
                // A retried attempt's manifest replaces the one before.
                pending.insert(id, (written, temp));
            }
            None
        })
    }

    /// The manifest a run's upload left waiting, if any (taken: its private file goes with it).
    pub(super) fn take_manifest(&self, run_id: &str) -> Option<(Written, PrivateTemp)> {
        self.pending_manifests().lock().ok()?.remove(run_id)
    }

    /// Saves a manifest for the run, waiting out a database outage as the run's end does; the
    /// problem, when it could not be saved.
    pub(super) async fn save_manifest(
        &self,
        workspace: &str,
        run_id: &str,
        pending: (Written, PrivateTemp),
    ) -> Option<String> {
        let (written, temp) = pending;
        let written = std::sync::Arc::new(written);
        let mut pause = std::time::Duration::from_secs(1);
        let give_up = std::time::Instant::now() + super::runner::RECORD_END_FOR;
        let problem = loop {
            let (ws, id, w) = (workspace.to_owned(), run_id.to_owned(), written.clone());
            match self.db().run(move |c| save(c, &ws, &id, &w)).await {
                Ok(()) => break None,
                Err(e) if e.outage().is_some() && std::time::Instant::now() < give_up => {
                    tracing::warn!(run = %run_id, error = %e, "the database is unavailable; saving the manifest later");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(30));
                }
                Err(e) => break Some(format!("recording the list of files failed: {e}")),
            }
        };
        drop(temp);
        problem
    }
}
