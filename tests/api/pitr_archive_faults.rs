//! A PITR archive that loses a piece, and a receiver that dies, through the API on throwaway
//! clusters: a completed segment deleted from the destination is a `lost` gap, the window ends
//! before it and a restore past it is refused with the window in the message; `pg_receivewal`
//! killed while rows are written is started again, and a clone to the end of the archive holds
//! every committed row. A base backup after the gap starts a new window.

use crate::api_client::admin;
use crate::helpers::Backend;
use crate::on_both_backends;
use crate::pitr_clusters::{Cluster, ClusterOptions};
use crate::pitr_support::{
    TICKS, archiving, base_backup, clone_at, database, insert_ticks, kill, mismatched_objects, protect, receivers,
    recorded, switch_wal, ticks_at, time, until, wal_records, window,
};
use crate::plans::fixture;
use devpilot::artifacts::postgres::wal::{Lsn, SegmentSize, WalFile};
use serde_json::{Value, json};
use std::time::Duration;

on_both_backends!(a_deleted_segment_is_a_lost_gap_that_ends_the_window);

async fn a_deleted_segment_is_a_lost_gap_that_ends_the_window(backend: Backend) {
    let f = fixture(backend).await;
    let api = admin(&f.app).await;
    let cluster = Cluster::start(ClusterOptions::default());
    cluster.psql(TICKS);
    let id = protect(&api, &f.destination_id, &cluster, json!({})).await;
    archiving(&api, &id).await;
    let base = base_backup(&api, &id).await;
    let size = SegmentSize::new(1 << 20).expect("1 MiB segments");
    let stop: Lsn = base["stop_lsn"].as_str().and_then(|l| l.parse().ok()).expect("the backup's stop LSN");

    // Four segments after the backup, each uploaded before the next is written.
    let mut names = Vec::new();
    for n in 0..4 {
        insert_ticks(&cluster, n * 10 + 1..=n * 10 + 10).await;
        let name = switch_wal(&cluster);
        recorded(&f.app, &id, &name).await;
        names.push(name);
    }
    let segment = |name: &str| WalFile::parse(name, size).and_then(|w| w.segment()).expect("a segment").number;
    assert!(segment(&names[0]) > size.segment_of(stop), "the segments come after the backup: {names:?} {base}");
    let whole = window(&api, &id).await;
    assert_eq!(whole["gaps"], json!([]), "{whole}");
    let received = |name: &str, records: &[devpilot::databases::archive_store::WalFileRow]| {
        records.iter().find(|r| r.name == name).map(|r| r.received_at.and_utc()).expect("recorded")
    };
    let records = wal_records(&f.app, &id).await;
    assert!(time(&whole["latest"]) >= Some(received(&names[3], &records)), "{whole}");

    // The second one goes missing from the destination's folder.
    let lost = records.iter().find(|r| r.name == names[1]).expect("recorded");
    std::fs::remove_file(f.target_path().join(&lost.object_key)).expect("delete the object");

    let broken = window(&api, &id).await;
    let gaps = broken["gaps"].as_array().cloned().unwrap_or_default();
    let named: Vec<&Value> = gaps.iter().filter(|g| g["from"] == names[1].as_str()).collect();
    assert_eq!(named.len(), 1, "{broken}");
    assert_eq!((named[0]["to"].as_str(), named[0]["kind"].as_str()), (Some(names[1].as_str()), Some("lost")));
    let latest = time(&broken["latest"]).expect("a window before the gap");
    assert!(latest < received(&names[2], &records), "the window ends before the gap: {broken}");
    assert!(latest >= received(&names[0], &records) - chrono::Duration::seconds(1), "{broken}");

    let past = api
        .post(
            &format!("/api/v1/databases/{id}/pitr-clone"),
            json!({"target_time": received(&names[3], &records).to_rfc3339(), "new_name": "After the gap"}),
        )
        .await;
    assert_eq!(past.status, 422, "{past:?}");
    let message = past.json["fields"]["target_time"].as_str().unwrap_or_default();
    let shown = latest.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    assert!(message.contains("recovery window") && message.contains(&shown), "{message} (window {broken})");
    let clones = api.get(&format!("/api/v1/databases/{id}/clones")).await;
    assert_eq!(clones.json["data"], json!([]), "nothing was started: {clones:?}");
    // "To the end" is the window's end: the rows of the segment before the gap, none after it.
    let (clone, port) = clone_at(&api, &id, None, "To the end").await;
    assert_eq!(ticks_at(port), (1..=10).collect::<Vec<i64>>());
    assert_eq!(api.delete(&format!("/api/v1/database-clones/{clone}")).await.status, 200);

    // A base backup after the gap starts a window of its own; the gap is still reported.
    let after = base_backup(&api, &id).await;
    let stopped = time(&after["stopped_at"]).expect("the new backup's stop");
    insert_ticks(&cluster, 41..=50).await;
    recorded(&f.app, &id, &switch_wal(&cluster)).await;
    let renewed = window(&api, &id).await;
    assert_eq!(time(&renewed["earliest"]), Some(stopped), "{renewed}");
    assert!(time(&renewed["latest"]).is_some_and(|l| l > received(&names[3], &records)), "{renewed}");
    let still: Vec<&Value> = renewed["gaps"].as_array().into_iter().flatten().filter(|g| g["kind"] == "lost").collect();
    assert_eq!(still.len(), 1, "{renewed}");
    assert_eq!(still[0]["from"], names[1].as_str(), "{renewed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_receiver_starts_again_and_loses_nothing() {
    let f = fixture(Backend::Sqlite).await;
    let api = admin(&f.app).await;
    let cluster = Cluster::start(ClusterOptions::default());
    cluster.psql(TICKS);
    let id = protect(&api, &f.destination_id, &cluster, json!({})).await;
    archiving(&api, &id).await;
    base_backup(&api, &id).await;

    // Rows are written while the receiver is killed, twice.
    let writer = {
        let cluster_port = cluster.port;
        tokio::spawn(async move { write_rows(cluster_port, 1..=150).await })
    };
    for round in 0..2 {
        until("a receiver to run", || async { receivers(&id).len() == 1 }).await;
        let (pid, _) = receivers(&id)[0].clone();
        kill(pid);
        until("another receiver to run", || async { receivers(&id).iter().any(|(p, _)| *p != pid) }).await;
        let restarted = database(&api, &id).await;
        assert!(restarted["archiving"] == true, "round {round}: {restarted}");
    }
    let written = writer.await.expect("the writer");
    let after = switch_wal(&cluster);
    recorded(&f.app, &id, &after).await;
    until("the status to be ok again", || async { database(&api, &id).await["status"] == "ok" }).await;
    let shown = database(&api, &id).await;
    assert!(shown["slot_wal_status"].as_str().is_some_and(|s| s == "reserved" || s == "extended"), "{shown}");

    let continuous = window(&api, &id).await;
    assert_eq!(continuous["gaps"], json!([]), "{continuous}");
    let records = wal_records(&f.app, &id).await;
    assert_eq!(mismatched_objects(f.target_path(), &records), Vec::<String>::new(), "{records:?}");
    let (_, port) = clone_at(&api, &id, None, "To the end").await;
    assert_eq!(ticks_at(port), written, "every committed row is in the clone");
}

/// Inserts rows one commit at a time over their own connections; the ids committed.
async fn write_rows(port: u16, range: std::ops::RangeInclusive<i64>) -> Vec<i64> {
    let mut committed = Vec::new();
    for n in range {
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable");
        let status = tokio::process::Command::new(crate::pitr_clusters::binaries().program("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", &format!("INSERT INTO ticks (id) VALUES ({n})"), &url])
            .status()
            .await
            .expect("psql");
        assert!(status.success(), "insert {n}");
        committed.push(n);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    committed
}
