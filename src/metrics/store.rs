//! What `/metrics` reads, across every workspace (metrics are the operator's), aggregated in the
//! database so a scrape costs a few grouped queries whatever the number of runs; and the
//! `metrics_tokens` table (a token's hash, never the token).

use crate::db::DbConn;
use crate::db::schema::metrics_tokens::{self, dsl as tokens};
use crate::db::schema::{databases, destinations, plans, workspaces};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamp};

/// A workspace, a plan or a destination: what the `*_info` families name.
#[derive(Debug, Queryable)]
pub struct Named {
    pub workspace: String,
    pub id: String,
    pub name: String,
}

pub fn workspaces(c: &mut DbConn) -> QueryResult<Vec<(String, String)>> {
    workspaces::table.select((workspaces::id, workspaces::name)).order(workspaces::id).load(c)
}

pub fn plans(c: &mut DbConn) -> QueryResult<Vec<Named>> {
    plans::table.select((plans::workspace_id, plans::id, plans::name)).order(plans::id).load(c)
}

/// Each destination and its status.
pub fn destinations(c: &mut DbConn) -> QueryResult<Vec<(Named, String)>> {
    destinations::table
        .select(((destinations::workspace_id, destinations::id, destinations::name), destinations::status))
        .order(destinations::id)
        .load(c)
}

/// A protected database, its WAL lag in bytes and when it last received WAL (None until known).
#[derive(Debug, Queryable)]
pub struct DatabaseWal {
    pub database: Named,
    pub lag_bytes: Option<i64>,
    pub last_received: Option<NaiveDateTime>,
}

pub fn databases(c: &mut DbConn) -> QueryResult<Vec<DatabaseWal>> {
    databases::table
        .select((
            (databases::workspace_id, databases::id, databases::name),
            databases::lag_bytes,
            databases::last_received_at,
        ))
        .order(databases::id)
        .load(c)
}

/// Runs of one plan in one status.
#[derive(Debug, QueryableByName)]
pub struct RunTotals {
    #[diesel(sql_type = Text)]
    pub workspace: String,
    #[diesel(sql_type = Text)]
    pub plan: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub runs: i64,
    /// The sum of their artifacts' sizes (0 but for succeeded runs).
    #[diesel(sql_type = BigInt)]
    pub bytes: i64,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub last_finished: Option<NaiveDateTime>,
}

/// Runs of the plans that exist, by plan and status.
pub fn run_totals(c: &mut DbConn) -> QueryResult<Vec<RunTotals>> {
    diesel::sql_query(
        "SELECT r.workspace_id AS workspace, r.plan_id AS plan, r.status AS status, COUNT(*) AS runs, \
           CAST(COALESCE(SUM(r.bytes), 0) AS BIGINT) AS bytes, MAX(r.finished_at) AS last_finished \
         FROM runs r JOIN plans p ON p.id = r.plan_id AND p.workspace_id = r.workspace_id \
         GROUP BY r.workspace_id, r.plan_id, r.status",
    )
    .load(c)
}

/// Durations of one subject (a plan's runs, a destination's tests) and outcome counted into one
/// bucket: the index of the first bound they are at or under (past the last bound:
/// `bucket == bounds.len()`), and their total seconds.
#[derive(Debug, QueryableByName)]
pub struct DurationBucket {
    #[diesel(sql_type = Text)]
    pub workspace: String,
    #[diesel(sql_type = Text)]
    pub subject: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub bucket: i64,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    #[diesel(sql_type = Double)]
    pub seconds: f64,
}

/// `timed` (rows of `workspace, subject, status, d` in seconds) counted into `bounds` (seconds,
/// ascending). The bounds are constants of this program, never input: written in as numbers.
fn bucketed(timed: &str, bounds: &[f64]) -> String {
    let cases: String = bounds.iter().enumerate().map(|(i, b)| format!("WHEN d <= {b:?} THEN {i} ")).collect();
    format!(
        "SELECT workspace, subject, status, CAST(bucket AS BIGINT) AS bucket, COUNT(*) AS count, \
           CAST(SUM(d) AS DOUBLE PRECISION) AS seconds \
         FROM (SELECT workspace, subject, status, d, CASE {cases}ELSE {last} END AS bucket \
               FROM ({timed}) timed WHERE d >= 0) bucketed \
         GROUP BY workspace, subject, status, bucket",
        last = bounds.len(),
    )
}

/// Run durations by plan and outcome, counted into `bounds`.
pub fn run_durations(c: &mut DbConn, bounds: &[f64]) -> QueryResult<Vec<DurationBucket>> {
    let query = |duration: &str| {
        bucketed(
            &format!(
                "SELECT r.workspace_id AS workspace, r.plan_id AS subject, r.status AS status, {duration} AS d \
                 FROM runs r JOIN plans p ON p.id = r.plan_id AND p.workspace_id = r.workspace_id \
                 WHERE r.started_at IS NOT NULL AND r.finished_at IS NOT NULL"
            ),
            bounds,
        )
    };
    // The one difference between the backends: the seconds between two timestamps.
    match c {
        DbConn::Sqlite(c) => {
            diesel::sql_query(query("(julianday(r.finished_at) - julianday(r.started_at)) * 86400.0")).load(c)
        }
        DbConn::Postgres(c) => diesel::sql_query(query("EXTRACT(EPOCH FROM (r.finished_at - r.started_at))")).load(c),
    }
}

/// Connection-test durations by destination and outcome (the kept history), counted into `bounds`.
pub fn test_durations(c: &mut DbConn, bounds: &[f64]) -> QueryResult<Vec<DurationBucket>> {
    let query = bucketed(
        "SELECT t.workspace_id AS workspace, t.destination_id AS subject, t.status AS status, \
           t.duration_ms / 1000.0 AS d FROM destination_tests t",
        bounds,
    );
    match c {
        DbConn::Sqlite(c) => diesel::sql_query(query).load(c),
        DbConn::Postgres(c) => diesel::sql_query(query).load(c),
    }
}

/// Notification delivery attempts by workspace, channel and result.
#[derive(Debug, Queryable)]
pub struct Deliveries {
    pub workspace: String,
    pub channel: Option<String>,
    pub ok: bool,
    pub attempts: i64,
}

pub fn deliveries(c: &mut DbConn) -> QueryResult<Vec<Deliveries>> {
    use crate::db::schema::notification_deliveries::dsl as d;
    d::notification_deliveries
        .group_by((d::workspace_id, d::channel_id, d::ok))
        .select((d::workspace_id, d::channel_id, d::ok, diesel::dsl::count_star()))
        .load(c)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = metrics_tokens)]
pub struct MetricsTokenRow {
    pub id: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    pub token_hash: String,
    /// The operator who created it.
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// The live token, if any.
pub fn current_token(c: &mut DbConn) -> QueryResult<Option<MetricsTokenRow>> {
    tokens::metrics_tokens.select(MetricsTokenRow::as_select()).order(tokens::created_at.desc()).first(c).optional()
}

/// Replaces any token with `row`: the old one stops working in the same transaction.
pub fn replace_token(c: &mut DbConn, row: &MetricsTokenRow) -> QueryResult<()> {
    c.transaction(|c| {
        diesel::delete(tokens::metrics_tokens).execute(c)?;
        diesel::insert_into(tokens::metrics_tokens).values(row).execute(c).map(drop)
    })
}

/// Removes the token; how many there were.
pub fn delete_tokens(c: &mut DbConn) -> QueryResult<usize> {
    diesel::delete(tokens::metrics_tokens).execute(c)
}

pub fn token_with_hash(c: &mut DbConn, digest: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(tokens::metrics_tokens.filter(tokens::token_hash.eq(digest)))).get_result(c)
}
