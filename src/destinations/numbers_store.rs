//! Queries of destinations' integer numbers (spec 003's ids). The database gives each new
//! destination its number (a trigger, `destination_numbers`); these only read them, always
//! through the destination's workspace.

use crate::db::DbConn;
use crate::db::schema::{destination_numbers as numbers, destinations};
use diesel::prelude::*;

/// (destination id, number) of those of `ids` that are in the workspace.
pub fn numbers_of(conn: &mut DbConn, workspace: &str, ids: &[String]) -> QueryResult<Vec<(String, i64)>> {
    numbers::table
        .inner_join(destinations::table)
        .filter(destinations::workspace_id.eq(workspace))
        .filter(numbers::destination_id.eq_any(ids))
        .select((numbers::destination_id, numbers::number))
        .load(conn)
}

/// The id of the workspace's destination with this number.
pub fn id_of(conn: &mut DbConn, workspace: &str, number: i64) -> QueryResult<String> {
    numbers::table
        .inner_join(destinations::table)
        .filter(destinations::workspace_id.eq(workspace))
        .filter(numbers::number.eq(number))
        .select(numbers::destination_id)
        .first(conn)
}
