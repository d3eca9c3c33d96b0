//! Every destination type as a PITR archive, against its real local server (S3 on moto, Azure
//! Blob on Azurite, SFTP on sshd; the local folder in [`crate::databases_pitr`]): WAL archived, a
//! base backup, and a clone at a recorded second holding exactly the rows committed by then. And
//! an encrypted archive: no object in the destination can be read as WAL or a base backup, and a
//! clone still restores.

use crate::api_client::admin;
use crate::conformance::Fixture;
use crate::every_destination::app_with_destination;
use crate::helpers::{Backend, TestApp};
use crate::pitr_clusters::{Cluster, ClusterOptions};
use crate::pitr_support::{
    TICKS, archiving, base_backup, clone_at, committed_by, insert_ticks, protect, recorded, switch_wal, ticks_at,
    wal_records, window_past,
};
use crate::plans::fixture;
use crate::{provider_azure, provider_s3, provider_sftp};
use chrono::Utc;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_archive_restores_to_a_second() {
    archive_on(&provider_s3::fixture(), Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_azure_archive_restores_to_a_second() {
    archive_on(&provider_azure::fixture(), Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sftp_archive_restores_to_a_second() {
    archive_on(&provider_sftp::fixture(), Backend::Sqlite).await;
}

async fn archive_on(destination: &Fixture, backend: Backend) {
    let (app, destination_id) = app_with_destination(destination, backend).await;
    let cluster = Cluster::start(ClusterOptions::default());
    let id = archived_and_cloned(&app, &destination_id, &cluster, false).await;
    let records = wal_records(&app, &id).await;
    assert!(records.iter().all(|r| r.object_key.ends_with(".zst")), "{records:?}");
}

/// Protects the cluster on the destination, takes a base backup, writes rows on either side of
/// a target second and checks a clone at it holds exactly those committed by then; the
/// database's id.
async fn archived_and_cloned(app: &TestApp, destination: &str, cluster: &Cluster, encrypt: bool) -> String {
    let api = admin(app).await;
    cluster.psql(TICKS);
    let id = protect(&api, destination, cluster, json!({"encrypt": encrypt})).await;
    archiving(&api, &id).await;
    base_backup(&api, &id).await;
    insert_ticks(cluster, 1..=20).await;
    let target = Utc::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    insert_ticks(cluster, 21..=40).await;
    recorded(app, &id, &switch_wal(cluster)).await;
    window_past(&api, &id, target).await;
    let expected = committed_by(cluster, target);
    assert!((15..=25).contains(&expected.len()), "{expected:?}");
    let (_, port) = clone_at(&api, &id, Some(target), "At the target").await;
    assert_eq!(ticks_at(port), expected, "exactly the rows committed by the target second");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_archive_is_not_readable_in_the_destination_and_still_restores() {
    let f = fixture(Backend::Postgres).await;
    let cluster = Cluster::start(ClusterOptions::default());
    let id = archived_and_cloned(&f.app, &f.destination_id, &cluster, true).await;
    let system: u64 =
        cluster.psql("SELECT system_identifier FROM pg_control_system()").parse().expect("the system identifier");

    // Every segment's first page names the cluster's system identifier, as pg_control does.
    let records = wal_records(&f.app, &id).await;
    assert!(records.iter().any(|r| r.kind == "segment"), "{records:?}");
    for record in &records {
        assert!(record.object_key.ends_with(".zst.dpbe"), "{record:?}");
        let stored = std::fs::read(f.target_path().join(&record.object_key)).expect("the object");
        assert_eq!(readable(&stored, system), None, "{}", record.name);
    }
    let bases = objects_ending(f.target_path(), ".tar.zst.dpbe");
    assert_eq!(bases.len(), 1, "one encrypted base backup: {bases:?}");
    let stored = std::fs::read(&bases[0]).expect("the base backup");
    assert_eq!(readable(&stored, system), None, "the base backup");
    assert!(objects_ending(f.target_path(), ".tar.zst").is_empty(), "no plain base backup");
}

/// What gives a stored object away as plain WAL or a plain base backup, if anything.
fn readable(stored: &[u8], system: u64) -> Option<&'static str> {
    let contains = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    if zstd::decode_all(stored).is_ok() {
        Some("it is a zstd stream")
    } else if contains(&system.to_le_bytes()) {
        Some("it holds the cluster's system identifier")
    } else if contains(b"pg_control") || contains(b"PG_VERSION") {
        Some("it names the cluster's files")
    } else {
        None
    }
}

/// Every file under `folder` whose name ends with `suffix`.
fn objects_ending(folder: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(next) = folders.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found
}
