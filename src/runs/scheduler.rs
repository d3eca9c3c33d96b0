//! The scheduler: every tick (15 s unless configured), claims each due plan (so two instances
//! never both run it) and starts a run. A database outage only skips ticks.

use super::runner::Runner;
use super::store;
use crate::plans::schedule::Schedule;
use chrono::Utc;
use std::time::Duration;

/// Runs until the process ends.
pub async fn run(runner: Runner, tick_every: Duration) {
    loop {
        if let Err(e) = tick(&runner).await {
            tracing::error!(error = %e, "the scheduler could not check due plans");
        }
        tokio::time::sleep(tick_every).await;
    }
}

/// Starts every plan due now; returns how many were started.
pub async fn tick(runner: &Runner) -> Result<usize, crate::db::DbError> {
    let now = Utc::now().naive_utc();
    let due = runner.db().run(move |c| store::due_plans(c, now)).await?;
    let mut started = 0;
    for (workspace, plan, seen) in due {
        let row = runner.db().run(move |c| crate::plans::store::find(c, &workspace, &plan)).await?;
        let next = Schedule::parse(&row.schedule).ok().and_then(|s| s.next_after(now));
        if runner.start_due(row, seen, next).await?.is_some() {
            started += 1;
        }
    }
    // Restore drills due now, claimed the same way (runs/drills.rs).
    started += runner.start_due_drills(now).await?;
    Ok(started)
}
