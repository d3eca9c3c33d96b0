//! The scheduler: ticks on the wall clock's multiples of its period (every 15 s unless
//! configured: :00, :15, :30, :45), so a plan due at a minute starts within that tick rather
//! than up to a period later, and every instance ticks at the same instants. Each tick reads the
//! due plans in one query and claims each (so two instances never both run it) before starting
//! its run. A database outage only skips ticks.

use super::runner::Runner;
use super::store;
use crate::plans::schedule::Schedule;
use chrono::Utc;
use rand::seq::SliceRandom;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Runs until the process ends.
pub async fn run(runner: Runner, tick_every: Duration) {
    loop {
        tokio::time::sleep(until_next_tick(SystemTime::now(), tick_every)).await;
        if let Err(e) = tick(&runner).await {
            tracing::error!(error = %e, "the scheduler could not check due plans");
        }
    }
}

/// How long from `now` to the next multiple of `every` since the Unix epoch (a whole period when
/// `now` is one), plus a few milliseconds so that the tick reads a clock past the boundary.
fn until_next_tick(now: SystemTime, every: Duration) -> Duration {
    let every_ms = every.as_millis().max(1);
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    let left = every_ms - since_epoch % every_ms;
    Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX)) + Duration::from_millis(5)
}

/// Starts every plan due now; returns how many this instance started.
pub async fn tick(runner: &Runner) -> Result<usize, crate::db::DbError> {
    let now = Utc::now().naive_utc();
    let mut due = runner.db().run(move |c| store::due_plans(c, now)).await?;
    // Instances ticking at the same instant claim in different orders rather than all racing
    // for the same plan first.
    due.shuffle(&mut rand::rng());
    let mut started = 0;
    for plan in due {
        let Some(seen) = plan.next_run_at else { continue };
        let next = Schedule::parse(&plan.schedule).ok().and_then(|s| s.next_after(now));
        if runner.start_due(plan, seen, next).await?.is_some() {
            started += 1;
        }
    }
    // Restore drills due now, claimed the same way (runs/drills.rs).
    started += runner.start_due_drills(now).await?;
    Ok(started)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_the_clocks_multiples_of_the_period() {
        let at = |secs: u64, ms: u64| UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms);
        let every = Duration::from_secs(15);
        // 12:00:07.250 → the tick at 12:00:15 (and 5 ms).
        assert_eq!(until_next_tick(at(1_800_000_007, 250), every), Duration::from_millis(7_755));
        // On a boundary: the next one, a whole period later.
        assert_eq!(until_next_tick(at(1_800_000_015, 0), every), Duration::from_millis(15_005));
        assert_eq!(until_next_tick(at(1_800_000_014, 999), every), Duration::from_millis(6));
    }
}
