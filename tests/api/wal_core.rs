//! The layer under point-in-time recovery against real clusters ([`crate::pitr_clusters`]): each
//! missing prerequisite fails its own step; WAL received into a spool; a base backup streamed with
//! its WAL points; and end to end, a clone restored to a recorded time holding exactly the rows
//! committed before it, and a target past the archive refused in PostgreSQL's words.

use crate::pitr_clusters::{Cluster, ClusterOptions, PASSWORD};
use bytes::Bytes;
use chrono::Utc;
use devpilot::artifacts::postgres::Checked;
use devpilot::artifacts::postgres::wal::continuity::{self, Archived, BaseBackupPoint, Inputs};
use devpilot::artifacts::postgres::wal::prereq::{self, Outcome};
use devpilot::artifacts::postgres::wal::receiver::{self, ReceiverProcess, SpoolFile};
use devpilot::artifacts::postgres::wal::{Lsn, Segment, SegmentSize, WalFile, basebackup, parse_history};
use futures::TryStreamExt;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

mod restore;

const SLOT: &str = "devpilot_test";

fn one_mib() -> SegmentSize {
    SegmentSize::new(1024 * 1024).expect("size")
}

/// The steps that did not pass, with their outcome.
async fn not_passed(cluster: &Cluster, user: &str, password: &str) -> Vec<(&'static str, Outcome, String)> {
    let (steps, _) = prereq::check(&cluster.bins, &cluster.reachable_as(user, password).await, SLOT).await;
    assert_eq!(steps.len(), 8, "{steps:?}");
    steps.into_iter().filter(|s| s.outcome != Outcome::Pass).map(|s| (s.name, s.outcome, s.message)).collect()
}

fn names(found: &[(&'static str, Outcome, String)]) -> Vec<(&'static str, Outcome)> {
    found.iter().map(|(name, outcome, _)| (*name, *outcome)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_with_every_prerequisite_passes_and_tells_its_facts() {
    let cluster = Cluster::start(ClusterOptions::default());
    let (steps, facts) = prereq::check(&cluster.bins, &cluster.reachable().await, SLOT).await;
    assert!(steps.iter().all(|s| s.outcome == Outcome::Pass), "{steps:#?}");
    let facts = facts.expect("facts");
    assert_eq!(facts.seg_size, one_mib());
    assert_eq!(facts.timeline, 1);
    assert!(!facts.in_recovery);
    assert!(facts.server_version_num >= 130_000, "{facts:?}");
    assert_eq!(facts.system_identifier, cluster.psql("SELECT system_identifier FROM pg_control_system()"));

    // A role without REPLICATION fails that step, and its replication connection is refused.
    cluster.psql("CREATE ROLE app LOGIN PASSWORD 'app-pw'");
    let found = not_passed(&cluster, "app", "app-pw").await;
    assert_eq!(
        names(&found),
        [(prereq::REPLICATION_ROLE, Outcome::Fail), (prereq::REPLICATION_CONNECTION, Outcome::Fail)]
    );
    assert!(found[0].2.contains("ALTER ROLE app REPLICATION"), "{found:?}");
    assert!(found[1].2.contains("must be superuser or replication role"), "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_level_minimal_fails_its_step() {
    let options = ClusterOptions { wal_level: "minimal", max_wal_senders: 0, ..ClusterOptions::default() };
    let cluster = Cluster::start(options);
    let found = not_passed(&cluster, "postgres", PASSWORD).await;
    // minimal allows no WAL senders, so those steps fail with it.
    assert_eq!(
        names(&found),
        [
            (prereq::WAL_LEVEL, Outcome::Fail),
            (prereq::MAX_WAL_SENDERS, Outcome::Fail),
            (prereq::REPLICATION_CONNECTION, Outcome::Fail)
        ]
    );
    assert!(found[0].2.contains("wal_level = minimal") && found[0].2.contains("wal_level = replica"), "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_wal_senders_fails_its_step() {
    let cluster = Cluster::start(ClusterOptions { max_wal_senders: 0, ..ClusterOptions::default() });
    let found = not_passed(&cluster, "postgres", PASSWORD).await;
    assert_eq!(
        names(&found),
        [(prereq::MAX_WAL_SENDERS, Outcome::Fail), (prereq::REPLICATION_CONNECTION, Outcome::Fail)]
    );
    assert!(found[0].2.contains("max_wal_senders = 0"), "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_slots_must_be_allowed_and_free() {
    let cluster = Cluster::start(ClusterOptions { max_replication_slots: 0, ..ClusterOptions::default() });
    let found = not_passed(&cluster, "postgres", PASSWORD).await;
    assert_eq!(names(&found), [(prereq::MAX_REPLICATION_SLOTS, Outcome::Fail)]);
    assert!(found[0].2.contains("max_replication_slots = 0"), "{found:?}");
    drop(cluster);

    let cluster = Cluster::start(ClusterOptions { max_replication_slots: 1, ..ClusterOptions::default() });
    cluster.psql("SELECT pg_create_physical_replication_slot('someone_else')");
    let found = not_passed(&cluster, "postgres", PASSWORD).await;
    assert_eq!(names(&found), [(prereq::MAX_REPLICATION_SLOTS, Outcome::Fail)]);
    assert!(found[0].2.contains("all are in use"), "{found:?}");
    // Devpilot's own slot taking the only place is as it should be.
    cluster.psql(&format!(
        "SELECT pg_drop_replication_slot('someone_else'), pg_create_physical_replication_slot('{SLOT}')"
    ));
    assert_eq!(not_passed(&cluster, "postgres", PASSWORD).await, []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_hba_conf_without_replication_shows_postgresql_s_refusal_and_the_line_to_add() {
    let cluster = Cluster::start(ClusterOptions { hba_replication: false, ..ClusterOptions::default() });
    let found = not_passed(&cluster, "postgres", PASSWORD).await;
    assert_eq!(names(&found), [(prereq::REPLICATION_CONNECTION, Outcome::Fail)]);
    let message = &found[0].2;
    assert!(message.contains("FATAL: no pg_hba.conf entry for replication connection"), "{message}");
    assert!(message.contains("host replication postgres 127.0.0.1/32 scram-sha-256"), "{message}");
    assert!(!message.contains(PASSWORD), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlimited_slot_is_a_warning() {
    let cluster = Cluster::start(ClusterOptions { max_slot_wal_keep_size: "-1", ..ClusterOptions::default() });
    let found = not_passed(&cluster, "postgres", PASSWORD).await;
    assert_eq!(names(&found), [(prereq::MAX_SLOT_WAL_KEEP_SIZE, Outcome::Warn)]);
    assert!(found[0].2.contains("fill the source's disk"), "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_connection_the_rest_is_not_checked() {
    let cluster = Cluster::start(ClusterOptions::default());
    let reachable = cluster.reachable().await;
    cluster.stop();
    let (steps, facts) = prereq::check(&cluster.bins, &reachable, SLOT).await;
    assert!(facts.is_none());
    assert_eq!((steps[0].name, steps[0].outcome), (prereq::CONNECTS, Outcome::Fail));
    assert!(steps[0].message.contains("could not connect"), "{steps:?}");
    assert!(steps[1..].iter().all(|s| s.outcome == Outcome::NotChecked && s.message.contains("not checked")));
}

/// Waits until the spool holds what `done` wants.
async fn spool_until(spool: &Path, what: &str, done: impl Fn(&[SpoolFile]) -> bool) -> Vec<SpoolFile> {
    for _ in 0..300 {
        let files = receiver::spool_files(spool, one_mib()).expect("spool");
        if done(&files) {
            return files;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the spool never held {what}: {:?}", receiver::spool_files(spool, one_mib()));
}

/// Starts the receiver the way the archiver does: its empty spool begins at the slot.
fn spawn_at_slot(cluster: &Cluster, checked: &Checked, restart: Lsn, timeline: u32, spool: &Path) -> ReceiverProcess {
    let size = one_mib();
    receiver::start_spool_at(spool, size, Segment { timeline, number: size.segment_of(restart) }).expect("start");
    receiver::spawn(&cluster.bins, checked, SLOT, spool).expect("receiver")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_is_received_into_the_spool_and_the_slot_moves_only_when_told() {
    let cluster = Cluster::start(ClusterOptions::default());
    let checked = cluster.checked().await;
    receiver::ensure_slot(&checked, SLOT).await.expect("slot");
    receiver::ensure_slot(&checked, SLOT).await.expect("slot again");
    let status = receiver::slot_status(&checked, SLOT).await.expect("status").expect("the slot");
    let created_at = status.restart_lsn.expect("WAL is kept from the slot's creation");
    assert!(!status.active, "{status:?}");

    let spool = tempfile::tempdir().expect("spool");
    let process = spawn_at_slot(&cluster, &checked, created_at, 1, spool.path());
    cluster.psql("CREATE TABLE filler AS SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
    let switched = cluster.psql("SELECT pg_walfile_name(pg_switch_wal())");
    cluster.psql("INSERT INTO filler SELECT g, 'after' FROM generate_series(1, 10) g");
    let size = one_mib();
    let files = spool_until(spool.path(), "the switched segment and a partial", |files| {
        files.iter().any(|f| f.file.file_name(size) == switched)
            && files.iter().any(|f| matches!(f.file, WalFile::Partial(_)))
    })
    .await;
    let complete = files.iter().find(|f| f.file.file_name(size) == switched).expect("complete");
    assert_eq!(complete.size, size.bytes());
    let Some(segment) = complete.file.segment() else { panic!("a segment: {complete:?}") };
    // Everything from the slot's segment on was received: the spool began there.
    let first = files.iter().filter_map(|f| f.file.segment()).map(|s| s.number).min().expect("files");
    assert_eq!(first, size.segment_of(created_at), "{files:?}");

    // Streaming, as its name, the slot untouched: the receiver does not move it.
    let mut received = None;
    for _ in 0..100 {
        received = receiver::received_lsn(&checked, SLOT).await.expect("asked");
        if received.is_some_and(|lsn| lsn > created_at) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(received.is_some_and(|lsn| lsn > created_at), "{received:?} after {created_at}");
    let status = receiver::slot_status(&checked, SLOT).await.expect("status").expect("the slot");
    assert_eq!((status.active, status.restart_lsn, status.wal_status.as_str()), (false, Some(created_at), "reserved"));

    // Moved past what is shipped, and never back.
    let shipped_to = size.start_of(segment.number + 1);
    receiver::advance_slot(&checked, SLOT, shipped_to).await.expect("advance");
    let moved = receiver::slot_status(&checked, SLOT).await.expect("status").expect("the slot");
    assert_eq!(moved.restart_lsn, Some(shipped_to));
    receiver::advance_slot(&checked, SLOT, created_at).await.expect("no step back");
    let kept = receiver::slot_status(&checked, SLOT).await.expect("status").expect("the slot");
    assert_eq!(kept.restart_lsn, Some(shipped_to));

    // Whoever holds the database's lease ends a receiver left streaming under its name.
    receiver::end_receivers(&checked, SLOT, Duration::from_secs(15)).await.expect("ended");
    assert!(process.wait().await.is_err(), "ended from the source's side, it did not end cleanly");
    assert_eq!(receiver::received_lsn(&checked, SLOT).await.expect("asked"), None);
    receiver::drop_slot(&checked, SLOT).await.expect("drop");
    assert_eq!(receiver::slot_status(&checked, SLOT).await.expect("status"), None);
    receiver::drop_slot(&checked, SLOT).await.expect("dropping a dropped slot");
}

async fn collect(stream: devpilot::artifacts::ByteStream) -> std::io::Result<Vec<u8>> {
    let chunks: Vec<Bytes> = stream.try_collect().await?;
    Ok(chunks.concat())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_backup_streams_one_tar_with_its_wal_points() {
    let cluster = Cluster::start(ClusterOptions::default());
    let before: Lsn = cluster.psql("SELECT pg_current_wal_lsn()").parse().expect("lsn");
    let (stream, points) = basebackup::stream(&cluster.bins, &cluster.checked().await).expect("started");
    let tar = collect(stream).await.expect("the tar");
    let points = points.await.expect("answered").expect("points");
    assert_eq!(points.timeline, 1);
    assert!(before <= points.start_lsn && points.start_lsn < points.stop_lsn, "{before} {points:?}");
    let mut archive = tar::Archive::new(&tar[..]);
    let names: Vec<String> = archive
        .entries()
        .expect("entries")
        .map(|e| e.expect("entry").path().expect("path").to_string_lossy().into_owned())
        .collect();
    for expected in ["PG_VERSION", "global/pg_control", "backup_label", "backup_manifest"] {
        assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
    }

    // Refused by pg_hba.conf: the stream ends in the tool's error, and so do the points.
    let refused = Cluster::start(ClusterOptions { hba_replication: false, ..ClusterOptions::default() });
    let (stream, points) = basebackup::stream(&refused.bins, &refused.checked().await).expect("started");
    let error = collect(stream).await.expect_err("refused");
    assert!(error.to_string().contains("pg_hba.conf"), "{error}");
    assert!(points.await.expect("answered").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_source_goes_on_on_timeline_2_and_the_archive_stays_continuous() {
    let size = one_mib();
    let primary = Cluster::start(ClusterOptions::default());
    primary.psql("CREATE TABLE filler (g int)");
    let standby = Cluster::standby_of(&primary);
    let checked = standby.checked().await;
    receiver::ensure_slot(&checked, SLOT).await.expect("a slot on the standby");
    let slot = receiver::slot_status(&checked, SLOT).await.expect("status").expect("the slot");
    let spool = tempfile::tempdir().expect("spool");
    let mut process = spawn_at_slot(&standby, &checked, slot.restart_lsn.expect("reserved"), 1, spool.path());
    let (stream, points) = basebackup::stream(&standby.bins, &checked).expect("a base backup of the standby");
    collect(stream).await.expect("tar");
    let points = points.await.expect("answered").expect("points");
    let stopped_at = Utc::now();
    assert_eq!(points.timeline, 1);

    primary.psql("INSERT INTO filler SELECT generate_series(1, 5000)");
    primary.psql("SELECT pg_switch_wal()");
    tokio::time::sleep(Duration::from_millis(500)).await;
    standby.promote();
    standby.psql("INSERT INTO filler SELECT generate_series(1, 5000)");
    let on_two = standby.psql("SELECT pg_walfile_name(pg_switch_wal())");
    assert!(on_two.starts_with("00000002"), "{on_two}");
    let files = spool_until(spool.path(), "timeline 2's history and its switched segment", |files| {
        files.iter().any(|f| f.file == WalFile::History(2)) && files.iter().any(|f| f.file.file_name(size) == on_two)
    })
    .await;
    process.kill();
    let _ = process.wait().await;

    let history = std::fs::read_to_string(spool.path().join("00000002.history")).expect("history");
    let switches = parse_history(2, &history).expect("parsed");
    assert_eq!(switches.len(), 1, "{history}");
    let archived: Vec<Archived> =
        files.iter().map(|f| Archived { file: f.file, received_at: f.modified.max(stopped_at) }).collect();
    let inputs = Inputs {
        seg_size: size,
        recorded: archived.iter().map(|a| a.file).collect(),
        archived,
        histories: BTreeMap::from([(2, switches.clone())]),
        bases: vec![BaseBackupPoint {
            id: "standby".into(),
            timeline: points.timeline,
            start_lsn: points.start_lsn,
            stop_lsn: points.stop_lsn,
            stopped_at,
        }],
        now: Utc::now(),
        receiving: None,
        delayed_after: Duration::from_secs(60),
        lost_after: Duration::from_secs(3600),
    };
    let report = continuity::check(&inputs);
    assert_eq!(report.newest_timeline, 2, "{report:#?}\n{}", standby.log());
    assert_eq!(report.timelines, [(2, switches[0])]);
    assert_eq!(report.gaps, [], "{report:#?}");
    assert_eq!(report.unusable, [], "{report:#?}");
    assert_eq!(report.ranges.len(), 1, "{report:#?}");
    let latest = report.latest.expect("a window");
    let plan = continuity::plan_restore(&inputs, latest).expect("the window's end can be restored");
    assert_eq!((plan.base_id.as_str(), plan.timeline), ("standby", 2));
}
