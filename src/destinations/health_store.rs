//! The health history's queries: every connection test of a saved destination, the newest
//! [`KEPT_PER_DESTINATION`] of each, and when each destination is next re-validated. Every
//! query of a workspace's history takes the workspace id; only the re-validation scheduler reads
//! across workspaces.

use crate::db::DbConn;
use crate::db::schema::destination_tests::{self, dsl};
use crate::db::schema::destinations::dsl as destinations;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// How many tests of one destination are kept; older ones are pruned as new ones are stored.
pub const KEPT_PER_DESTINATION: i64 = 200;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = destination_tests)]
pub struct TestRow {
    pub id: String,
    pub workspace_id: String,
    pub destination_id: String,
    pub started_at: NaiveDateTime,
    pub finished_at: NaiveDateTime,
    pub duration_ms: i64,
    pub status: String,
    pub deep: bool,
    /// JSON: the steps with their status and duration.
    pub steps: String,
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    pub trigger_kind: String,
    pub triggered_by: Option<String>,
    pub triggered_token: Option<String>,
    pub status_before: String,
    pub status_after: String,
}

/// Stores a test and prunes the destination's history to the newest [`KEPT_PER_DESTINATION`].
pub fn insert(conn: &mut DbConn, row: &TestRow) -> QueryResult<()> {
    diesel::insert_into(dsl::destination_tests).values(row).execute(conn)?;
    let oldest_kept: Option<NaiveDateTime> = dsl::destination_tests
        .filter(dsl::destination_id.eq(&row.destination_id))
        .order(dsl::started_at.desc())
        .offset(KEPT_PER_DESTINATION - 1)
        .select(dsl::started_at)
        .first(conn)
        .optional()?;
    if let Some(cutoff) = oldest_kept {
        diesel::delete(
            dsl::destination_tests
                .filter(dsl::destination_id.eq(&row.destination_id))
                .filter(dsl::started_at.lt(cutoff)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// A page of a destination's tests, newest first.
pub fn page(
    conn: &mut DbConn,
    workspace: &str,
    destination: &str,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<TestRow>> {
    dsl::destination_tests
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::destination_id.eq(destination))
        .order((dsl::started_at.desc(), dsl::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(TestRow::as_select())
        .load(conn)
}

pub fn count(conn: &mut DbConn, workspace: &str, destination: &str) -> QueryResult<i64> {
    dsl::destination_tests
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::destination_id.eq(destination))
        .count()
        .get_result(conn)
}

/// The newest `n` tests of each of these destinations, newest first (one indexed query each:
/// a page of the list holds at most a few dozen destinations).
pub fn recent(
    conn: &mut DbConn,
    workspace: &str,
    destinations: &[String],
    n: i64,
) -> QueryResult<Vec<(String, Vec<TestRow>)>> {
    destinations.iter().map(|id| Ok((id.clone(), page(conn, workspace, id, n, 0)?))).collect()
}

/// (status, status before the running test) of a destination, or None when it is gone.
pub fn status_of(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<Option<(String, Option<String>)>> {
    destinations::destinations
        .filter(destinations::workspace_id.eq(workspace))
        .filter(destinations::id.eq(id))
        .select((destinations::status, destinations::status_before_test))
        .first(conn)
        .optional()
}

/// Gives every destination without a re-validation time one at a random point of the next
/// interval (`pick` chooses it), so destinations added together are not tested together. A
/// thousand rows a transaction: one commit each (10,000 destinations imported at once were
/// 10,000 commits, each one a change every page's cache had to notice).
pub fn schedule_unscheduled(conn: &mut DbConn, pick: impl Fn() -> NaiveDateTime) -> QueryResult<usize> {
    let ids: Vec<String> = destinations::destinations
        .filter(destinations::next_revalidation_at.is_null())
        .select(destinations::id)
        .load(conn)?;
    let mut scheduled = 0;
    for batch in ids.chunks(1000) {
        scheduled += crate::db::write_transaction(conn, |conn| {
            let mut n = 0;
            for id in batch {
                // Only if still unscheduled: another instance may have picked a time meanwhile.
                n += diesel::update(
                    destinations::destinations
                        .filter(destinations::id.eq(id))
                        .filter(destinations::next_revalidation_at.is_null()),
                )
                .set(destinations::next_revalidation_at.eq(pick()))
                .execute(conn)?;
            }
            Ok(n)
        })?;
    }
    Ok(scheduled)
}

/// Destinations due for re-validation at `now`, as (workspace, id, the due time seen): those
/// neither disabled nor being tested.
pub fn due(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<(String, String, NaiveDateTime)>> {
    let rows: Vec<(String, String, Option<NaiveDateTime>)> = destinations::destinations
        .filter(destinations::status.eq_any(["active", "failed"]))
        .filter(destinations::next_revalidation_at.le(now))
        .select((destinations::workspace_id, destinations::id, destinations::next_revalidation_at))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(w, id, at)| Some((w, id, at?))).collect())
}

/// Moves a due destination's re-validation time on, only if it still holds the value seen: of
/// several instances that saw it due, exactly one claims it and runs the test.
pub fn claim(conn: &mut DbConn, id: &str, seen: NaiveDateTime, next: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(
        destinations::destinations.filter(destinations::id.eq(id)).filter(destinations::next_revalidation_at.eq(seen)),
    )
    .set(destinations::next_revalidation_at.eq(next))
    .execute(conn)?;
    Ok(n == 1)
}
