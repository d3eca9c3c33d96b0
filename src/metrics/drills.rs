//! Restore drills' families: when each plan last passed a drill, and how its latest drill ended.

use crate::db::DbConn;
use crate::runs::drills_store;
use diesel::QueryResult;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DrillLabels {
    workspace: String,
    plan: String,
}

/// `devpilot_drill_last_success_timestamp_seconds` and `devpilot_drill_last_result`.
pub fn plan_drills(c: &mut DbConn, registry: &mut Registry) -> QueryResult<()> {
    let last_success = Family::<DrillLabels, Gauge<f64, AtomicU64>>::default();
    let last_result = Family::<DrillLabels, Gauge>::default();
    for (workspace, plan, at) in drills_store::last_passed_times(c)? {
        last_success
            .get_or_create(&DrillLabels { workspace, plan })
            .set(at.and_utc().timestamp_millis() as f64 / 1000.0);
    }
    for (workspace, plan, _, drill) in drills_store::latest_everywhere(c)? {
        let passed = i64::from(drill.status == drills_store::PASSED);
        last_result.get_or_create(&DrillLabels { workspace, plan }).set(passed);
    }
    registry.register(
        "devpilot_drill_last_success_timestamp_seconds",
        "When the plan's newest passed restore drill finished (Unix time); absent before its first pass",
        last_success,
    );
    registry.register(
        "devpilot_drill_last_result",
        "How the plan's latest restore drill ended: 1 passed, 0 failed; absent before its first drill",
        last_result,
    );
    Ok(())
}
