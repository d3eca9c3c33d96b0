//! The overview's read-only queries over plans, runs and destinations: the few aggregates no
//! feature's own store needs. Every query takes the workspace id.

use crate::db::DbConn;
use crate::db::schema::destinations::dsl as destinations;
use crate::db::schema::plans::dsl as plans;
use crate::db::schema::runs::dsl as runs;
use crate::runs::store::{PARTIAL, RunRow, SUCCEEDED, UNSUCCESSFUL};
use chrono::NaiveDateTime;
use diesel::dsl::max;
use diesel::prelude::*;

/// A destination as the overview shows it: no settings, no credentials.
#[derive(Debug, Clone, Queryable)]
pub struct DestinationHealth {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub last_tested_at: Option<NaiveDateTime>,
    pub last_test_message: Option<String>,
    pub is_default: bool,
}

pub fn destinations(conn: &mut DbConn, workspace: &str) -> QueryResult<Vec<DestinationHealth>> {
    destinations::destinations
        .filter(destinations::workspace_id.eq(workspace))
        .order((destinations::name.asc(), destinations::id.asc()))
        .select((
            destinations::id,
            destinations::name,
            destinations::kind,
            destinations::status,
            destinations::last_tested_at,
            destinations::last_test_message,
            destinations::is_default,
        ))
        .load(conn)
}

/// Each plan's newest run (plans without runs are absent), in one query: a workspace of 10,000
/// plans asked one query per plan before.
pub fn last_runs(conn: &mut DbConn, workspace: &str) -> QueryResult<Vec<RunRow>> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    let newest = sql::<Bool>(
        "runs.id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER \
         (PARTITION BY plan_id ORDER BY created_at DESC, id DESC) AS newest FROM runs WHERE workspace_id = ",
    )
    .bind::<Text, _>(workspace.to_owned())
    .sql(") ranked WHERE newest = 1)");
    runs::runs.filter(runs::workspace_id.eq(workspace)).filter(newest).select(RunRow::as_select()).load(conn)
}

/// When each plan last succeeded: (plan id, the newest successful run's end).
pub fn last_successes(conn: &mut DbConn, workspace: &str) -> QueryResult<Vec<(String, Option<NaiveDateTime>)>> {
    runs::runs
        .filter(runs::workspace_id.eq(workspace))
        .filter(runs::status.eq(SUCCEEDED))
        .group_by(runs::plan_id)
        .select((runs::plan_id, max(runs::finished_at)))
        .load(conn)
}

/// The workspace's newest failed or interrupted runs, with their plan's name.
pub fn last_failures(conn: &mut DbConn, workspace: &str, limit: i64) -> QueryResult<Vec<(RunRow, String)>> {
    runs::runs
        .inner_join(plans::plans)
        .filter(runs::workspace_id.eq(workspace))
        .filter(runs::status.eq_any(UNSUCCESSFUL))
        .order((runs::created_at.desc(), runs::id.desc()))
        .limit(limit)
        .select((RunRow::as_select(), plans::name))
        .load(conn)
}

/// An artifact a destination holds or held: its size, when it was written, when retention
/// deleted it (None while it is there).
#[derive(Debug, Clone, Queryable)]
pub struct Artifact {
    pub destination_id: Option<String>,
    pub bytes: i64,
    pub written_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub pruned_at: Option<NaiveDateTime>,
}

/// The artifacts of successful runs that are held now or were held at some time after `since`.
pub fn artifacts(conn: &mut DbConn, workspace: &str, since: NaiveDateTime) -> QueryResult<Vec<Artifact>> {
    let mut held: Vec<Artifact> = runs::runs
        .filter(runs::workspace_id.eq(workspace))
        .filter(runs::status.eq(SUCCEEDED))
        .filter(runs::object_key.is_not_null())
        .filter(runs::destination_id.is_not_null())
        .filter(runs::pruned_at.is_null().or(runs::pruned_at.gt(since)))
        .select((runs::destination_id, runs::bytes, runs::finished_at, runs::created_at, runs::pruned_at))
        .load(conn)?;
    // The copies beside the primary (position 0, whose values `runs` repeats), and every copy
    // that holds a partial run's artifact: each an artifact on its own destination.
    use crate::db::schema::run_copies::dsl as copies;
    let others: Vec<Artifact> = copies::run_copies
        .inner_join(runs::runs)
        .filter(runs::workspace_id.eq(workspace))
        .filter(runs::status.eq_any([SUCCEEDED, PARTIAL]))
        .filter(copies::position.gt(0).or(runs::status.eq(PARTIAL)))
        .filter(copies::status.eq(crate::runs::copies_store::COPY_SUCCEEDED))
        .filter(copies::object_key.is_not_null())
        .filter(copies::destination_id.is_not_null())
        .filter(copies::pruned_at.is_null().or(copies::pruned_at.gt(since)))
        .select((copies::destination_id, copies::bytes, copies::finished_at, runs::created_at, copies::pruned_at))
        .load(conn)?;
    held.extend(others);
    Ok(held)
}
