//! Scheduled re-validation: every enabled destination is tested again every
//! `DEVPILOT_REVALIDATE_EVERY` (6 hours by default), so a revoked key or a deleted bucket is
//! found before the backup that needs it. Each destination gets its own jittered time, so a
//! thousand destinations are not tested in the same second; among several instances each due
//! test is claimed by exactly one (the time moves on only if it still holds the value seen, as
//! plans are claimed). A scheduled test is recorded like any other, with the trigger "schedule".

use super::audited::TestedBy;
use super::health_store;
use super::service::DestinationService;
use crate::db::DbError;
use chrono::{NaiveDateTime, Utc};
use futures::StreamExt;
use rand::Rng;
use std::time::Duration;

/// How many scheduled tests one instance runs at once.
const CONCURRENCY: usize = 16;

/// Runs until the process ends, looking for due destinations every `tick`. `every` of zero
/// turns re-validation off.
pub async fn run(service: DestinationService, every: Duration, tick: Duration) {
    if every.is_zero() {
        return;
    }
    loop {
        if let Err(e) = self::tick(&service, every).await {
            tracing::error!(error = %e, "scheduled re-validation could not check due destinations");
        }
        tokio::time::sleep(tick.min(every)).await;
    }
}

/// Gives new destinations their first time, then tests every destination due now that this
/// instance claims; returns how many it tested.
pub async fn tick(service: &DestinationService, every: Duration) -> Result<usize, DbError> {
    let now = Utc::now().naive_utc();
    service.db.run(move |c| health_store::schedule_unscheduled(c, || first_time(now, every))).await?;
    let due = service.db.run(move |c| health_store::due(c, now)).await?;
    let mut claimed = Vec::new();
    for (workspace, id, seen) in due {
        let (rid, next) = (id.clone(), next_time(now, every));
        if service.db.run(move |c| health_store::claim(c, &rid, seen, next)).await? {
            claimed.push((workspace, id));
        }
    }
    let tested = claimed.len();
    futures::stream::iter(claimed)
        .for_each_concurrent(CONCURRENCY, |(workspace, id)| async move {
            if let Err(e) = service.test_saved(&workspace, &id, false, &TestedBy::schedule()).await {
                tracing::warn!(destination = %id, error = %e, "scheduled re-validation could not run");
            }
        })
        .await;
    Ok(tested)
}

/// A new destination's first re-validation: anywhere in the first interval but its first tenth
/// (it was just tested when it was saved).
fn first_time(now: NaiveDateTime, every: Duration) -> NaiveDateTime {
    let base = millis(every);
    now + chrono::Duration::milliseconds(rand::rng().random_range(base / 10..=base))
}

/// The next one: an interval on, give or take a tenth, so destinations tested together drift
/// apart.
fn next_time(now: NaiveDateTime, every: Duration) -> NaiveDateTime {
    let base = millis(every);
    let spread = base / 10;
    now + chrono::Duration::milliseconds(base + rand::rng().random_range(-spread..=spread))
}

fn millis(every: Duration) -> i64 {
    i64::try_from(every.as_millis()).unwrap_or(i64::MAX / 4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_stay_within_their_interval() {
        let now = Utc::now().naive_utc();
        let every = Duration::from_secs(6 * 3600);
        for _ in 0..200 {
            let first = first_time(now, every);
            assert!(first >= now + chrono::Duration::minutes(36) && first <= now + chrono::Duration::hours(6));
            let next = next_time(now, every);
            assert!(next >= now + chrono::Duration::minutes(324) && next <= now + chrono::Duration::minutes(396));
        }
    }
}
