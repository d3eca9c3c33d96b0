//! Shipping WAL files from the receiver's spool to the destination: each file zstd-compressed
//! (and encrypted when the database is), recorded with its timeline, segment, size and SHA-256.
//! A completed segment or history file is shipped once and then removed from the spool; a name
//! already recorded with other bytes is never overwritten. The open segment is shipped as
//! `<segment>.partial` whenever it grew, and forgotten once its segment is complete.

use super::archive_store::{self as archive, HISTORY, PARTIAL, SEGMENT, WalFileRow};
use super::store::DatabaseRow;
use crate::artifacts::encryption::{self, ArtifactKey};
use crate::artifacts::postgres::wal::names::{SegmentSize, WalFile};
use crate::artifacts::postgres::wal::receiver::SpoolFile;
use crate::artifacts::{ByteStream, compression};
use crate::db::Db;
use crate::providers::Provider;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The name prefix of a `.partial`'s snapshot while it is shipped.
pub const SNAPSHOT_PREFIX: &str = ".shipping-";

/// What one spool pass did.
#[derive(Debug, Default)]
pub struct Shipped {
    pub files: usize,
    /// The newest moment WAL was received, over what was shipped or seen unchanged.
    pub received_at: Option<NaiveDateTime>,
}

/// Ships what the spool holds. `sent_partials` remembers each `.partial` as last shipped
/// (size, modified) so an unchanged one is not sent again.
pub async fn ship_spool(
    db: &Db,
    provider: &dyn Provider,
    database: &DatabaseRow,
    key: Option<&ArtifactKey>,
    files: Vec<SpoolFile>,
    sent_partials: &mut HashMap<String, (u64, DateTime<Utc>)>,
) -> Result<Shipped, String> {
    let size = SegmentSize::new(u64::try_from(database.seg_size).unwrap_or(16 << 20)).map_err(|e| e.to_string())?;
    let mut shipped = Shipped::default();
    let mut files = files;
    // History files first: a restore that sees a segment of a new timeline needs its history.
    files.sort_by_key(|f| (!matches!(f.file, WalFile::History(_)), f.file.file_name(size)));
    for file in files {
        let received_at = file.modified.naive_utc();
        shipped.received_at = shipped.received_at.max(Some(received_at));
        let name = file.file.file_name(size);
        if let WalFile::Partial(_) = file.file {
            if sent_partials.get(&name) == Some(&(file.size, file.modified)) {
                continue;
            }
            if !ship_one(db, provider, database, key, &file, &name, received_at).await? {
                continue;
            }
            sent_partials.insert(name, (file.size, file.modified));
        } else {
            ship_one(db, provider, database, key, &file, &name, received_at).await?;
            if let WalFile::Segment(segment) = file.file {
                let partial = WalFile::Partial(segment).file_name(size);
                forget_partial(db, provider, database, &partial).await;
                sent_partials.remove(&partial);
            }
            tokio::fs::remove_file(&file.path).await.map_err(|e| format!("removing {name} from the spool: {e}"))?;
        }
        shipped.files += 1;
    }
    Ok(shipped)
}

/// Ships one file; false when it was a `.partial` that is gone (see [`snapshot_partial`]).
#[allow(clippy::too_many_arguments)]
async fn ship_one(
    db: &Db,
    provider: &dyn Provider,
    database: &DatabaseRow,
    key: Option<&ArtifactKey>,
    file: &SpoolFile,
    name: &str,
    received_at: NaiveDateTime,
) -> Result<bool, String> {
    // The open segment keeps growing: ship a snapshot of it, so the checksum is of what was sent.
    let snapshot = match file.file {
        WalFile::Partial(_) => match snapshot_partial(&file.path, name).await? {
            Some(copy) => Some(copy),
            None => return Ok(false),
        },
        _ => None,
    };
    let path = snapshot.clone().unwrap_or_else(|| file.path.clone());
    let result = ship_file(db, provider, database, key, file, &path, name, received_at).await;
    if let Some(copy) = snapshot {
        let _ = tokio::fs::remove_file(copy).await;
    }
    result.map(|()| true)
}

/// A copy of the open segment beside it; None when it is gone: pg_receivewal completed the
/// segment (renamed it without `.partial`) after the spool was listed, and the next pass ships
/// the completed segment (under steady writes this happens every few segments). None too while
/// nothing was received into it: the spool's starting point (all zeros) is no WAL, and shipping
/// it would replace a `.partial` the archive holds with nothing.
async fn snapshot_partial(partial: &Path, name: &str) -> Result<Option<PathBuf>, String> {
    let copy = partial.with_file_name(format!("{SNAPSHOT_PREFIX}{name}"));
    match tokio::fs::copy(partial, &copy).await {
        Ok(_) if holds_wal(&copy).await.map_err(|e| format!("reading {name}: {e}"))? => Ok(Some(copy)),
        Ok(_) => {
            let _ = tokio::fs::remove_file(&copy).await;
            Ok(None)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !partial.exists() => Ok(None),
        Err(e) => Err(format!("copying {name}: {e}")),
    }
}

/// Whether a segment file begins with a WAL page: every page header starts with a non-zero magic.
async fn holds_wal(path: &Path) -> std::io::Result<bool> {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 8];
    let mut file = tokio::fs::File::open(path).await?;
    let read = file.read(&mut head).await?;
    Ok(head[..read].iter().any(|b| *b != 0))
}

#[allow(clippy::too_many_arguments)]
async fn ship_file(
    db: &Db,
    provider: &dyn Provider,
    database: &DatabaseRow,
    key: Option<&ArtifactKey>,
    file: &SpoolFile,
    path: &Path,
    name: &str,
    received_at: NaiveDateTime,
) -> Result<(), String> {
    let sha256 = file_sha256(path).await.map_err(|e| format!("reading {name}: {e}"))?;
    let bytes = tokio::fs::metadata(path).await.map_err(|e| format!("reading {name}: {e}"))?.len();
    let (id, wanted) = (database.id.clone(), name.to_owned());
    let recorded = db.run(move |c| archive::wal_file(c, &id, &wanted)).await.map_err(|e| e.to_string())?;
    let partial = matches!(file.file, WalFile::Partial(_));
    match recorded {
        Some(row) if row.sha256 == sha256 => return Ok(()),
        Some(row) if !partial => {
            return Err(format!(
                "{name} is already in the archive with other bytes (SHA-256 {} there, {sha256} here); it was not \
                 overwritten. The source may have been restored or replaced: check it, and add it as a new database \
                 if it is another cluster",
                &row.sha256[..12.min(row.sha256.len())]
            ));
        }
        _ => {}
    }
    let object_key = object_key(database, name, key.is_some());
    let body = read_file(path).await.map_err(|e| format!("reading {name}: {e}"))?;
    let body = compression::compress(body);
    let body = match key {
        Some(k) => encryption::encrypt(body, k),
        None => body,
    };
    let stored = crate::artifacts::SourceRead::default();
    let body = crate::artifacts::counted(body, stored.clone());
    let written = provider.put(&object_key, body).await.map_err(|e| format!("uploading {name}: {e}"))?;
    let passed = stored.load(std::sync::atomic::Ordering::Relaxed);
    if written != passed {
        let _ = provider.delete(&object_key).await;
        return Err(format!("uploading {name}: the destination stored {written} of {passed} bytes"));
    }
    let (timeline, segno, kind) = match file.file {
        WalFile::Segment(s) => (s.timeline, s.number, SEGMENT),
        WalFile::Partial(s) => (s.timeline, s.number, PARTIAL),
        WalFile::History(t) => (t, 0, HISTORY),
    };
    let row = WalFileRow {
        database_id: database.id.clone(),
        name: name.to_owned(),
        kind: kind.to_owned(),
        timeline: i32::try_from(timeline).unwrap_or(i32::MAX),
        segno: i64::try_from(segno).unwrap_or(i64::MAX),
        size: i64::try_from(bytes).unwrap_or(i64::MAX),
        stored_size: i64::try_from(written).unwrap_or(i64::MAX),
        sha256,
        object_key,
        received_at,
        uploaded_at: Utc::now().naive_utc(),
    };
    db.run(move |c| archive::record_wal(c, &row)).await.map_err(|e| format!("recording {name}: {e}"))
}

/// The segment is complete in the archive: its `.partial` upload goes.
async fn forget_partial(db: &Db, provider: &dyn Provider, database: &DatabaseRow, partial: &str) {
    let (id, name) = (database.id.clone(), partial.to_owned());
    let Ok(Some(row)) = db.run(move |c| archive::wal_file(c, &id, &name)).await else { return };
    if provider.delete(&row.object_key).await.is_ok() {
        let (id, name) = (database.id.clone(), partial.to_owned());
        let _ = db.run(move |c| archive::forget_wal(c, &id, &name)).await;
    }
}

/// `<prefix>/wal/<name>.zst`, `.zst.dpbe` when encrypted.
pub fn object_key(database: &DatabaseRow, name: &str, encrypted: bool) -> String {
    let suffix = if encrypted { ".zst.dpbe" } else { ".zst" };
    format!("{}/wal/{name}{suffix}", database.archive_prefix)
}

/// The WAL file name an object key of this database's archive holds, if it is one.
pub fn name_of_key<'a>(database: &DatabaseRow, key: &'a str) -> Option<&'a str> {
    let rest = key.strip_prefix(&database.archive_prefix)?.strip_prefix("/wal/")?;
    rest.strip_suffix(".zst.dpbe").or_else(|| rest.strip_suffix(".zst"))
}

async fn read_file(path: &Path) -> std::io::Result<ByteStream> {
    let file = tokio::fs::File::open(path).await?;
    Ok(tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).boxed())
}

async fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut stream = read_file(path).await?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.next().await {
        hasher.update(&chunk?);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::snapshot_partial;

    #[tokio::test]
    async fn a_partial_completed_meanwhile_is_left_to_the_next_pass() {
        let spool = tempfile::tempdir().expect("spool");
        let name = "000000010000000000000075.partial";
        let gone = snapshot_partial(&spool.path().join(name), name).await;
        assert_eq!(gone, Ok(None), "renamed to its segment's name before the copy");

        std::fs::write(spool.path().join(name), b"open segment").expect("write");
        let copy = snapshot_partial(&spool.path().join(name), name).await.expect("copied").expect("a copy");
        assert_eq!(std::fs::read(&copy).expect("read"), b"open segment");
    }

    #[tokio::test]
    async fn a_partial_nothing_was_received_into_is_not_shipped() {
        let spool = tempfile::tempdir().expect("spool");
        let name = "000000010000000000000075.partial";
        std::fs::write(spool.path().join(name), vec![0u8; 8192]).expect("write");
        assert_eq!(snapshot_partial(&spool.path().join(name), name).await, Ok(None));
        assert_eq!(std::fs::read_dir(spool.path()).expect("list").count(), 1, "no copy left behind");
    }

    #[tokio::test]
    async fn other_copy_errors_stop_the_pass() {
        let spool = tempfile::tempdir().expect("spool");
        let name = "000000010000000000000075.partial";
        let partial = spool.path().join(name);
        std::fs::write(&partial, b"open segment").expect("write");
        // The copy's place is taken by a folder: the copy fails although the partial is there.
        std::fs::create_dir(spool.path().join(format!(".shipping-{name}"))).expect("dir");
        let error = snapshot_partial(&partial, name).await.expect_err("not a vanished partial");
        assert!(error.starts_with("copying 000000010000000000000075.partial"), "{error}");
    }
}
