//! What a partially succeeded run's notification says: which copies failed, and why.

use crate::db::DbConn;
use crate::db::schema::{destinations, run_copies};
use diesel::prelude::*;

/// "copy 1 (“Offsite”) failed: …; copy 2 (“Azure”) failed: …." for a run's copies that did not
/// succeed (the primary is "the primary").
pub fn failed_copies(conn: &mut DbConn, run_id: &str) -> QueryResult<String> {
    let rows: Vec<(i64, Option<String>, String, Option<String>)> = run_copies::table
        .left_join(destinations::table.on(run_copies::destination_id.eq(destinations::id.nullable())))
        .filter(run_copies::run_id.eq(run_id))
        .filter(run_copies::status.ne(crate::runs::copies_store::COPY_SUCCEEDED))
        .order(run_copies::position.asc())
        .select((run_copies::position, destinations::name.nullable(), run_copies::status, run_copies::error))
        .load(conn)?;
    let lines: Vec<String> = rows
        .into_iter()
        .map(|(position, name, status, error)| {
            let which = if position == 0 { "the primary".to_owned() } else { format!("copy {position}") };
            let name = name.unwrap_or_else(|| "deleted destination".into());
            let how = if status == "skipped" { "was skipped" } else { "failed" };
            format!("{which} (“{name}”) {how}: {}", error.unwrap_or_else(|| "no reason recorded".into()))
        })
        .collect();
    Ok(format!("{}.", lines.join("; ")))
}
