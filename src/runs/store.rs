//! Run queries, and the scheduler's claim on a due plan.

use crate::db::DbConn;
use crate::db::schema::plans::dsl as plans;
use crate::db::schema::runs::{self, dsl};
use crate::plans::store::PlanRow;
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
/// Some copies succeeded, others failed (`run_copies` says which).
pub const PARTIAL: &str = "partial";
pub const FAILED: &str = "failed";
pub const SKIPPED: &str = "skipped";
/// The instance running it stopped (a restart, a crash) before it ended.
pub const INTERRUPTED: &str = "interrupted";
/// The ends of a run that did not back everything up: what the failure lists show.
pub const UNSUCCESSFUL: [&str; 3] = [FAILED, INTERRUPTED, PARTIAL];

/// The error an interrupted run shows.
pub const INTERRUPTED_MESSAGE: &str = "Interrupted: the server running this backup stopped before it finished (a restart \
     or a crash). Nothing it uploaded is kept; the plan runs again at its next scheduled time.";

/// A status as people read it.
pub fn label(status: &str) -> &'static str {
    match status {
        QUEUED => "Queued",
        RUNNING => "Running",
        SUCCEEDED => "Succeeded",
        PARTIAL => "Partially succeeded",
        FAILED => "Failed",
        SKIPPED => "Skipped",
        INTERRUPTED => "Interrupted",
        _ => "Unknown",
    }
}

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
    /// The instance executing it.
    pub owner_id: Option<String>,
    /// What the run wants its reader to know beside its status (what it skipped).
    pub notes: Option<String>,
    /// How many bytes it would read from its source, asked before reading; None when that could
    /// not be known (or before it started).
    pub expected_bytes: Option<i64>,
    /// How many bytes it has read from its source (before compression and encryption).
    pub read_bytes: Option<i64>,
}

/// How a run ended.
#[derive(Clone, AsChangeset)]
#[diesel(table_name = runs)]
pub struct RunEnd {
    pub status: &'static str,
    pub finished_at: NaiveDateTime,
    pub bytes: i64,
    pub sha256: Option<String>,
    pub object_key: Option<String>,
    pub error: Option<String>,
    pub notes: Option<String>,
    /// The source bytes read in all (None leaves the column as it is).
    pub read_bytes: Option<i64>,
}

pub fn insert(conn: &mut DbConn, row: &RunRow) -> QueryResult<()> {
    diesel::insert_into(dsl::runs).values(row).execute(conn).map(|_| ())
}

/// Moves the owner's queued run to running; false if it is no longer queued (it was interrupted
/// meanwhile, by an instance that took this one for dead).
pub fn start(
    conn: &mut DbConn,
    id: &str,
    owner: &str,
    destination: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let n =
        diesel::update(dsl::runs.filter(dsl::id.eq(id)).filter(dsl::owner_id.eq(owner)).filter(dsl::status.eq(QUEUED)))
            .set((dsl::status.eq(RUNNING), dsl::started_at.eq(at), dsl::destination_id.eq(destination)))
            .execute(conn)?;
    Ok(n == 1)
}

/// The plan's runs whose uploads may have left something behind: those that failed or were
/// interrupted, newest first (each run removes what the ones before it left, so a few would do).
pub fn cut_off_runs(conn: &mut DbConn, plan: &str) -> QueryResult<Vec<String>> {
    // A partial run's failed copies may have left something too (only leftovers ever go).
    dsl::runs
        .filter(dsl::plan_id.eq(plan))
        .filter(dsl::status.eq_any(UNSUCCESSFUL))
        .order(dsl::created_at.desc())
        .limit(1000)
        .select(dsl::id)
        .load(conn)
}

/// A running run's bytes uploaded and read so far.
pub fn progress(conn: &mut DbConn, id: &str, bytes: i64, read: i64) -> QueryResult<()> {
    diesel::update(dsl::runs.filter(dsl::id.eq(id)).filter(dsl::status.eq(RUNNING)))
        .set((dsl::bytes.eq(bytes), dsl::read_bytes.eq(read)))
        .execute(conn)
        .map(|_| ())
}

/// How many bytes the running run will read from its source (None: not known).
pub fn expect(conn: &mut DbConn, id: &str, expected: Option<i64>) -> QueryResult<()> {
    diesel::update(dsl::runs.filter(dsl::id.eq(id)).filter(dsl::status.eq(RUNNING)))
        .set((dsl::expected_bytes.eq(expected), dsl::read_bytes.eq(0)))
        .execute(conn)
        .map(|_| ())
}

/// Records how the owner's run ended; false if it had already been marked interrupted (by an
/// instance that took this one for dead), which stands.
pub fn finish(conn: &mut DbConn, id: &str, owner: &str, end: RunEnd) -> QueryResult<bool> {
    let n = diesel::update(
        dsl::runs.filter(dsl::id.eq(id)).filter(dsl::owner_id.eq(owner)).filter(dsl::status.eq_any([QUEUED, RUNNING])),
    )
    .set(end)
    .execute(conn)?;
    Ok(n == 1)
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

/// Records the uploaded artifact's key on a run before it is marked succeeded.
pub fn note_artifact(conn: &mut DbConn, id: &str, key: &str, destination: Option<&str>) -> QueryResult<()> {
    diesel::update(dsl::runs.filter(dsl::id.eq(id)))
        .set((dsl::object_key.eq(key), dsl::destination_id.eq(destination)))
        .execute(conn)
        .map(|_| ())
}

/// Queued and running runs whose owner is not among the `live` instances (or unknown: rows from
/// before owners were recorded) were cut off by a crash: marks them interrupted and returns them.
pub fn interrupt_orphans(conn: &mut DbConn, live: &[String], now: NaiveDateTime) -> QueryResult<Vec<RunRow>> {
    crate::db::write_transaction(conn, |conn| {
        let orphans: Vec<RunRow> = dsl::runs
            .filter(dsl::status.eq_any([RUNNING, QUEUED]))
            .filter(dsl::owner_id.is_null().or(dsl::owner_id.ne_all(live)))
            .select(RunRow::as_select())
            .load(conn)?;
        if orphans.is_empty() {
            return Ok(orphans);
        }
        let ids: Vec<&str> = orphans.iter().map(|r| r.id.as_str()).collect();
        diesel::update(dsl::runs.filter(dsl::id.eq_any(&ids)))
            .set((dsl::status.eq(INTERRUPTED), dsl::finished_at.eq(now), dsl::error.eq(INTERRUPTED_MESSAGE)))
            .execute(conn)?;
        Ok(orphans)
    })
}

/// Enabled plans due at `now`, the longest due first (one query, whatever their number).
pub fn due_plans(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<PlanRow>> {
    plans::plans
        .filter(plans::enabled.eq(true))
        .filter(plans::next_run_at.le(now))
        .order(plans::next_run_at.asc())
        .select(PlanRow::as_select())
        .load(conn)
}

/// Moves a due plan's next_run_at on, only if it still holds the value seen, and records the
/// queued run in the same transaction: of two instances that saw the same due plan, exactly one
/// claims it, and a claimed slot always has its run (a crash in between loses neither).
pub fn claim(
    conn: &mut DbConn,
    plan: &str,
    seen: NaiveDateTime,
    next: Option<NaiveDateTime>,
    run: &RunRow,
) -> QueryResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let n = diesel::update(plans::plans.filter(plans::id.eq(plan)).filter(plans::next_run_at.eq(seen)))
            .set(plans::next_run_at.eq(next))
            .execute(conn)?;
        if n == 1 {
            insert(conn, run)?;
        }
        Ok(n == 1)
    })
}

/// The artifacts still kept on these destinations, as (destination, object key).
pub fn kept_on(conn: &mut DbConn, destinations: &[String]) -> QueryResult<Vec<(Option<String>, Option<String>)>> {
    dsl::runs
        .filter(dsl::destination_id.eq_any(destinations))
        .filter(dsl::object_key.is_not_null())
        .filter(dsl::pruned_at.is_null())
        .select((dsl::destination_id, dsl::object_key))
        .load(conn)
}
