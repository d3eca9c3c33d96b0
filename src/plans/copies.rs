//! A plan's copies: up to two destinations beside its primary one, each written by every run
//! (see `runs/copies.rs`). Stored in `plan_copies` by position (1, 2); the rules (the same
//! workspace, none twice, not the primary) are checked by the plan service before saving.

use crate::db::DbConn;
use crate::db::schema::plan_copies::dsl;
use crate::db::schema::plans::dsl as plans;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// At most this many copies beside the primary.
pub const MAX_COPIES: usize = 2;

/// The form's (and the API's error) field of the copy at `position` (1-based).
pub fn field(position: usize) -> String {
    format!("copy_{position}")
}

/// The form's field `name` of the copy at `position`'s own retention (`copy_1_keep_daily`).
pub fn own_field(position: usize, name: &str) -> String {
    format!("copy_{position}_{name}")
}

/// The plan's copies as (position, destination id), in order. Only a plan of `workspace`.
pub fn of_plan(conn: &mut DbConn, workspace: &str, plan: &str) -> QueryResult<Vec<(i64, String)>> {
    dsl::plan_copies
        .inner_join(plans::plans)
        .filter(plans::workspace_id.eq(workspace))
        .filter(dsl::plan_id.eq(plan))
        .order(dsl::position.asc())
        .select((dsl::position, dsl::destination_id))
        .load(conn)
}

/// The copies of the workspace's plans `ids` (every plan's when None), as (plan id, position,
/// destination id) by position.
pub fn of_plans(conn: &mut DbConn, workspace: &str, ids: Option<&[String]>) -> QueryResult<Vec<(String, i64, String)>> {
    let query = dsl::plan_copies
        .inner_join(plans::plans)
        .filter(plans::workspace_id.eq(workspace))
        .order((dsl::plan_id.asc(), dsl::position.asc()))
        .select((dsl::plan_id, dsl::position, dsl::destination_id));
    match ids {
        None => query.load(conn),
        Some(ids) => query.filter(dsl::plan_id.eq_any(ids)).load(conn),
    }
}

/// Replaces the plan's copies with `destinations`, in order (positions 1, 2).
pub fn replace(conn: &mut DbConn, plan: &str, destinations: &[String], at: NaiveDateTime) -> QueryResult<()> {
    diesel::delete(dsl::plan_copies.filter(dsl::plan_id.eq(plan))).execute(conn)?;
    for (destination, position) in destinations.iter().zip(1i64..) {
        diesel::insert_into(dsl::plan_copies)
            .values((
                dsl::plan_id.eq(plan),
                dsl::position.eq(position),
                dsl::destination_id.eq(destination),
                dsl::created_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}
