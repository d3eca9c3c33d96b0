//! The restore-drill event: a drill that failed is announced (`drill.failed`) to every channel
//! that chose it, in the transaction that records the drill's end.

use super::domain::{EventKind, Named, RunInfo};
use super::emit::{Event, emit};
use crate::db::DbConn;
use crate::db::schema::{drills, plans};
use diesel::prelude::*;

/// Emits `drill.failed` for the drill (call it where its failure is recorded).
pub fn drill_failed(conn: &mut DbConn, drill_id: &str) -> QueryResult<()> {
    let (workspace, plan_id, run_id, error): (String, String, Option<String>, Option<String>) = drills::table
        .filter(drills::id.eq(drill_id))
        .select((drills::workspace_id, drills::plan_id, drills::run_id, drills::error))
        .first(conn)?;
    let plan_name: String = plans::table.filter(plans::id.eq(&plan_id)).select(plans::name).first(conn)?;
    let reason = error.clone().unwrap_or_else(|| "no reason recorded".into());
    let mut event = Event::new(
        EventKind::DrillFailed,
        &workspace,
        format!("Restore drill failed: {plan_name}"),
        format!("The restore drill of the newest backup failed: {reason}"),
    );
    event.plan = Some(Named { id: plan_id, name: plan_name });
    event.run = run_id.map(|id| RunInfo { id, status: "succeeded".into(), error, bytes: 0 });
    emit(conn, event).map(|_| ())
}
