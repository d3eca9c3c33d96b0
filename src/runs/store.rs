//! Run queries, and the scheduler's claim on a due plan.

use crate::db::DbConn;
use crate::db::schema::plans::dsl as plans;
use crate::db::schema::runs::{self, dsl};
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";
pub const SKIPPED: &str = "skipped";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = runs)]
pub struct RunRow {
    pub id: String,
    pub workspace_id: String,
    pub plan_id: String,
    pub destination_id: Option<String>,
    pub status: String,
    pub trigger: String,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub bytes: i64,
    pub sha256: Option<String>,
    pub object_key: Option<String>,
    pub error: Option<String>,
    pub pruned_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// What the artifact holds (`directory`, `postgres`, `sqlite`); None on runs from before it
    /// was recorded, whose object key's extension tells.
    pub source_kind: Option<String>,
    /// Encrypted with the workspace's artifact key.
    pub encrypted: bool,
}

/// How a run ended.
#[derive(AsChangeset)]
#[diesel(table_name = runs)]
pub struct RunEnd {
    pub status: &'static str,
    pub finished_at: NaiveDateTime,
    pub bytes: i64,
    pub sha256: Option<String>,
    pub object_key: Option<String>,
    pub error: Option<String>,
}

pub fn insert(conn: &mut DbConn, row: &RunRow) -> QueryResult<()> {
    diesel::insert_into(dsl::runs).values(row).execute(conn).map(|_| ())
}

pub fn start(conn: &mut DbConn, id: &str, destination: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(dsl::runs.filter(dsl::id.eq(id)))
        .set((dsl::status.eq(RUNNING), dsl::started_at.eq(at), dsl::destination_id.eq(destination)))
        .execute(conn)
        .map(|_| ())
}

/// Whether another run of the plan is uploading now (its partial upload is not a leftover).
pub fn another_running(conn: &mut DbConn, plan: &str, run: &str) -> QueryResult<bool> {
    let n: i64 = dsl::runs
        .filter(dsl::plan_id.eq(plan))
        .filter(dsl::id.ne(run))
        .filter(dsl::status.eq(RUNNING))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn progress(conn: &mut DbConn, id: &str, bytes: i64) -> QueryResult<()> {
    diesel::update(dsl::runs.filter(dsl::id.eq(id)).filter(dsl::status.eq(RUNNING)))
        .set(dsl::bytes.eq(bytes))
        .execute(conn)
        .map(|_| ())
}

pub fn finish(conn: &mut DbConn, id: &str, end: RunEnd) -> QueryResult<()> {
    diesel::update(dsl::runs.filter(dsl::id.eq(id))).set(end).execute(conn).map(|_| ())
}

/// Appends to a finished run's error (e.g. a retention delete that failed after a success).
pub fn set_error(conn: &mut DbConn, id: &str, error: &str) -> QueryResult<()> {
    diesel::update(dsl::runs.filter(dsl::id.eq(id))).set(dsl::error.eq(error)).execute(conn).map(|_| ())
}

pub fn find(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<RunRow> {
    dsl::runs.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)).select(RunRow::as_select()).first(conn)
}

/// A plan's runs, newest first.
pub fn for_plan(conn: &mut DbConn, workspace: &str, plan: &str, limit: i64) -> QueryResult<Vec<RunRow>> {
    dsl::runs
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::plan_id.eq(plan))
        .order((dsl::created_at.desc(), dsl::id.desc()))
        .limit(limit)
        .select(RunRow::as_select())
        .load(conn)
}

/// A workspace's runs, newest first, with their plan's name.
pub fn for_workspace(conn: &mut DbConn, workspace: &str, limit: i64) -> QueryResult<Vec<(RunRow, String)>> {
    dsl::runs
        .inner_join(plans::plans)
        .filter(dsl::workspace_id.eq(workspace))
        .order((dsl::created_at.desc(), dsl::id.desc()))
        .limit(limit)
        .select((RunRow::as_select(), plans::name))
        .load(conn)
}

/// A page of the workspace's runs (only the plan's, when given), newest first, with their plan's
/// name.
pub fn page(
    conn: &mut DbConn,
    workspace: &str,
    plan: Option<&str>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<(RunRow, String)>> {
    let mut query = dsl::runs.inner_join(plans::plans).filter(dsl::workspace_id.eq(workspace)).into_boxed();
    if let Some(plan) = plan {
        query = query.filter(dsl::plan_id.eq(plan));
    }
    query
        .order((dsl::created_at.desc(), dsl::id.desc()))
        .limit(limit)
        .offset(offset)
        .select((RunRow::as_select(), plans::name))
        .load(conn)
}

/// How many runs [`page`] pages through.
pub fn count(conn: &mut DbConn, workspace: &str, plan: Option<&str>) -> QueryResult<i64> {
    let mut query = dsl::runs.filter(dsl::workspace_id.eq(workspace)).into_boxed();
    if let Some(plan) = plan {
        query = query.filter(dsl::plan_id.eq(plan));
    }
    query.count().get_result(conn)
}

/// Successful runs (counting `current`, which has just uploaded) whose artifact is still on the
/// destination beyond the newest `keep`: (run id, object key, destination id).
pub fn beyond_retention(
    conn: &mut DbConn,
    plan: &str,
    current: &str,
    keep: i64,
) -> QueryResult<Vec<(String, String, Option<String>)>> {
    let rows: Vec<(String, Option<String>, Option<String>)> = dsl::runs
        .filter(dsl::plan_id.eq(plan))
        .filter(dsl::status.eq(SUCCEEDED).or(dsl::id.eq(current)))
        .filter(dsl::pruned_at.is_null())
        .order((dsl::created_at.desc(), dsl::id.desc()))
        .offset(keep)
        .limit(10_000)
        .select((dsl::id, dsl::object_key, dsl::destination_id))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(id, key, dest)| Some((id, key?, dest))).collect())
}

/// Records the uploaded artifact's key on a run before it is marked succeeded.
pub fn note_artifact(conn: &mut DbConn, id: &str, key: &str, destination: Option<&str>) -> QueryResult<()> {
    diesel::update(dsl::runs.filter(dsl::id.eq(id)))
        .set((dsl::object_key.eq(key), dsl::destination_id.eq(destination)))
        .execute(conn)
        .map(|_| ())
}

pub fn mark_pruned(conn: &mut DbConn, id: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(dsl::runs.filter(dsl::id.eq(id))).set(dsl::pruned_at.eq(at)).execute(conn).map(|_| ())
}

/// Runs a crash left running or queued: failed, with the reason.
pub fn fail_interrupted(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(dsl::runs.filter(dsl::status.eq_any([RUNNING, QUEUED])))
        .set((dsl::status.eq(FAILED), dsl::finished_at.eq(now), dsl::error.eq("interrupted by a server restart")))
        .execute(conn)
}

/// Enabled plans due at `now`: (workspace, plan id, the next_run_at seen).
pub fn due_plans(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<(String, String, NaiveDateTime)>> {
    let rows: Vec<(String, String, Option<NaiveDateTime>)> = plans::plans
        .filter(plans::enabled.eq(true))
        .filter(plans::next_run_at.le(now))
        .select((plans::workspace_id, plans::id, plans::next_run_at))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(w, p, at)| Some((w, p, at?))).collect())
}

/// Moves a due plan's next_run_at on, only if it still holds the value seen: of two instances
/// that saw the same due plan, exactly one claims it.
pub fn claim(conn: &mut DbConn, plan: &str, seen: NaiveDateTime, next: Option<NaiveDateTime>) -> QueryResult<bool> {
    let n = diesel::update(plans::plans.filter(plans::id.eq(plan)).filter(plans::next_run_at.eq(seen)))
        .set(plans::next_run_at.eq(next))
        .execute(conn)?;
    Ok(n == 1)
}
