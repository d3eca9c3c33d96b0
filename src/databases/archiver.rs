//! Continuous WAL archiving. Every instance runs this loop; for each archiving database exactly
//! one instance holds the lease (renewed every tick, taken over when its holder's heartbeat is
//! older than the instance timeout) and runs `pg_receivewal`, spooling into the data folder and
//! shipping each file ([`super::shipping`]). The database's replication slot is moved up only
//! past what was shipped, so a new holder starts where the archive ends, not where the dead
//! holder's disk did. The receiver is
//! supervised: when it ends it is started again with back-off, and the database shows why. One
//! left running by a killed instance (SIGKILL spares its children) is ended through its
//! replication connection by the next holder, here or on another host.

use super::archive_store;
use super::base;
use super::domain::slot_name;
use super::service::DatabaseService;
use super::shipping::{self, Shipped};
use super::store::{self, DatabaseRow, ReceiverReport};
use crate::artifacts::postgres::Checked;
use crate::artifacts::postgres::wal::names::{Segment, SegmentSize};
use crate::artifacts::postgres::wal::receiver::{self, ReceiverProcess};
use chrono::Utc;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::task::AbortOnDropHandle;

const MAX_BACK_OFF: Duration = Duration::from_secs(60);
/// How long a stale receiver's connection may take to end once asked.
const RELEASE_WITHIN: Duration = Duration::from_secs(30);

/// Runs until the process ends.
pub async fn run(service: DatabaseService, instance_timeout: Duration) {
    let mut workers: HashMap<String, JoinHandle<()>> = HashMap::new();
    // Nothing of this process runs yet: whatever its id still names as running was cut off.
    let mut restarted = Some(service.instance.to_string());
    loop {
        match interrupt_orphans(&service, instance_timeout, restarted.as_deref()).await {
            Ok(()) => restarted = None,
            Err(e) => tracing::warn!(error = %e, "unfinished base backups and clones could not be checked"),
        }
        if let Err(e) = tick(&service, instance_timeout, &mut workers).await {
            tracing::warn!(error = %e, "the WAL archiver could not check its databases");
        }
        if let Err(e) = base::start_due(&service).await {
            tracing::warn!(error = %e, "scheduled base backups could not be checked");
        }
        tokio::time::sleep(service.settings.tick).await;
    }
}

/// Base backups and clone restores whose instance died are marked failed.
async fn interrupt_orphans(
    service: &DatabaseService,
    instance_timeout: Duration,
    restarted: Option<&str>,
) -> Result<(), crate::db::DbError> {
    let now = Utc::now().naive_utc();
    let since = now - chrono::Duration::from_std(instance_timeout).unwrap_or_else(|_| chrono::Duration::seconds(60));
    let mut live = service.db.run(move |c| crate::instances::store::live(c, since)).await?;
    let me = service.instance.to_string();
    if !live.contains(&me) {
        live.push(me);
    }
    let restarted = restarted.unwrap_or_default().to_owned();
    let n = service.db.run(move |c| super::archive_store::interrupt_orphans(c, &live, &restarted, now)).await?;
    if n > 0 {
        tracing::warn!(count = n, "marked base backups or clone restores of a stopped server as failed");
    }
    Ok(())
}

async fn tick(
    service: &DatabaseService,
    instance_timeout: Duration,
    workers: &mut HashMap<String, JoinHandle<()>>,
) -> Result<(), crate::db::DbError> {
    let rows = service.db.run(store::archiving).await?;
    let now = Utc::now().naive_utc();
    let stale_before =
        now - chrono::Duration::from_std(instance_timeout).unwrap_or_else(|_| chrono::Duration::seconds(60));
    let mut ours = Vec::new();
    for row in rows {
        let (id, me) = (row.id.clone(), service.instance.to_string());
        let won = service.db.run(move |c| store::take_lease(c, &id, &me, now, stale_before)).await?;
        if won {
            ours.push(row.id.clone());
            let finished = workers.get(&row.id).is_none_or(JoinHandle::is_finished);
            if finished {
                tracing::info!(database = %row.id, "starting WAL archiving");
                workers.insert(row.id.clone(), tokio::spawn(work(service.clone(), row.id)));
            }
        }
    }
    // Lost the lease, archiving stopped, or the database was deleted: stop its receiver.
    let gone: Vec<String> = workers.keys().filter(|id| !ours.contains(id)).cloned().collect();
    for id in gone {
        if let Some(worker) = workers.remove(&id) {
            worker.abort();
            let _ = worker.await;
        }
        let me = service.instance.to_string();
        service.db.run(move |c| store::release_lease(c, &id, &me)).await?;
    }
    Ok(())
}

/// Keeps one database's receiver running for as long as this task lives (it is aborted when the
/// lease goes).
async fn work(service: DatabaseService, id: String) {
    let mut back_off = Duration::from_secs(1);
    loop {
        let started = std::time::Instant::now();
        let problem = match receive(&service, &id).await {
            Ok(()) => "pg_receivewal ended".to_owned(),
            Err(problem) => problem,
        };
        tracing::warn!(database = %id, problem = %problem, "WAL archiving stopped; starting again");
        report(
            &service,
            &id,
            ReceiverReport {
                status: Some("failed".into()),
                status_message: Some(Some(format!("{problem} (retrying in {} s)", back_off.as_secs()))),
                ..ReceiverReport::default()
            },
        )
        .await;
        if started.elapsed() > MAX_BACK_OFF * 2 {
            back_off = Duration::from_secs(1);
        }
        tokio::time::sleep(back_off).await;
        back_off = (back_off * 2).min(MAX_BACK_OFF);
    }
}

pub(super) fn spool_dir(service: &DatabaseService, id: &str) -> PathBuf {
    service.data_dir.join("wal-spool").join(id)
}

/// One life of the receiver: connect, make sure of the slot, stream, ship every few seconds.
async fn receive(service: &DatabaseService, id: &str) -> Result<(), String> {
    let did = id.to_owned();
    let row: DatabaseRow = service.db.run(move |c| store::find_any(c, &did)).await.map_err(|e| e.to_string())?;
    let provider = service.provider_of(&row).await?;
    let key = service.artifact_key(&row).await?;
    let checked = service.checked(&row).await?;
    let bins = service.binaries().map_err(|e| e.to_string())?;
    let slot = slot_name(id);
    receiver::ensure_slot(&checked, &slot).await.map_err(|e| format!("the replication slot {slot}: {e}"))?;
    // Whatever still streams from the slot is a receiver this lease's previous holder left
    // running (killed, its child was not): end it, or it refuses ours for good.
    if !holds_lease(service, id).await? {
        return Err("another instance took over WAL archiving".into());
    }
    receiver::end_receivers(&checked, &slot, RELEASE_WITHIN)
        .await
        .map_err(|e| format!("a receiver left running as {slot} could not be stopped: {e}"))?;
    let size = SegmentSize::new(u64::try_from(row.seg_size).unwrap_or(0))?;
    let spool = spool_dir(service, id);
    tokio::fs::create_dir_all(&spool).await.map_err(|e| format!("the spool folder: {e}"))?;
    remove_shipping_copies(&spool);
    start_at_slot(service, &checked, id, &spool, size).await?;
    let process: ReceiverProcess =
        receiver::spawn(&bins, &checked, &slot, &spool).map_err(|e| format!("starting pg_receivewal: {e}"))?;
    // The process dies with this task's future (kill on drop): when the worker is aborted (its
    // lease went) the guard aborts the waiting task, which drops the process.
    let mut ended = AbortOnDropHandle::new(tokio::spawn(process.wait()));
    let mut sent = HashMap::new();
    let mut first = true;
    loop {
        let files = receiver::spool_files(&spool, size).map_err(|e| format!("reading the spool: {e}"))?;
        let shipped = shipping::ship_spool(&service.db, provider.as_ref(), &row, key.as_ref(), files, &mut sent).await;
        let shipped: Shipped = match shipped {
            Ok(shipped) => shipped,
            Err(problem) => return Err(problem),
        };
        free_shipped(&checked, &slot, &spool, size).await;
        let mut report_now = ReceiverReport { last_received_at: shipped.received_at, ..ReceiverReport::default() };
        if first || shipped.files > 0 {
            report_now.status = Some("ok".into());
            report_now.status_message = Some(None);
            first = false;
        }
        if let Ok(Some(slot_state)) = receiver::slot_status(&checked, &slot).await {
            report_now.slot_wal_status = Some(Some(slot_state.wal_status.clone()));
            let received = receiver::received_lsn(&checked, &slot).await.ok().flatten().or(slot_state.restart_lsn);
            if let (Ok(current), Some(received)) = (receiver::current_lsn(&checked).await, received) {
                report_now.lag_bytes =
                    Some(Some(i64::try_from(current.0.saturating_sub(received.0)).unwrap_or(i64::MAX)));
                report_now.received_lsn = Some(received.to_string());
            }
        }
        report(service, id, report_now).await;
        tokio::select! {
            ended = &mut ended => {
                // Ship what it finished before it ended, then say why it ended.
                let files = receiver::spool_files(&spool, size).unwrap_or_default();
                let _ = shipping::ship_spool(&service.db, provider.as_ref(), &row, key.as_ref(), files, &mut sent).await;
                return match ended {
                    Ok(Ok(())) => Err("pg_receivewal ended".into()),
                    Ok(Err(message)) => Err(checked.url.redact(&message)),
                    Err(e) => Err(format!("pg_receivewal's watcher ended: {e}")),
                };
            }
            _ = tokio::time::sleep(service.settings.partial_every) => {}
        }
    }
}

/// An empty spool (a new holder of the lease, or a first start) begins at the slot: the first WAL
/// not yet shipped, on the newest timeline the archive holds there (the source's own timeline
/// when the archive holds nothing yet).
async fn start_at_slot(
    service: &DatabaseService,
    checked: &Checked,
    id: &str,
    spool: &Path,
    size: SegmentSize,
) -> Result<(), String> {
    let slot = slot_name(id);
    let files = receiver::spool_files(spool, size).map_err(|e| format!("reading the spool: {e}"))?;
    if files.iter().any(|f| f.file.segment().is_some()) {
        return Ok(());
    }
    let state = receiver::slot_status(checked, &slot).await.map_err(|e| format!("the replication slot {slot}: {e}"))?;
    let Some(restart) = state.and_then(|s| s.restart_lsn) else { return Ok(()) };
    let number = size.segment_of(restart);
    let id = id.to_owned();
    let records = service.db.run(move |c| archive_store::wal_files(c, &id)).await.map_err(|e| e.to_string())?;
    let archived = records
        .iter()
        .filter(|r| r.kind != archive_store::HISTORY && u64::try_from(r.segno).is_ok_and(|n| n <= number))
        .filter_map(|r| u32::try_from(r.timeline).ok())
        .max();
    let timeline = match archived {
        Some(timeline) => timeline,
        None => receiver::current_timeline(checked).await.map_err(|e| format!("the source's timeline: {e}"))?,
    };
    receiver::start_spool_at(spool, size, Segment { timeline, number })
        .map_err(|e| format!("starting the spool at segment {number}: {e}"))
}

/// The slot follows what is shipped: the oldest WAL file still in the spool is the oldest WAL
/// the source must keep. A failure only delays freeing WAL; the next pass tries again.
async fn free_shipped(checked: &Checked, slot: &str, spool: &Path, size: SegmentSize) {
    let Ok(files) = receiver::spool_files(spool, size) else { return };
    let Some(oldest) = files.iter().filter_map(|f| f.file.segment()).map(|s| s.number).min() else { return };
    if let Err(e) = receiver::advance_slot(checked, slot, size.start_of(oldest)).await {
        tracing::warn!(slot, error = %checked.url.redact(&e.to_string()), "the replication slot could not be moved up");
    }
}

async fn holds_lease(service: &DatabaseService, id: &str) -> Result<bool, String> {
    let did = id.to_owned();
    let holder = service.db.run(move |c| store::lease_holder(c, &did)).await.map_err(|e| e.to_string())?;
    Ok(holder.as_deref() == Some(&*service.instance))
}

/// Snapshots of a `.partial` a killed process was shipping (see `shipping`): never read again.
fn remove_shipping_copies(spool: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(spool) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(shipping::SNAPSHOT_PREFIX) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

async fn report(service: &DatabaseService, id: &str, report: ReceiverReport) {
    let (id, me) = (id.to_owned(), service.instance.to_string());
    if let Err(e) = service.db.run(move |c| store::report(c, &id, &me, report)).await {
        tracing::warn!(error = %e, "recording the WAL receiver's state failed");
    }
}
