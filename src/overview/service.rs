//! The overview of a workspace, computed on request from what plans, runs, destinations and
//! databases record: read-only, every query scoped to the workspace.

use super::store::{self, Artifact, DestinationHealth};
use crate::databases::service::DatabaseService;
use crate::db::{Db, DbError};
use crate::destinations::domain::Status;
use crate::plans::schedule::Schedule;
use crate::plans::service::{PlanError, PlanService};
use crate::plans::stale::stale_since;
use crate::providers::ProviderKind;
use crate::runs::chart::Point;
use crate::runs::store::RunRow;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use std::collections::HashMap;

/// How far back the storage charts look.
pub const GROWTH_DAYS: i64 = 30;
/// How many failed runs the overview lists.
pub const FAILURES_SHOWN: i64 = 10;
/// How long one database's recovery window may take to read (it lists the destination).
const WINDOW_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

pub struct Overview {
    pub now: NaiveDateTime,
    pub plans: Vec<PlanSummary>,
    /// Failing ones first, then those being tested, the healthy, the disabled.
    pub destinations: Vec<DestinationSummary>,
    /// Newest first.
    pub failures: Vec<Failure>,
    pub databases: Vec<DatabaseSummary>,
}

pub struct PlanSummary {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub schedule_preview: String,
    pub destination_name: Option<String>,
    pub last_run: Option<LastRun>,
    pub last_success_at: Option<NaiveDateTime>,
    pub next_run_at: Option<NaiveDateTime>,
    /// Since when it has gone two due times without a success (`plans::stale`); enabled plans
    /// only: a disabled plan is not expected to run.
    pub stale_since: Option<NaiveDateTime>,
}

pub struct LastRun {
    pub id: String,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    /// Written so far while it runs; the artifact's size once it succeeded.
    pub bytes: u64,
    pub duration: Option<Duration>,
    pub error: Option<String>,
}

pub struct DestinationSummary {
    pub id: String,
    pub name: String,
    pub type_label: &'static str,
    pub status: Status,
    pub is_default: bool,
    pub last_tested_at: Option<NaiveDateTime>,
    /// The last test's message when the destination is failing.
    pub last_error: Option<String>,
    /// The artifacts it holds now (successful runs retention has not deleted).
    pub stored_bytes: u64,
    pub artifacts: usize,
    /// What it held over the last [`GROWTH_DAYS`] days, a point a day (and now).
    pub growth: Vec<Point>,
    /// `stored_bytes` less what it held [`GROWTH_DAYS`] days ago.
    pub growth_bytes: i64,
}

pub struct Failure {
    pub run_id: String,
    pub plan_id: String,
    pub plan_name: String,
    pub status: String,
    pub at: NaiveDateTime,
    pub error: String,
}

pub struct DatabaseSummary {
    pub id: String,
    pub name: String,
    pub status: String,
    pub status_message: Option<String>,
    pub archiving: bool,
    pub lag_bytes: Option<i64>,
    pub last_received_at: Option<NaiveDateTime>,
    pub window: Window,
}

/// A database's recovery window, as its destination holds it now.
pub enum Window {
    /// Any second from the first to the second can be restored.
    Range(DateTime<Utc>, DateTime<Utc>),
    /// Nothing can be restored yet (no base backup with its WAL).
    Empty,
    /// The archive could not be read in time, or at all.
    Unknown(String),
}

#[derive(Debug, thiserror::Error)]
pub enum OverviewError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<PlanError> for OverviewError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Db(e) => OverviewError::Db(e),
            PlanError::NotFound => OverviewError::Db(DbError::NotFound),
            PlanError::Invalid(_) => OverviewError::Internal(anyhow::anyhow!("listing plans: {e}")),
        }
    }
}

#[derive(Clone)]
pub struct OverviewService {
    db: Db,
    plans: PlanService,
    databases: DatabaseService,
}

impl OverviewService {
    pub fn new(db: Db, plans: PlanService, databases: DatabaseService) -> OverviewService {
        OverviewService { db, plans, databases }
    }

    pub async fn overview(&self, workspace: &str) -> Result<Overview, OverviewError> {
        let now = Utc::now().naive_utc();
        let plans = self.plans.list(workspace).await?;
        let ws = workspace.to_owned();
        let since = now - Duration::days(GROWTH_DAYS);
        let (last_runs, successes, failures, destinations, artifacts) = self
            .db
            .run(move |c| {
                Ok((
                    store::last_runs(c, &ws)?,
                    store::last_successes(c, &ws)?,
                    store::last_failures(c, &ws, FAILURES_SHOWN)?,
                    store::destinations(c, &ws)?,
                    store::artifacts(c, &ws, since)?,
                ))
            })
            .await?;
        let mut last_runs: HashMap<String, RunRow> = last_runs.into_iter().map(|r| (r.plan_id.clone(), r)).collect();
        let successes: HashMap<String, NaiveDateTime> =
            successes.into_iter().filter_map(|(plan, at)| Some((plan, at?))).collect();
        let plans = plans
            .into_iter()
            .map(|p| {
                let last_success_at = successes.get(&p.id).copied();
                let schedule = Schedule::parse(&p.schedule).ok().filter(|_| p.enabled);
                PlanSummary {
                    stale_since: stale_since(schedule.as_ref(), last_success_at, p.created_at, now),
                    last_run: last_runs.remove(&p.id).map(last_run),
                    last_success_at,
                    next_run_at: p.next_run_at,
                    enabled: p.enabled,
                    schedule_preview: p.schedule_preview,
                    destination_name: p.destination_name,
                    name: p.name,
                    id: p.id,
                }
            })
            .collect();
        let failures = failures
            .into_iter()
            .map(|(run, plan_name)| Failure {
                error: run.error.unwrap_or_default(),
                at: run.finished_at.unwrap_or(run.created_at),
                status: run.status,
                plan_id: run.plan_id,
                run_id: run.id,
                plan_name,
            })
            .collect();
        let destinations = destination_summaries(destinations, &artifacts, now);
        let databases = self.databases(workspace).await?;
        Ok(Overview { now, plans, destinations, failures, databases })
    }

    /// The workspace's protected databases, their windows read side by side, each under a
    /// deadline so that one slow destination does not hold the page.
    async fn databases(&self, workspace: &str) -> Result<Vec<DatabaseSummary>, OverviewError> {
        let list = self.databases.list(workspace).await.map_err(|e| match e {
            crate::databases::service::DatabaseError::Db(e) => OverviewError::Db(e),
            other => OverviewError::Internal(anyhow::anyhow!("listing databases: {other}")),
        })?;
        let windows = futures::future::join_all(list.iter().map(|d| async move {
            match tokio::time::timeout(WINDOW_DEADLINE, self.databases.recovery_window(workspace, d.id())).await {
                Ok(Ok(report)) => match (report.earliest, report.latest) {
                    (Some(from), Some(to)) => Window::Range(from, to),
                    _ => Window::Empty,
                },
                Ok(Err(e)) => Window::Unknown(e.to_string()),
                Err(_) => Window::Unknown("the archive took too long to list; open the database for its window".into()),
            }
        }))
        .await;
        Ok(list
            .into_iter()
            .zip(windows)
            .map(|(d, window)| DatabaseSummary {
                id: d.row.id,
                name: d.row.name,
                status: d.row.status,
                status_message: d.row.status_message,
                archiving: d.row.archiving,
                lag_bytes: d.row.lag_bytes,
                last_received_at: d.row.last_received_at,
                window,
            })
            .collect())
    }
}

fn last_run(run: RunRow) -> LastRun {
    LastRun {
        duration: run.started_at.zip(run.finished_at).map(|(s, f)| f - s),
        bytes: run.bytes.max(0) as u64,
        status: run.status,
        created_at: run.created_at,
        finished_at: run.finished_at,
        error: run.error,
        id: run.id,
    }
}

/// The failing first, then by name (the query's order).
fn destination_summaries(
    destinations: Vec<DestinationHealth>,
    artifacts: &[Artifact],
    now: NaiveDateTime,
) -> Vec<DestinationSummary> {
    let mut by_destination: HashMap<&str, Vec<&Artifact>> = HashMap::new();
    for a in artifacts {
        if let Some(id) = a.destination_id.as_deref() {
            by_destination.entry(id).or_default().push(a);
        }
    }
    let mut summaries: Vec<DestinationSummary> = destinations
        .into_iter()
        .map(|d| {
            let held = by_destination.remove(d.id.as_str()).unwrap_or_default();
            let growth = growth(&held, now);
            let stored_bytes = held_at(&held, now);
            let status = Status::from_db(&d.status);
            DestinationSummary {
                type_label: ProviderKind::parse(&d.kind).map_or("Unknown type", ProviderKind::label),
                last_error: d.last_test_message.filter(|_| status == Status::Failed),
                growth_bytes: stored_bytes as i64 - held_at(&held, now - Duration::days(GROWTH_DAYS)) as i64,
                artifacts: held.iter().filter(|a| a.pruned_at.is_none()).count(),
                stored_bytes,
                growth,
                status,
                is_default: d.is_default,
                last_tested_at: d.last_tested_at,
                name: d.name,
                id: d.id,
            }
        })
        .collect();
    summaries.sort_by_key(|d| match d.status {
        Status::Failed => 0,
        Status::Testing => 1,
        Status::Active => 2,
        Status::Disabled => 3,
    });
    summaries
}

fn written_at(a: &Artifact) -> NaiveDateTime {
    a.written_at.unwrap_or(a.created_at)
}

/// The bytes of the artifacts written by `at` and not deleted by then.
fn held_at(artifacts: &[&Artifact], at: NaiveDateTime) -> u64 {
    artifacts
        .iter()
        .filter(|a| written_at(a) <= at && a.pruned_at.is_none_or(|p| p > at))
        .map(|a| a.bytes.max(0) as u64)
        .sum()
}

/// A point a day over the last [`GROWTH_DAYS`] days, from the first artifact written if later,
/// and one for now; none when it never held anything.
fn growth(artifacts: &[&Artifact], now: NaiveDateTime) -> Vec<Point> {
    let Some(first) = artifacts.iter().map(|a| written_at(a)).min() else {
        return Vec::new();
    };
    let start = (now - Duration::days(GROWTH_DAYS)).max(first);
    let mut points: Vec<Point> = (0..GROWTH_DAYS)
        .map(|day| start + Duration::days(day))
        .take_while(|at| *at < now)
        .map(|at| Point { at, bytes: held_at(artifacts, at) })
        .collect();
    points.push(Point { at: now, bytes: held_at(artifacts, now) });
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(d: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, d).and_then(|d| d.and_hms_opt(12, 0, 0)).expect("a time")
    }

    fn artifact(written: u32, bytes: i64, pruned: Option<u32>) -> Artifact {
        Artifact {
            destination_id: Some("d".into()),
            bytes,
            written_at: Some(day(written)),
            created_at: day(written),
            pruned_at: pruned.map(day),
        }
    }

    #[test]
    fn storage_counts_what_is_held_at_each_time() {
        let artifacts = [artifact(1, 100, Some(3)), artifact(2, 50, None), artifact(4, 25, None)];
        let held: Vec<&Artifact> = artifacts.iter().collect();
        assert_eq!(held_at(&held, day(1)), 100);
        assert_eq!(held_at(&held, day(2)), 150);
        assert_eq!(held_at(&held, day(3)), 50, "deleted by retention on the 3rd");
        assert_eq!(held_at(&held, day(5)), 75);
        let points = growth(&held, day(5));
        assert_eq!(points.first(), Some(&Point { at: day(1), bytes: 100 }));
        assert_eq!(points.last(), Some(&Point { at: day(5), bytes: 75 }));
        assert_eq!(points.len(), 5);
    }

    #[test]
    fn nothing_held_no_chart() {
        assert!(growth(&[], day(5)).is_empty());
    }
}
