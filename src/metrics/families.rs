//! The metric families `/metrics` answers with, each computed from the database at scrape time
//! (so every instance sharing the database answers the same, and a restart loses nothing). Every
//! series is labelled with its `workspace` id, and only things that exist get a series (plans,
//! destinations, protected databases), so cardinality follows what the workspaces hold.
//!
//! Adding a family: write an [`AddFamilies`] function (read through a store, register families on
//! the registry) and append it to [`FAMILIES`].

use super::store::{self, DurationBucket, RunTotals};
use crate::db::DbConn;
use crate::runs::store::{FAILED, INTERRUPTED, PARTIAL, QUEUED, RUNNING, SKIPPED, SUCCEEDED};
use chrono::NaiveDateTime;
use diesel::QueryResult;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

/// Adds one or a few families to the registry, read from the database now.
pub type AddFamilies = fn(&mut DbConn, &mut Registry) -> QueryResult<()>;

/// Every family `/metrics` answers with, in this order.
pub const FAMILIES: &[AddFamilies] = &[
    workspaces,
    plan_runs,
    run_durations,
    destinations,
    test_durations,
    databases,
    notification_deliveries,
    super::drills::plan_drills,
];

/// The statuses a run ends in: each a counter that only grows.
const ENDED: [&str; 5] = [SUCCEEDED, PARTIAL, FAILED, SKIPPED, INTERRUPTED];
/// The statuses of a destination, one series each (1 for the current one).
const DESTINATION_STATUSES: [&str; 4] = ["active", "testing", "failed", "disabled"];
/// Run duration buckets, in seconds: a second to six hours.
pub const DURATION_BUCKETS: [f64; 11] = [1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0];
/// Connection test duration buckets, in seconds: a tenth of a second to the test's deadline.
pub const TEST_BUCKETS: [f64; 9] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Every family, encoded in the Prometheus text format (0.0.4).
pub fn scrape(c: &mut DbConn) -> QueryResult<String> {
    let mut registry = Registry::default();
    for add in FAMILIES {
        add(c, &mut registry)?;
    }
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
    Ok(text)
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NamedLabels {
    workspace: String,
    name: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlanLabels {
    workspace: String,
    plan: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlanNameLabels {
    workspace: String,
    plan: String,
    name: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct PlanStatusLabels {
    workspace: String,
    plan: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct DestinationStatusLabels {
    workspace: String,
    destination: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DestinationNameLabels {
    workspace: String,
    destination: String,
    name: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelResultLabels {
    workspace: String,
    channel: String,
    result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DatabaseLabels {
    workspace: String,
    database: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DatabaseNameLabels {
    workspace: String,
    database: String,
    name: String,
}

type Gauges<L> = Family<L, Gauge>;
type FloatGauges<L> = Family<L, Gauge<f64, AtomicU64>>;
type Counters<L> = Family<L, Counter>;

fn seconds(at: NaiveDateTime) -> f64 {
    at.and_utc().timestamp_millis() as f64 / 1000.0
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn workspaces(c: &mut DbConn, registry: &mut Registry) -> QueryResult<()> {
    let info = Gauges::<NamedLabels>::default();
    for (workspace, name) in store::workspaces(c)? {
        info.get_or_create(&NamedLabels { workspace, name }).set(1);
    }
    registry.register("devpilot_workspace_info", "A workspace's name (the value is always 1)", info);
    Ok(())
}

fn plan_runs(c: &mut DbConn, registry: &mut Registry) -> QueryResult<()> {
    let (info, runs, in_progress) =
        (Gauges::<PlanNameLabels>::default(), Counters::<PlanStatusLabels>::default(), Gauges::<PlanLabels>::default());
    let (last_success, written) = (FloatGauges::<PlanLabels>::default(), Counters::<PlanLabels>::default());
    for plan in store::plans(c)? {
        let labels = PlanLabels { workspace: plan.workspace.clone(), plan: plan.id.clone() };
        // Every plan has its series from the start, so a first failure is an increase from 0.
        for status in ENDED {
            let status = status.to_owned();
            runs.get_or_create(&PlanStatusLabels { workspace: plan.workspace.clone(), plan: plan.id.clone(), status })
                .inc_by(0);
        }
        in_progress.get_or_create(&labels).set(0);
        written.get_or_create(&labels).inc_by(0);
        info.get_or_create(&PlanNameLabels { workspace: plan.workspace, plan: plan.id, name: plan.name }).set(1);
    }
    for RunTotals { workspace, plan, status, runs: n, bytes, last_finished } in store::run_totals(c)? {
        let labels = PlanLabels { workspace: workspace.clone(), plan: plan.clone() };
        match status.as_str() {
            QUEUED | RUNNING => {
                in_progress.get_or_create(&labels).inc_by(n);
            }
            _ if ENDED.contains(&status.as_str()) => {
                runs.get_or_create(&PlanStatusLabels { workspace, plan, status: status.clone() }).inc_by(count(n));
            }
            _ => {}
        }
        // A partial run wrote its artifact too (to some copies); only a full success is a success.
        if status == PARTIAL {
            written.get_or_create(&labels).inc_by(count(bytes));
        }
        if status == SUCCEEDED {
            written.get_or_create(&labels).inc_by(count(bytes));
            if let Some(at) = last_finished {
                last_success.get_or_create(&labels).set(seconds(at));
            }
        }
    }
    registry.register("devpilot_plan_info", "A backup plan's name (the value is always 1)", info);
    registry.register("devpilot_runs", "Backup runs that ended, by plan and how they ended", runs);
    registry.register("devpilot_runs_in_progress", "Backup runs queued or running, by plan", in_progress);
    registry.register(
        "devpilot_plan_last_success_timestamp_seconds",
        "When the plan's newest successful run finished (Unix time); absent before its first success",
        last_success,
    );
    registry.register(
        "devpilot_backup_written_bytes",
        "Bytes of artifacts written by successful runs, by plan (compressed, encrypted where the plan encrypts)",
        written,
    );
    Ok(())
}

/// Durations already counted into buckets by the database, as one histogram family.
#[derive(Debug)]
struct Histograms<L> {
    name: &'static str,
    help: &'static str,
    bounds: &'static [f64],
    series: BTreeMap<L, Histogram>,
}

#[derive(Debug, Default)]
struct Histogram {
    /// Per bound (not cumulative; the encoder sums them).
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

impl<L: Ord> Histograms<L> {
    /// Reads the database's buckets into series, each labelled by `labels`.
    fn read(
        name: &'static str,
        help: &'static str,
        bounds: &'static [f64],
        rows: Vec<DurationBucket>,
        labels: impl Fn(String, String, String) -> L,
    ) -> Self {
        let mut series: BTreeMap<L, Histogram> = BTreeMap::new();
        for DurationBucket { workspace, subject, status, bucket, count: n, seconds } in rows {
            let h = series
                .entry(labels(workspace, subject, status))
                .or_insert_with(|| Histogram { buckets: vec![0; bounds.len()], ..Histogram::default() });
            if let Some(slot) = usize::try_from(bucket).ok().and_then(|b| h.buckets.get_mut(b)) {
                *slot += count(n);
            }
            h.count += count(n);
            h.sum += seconds;
        }
        Histograms { name, help, bounds, series }
    }
}

impl<L: EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static> Collector for Histograms<L> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(self.name, self.help, None, MetricType::Histogram)?;
        for (labels, h) in &self.series {
            let buckets: Vec<(f64, u64)> = self.bounds.iter().copied().zip(h.buckets.iter().copied()).collect();
            family.encode_family(labels)?.encode_histogram::<NoLabelSet>(h.sum, h.count, &buckets, None)?;
        }
        Ok(())
    }
}

fn run_durations(c: &mut DbConn, registry: &mut Registry) -> QueryResult<()> {
    let histograms = Histograms::read(
        "devpilot_run_duration_seconds",
        "How long backup runs took from start to end, by plan and how they ended",
        &DURATION_BUCKETS,
        store::run_durations(c, &DURATION_BUCKETS)?,
        |workspace, plan, status| PlanStatusLabels { workspace, plan, status },
    );
    registry.register_collector(Box::new(histograms));
    Ok(())
}

fn test_durations(c: &mut DbConn, registry: &mut Registry) -> QueryResult<()> {
    let histograms = Histograms::read(
        "devpilot_destination_test_duration_seconds",
        "How long destination connection tests took, by destination and result (passed, failed)",
        &TEST_BUCKETS,
        store::test_durations(c, &TEST_BUCKETS)?,
        |workspace, destination, status| DestinationStatusLabels { workspace, destination, status },
    );
    registry.register_collector(Box::new(histograms));
    Ok(())
}

fn notification_deliveries(c: &mut DbConn, registry: &mut Registry) -> QueryResult<()> {
    let deliveries = Counters::<ChannelResultLabels>::default();
    for store::Deliveries { workspace, channel, ok, attempts } in store::deliveries(c)? {
        let result = if ok { "delivered" } else { "failed" }.to_owned();
        // A deleted channel's attempts stay, under an empty channel label.
        let labels = ChannelResultLabels { workspace, channel: channel.unwrap_or_default(), result };
        deliveries.get_or_create(&labels).inc_by(count(attempts));
    }
    registry.register(
        "devpilot_notification_deliveries",
        "Notification delivery attempts, by channel and result (delivered, failed: a failed attempt is retried)",
        deliveries,
    );
    Ok(())
}

fn destinations(c: &mut DbConn, registry: &mut Registry) -> QueryResult<()> {
    let (info, statuses) = (Gauges::<DestinationNameLabels>::default(), Gauges::<DestinationStatusLabels>::default());
    for (d, current) in store::destinations(c)? {
        for status in DESTINATION_STATUSES {
            let labels = DestinationStatusLabels {
                workspace: d.workspace.clone(),
                destination: d.id.clone(),
                status: status.into(),
            };
            statuses.get_or_create(&labels).set(i64::from(status == current));
        }
        info.get_or_create(&DestinationNameLabels { workspace: d.workspace, destination: d.id, name: d.name }).set(1);
    }
    registry.register("devpilot_destination_info", "A destination's name (the value is always 1)", info);
    registry.register(
        "devpilot_destination_status",
        "A destination's status: 1 for the status it is in (active, testing, failed, disabled), 0 for the others",
        statuses,
    );
    Ok(())
}

fn databases(c: &mut DbConn, registry: &mut Registry) -> QueryResult<()> {
    let (info, lag) = (Gauges::<DatabaseNameLabels>::default(), Gauges::<DatabaseLabels>::default());
    let received = FloatGauges::<DatabaseLabels>::default();
    for store::DatabaseWal { database: d, lag_bytes, last_received } in store::databases(c)? {
        let labels = DatabaseLabels { workspace: d.workspace.clone(), database: d.id.clone() };
        if let Some(bytes) = lag_bytes {
            lag.get_or_create(&labels).set(bytes);
        }
        if let Some(at) = last_received {
            received.get_or_create(&labels).set(seconds(at));
        }
        info.get_or_create(&DatabaseNameLabels { workspace: d.workspace, database: d.id, name: d.name }).set(1);
    }
    registry.register("devpilot_database_info", "A protected database's name (the value is always 1)", info);
    registry.register(
        "devpilot_database_wal_lag_bytes",
        "How far the archived WAL is behind the database's current position, in bytes; absent until measured",
        lag,
    );
    registry.register(
        "devpilot_database_wal_last_received_timestamp_seconds",
        "When WAL was last received from the database (Unix time)",
        received,
    );
    Ok(())
}
