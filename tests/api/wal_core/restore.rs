//! End to end: a clone restored to a recorded time holds exactly the rows committed before it,
//! and a target past the archive is refused in PostgreSQL's words.

use super::{SLOT, collect, one_mib, spool_until};
use crate::pitr_clusters::{
    Cluster, ClusterOptions, PASSWORD, cluster_user, free_port, shared_folder, stop_immediately,
};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use devpilot::artifacts::postgres::PostgresUrl;
use devpilot::artifacts::postgres::wal::clone::{self, RecoverySettings, TARGET_NOT_REACHED};
use devpilot::artifacts::postgres::wal::receiver;
use devpilot::artifacts::postgres::wal::{WalFile, basebackup};
use futures::StreamExt;
use std::path::Path;
use std::time::Duration;

/// Microseconds since 1970 of a `timestamptz` expression, exactly (the test's clock is the server's).
fn micros(expression: &str) -> String {
    format!("(extract(epoch FROM {expression}) * 1000000)::int8")
}

/// Inserts a row a commit at a time every ~50 ms, taking a target time halfway between two
/// commits after `target_after` rows; answers each row's (id, committed_at) and the target.
async fn commits_with_a_target(cluster: &Cluster, rows: usize, target_after: usize) -> (Vec<(i32, i64)>, i64) {
    let config = format!("host=127.0.0.1 port={} user=postgres password={PASSWORD} dbname=postgres", cluster.port);
    let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    let insert = format!("INSERT INTO ticks DEFAULT VALUES RETURNING id, {}", micros("committed_at"));
    let now = format!("SELECT {}", micros("clock_timestamp()"));
    let mut committed = Vec::new();
    let mut target = None;
    for n in 0..rows {
        let row = client.query_one(&insert, &[]).await.expect("insert");
        committed.push((row.get(0), row.get(1)));
        tokio::time::sleep(Duration::from_millis(25)).await;
        if n + 1 == target_after {
            target = Some(client.query_one(&now, &[]).await.expect("now").get(0));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (committed, target.expect("a target"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clone_restored_to_a_recorded_time_holds_exactly_the_rows_committed_before_it() {
    let cluster = Cluster::start(ClusterOptions::default());
    let checked = cluster.checked().await;
    let size = one_mib();
    receiver::ensure_slot(&checked, SLOT).await.expect("slot");
    let spool = tempfile::tempdir().expect("spool");
    let mut process = receiver::spawn(&cluster.bins, &checked, SLOT, spool.path()).expect("receiver");
    cluster.psql(
        "CREATE TABLE ticks (id serial PRIMARY KEY, committed_at timestamptz NOT NULL DEFAULT clock_timestamp())",
    );

    let work = shared_folder();
    let (stream, points) = basebackup::stream(&cluster.bins, &checked).expect("base backup");
    let base = work.path().join("base.tar");
    std::fs::write(&base, collect(stream).await.expect("tar")).expect("save");
    points.await.expect("answered").expect("points");

    let (committed, target) = commits_with_a_target(&cluster, 60, 30).await;
    let last = cluster.psql("SELECT pg_walfile_name(pg_switch_wal())");
    spool_until(spool.path(), "the last segment", |files| files.iter().any(|f| f.file.file_name(size) == last)).await;
    process.kill();
    let _ = process.wait().await;

    // The archive: every complete segment received, readable by the clusters' user.
    let owner = cluster_user();
    let archive = work.path().join("archive");
    std::fs::create_dir(&archive).expect("archive");
    for file in receiver::spool_files(spool.path(), size).expect("spool") {
        if let WalFile::Segment(_) = file.file {
            let copy = archive.join(file.file.file_name(size));
            std::fs::copy(&file.path, &copy).expect("copy");
            std::os::unix::fs::chown(&copy, Some(owner.uid), Some(owner.gid)).expect("chown");
        }
    }
    std::os::unix::fs::chown(&archive, Some(owner.uid), Some(owner.gid)).expect("chown");
    let restore_command = format!("cp {}/%f %p", archive.display());

    let target_time = DateTime::from_timestamp_micros(target).expect("target");
    let clone = Restored::from(&base, &restore_command, Some(target_time)).await;
    let timeline = clone.promoted().await.expect("promoted");
    assert_eq!(timeline, 2, "promotion at the target begins timeline 2");
    let restored = clone.ids().await;
    let expected: Vec<i32> = committed.iter().filter(|(_, at)| *at < target).map(|(id, _)| *id).collect();
    assert!(expected.len() >= 25 && expected.len() < committed.len(), "{} of {}", expected.len(), committed.len());
    assert_eq!(restored, expected, "the rows committed before {target_time}");
    clone::stop(&clone.bins(), &clone.data, &owner).await.expect("stop");

    // Past the archive's end, PostgreSQL refuses to pretend it got there.
    let beyond = Utc::now() + chrono::TimeDelta::hours(1);
    let clone = Restored::from(&base, &restore_command, Some(beyond)).await;
    let error = match &clone.started {
        Err(error) => error.clone(),
        Ok(()) => clone.promoted().await.expect_err("the target is past the archive"),
    };
    assert!(error.contains(TARGET_NOT_REACHED), "{error}");
}

/// A cluster restored from a saved base backup, stopped at the test's end.
struct Restored {
    _folder: tempfile::TempDir,
    data: std::path::PathBuf,
    port: u16,
    started: Result<(), String>,
}

impl Restored {
    async fn from(base: &Path, restore_command: &str, target: Option<DateTime<Utc>>) -> Restored {
        let owner = cluster_user();
        let bins = crate::pitr_clusters::binaries();
        let folder = shared_folder();
        let data = folder.path().join("data");
        let bytes = Bytes::from(std::fs::read(base).expect("base"));
        let tar = futures::stream::iter(vec![Ok(bytes)]).boxed();
        clone::extract(&data, tar, &owner).await.expect("extract");
        let port = free_port();
        let settings = RecoverySettings { restore_command: restore_command.into(), target: target.into(), port };
        clone::configure_recovery(&data, &settings, &owner).expect("configure");
        let started = clone::start(&bins, &data, &owner).await;
        Restored { _folder: folder, data, port, started }
    }

    fn bins(&self) -> devpilot::artifacts::postgres::wal::PgBinaries {
        crate::pitr_clusters::binaries()
    }

    fn url(&self) -> PostgresUrl {
        PostgresUrl::parse(&format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres?sslmode=disable", self.port))
            .expect("url")
    }

    async fn promoted(&self) -> Result<u32, String> {
        self.started.clone()?;
        clone::wait_promoted(&self.data, &self.url(), Duration::from_secs(120)).await
    }

    async fn ids(&self) -> Vec<i32> {
        let config = format!("host=127.0.0.1 port={} user=postgres password={PASSWORD} dbname=postgres", self.port);
        let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(connection);
        let rows = client.query("SELECT id FROM ticks ORDER BY id", &[]).await.expect("rows");
        rows.iter().map(|r| r.get(0)).collect()
    }
}

impl Drop for Restored {
    fn drop(&mut self) {
        stop_immediately(&self.bins(), &cluster_user(), &self.data);
    }
}
