//! What a crashed instance left behind, found and put right by the instances still alive (see
//! [`crate::instances`]): its queued and running runs marked interrupted, its connection tests
//! reset, and what its uploads left on the destinations removed, so nothing half-written stays
//! there or counts for retention.

use super::runner::Runner;
use super::store::{self, RunRow};
use crate::db::DbError;
use crate::instances::store as instances;
use chrono::Utc;
use std::collections::HashSet;
use std::time::Duration;

/// At start-up: recovers what dead instances left, this process's predecessor included (its id
/// is never taken for live here, whatever its last heartbeat says), then registers this one.
pub async fn at_start(runner: &Runner, timeout: Duration) -> Result<(), DbError> {
    let me = runner.instance().to_owned();
    let live: Vec<String> = live_since(runner, timeout).await?.into_iter().filter(|id| *id != me).collect();
    recover(runner, live).await?;
    beat(runner).await
}

/// Runs until the process ends: a heartbeat every third of `timeout`, each followed by recovering
/// what instances silent for longer than `timeout` left. Outages only skip beats.
pub async fn keep_alive(runner: Runner, timeout: Duration) {
    let every = (timeout / 3).max(Duration::from_millis(500));
    loop {
        tokio::time::sleep(every).await;
        let beaten = beat(&runner).await;
        let recovered = match beaten {
            Ok(()) => match live_since(&runner, timeout).await {
                Ok(live) => recover(&runner, live).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = recovered {
            tracing::warn!(error = %e, "the heartbeat could not be written; trying again");
        }
    }
}

async fn beat(runner: &Runner) -> Result<(), DbError> {
    let (me, now) = (runner.instance().to_owned(), Utc::now().naive_utc());
    runner.db().run(move |c| instances::beat(c, &me, now)).await
}

async fn live_since(runner: &Runner, timeout: Duration) -> Result<Vec<String>, DbError> {
    let since = Utc::now().naive_utc() - chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
    runner.db().run(move |c| instances::live(c, since)).await
}

/// Interrupts the runs and resets the tests of every instance but the `live` ones, then cleans
/// up after those runs in the background.
async fn recover(runner: &Runner, live: Vec<String>) -> Result<(), DbError> {
    let now = Utc::now().naive_utc();
    let alive = live.clone();
    let interrupted = runner
        .db()
        .run(move |c| {
            crate::db::write_transaction(c, |c| {
                let runs = store::interrupt_orphans(c, &alive, now)?;
                for run in &runs {
                    crate::notifications::emit::run_ended(c, &run.id)?;
                }
                Ok(runs)
            })
        })
        .await?;
    let alive = live.clone();
    let failed = runner.db().run(move |c| super::drills_store::fail_orphans(c, &alive, now)).await?;
    if failed > 0 {
        tracing::warn!(count = failed, "restore drills cut off by a stopped instance were marked failed");
    }
    let reset = runner.destinations().reset_orphaned_tests(live).await?;
    if reset > 0 {
        tracing::warn!(count = reset, "connection tests cut off by a stopped instance were reset");
    }
    if !interrupted.is_empty() {
        tracing::warn!(count = interrupted.len(), "runs cut off by a stopped instance were marked interrupted");
        let runner = runner.clone();
        tokio::spawn(async move { clean_up(&runner, interrupted).await });
    }
    // Instances silent since before everyone's horizon have nothing left to recover.
    let horizon = now - chrono::Duration::days(1);
    runner.db().run(move |c| instances::forget_silent(c, horizon)).await?;
    Ok(())
}

/// Removes what the interrupted runs left on their destinations: a whole artifact written but
/// never recorded as a success, and the partial uploads in their plans' folders.
async fn clean_up(runner: &Runner, runs: Vec<RunRow>) {
    let mut folders_done = HashSet::new();
    for run in runs {
        // The primary and the plan's copies: each may hold what the run wrote (see copies.rs).
        let (ws, pid) = (run.workspace_id.clone(), run.plan_id.clone());
        let copies = runner.db().run(move |c| crate::plans::copies::of_plan(c, &ws, &pid)).await.unwrap_or_default();
        let destinations = run.destination_id.clone().into_iter().chain(copies.into_iter().map(|(_, d)| d));
        for destination in destinations.collect::<Vec<_>>() {
            clean_up_on(runner, &run, destination, &mut folders_done).await;
        }
    }
}

/// [`clean_up`] on one destination of the run.
async fn clean_up_on(runner: &Runner, run: &RunRow, destination: String, folders_done: &mut HashSet<(String, String)>) {
    let built = runner.destinations().provider(&run.workspace_id, &destination).await;
    let provider = match built.map_err(|e| e.to_string()).and_then(|(_, p)| p.map_err(|e| e.to_string())) {
        Ok(provider) => provider,
        Err(e) => {
            tracing::warn!(run = %run.id, error = %e, "cannot clean up after an interrupted run");
            return;
        }
    };
    if let Some(key) = &run.object_key
        && let Err(e) = provider.delete(key).await
    {
        tracing::warn!(run = %run.id, key = %key, error = %e, "could not delete an interrupted run's artifact");
    }
    if !folders_done.insert((destination, run.plan_id.clone())) {
        return;
    }
    let (ws, pid) = (run.workspace_id.clone(), run.plan_id.clone());
    match runner.db().run(move |c| crate::plans::store::find(c, &ws, &pid)).await {
        Ok(plan) => runner.remove_leftovers(provider.as_ref(), &plan, &run.id).await,
        Err(e) => tracing::warn!(run = %run.id, error = %e, "cannot clean up after an interrupted run"),
    }
}
