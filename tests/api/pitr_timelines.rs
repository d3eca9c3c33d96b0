//! A protected standby promoted through the API's eyes: its WAL goes on on timeline 2, the
//! timeline's history is archived, the window follows it without a gap, and clones restore to a
//! second before the promotion and to one after it, each with exactly the rows committed by then.

use crate::api_client::admin;
use crate::helpers::Backend;
use crate::on_both_backends;
use crate::pitr_clusters::{Cluster, ClusterOptions};
use crate::pitr_support::{
    TICKS, archiving, base_backup, clone_at, committed_by, insert_ticks, protect, recorded, switch_wal, ticks_at, time,
    until, window, window_past,
};
use crate::plans::fixture;
use chrono::Utc;
use serde_json::json;
use std::time::Duration;

on_both_backends!(a_promotion_moves_the_archive_to_timeline_2_and_clones_cross_it);

async fn a_promotion_moves_the_archive_to_timeline_2_and_clones_cross_it(backend: Backend) {
    let f = fixture(backend).await;
    let api = admin(&f.app).await;
    let primary = Cluster::start(ClusterOptions::default());
    primary.psql(TICKS);
    let standby = Cluster::standby_of(&primary);
    let id = protect(&api, &f.destination_id, &standby, json!({})).await;
    archiving(&api, &id).await;
    let base = base_backup(&api, &id).await;
    assert_eq!(base["timeline"], 1, "{base}");

    // Rows on the primary, replayed by the standby; then the standby is promoted.
    insert_ticks(&primary, 1..=20).await;
    let before = Utc::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    insert_ticks(&primary, 21..=30).await;
    until("the standby to replay every row", || async { standby.psql("SELECT count(*) FROM ticks") == "30" }).await;
    standby.promote();
    until("the promotion", || async { standby.psql("SELECT pg_is_in_recovery()") == "f" }).await;

    insert_ticks(&standby, 31..=50).await;
    let after = Utc::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    insert_ticks(&standby, 51..=60).await;
    let last = switch_wal(&standby);
    assert!(last.starts_with("00000002"), "the promoted standby writes timeline 2: {last}");
    recorded(&f.app, &id, &last).await;
    let history = recorded(&f.app, &id, "00000002.history").await;
    assert_eq!((history.kind.as_str(), history.timeline), ("history", 2));

    let reached = window_past(&api, &id, after).await;
    assert_eq!(reached["timeline"], 2, "{reached}");
    assert_eq!(reached["gaps"], json!([]), "{reached}");
    assert!(time(&reached["earliest"]).is_some_and(|e| e < before), "{reached}");
    let whole = window(&api, &id).await;
    assert_eq!(whole["timeline"], 2, "{whole}");

    let expected_after = committed_by(&standby, after);
    assert!(expected_after.iter().any(|n| *n > 30), "rows after the promotion count: {expected_after:?}");
    let (_, port) = clone_at(&api, &id, Some(after), "After the promotion").await;
    assert_eq!(ticks_at(port), expected_after, "exactly the rows committed by a second on timeline 2");

    let expected_before = committed_by(&standby, before);
    assert!(!expected_before.is_empty() && expected_before.iter().all(|n| *n <= 20), "{expected_before:?}");
    let (_, port) = clone_at(&api, &id, Some(before), "Before the promotion").await;
    assert_eq!(ticks_at(port), expected_before, "exactly the rows committed by a second on timeline 1");
}
