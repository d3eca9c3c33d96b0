//! WAL archiving across Devpilot processes (the real binary, killed with SIGKILL): a server killed
//! while rows are written and started again on the same database and data folder goes on from
//! its replication slot, its window stays continuous, every archived object holds the bytes
//! recorded for it, and a clone to the end has every committed row. With two instances on one
//! PostgreSQL database exactly one receives; when it is killed the other takes over.

use crate::api_client::{Api, admin};
use crate::helpers::{Backend, TestApp, test_settings};
use crate::on_both_backends;
use crate::pitr_clusters::{Cluster, ClusterOptions};
use crate::pitr_support::{
    PATIENCE, TICKS, archiving, base_backup, clone_at, insert_ticks, mismatched_objects, protect, receivers, recorded,
    switch_wal, ticks_at, until, wait_for, wal_records, window,
};
use crate::provider_s3::s3s;
use crate::server_process::ServerProcess;
use crate::standins::s3_proxy::{Lacks, S3Proxy};
use devpilot::config::Settings;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

on_both_backends!(a_killed_server_goes_on_from_its_slot);

/// How long an instance's heartbeat may be silent before another takes its work over.
const INSTANCE_TIMEOUT_SECS: u64 = 6;

/// Quick archiving ticks, a short instance timeout, and the clone ports the test's settings hold.
fn env(settings: &Settings) -> Vec<(&'static str, String)> {
    let ports = &settings.pitr.clone_ports;
    vec![
        ("DEVPILOT_WAL_TICK_SECS", "1".into()),
        ("DEVPILOT_WAL_PARTIAL_SECS", "1".into()),
        ("DEVPILOT_INSTANCE_TIMEOUT_SECS", INSTANCE_TIMEOUT_SECS.to_string()),
        ("DEVPILOT_CLONE_PORTS", format!("{}-{}", ports.start(), ports.end())),
    ]
}

/// The signed-in app of a server process, with a local destination "Disk" on `disk`; its id.
async fn local_destination(app: &TestApp, disk: &Path) -> String {
    app.grant_folder(disk, "read_write").await;
    let path = disk.to_string_lossy().into_owned();
    assert_eq!(app.create_destination("Disk", "local", &[("path", &path)]).await.status, 303);
    app.destination("Disk").await.id
}

/// Inserts rows one commit at a time; the ids committed.
async fn write_rows(port: u16, range: std::ops::RangeInclusive<i64>) -> Vec<i64> {
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable");
    let mut committed = Vec::new();
    for n in range {
        let insert = format!("INSERT INTO ticks (id) VALUES ({n})");
        let status = tokio::process::Command::new(crate::pitr_clusters::binaries().program("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", &insert, &url])
            .status()
            .await
            .expect("psql");
        assert!(status.success(), "insert {n}");
        committed.push(n);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    committed
}

async fn a_killed_server_goes_on_from_its_slot(backend: Backend) {
    let (settings, data_dir, pg) = test_settings(backend);
    let mut server = ServerProcess::start(&settings, &env(&settings)).await;
    let mut app = TestApp::attach(server.address.clone(), &settings, data_dir, pg);
    app.setup_admin().await;
    let disk = tempfile::tempdir().expect("disk");
    let destination = local_destination(&app, disk.path()).await;
    let cluster = Cluster::start(ClusterOptions::default());
    cluster.psql(TICKS);
    let id = {
        let api = admin(&app).await;
        let id = protect(&api, &destination, &cluster, json!({})).await;
        archiving(&api, &id).await;
        base_backup(&api, &id).await;
        id
    };

    // Killed while rows are written, with WAL received and not all of it shipped.
    let writer = tokio::spawn(write_rows(cluster.port, 1..=120));
    insert_ticks(&cluster, 1001..=1010).await;
    let done_before = switch_wal(&cluster);
    recorded(&app, &id, &done_before).await;
    until("the receiver to run", || async { receivers(&id).len() == 1 }).await;
    let (before, _) = receivers(&id)[0].clone();
    server.kill();

    server = ServerProcess::start(&settings, &env(&settings)).await;
    app.address = server.address.clone();
    let api = admin(&app).await;
    let written = writer.await.expect("the writer");
    // The killed server's receiver outlived it; the new one ends it and streams alone.
    until("one receiver, the new server's", || async {
        matches!(receivers(&id).as_slice(), [(pid, _)] if *pid != before)
    })
    .await;
    let last = switch_wal(&cluster);
    recorded(&app, &id, &last).await;
    wait_for(&api, &format!("/api/v1/databases/{id}"), PATIENCE, |d| d["data"]["status"] == "ok").await;

    let continuous = window(&api, &id).await;
    assert_eq!(continuous["gaps"], json!([]), "{continuous}\n{}", server.log());
    let records = wal_records(&app, &id).await;
    assert_eq!(mismatched_objects(disk.path(), &records), Vec::<String>::new(), "{records:?}");
    let (_, port) = clone_at(&api, &id, None, "To the end").await;
    let mut expected = written;
    expected.extend(1001..=1010);
    expected.sort_unstable();
    assert_eq!(ticks_at(port), expected, "every committed row is in the clone");
}

/// Which of the data folders the database's receiver spools into, once there is exactly one.
async fn holder(id: &str, dirs: &[&Path]) -> usize {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let [(_, line)] = receivers(id).as_slice()
            && let Some(found) = dirs.iter().position(|d| line.contains(&*d.to_string_lossy()))
        {
            return found;
        }
        assert!(Instant::now() < deadline, "never exactly one receiver: {:?}", receivers(id));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_run_one_receiver_and_the_survivor_takes_over() {
    let (settings, data_dir, pg) = test_settings(Backend::Postgres);
    let first = ServerProcess::start(&settings, &env(&settings)).await;
    let mut app = TestApp::attach(first.address.clone(), &settings, data_dir, pg);
    app.setup_admin().await;
    let disk = tempfile::tempdir().expect("disk");
    let destination = local_destination(&app, disk.path()).await;
    let cluster = Cluster::start(ClusterOptions::default());
    cluster.psql(TICKS);
    let id = {
        let api = admin(&app).await;
        let id = protect(&api, &destination, &cluster, json!({})).await;
        archiving(&api, &id).await;
        id
    };
    let mut second_settings = settings.clone();
    let second_dir = tempfile::tempdir().expect("the second instance's data folder");
    second_settings.data_dir = second_dir.path().to_path_buf();
    let second = ServerProcess::start(&second_settings, &env(&second_settings)).await;

    // Both tick (every second) for a while: only the first, which took the lease, receives.
    let dirs = [settings.data_dir.as_path(), second_dir.path()];
    for _ in 0..10 {
        assert_eq!(holder(&id, &dirs).await, 0, "{:?}\n{}", receivers(&id), second.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    insert_ticks(&cluster, 1..=10).await;
    recorded(&app, &id, &switch_wal(&cluster)).await;

    let mut first = first;
    first.kill();
    let killed_at = Instant::now();
    until("the survivor to receive alone", || async {
        matches!(receivers(&id).as_slice(), [(_, line)] if line.contains(&*second_dir.path().to_string_lossy()))
    })
    .await;
    let took = killed_at.elapsed();
    assert!(took < Duration::from_secs(INSTANCE_TIMEOUT_SECS + 40), "took over after {took:?}");

    app.address = second.address.clone();
    let api: Api<'_> = admin(&app).await;
    insert_ticks(&cluster, 11..=20).await;
    let after = switch_wal(&cluster);
    recorded(&app, &id, &after).await;
    wait_for(&api, &format!("/api/v1/databases/{id}"), PATIENCE, |d| d["data"]["status"] == "ok").await;
    let continuous = window(&api, &id).await;
    assert_eq!(continuous["gaps"], json!([]), "{continuous}\n{}", second.log());
    let records = wal_records(&app, &id).await;
    assert_eq!(mismatched_objects(disk.path(), &records), Vec::<String>::new(), "{records:?}");
}

/// The completed segments a spool holds (not yet shipped: shipping removes them).
fn unshipped_segments(spool: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(spool)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.len() == 24 && n.chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    names.sort();
    names
}

/// Where a segment of `size` bytes begins, as PostgreSQL writes an LSN.
fn segment_start(name: &str, size: u64) -> String {
    let per_id = 0x1_0000_0000 / size;
    let number = u64::from_str_radix(&name[8..16], 16).expect("log id") * per_id
        + u64::from_str_radix(&name[16..24], 16).expect("segment");
    let lsn = number * size;
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// The instance holding the lease dies for good (killed, its receiver too, its data folder gone)
/// while its uploads hang, with completed segments it received and never shipped; the source
/// recycles old WAL meanwhile. The slot stayed where the archive ends, so the instance that
/// takes over receives those segments again from the source: the window stays continuous and a
/// clone to the end has every row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_receives_again_what_the_dead_holder_never_shipped() {
    let (settings, data_dir, pg) = test_settings(Backend::Postgres);
    let mut first = ServerProcess::start(&settings, &env(&settings)).await;
    let mut app = TestApp::attach(first.address.clone(), &settings, data_dir, pg);
    app.setup_admin().await;
    let s3 = s3s();
    let proxy = S3Proxy::start(&s3.endpoint, Lacks::Nothing);
    let fields = [
        ("provider", "custom"),
        ("endpoint", proxy.url.as_str()),
        ("region", s3.region.as_str()),
        ("bucket", s3.bucket.as_str()),
        ("path_style", "true"),
        ("access_key_id", s3.access_key_id.as_str()),
        ("secret_access_key", s3.secret_access_key.as_str()),
    ];
    let created = app.create_destination("Bucket", "s3", &fields).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let destination = app.destination("Bucket").await.id;
    let cluster = Cluster::start(ClusterOptions::default());
    cluster.psql(TICKS);
    let id = {
        let api = admin(&app).await;
        let id = protect(&api, &destination, &cluster, json!({})).await;
        archiving(&api, &id).await;
        base_backup(&api, &id).await;
        id
    };
    recorded(&app, &id, &switch_wal(&cluster)).await;

    // Uploads hang from now on; the receiver goes on receiving into the spool.
    proxy.hold_writes(true);
    insert_ticks(&cluster, 1..=10).await;
    let spool = settings.data_dir.join("wal-spool").join(&id);
    for n in 100..=102 {
        switch_wal(&cluster);
        insert_ticks(&cluster, n..=n).await;
    }
    until("completed segments waiting in the spool", || async { unshipped_segments(&spool).len() >= 2 }).await;
    let stranded = unshipped_segments(&spool);
    // pg_receivewal tells the source what it has written every 10 s: let one report pass.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let kept = cluster.psql(&format!(
        "SELECT restart_lsn <= '{}'::pg_lsn FROM pg_replication_slots",
        segment_start(&stranded[0], 1 << 20)
    ));
    assert_eq!(kept, "t", "the slot keeps the first segment not shipped, {}", stranded[0]);

    // The host is gone: the server, its receiver, its data folder.
    first.kill();
    for (pid, _) in receivers(&id) {
        crate::pitr_support::kill(pid);
    }
    std::fs::remove_dir_all(settings.data_dir.join("wal-spool")).expect("the dead host's spool");
    // The source writes on and recycles what no slot keeps; the destination recovers.
    insert_ticks(&cluster, 11..=20).await;
    for _ in 0..2 {
        switch_wal(&cluster);
        cluster.psql("CHECKPOINT");
    }
    proxy.hold_writes(false);

    let mut second_settings = settings.clone();
    let second_dir = tempfile::tempdir().expect("the second instance's data folder");
    second_settings.data_dir = second_dir.path().to_path_buf();
    let second = ServerProcess::start(&second_settings, &env(&second_settings)).await;
    app.address = second.address.clone();
    let api: Api<'_> = admin(&app).await;
    for name in &stranded {
        recorded(&app, &id, name).await;
    }
    insert_ticks(&cluster, 21..=30).await;
    recorded(&app, &id, &switch_wal(&cluster)).await;
    wait_for(&api, &format!("/api/v1/databases/{id}"), PATIENCE, |d| d["data"]["status"] == "ok").await;

    let continuous = window(&api, &id).await;
    assert_eq!(continuous["gaps"], json!([]), "{continuous}\n{}", second.log());
    let (_, port) = clone_at(&api, &id, None, "After the takeover").await;
    let mut expected: Vec<i64> = (1..=30).collect();
    expected.extend(100..=102);
    expected.sort_unstable();
    assert_eq!(ticks_at(port), expected, "every committed row is in the clone");
}
