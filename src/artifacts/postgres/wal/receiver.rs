//! Receiving a source's WAL as it is written: `pg_receivewal` into a spool folder, the physical
//! replication slot that keeps on the source what is not yet shipped, and how far behind it is. `pg_receivewal` connects only at the
//! checked address with the tools' cleared environment (`-d` takes the connection string, the
//! password travels in `PGPASSWORD`). The caller supervises the process: it exits when the
//! connection ends (`--no-loop`) and is started again with back-off; the slot keeps the WAL
//! meanwhile. A receiver left behind by a killed caller is ended through its connection.

use super::binaries::PgBinaries;
use super::names::{Lsn, Segment, SegmentSize, WalFile};
use crate::artifacts::postgres::client::Checked;
use crate::artifacts::postgres::{PostgresError, tools};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Child;

/// PostgreSQL's rule for slot names: lower-case letters, digits and `_`, at most 63 bytes.
fn check_slot(slot: &str) -> Result<(), PostgresError> {
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    if !slot.is_empty() && slot.len() <= 63 && slot.chars().all(valid) {
        Ok(())
    } else {
        Err(PostgresError::Other(format!("“{}” is not a replication slot name", slot.escape_debug())))
    }
}

/// Creates the physical slot if it is missing, reserving WAL from now on (`pg_receivewal
/// --create-slot` would reserve nothing until it first streams).
pub async fn ensure_slot(checked: &Checked, slot: &str) -> Result<(), PostgresError> {
    check_slot(slot)?;
    let created = checked
        .reachable()
        .text_row(
            "SELECT pg_catalog.pg_create_physical_replication_slot($1, true)::text \
             WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)",
            &[slot],
        )
        .await;
    match created {
        Ok(_) => Ok(()),
        // Made at the same moment by someone else: it exists, which is all we need.
        Err(PostgresError::Other(message)) if message.contains("already exists") => Ok(()),
        Err(error) => Err(error),
    }
}

/// Drops the slot if it exists (it must not be in use: stop the receiver first).
pub async fn drop_slot(checked: &Checked, slot: &str) -> Result<(), PostgresError> {
    check_slot(slot)?;
    checked
        .reachable()
        .text_row(
            "SELECT pg_catalog.pg_drop_replication_slot(slot_name)::text \
             FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
            &[slot],
        )
        .await
        .map(|_| ())
}

/// Ends every receiver streaming as `name` (its `application_name`, see [`spawn`]) or holding the
/// slot of that name, and waits until none is left. A receiver outlives a Devpilot process killed
/// with SIGKILL (nothing kills its child), and the host it ran on may be gone for good; its
/// connection is ended from the source's side. Call it only as the slot's one rightful user.
/// PostgreSQL lets a role end its own connections: the REPLICATION role that streamed is enough.
pub async fn end_receivers(checked: &Checked, name: &str, within: Duration) -> Result<(), PostgresError> {
    check_slot(name)?;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let ended = checked
            .reachable()
            .text_row(
                "SELECT pg_catalog.pg_terminate_backend(pid)::text FROM pg_catalog.pg_stat_replication \
                 WHERE application_name = $1 \
                 UNION ALL SELECT pg_catalog.pg_terminate_backend(active_pid)::text \
                 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL",
                &[name],
            )
            .await?;
        if ended.is_none() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(PostgresError::Other(format!("another receiver still streams after {} s", within.as_secs())));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Moves the slot up to `to` (never back): the WAL before it is safe in the archive and the source
/// may recycle it. The slot is not the receiver's: only what was shipped frees WAL.
pub async fn advance_slot(checked: &Checked, slot: &str, to: Lsn) -> Result<(), PostgresError> {
    check_slot(slot)?;
    let to = to.to_string();
    checked
        .reachable()
        .text_row(
            "SELECT pg_catalog.pg_replication_slot_advance(slot_name, $2::text::pg_lsn)::text \
             FROM pg_catalog.pg_replication_slots \
             WHERE slot_name = $1 AND (restart_lsn IS NULL OR restart_lsn < $2::text::pg_lsn)",
            &[slot, &to],
        )
        .await?;
    Ok(())
}

/// How far the receiver streaming as `name` has written WAL to its spool; None when none streams.
/// Without a slot pg_receivewal reports what it wrote, not what it flushed.
pub async fn received_lsn(checked: &Checked, name: &str) -> Result<Option<Lsn>, PostgresError> {
    let row = checked
        .reachable()
        .text_row(
            "SELECT COALESCE(flush_lsn, write_lsn)::text FROM pg_catalog.pg_stat_replication \
             WHERE application_name = $1 AND COALESCE(flush_lsn, write_lsn) IS NOT NULL \
             ORDER BY backend_start DESC LIMIT 1",
            &[name],
        )
        .await?;
    row.and_then(|r| r.into_iter().next().flatten()).map(|text| text.parse().map_err(PostgresError::Other)).transpose()
}

/// The source's timeline as of its last checkpoint.
pub async fn current_timeline(checked: &Checked) -> Result<u32, PostgresError> {
    let row =
        checked.reachable().text_row("SELECT timeline_id::text FROM pg_catalog.pg_control_checkpoint()", &[]).await?;
    let text = row.and_then(|r| r.into_iter().next().flatten());
    text.and_then(|t| t.parse().ok()).ok_or_else(|| PostgresError::Other("the server did not say its timeline".into()))
}

/// Makes an empty spool start at `segment`: pg_receivewal goes on from the newest segment it
/// finds in its folder, and a `.partial` as long as a segment is where it begins (at the
/// segment's start). Without it, an empty spool starts at the source's current position, and a
/// new holder of the lease would skip what the last one received and never shipped.
pub fn start_spool_at(spool: &Path, size: SegmentSize, segment: Segment) -> std::io::Result<()> {
    let name = WalFile::Partial(segment).file_name(size);
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(spool.join(name))?;
    file.set_len(size.bytes())?;
    file.sync_all()
}

/// A running `pg_receivewal`.
#[derive(Debug)]
pub struct ReceiverProcess {
    child: Child,
    stderr: tokio::task::JoinHandle<String>,
    checked: Checked,
}

/// Starts `pg_receivewal -D spool --no-loop` streaming as `name` (the spool must exist). It does
/// not stream from the slot: pg_receivewal moves its slot as soon as WAL is on its own disk, and
/// WAL that is only on the disk of an instance that died is lost to the next. The slot moves when
/// WAL is shipped ([`advance_slot`]); where streaming starts is the spool's business
/// ([`start_spool_at`]).
pub fn spawn(bins: &PgBinaries, checked: &Checked, name: &str, spool: &Path) -> Result<ReceiverProcess, PostgresError> {
    check_slot(name)?;
    let program = bins.program("pg_receivewal");
    let mut command = tools::command(checked, &program);
    // A later keyword wins in a libpq connection string; the name is a slot name (no quoting).
    command
        .arg("--dbname")
        .arg(format!("{} application_name='{name}'", tools::conninfo(checked)))
        .arg("--directory")
        .arg(spool)
        // Its report of what it wrote is the lag the database shows: every second, not every 10.
        .args(["--no-loop", "--no-password", "--status-interval=1"])
        .stdout(Stdio::null());
    let mut child =
        command.spawn().map_err(|e| PostgresError::Other(format!("could not start {}: {e}", program.display())))?;
    let stderr = tools::capture(child.stderr.take());
    Ok(ReceiverProcess { child, stderr, checked: checked.clone() })
}

impl ReceiverProcess {
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits for the receiver to end: Ok when it ended cleanly, else its own words.
    pub async fn wait(self) -> Result<(), String> {
        let url = self.checked.url.clone();
        tools::finish(self.child, self.stderr, "pg_receivewal").await.map_err(|m| url.redact(&m))
    }

    /// Stops it at once (what it received is on disk already; the slot keeps the rest).
    pub fn kill(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A file in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolFile {
    pub file: WalFile,
    pub path: PathBuf,
    /// On disk: a `.partial` file is already as long as a whole segment (the rest is zeros).
    pub size: u64,
    pub modified: DateTime<Utc>,
}

/// The WAL files in the spool, oldest first; anything else there (pg_receivewal's `.tmp`
/// files, a stray name) is left out.
pub fn spool_files(dir: &Path, seg_size: SegmentSize) -> std::io::Result<Vec<SpoolFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(file) = entry.file_name().to_str().and_then(|name| WalFile::parse(name, seg_size)) else {
            continue;
        };
        // pg_receivewal renames `X.partial` to `X` when the segment is complete: a name read a
        // moment ago may be gone; the next listing sees it under its new name.
        let metadata = match entry.metadata() {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !metadata.is_file() {
            continue;
        }
        let modified = metadata.modified().map(DateTime::<Utc>::from)?;
        files.push(SpoolFile { file, path: entry.path(), size: metadata.len(), modified });
    }
    files.sort_by_key(|f| f.file);
    Ok(files)
}

/// A replication slot as the source shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotStatus {
    /// A receiver is connected to it.
    pub active: bool,
    /// `reserved`, `extended`, `unreserved` or `lost` (PostgreSQL 13+).
    pub wal_status: String,
    /// The oldest WAL the slot keeps; None before anything was reserved.
    pub restart_lsn: Option<Lsn>,
}

pub async fn slot_status(checked: &Checked, slot: &str) -> Result<Option<SlotStatus>, PostgresError> {
    check_slot(slot)?;
    let row = checked
        .reachable()
        .text_row(
            "SELECT active::text, wal_status::text, restart_lsn::text \
             FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
            &[slot],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let column = |i: usize| row.get(i).cloned().flatten();
    let restart_lsn = column(2).map(|text| text.parse::<Lsn>().map_err(PostgresError::Other)).transpose()?;
    Ok(Some(SlotStatus {
        active: column(0).as_deref() == Some("true"),
        wal_status: column(1).unwrap_or_default(),
        restart_lsn,
    }))
}

/// Where the source's WAL is now: written on a primary, received on a standby.
pub async fn current_lsn(checked: &Checked) -> Result<Lsn, PostgresError> {
    let row = checked
        .reachable()
        .text_row(
            "SELECT (CASE WHEN pg_catalog.pg_is_in_recovery() \
               THEN COALESCE(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn()) \
               ELSE pg_catalog.pg_current_wal_lsn() END)::text",
            &[],
        )
        .await?;
    let text = row.and_then(|r| r.into_iter().next().flatten());
    text.ok_or_else(|| PostgresError::Other("the server did not say where its WAL is".into()))?
        .parse()
        .map_err(PostgresError::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_follow_postgresql_s_rule() {
        assert!(check_slot("devpilot_0193abc").is_ok());
        for bad in ["", "Devpilot", "a-b", "a b", "x'; DROP", &"a".repeat(64)] {
            assert!(check_slot(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_spool_lists_wal_files_only() {
        let spool = tempfile::tempdir().expect("spool");
        for name in [
            "000000010000000000000002",
            "000000010000000000000003.partial",
            "00000002.history",
            "00000002.history.tmp",
            "notes.txt",
        ] {
            std::fs::write(spool.path().join(name), b"wal").expect("write");
        }
        std::fs::create_dir(spool.path().join("000000010000000000000001")).expect("folder");
        let size = SegmentSize::new(1024 * 1024).expect("size");
        let files = spool_files(spool.path(), size).expect("list");
        let names: Vec<String> = files.iter().map(|f| f.file.file_name(size)).collect();
        assert_eq!(names, ["000000010000000000000002", "000000010000000000000003.partial", "00000002.history"]);
        assert!(files.iter().all(|f| f.size == 3 && f.path.starts_with(spool.path())));
    }
}
