//! Plan queries. Every query takes the workspace id, except the scheduler's (which claims due
//! plans of every workspace).

use crate::db::DbConn;
use crate::db::schema::destinations::dsl as destinations;
use crate::db::schema::plans::{self, dsl};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = plans)]
pub struct PlanRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub slug: String,
    pub source_kind: String,
    pub source_path: String,
    pub destination_id: Option<String>,
    pub schedule: String,
    pub retention: i64,
    pub enabled: bool,
    pub next_run_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// A database source's connection URL, sealed.
    pub source_secret: Option<Vec<u8>>,
    pub encrypt: bool,
}

impl PlanRow {
    /// A new plan's row: its identity and creation time, and the rest as an edit would set it.
    pub fn new(id: String, workspace_id: String, created_at: NaiveDateTime, c: PlanChange) -> PlanRow {
        PlanRow {
            id,
            workspace_id,
            name: c.name,
            slug: c.slug,
            source_kind: c.source_kind,
            source_path: c.source_path,
            destination_id: c.destination_id,
            schedule: c.schedule,
            retention: c.retention,
            enabled: c.enabled,
            next_run_at: c.next_run_at,
            created_at,
            updated_at: c.updated_at,
            source_secret: c.source_secret,
            encrypt: c.encrypt,
        }
    }
}

/// The parts an edit replaces.
#[derive(AsChangeset)]
#[diesel(table_name = plans, treat_none_as_null = true)]
pub struct PlanChange {
    pub name: String,
    pub slug: String,
    pub source_kind: String,
    pub source_path: String,
    pub destination_id: Option<String>,
    pub schedule: String,
    pub retention: i64,
    pub enabled: bool,
    pub next_run_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    pub source_secret: Option<Vec<u8>>,
    pub encrypt: bool,
}

/// Which of a workspace's plans a query loads: all of them (the overview), a page of the list in
/// name order, or one.
#[derive(Debug, Clone)]
pub enum Selection {
    All,
    Page { limit: i64, offset: i64 },
    One(String),
}

/// The selected plans of the workspace by name, each with its primary destination's name (None
/// when it was deleted).
pub fn list(conn: &mut DbConn, workspace: &str, selection: &Selection) -> QueryResult<Vec<(PlanRow, Option<String>)>> {
    let query = dsl::plans
        .left_join(destinations::destinations)
        .filter(dsl::workspace_id.eq(workspace))
        .order((dsl::name.asc(), dsl::id.asc()))
        .select((PlanRow::as_select(), destinations::name.nullable()));
    match selection {
        Selection::All => query.load(conn),
        Selection::Page { limit, offset } => query.limit(*limit).offset(*offset).load(conn),
        Selection::One(id) => query.filter(dsl::id.eq(id)).load(conn),
    }
}

/// How many plans the workspace has.
pub fn count(conn: &mut DbConn, workspace: &str) -> QueryResult<i64> {
    dsl::plans.filter(dsl::workspace_id.eq(workspace)).count().get_result(conn)
}

pub fn find(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<PlanRow> {
    dsl::plans.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)).select(PlanRow::as_select()).first(conn)
}

/// Whether the destination exists in the workspace (a plan may only point at its own).
pub fn destination_exists(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<bool> {
    let n: i64 = destinations::destinations
        .filter(destinations::workspace_id.eq(workspace))
        .filter(destinations::id.eq(id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// A new plan's restore drills: weekly (Sundays 04:30 UTC) unless changed (runs/drills.rs).
pub const DEFAULT_DRILL_SCHEDULE: &str = "30 4 * * 0";

/// When the default drill schedule is next due after `at`.
pub fn next_default_drill(at: NaiveDateTime) -> Option<NaiveDateTime> {
    crate::plans::schedule::Schedule::parse(DEFAULT_DRILL_SCHEDULE).ok().and_then(|s| s.next_after(at))
}

/// A new plan, with its default drill schedule: given here rather than by the scheduler's next
/// tick, so that no background write follows a plan's creation.
pub fn insert(conn: &mut DbConn, row: &PlanRow) -> QueryResult<()> {
    diesel::insert_into(dsl::plans).values(row).execute(conn)?;
    give_default_drills(conn, &row.workspace_id, &row.id, row.created_at)
}

/// Gives the plan the default drill schedule, due next after `at`, unless it has one (another
/// instance's scheduler may have given it first).
pub fn give_default_drills(conn: &mut DbConn, workspace: &str, plan: &str, at: NaiveDateTime) -> QueryResult<()> {
    use crate::db::schema::plan_drills::dsl as drills;
    crate::db::write_transaction(conn, |conn| {
        let exists: i64 = drills::plan_drills.filter(drills::plan_id.eq(plan)).count().get_result(conn)?;
        if exists == 0 {
            diesel::insert_into(drills::plan_drills)
                .values((
                    drills::plan_id.eq(plan),
                    drills::workspace_id.eq(workspace),
                    drills::schedule.eq(DEFAULT_DRILL_SCHEDULE),
                    drills::enabled.eq(true),
                    drills::next_drill_at.eq(next_default_drill(at)),
                    drills::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

pub fn update(conn: &mut DbConn, workspace: &str, id: &str, change: PlanChange) -> QueryResult<()> {
    let n = diesel::update(dsl::plans.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
        .set(change)
        .execute(conn)?;
    found(n)
}

pub fn set_enabled(
    conn: &mut DbConn,
    workspace: &str,
    id: &str,
    enabled: bool,
    next_run_at: Option<NaiveDateTime>,
) -> QueryResult<()> {
    let n = diesel::update(dsl::plans.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
        .set((dsl::enabled.eq(enabled), dsl::next_run_at.eq(next_run_at)))
        .execute(conn)?;
    found(n)
}

/// Names of the workspace's plans that back up to the destination.
pub fn using_destination(conn: &mut DbConn, workspace: &str, destination: &str) -> QueryResult<Vec<String>> {
    dsl::plans
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::destination_id.eq(destination))
        .order(dsl::name.asc())
        .select(dsl::name)
        .load(conn)
}

/// Before a destination is deleted: its plans lose it and are disabled (never due); returns
/// their names.
pub fn detach_destination(conn: &mut DbConn, workspace: &str, destination: &str) -> QueryResult<Vec<String>> {
    let names = using_destination(conn, workspace, destination)?;
    diesel::update(dsl::plans.filter(dsl::workspace_id.eq(workspace)).filter(dsl::destination_id.eq(destination)))
        .set((
            dsl::destination_id.eq(None::<String>),
            dsl::enabled.eq(false),
            dsl::next_run_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(names)
}

pub fn delete(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<()> {
    let n = diesel::delete(dsl::plans.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id))).execute(conn)?;
    found(n)
}

fn found(rows: usize) -> QueryResult<()> {
    if rows == 0 { Err(diesel::result::Error::NotFound) } else { Ok(()) }
}
