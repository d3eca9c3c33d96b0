//! The scheduler: every ~15 s, claims each due plan (so two instances never both run it) and
//! starts a run.

use super::runner::{Runner, Trigger};
use super::store;
use crate::plans::schedule::Schedule;
use chrono::Utc;
use std::time::Duration;

const TICK: Duration = Duration::from_secs(15);

/// Runs until the process ends.
pub async fn run(runner: Runner) {
    loop {
        if let Err(e) = tick(&runner).await {
            tracing::error!(error = %e, "the scheduler could not check due plans");
        }
        tokio::time::sleep(TICK).await;
    }
}

/// Starts every plan due now; returns how many were started.
pub async fn tick(runner: &Runner) -> Result<usize, crate::db::DbError> {
    let now = Utc::now().naive_utc();
    let due = runner.db().run(move |c| store::due_plans(c, now)).await?;
    let mut started = 0;
    for (workspace, plan, seen) in due {
        let ws = workspace.clone();
        let pid = plan.clone();
        let row = runner.db().run(move |c| crate::plans::store::find(c, &ws, &pid)).await?;
        let next = Schedule::parse(&row.schedule).ok().and_then(|s| s.next_after(now));
        let pid = plan.clone();
        if runner.db().run(move |c| store::claim(c, &pid, seen, next)).await? {
            runner.start(&workspace, &plan, Trigger::Schedule, None).await?;
            started += 1;
        }
    }
    Ok(started)
}
