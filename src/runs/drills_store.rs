//! Restore drills in the database: each plan's drill schedule (`plan_drills`), each drill
//! (`drills`), and the scheduler's claim on a due drill (the same compare-and-set as a plan's run:
//! of several instances that saw it due, exactly one moves its time on and records the drill).

use crate::db::DbConn;
use crate::db::schema::drills::{self, dsl};
use crate::db::schema::plan_drills::dsl as schedules;
use crate::db::schema::plans::dsl as plans;
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub const RUNNING: &str = "running";
pub const PASSED: &str = "passed";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = drills)]
pub struct DrillRow {
    pub id: String,
    pub workspace_id: String,
    pub plan_id: String,
    /// The run whose artifact was drilled (None when the plan had none to drill).
    pub run_id: Option<String>,
    /// Which copy of it: 0 is the primary destination.
    pub copy_position: i64,
    pub status: String,
    /// `manual` or `schedule`.
    pub trigger_kind: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    /// What was checked, in words ("1,204 files, 3.1 GiB, every hash matched").
    pub checked: Option<String>,
    pub error: Option<String>,
    /// Bytes of the artifact read from the destination.
    pub bytes_read: i64,
    /// The instance running it.
    pub owner_id: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::db::schema::plan_drills)]
pub struct ScheduleRow {
    pub plan_id: String,
    pub workspace_id: String,
    pub schedule: String,
    pub enabled: bool,
    pub next_drill_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

/// How a drill ended.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = drills)]
pub struct DrillEnd {
    pub status: &'static str,
    pub finished_at: NaiveDateTime,
    pub run_id: Option<String>,
    pub copy_position: i64,
    pub checked: Option<String>,
    pub error: Option<String>,
    pub bytes_read: i64,
}

pub fn insert(conn: &mut DbConn, row: &DrillRow) -> QueryResult<()> {
    diesel::insert_into(dsl::drills).values(row).execute(conn).map(|_| ())
}

pub fn finish(conn: &mut DbConn, id: &str, end: DrillEnd) -> QueryResult<()> {
    diesel::update(dsl::drills.filter(dsl::id.eq(id)).filter(dsl::status.eq(RUNNING)))
        .set(end)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<DrillRow> {
    dsl::drills.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)).select(DrillRow::as_select()).first(conn)
}

/// A plan's drills, newest first.
pub fn for_plan(conn: &mut DbConn, workspace: &str, plan: &str, limit: i64) -> QueryResult<Vec<DrillRow>> {
    dsl::drills
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::plan_id.eq(plan))
        .order((dsl::started_at.desc(), dsl::id.desc()))
        .limit(limit)
        .select(DrillRow::as_select())
        .load(conn)
}

/// The workspace's latest drill of each plan that has one, with the plan's name, newest first.
pub fn latest_per_plan(conn: &mut DbConn, workspace: &str) -> QueryResult<Vec<(DrillRow, String)>> {
    let rows: Vec<(DrillRow, String)> = dsl::drills
        .inner_join(plans::plans)
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::status.ne(RUNNING))
        .order((dsl::started_at.desc(), dsl::id.desc()))
        .limit(5000)
        .select((DrillRow::as_select(), plans::name))
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows.into_iter().filter(|(d, _)| seen.insert(d.plan_id.clone())).collect())
}

/// Every plan's latest finished drill, across workspaces (for the metrics): (workspace, plan,
/// plan name, drill).
pub fn latest_everywhere(conn: &mut DbConn) -> QueryResult<Vec<(String, String, String, DrillRow)>> {
    let rows: Vec<(DrillRow, String)> = dsl::drills
        .inner_join(plans::plans)
        .filter(dsl::status.ne(RUNNING))
        .order((dsl::started_at.desc(), dsl::id.desc()))
        .limit(100_000)
        .select((DrillRow::as_select(), plans::name))
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .filter(|(d, _)| seen.insert(d.plan_id.clone()))
        .map(|(d, name)| (d.workspace_id.clone(), d.plan_id.clone(), name, d))
        .collect())
}

/// The newest run of the plan whose artifact passed a drill (and is still kept), with the copy
/// that passed: what retention must never remove as the last proof that the plan restores.
pub fn last_passed(conn: &mut DbConn, workspace: &str, plan: &str) -> QueryResult<Option<(String, i64)>> {
    use crate::db::schema::run_copies::dsl as copies;
    let passed: Vec<(Option<String>, i64)> = dsl::drills
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::plan_id.eq(plan))
        .filter(dsl::status.eq(PASSED))
        .order((dsl::started_at.desc(), dsl::id.desc()))
        .limit(100)
        .select((dsl::run_id, dsl::copy_position))
        .load(conn)?;
    for (run, copy) in passed {
        let Some(run) = run else { continue };
        // That copy still holds the artifact (retention prunes each copy on its own).
        let kept: i64 = copies::run_copies
            .filter(copies::run_id.eq(&run))
            .filter(copies::position.eq(copy))
            .filter(copies::pruned_at.is_null())
            .count()
            .get_result(conn)?;
        if kept == 1 {
            return Ok(Some((run, copy)));
        }
    }
    Ok(None)
}

/// A plan's drill schedule, if it has its own row yet.
pub fn schedule_of(conn: &mut DbConn, workspace: &str, plan: &str) -> QueryResult<Option<ScheduleRow>> {
    schedules::plan_drills
        .filter(schedules::workspace_id.eq(workspace))
        .filter(schedules::plan_id.eq(plan))
        .select(ScheduleRow::as_select())
        .first(conn)
        .optional()
}

/// Writes a plan's drill schedule (inserted, or replacing the one it had).
pub fn save_schedule(conn: &mut DbConn, row: &ScheduleRow) -> QueryResult<()> {
    let updated = diesel::update(
        schedules::plan_drills
            .filter(schedules::plan_id.eq(&row.plan_id))
            .filter(schedules::workspace_id.eq(&row.workspace_id)),
    )
    .set((
        schedules::schedule.eq(&row.schedule),
        schedules::enabled.eq(row.enabled),
        schedules::next_drill_at.eq(row.next_drill_at),
        schedules::updated_at.eq(row.updated_at),
    ))
    .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(schedules::plan_drills).values(row).execute(conn)?;
    }
    Ok(())
}

/// Plans with no drill schedule row yet (they drill weekly by default): (workspace, plan).
pub fn plans_without_schedule(conn: &mut DbConn) -> QueryResult<Vec<(String, String)>> {
    // Asked on every tick: the database answers from its indexes (nothing, once every plan has
    // its row), instead of every plan's and every schedule's id being read each time.
    plans::plans
        .filter(diesel::dsl::not(diesel::dsl::exists(schedules::plan_drills.filter(schedules::plan_id.eq(plans::id)))))
        .select((plans::workspace_id, plans::id))
        .limit(BACKFILL_PER_TICK)
        .load(conn)
}

/// Default schedules given at most per tick (the rest on the next ones).
const BACKFILL_PER_TICK: i64 = 1000;

/// Enabled drill schedules due at `now`: (workspace, plan, schedule, the next_drill_at seen).
pub fn due(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<(String, String, String, NaiveDateTime)>> {
    let rows: Vec<(String, String, String, Option<NaiveDateTime>)> = schedules::plan_drills
        .filter(schedules::enabled.eq(true))
        .filter(schedules::next_drill_at.le(now))
        .select((schedules::workspace_id, schedules::plan_id, schedules::schedule, schedules::next_drill_at))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(w, p, s, at)| Some((w, p, s, at?))).collect())
}

/// Moves a due drill's time on, only if it still holds the value seen, and records the drill in
/// the same transaction: true if this caller won it.
pub fn claim(
    conn: &mut DbConn,
    plan: &str,
    seen: NaiveDateTime,
    next: Option<NaiveDateTime>,
    drill: Option<&DrillRow>,
) -> QueryResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let n = diesel::update(
            schedules::plan_drills.filter(schedules::plan_id.eq(plan)).filter(schedules::next_drill_at.eq(seen)),
        )
        .set(schedules::next_drill_at.eq(next))
        .execute(conn)?;
        if let (1, Some(drill)) = (n, drill) {
            insert(conn, drill)?;
        }
        Ok(n == 1)
    })
}

/// Drills left running by an instance that is no longer live: marked failed.
pub fn fail_orphans(conn: &mut DbConn, live: &[String], now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        dsl::drills.filter(dsl::status.eq(RUNNING)).filter(dsl::owner_id.is_null().or(dsl::owner_id.ne_all(live))),
    )
    .set((
        dsl::status.eq(FAILED),
        dsl::finished_at.eq(now),
        dsl::error.eq("Interrupted: the server running this drill stopped before it finished."),
    ))
    .execute(conn)
}

/// When each plan's newest passed drill finished, across workspaces (for the metrics):
/// (workspace, plan, finished at).
pub fn last_passed_times(conn: &mut DbConn) -> QueryResult<Vec<(String, String, NaiveDateTime)>> {
    let rows: Vec<(String, String, Option<NaiveDateTime>)> = dsl::drills
        .filter(dsl::status.eq(PASSED))
        .order(dsl::finished_at.desc())
        .limit(100_000)
        .select((dsl::workspace_id, dsl::plan_id, dsl::finished_at))
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows.into_iter().filter_map(|(w, p, at)| Some((w, p, at?))).filter(|(_, p, _)| seen.insert(p.clone())).collect())
}
