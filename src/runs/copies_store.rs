//! Queries over `run_copies`: what each copy of a run became (position 0 is the primary, whose
//! values `runs` repeats; 1 and 2 the plan's copies). Every reader takes the workspace id.

use crate::db::DbConn;
use crate::db::schema::run_copies::{self, dsl};
use crate::db::schema::runs::dsl as runs;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A copy's statuses: running while it uploads, then succeeded, failed or skipped (its
/// destination disabled).
pub const COPY_SUCCEEDED: &str = "succeeded";
pub const COPY_FAILED: &str = "failed";
pub const COPY_SKIPPED: &str = "skipped";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = run_copies)]
pub struct RunCopyRow {
    pub run_id: String,
    pub workspace_id: String,
    /// 0: the primary; 1, 2: the plan's copies.
    pub position: i64,
    pub destination_id: Option<String>,
    pub status: String,
    /// What this copy's destination received.
    pub bytes: i64,
    /// SHA-256 (hex) of the bytes this copy received.
    pub sha256: Option<String>,
    pub object_key: Option<String>,
    pub error: Option<String>,
    /// When retention deleted this copy's artifact from its destination.
    pub pruned_at: Option<NaiveDateTime>,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
}

impl RunCopyRow {
    /// Whether this copy holds the artifact, as far as Devpilot recorded.
    pub fn holds_artifact(&self) -> bool {
        self.status == COPY_SUCCEEDED && self.pruned_at.is_none() && self.object_key.is_some()
    }

    /// "the primary" or "copy 2", as people read it.
    pub fn label(&self) -> String {
        match self.position {
            0 => "the primary".into(),
            n => format!("copy {n}"),
        }
    }
}

/// Records a run's copies (replacing any recorded before for the same run).
pub fn record(conn: &mut DbConn, run: &str, copies: &[RunCopyRow]) -> QueryResult<()> {
    diesel::delete(dsl::run_copies.filter(dsl::run_id.eq(run))).execute(conn)?;
    // One row at a time: the same statement on both backends (at most three rows).
    for copy in copies {
        diesel::insert_into(dsl::run_copies).values(copy).execute(conn)?;
    }
    Ok(())
}

/// A run's copies, the primary first.
pub fn of_run(conn: &mut DbConn, workspace: &str, run: &str) -> QueryResult<Vec<RunCopyRow>> {
    dsl::run_copies
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::run_id.eq(run))
        .order(dsl::position.asc())
        .select(RunCopyRow::as_select())
        .load(conn)
}

/// The copies of these runs (a page of history), the primary first within each run.
pub fn of_runs(conn: &mut DbConn, workspace: &str, runs: &[String]) -> QueryResult<Vec<RunCopyRow>> {
    dsl::run_copies
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::run_id.eq_any(runs))
        .order((dsl::run_id.asc(), dsl::position.asc()))
        .select(RunCopyRow::as_select())
        .load(conn)
}

/// The positions (primary, copy 1, copy 2) at which the plan has artifacts still held: where
/// retention has something to decide.
pub fn positions_of_plan(conn: &mut DbConn, workspace: &str, plan: &str) -> QueryResult<Vec<i64>> {
    dsl::run_copies
        .inner_join(runs::runs)
        .filter(runs::workspace_id.eq(workspace))
        .filter(runs::plan_id.eq(plan))
        .filter(dsl::status.eq(COPY_SUCCEEDED))
        .filter(dsl::pruned_at.is_null())
        .select(dsl::position)
        .distinct()
        .order(dsl::position.asc())
        .load(conn)
}

/// Marks one copy pruned; when no copy of the run holds its artifact any more, the run too.
pub fn mark_pruned(conn: &mut DbConn, run: &str, position: i64, at: NaiveDateTime) -> QueryResult<()> {
    crate::db::write_transaction(conn, |conn| {
        diesel::update(dsl::run_copies.filter(dsl::run_id.eq(run)).filter(dsl::position.eq(position)))
            .set(dsl::pruned_at.eq(at))
            .execute(conn)?;
        let left: i64 = dsl::run_copies
            .filter(dsl::run_id.eq(run))
            .filter(dsl::status.eq(COPY_SUCCEEDED))
            .filter(dsl::pruned_at.is_null())
            .count()
            .get_result(conn)?;
        if left == 0 {
            diesel::update(runs::runs.filter(runs::id.eq(run))).set(runs::pruned_at.eq(at)).execute(conn)?;
        }
        Ok(())
    })
}
