//! Reading artifacts back: one download, checked against the recorded SHA-256 as it arrives, then a
//! restore from what was checked into a chosen target.
//!
//! The runs engine reads the artifact once. A folder streams straight into a staging folder beside
//! its target (decrypted with [`super::encryption::decrypt`] when the plan encrypts), renamed into
//! place only once complete and once the whole artifact's SHA-256 matched (a [`Gate`]): nothing
//! unverified is ever visible at the target, and download, decryption and unpacking overlap.
//! An encrypted artifact restored into a new database streams in the same way (the restoring tool
//! reads what decrypted, authenticated segment by segment, as the download arrives), and the
//! database is dropped again should the checksum not match. A plain database artifact, and what
//! is written in place — an existing database, a SQLite file, a volume, a bucket — is first
//! downloaded with [`download_verified`] into a private file and restored from that file only, so
//! a restoring tool never reads bytes a destination made up, and a destination that answers
//! differently the second time gets no say; a SQLite file goes into a temporary file renamed into
//! place.
//! Folders and files are reached without following a link.

use super::checksum::{DigestHandle, Digesting};
use super::postgres::{Checked, PostgresError, tools};
use super::sqlite::SqliteError;
use super::{ByteStream, FirstError};
use crate::hostfs::beneath::{self, FOLDER};
use crate::hostfs::{DevpilotFiles, Place};
use crate::providers::file_writer::{self, Durability};
use futures::{StreamExt, TryStreamExt};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, fchmod, mkdirat, openat, renameat_with, statat};
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("checksum mismatch: expected SHA-256 {expected}, the artifact has {actual}")]
    ChecksumMismatch { expected: String, actual: String },
    #[error("reading the artifact failed: {0}")]
    Read(std::io::Error),
    #[error("{0}")]
    Target(String),
    #[error("the archive is unsafe or damaged: {0}")]
    Archive(#[from] super::unpack::UnsafeArchive),
    #[error(transparent)]
    Postgres(#[from] PostgresError),
    #[error(transparent)]
    Sqlite(#[from] SqliteError),
    #[error(transparent)]
    Mariadb(#[from] super::mariadb::MariaDbError),
}

/// Reads the whole artifact once, writing nothing, and checks its SHA-256.
pub async fn verify(stream: ByteStream, expected_sha256: &str) -> Result<(), RestoreError> {
    let (mut stream, digest) = Digesting::new(stream);
    while let Some(chunk) = stream.next().await {
        chunk.map_err(RestoreError::Read)?;
    }
    checksum_gate(digest, expected_sha256)()
}

/// Writes the artifact into `into` (a private file) as it arrives, and checks its SHA-256 at the
/// end: only a download that matches is ever read again.
pub async fn download_verified(
    stream: ByteStream,
    into: std::fs::File,
    expected_sha256: &str,
) -> Result<(), RestoreError> {
    let (stream, digest) = Digesting::new(stream);
    file_writer::write(into, stream, Durability::Unsynced).await.map_err(RestoreError::Read)?;
    checksum_gate(digest, expected_sha256)()
}

/// A check run once an artifact was read to its end and before what was restored from it is put
/// in place: whether its SHA-256 is the recorded one.
pub type Gate = Box<dyn FnOnce() -> Result<(), RestoreError> + Send>;

/// The gate of an artifact already checked whole (a verified private copy, an entry of one).
pub fn open_gate() -> Gate {
    Box::new(|| Ok(()))
}

/// The gate of an artifact read through `digest`: its SHA-256 against `expected` (any case).
pub fn checksum_gate(digest: DigestHandle, expected: &str) -> Gate {
    let expected = expected.trim().to_owned();
    Box::new(move || {
        let (actual, _) = digest.finish();
        if actual.eq_ignore_ascii_case(&expected) {
            Ok(())
        } else {
            Err(RestoreError::ChecksumMismatch { expected, actual })
        }
    })
}

/// Restores a PostgreSQL artifact into a checked database; `replace` drops the backed-up
/// objects first (an existing database whose name was confirmed). `gate` is passed once
/// `pg_restore` took the whole artifact (see [`through_tool`]).
pub async fn into_postgres(
    stream: ByteStream,
    target: &Checked,
    replace: bool,
    gate: Gate,
) -> Result<(), RestoreError> {
    through_tool(stream, gate, |stream| async move { Ok(tools::restore(target, stream, replace).await?) }).await
}

/// Feeds `stream` to a restoring tool (`restore`), then passes `gate`. What the tool left unread
/// is read too, so that the gate judges every byte: bytes after a dump's end, which a tool that
/// succeeded did not need, and the rest of an artifact whose damaged bytes made the tool fail —
/// a failed checksum is then the answer, whatever the tool said (another copy may be whole). So is
/// a stream that broke off (a download cut, bytes that do not decrypt).
pub async fn through_tool<F, Restored>(stream: ByteStream, gate: Gate, restore: F) -> Result<(), RestoreError>
where
    F: FnOnce(ByteStream) -> Restored,
    Restored: std::future::Future<Output = Result<(), RestoreError>>,
{
    let broke = FirstError::default();
    let shared = Arc::new(tokio::sync::Mutex::new(broke.noting(stream).fuse()));
    let fed = futures::stream::unfold(shared.clone(), |shared| async move {
        let next = shared.lock().await.next().await;
        next.map(|chunk| (chunk, shared))
    });
    let restored = restore(fed.boxed()).await;
    let mut rest = shared.lock().await;
    while let Some(chunk) = rest.next().await {
        if chunk.is_err() {
            break;
        }
    }
    if let Some(e) = broke.take() {
        return Err(RestoreError::Read(e));
    }
    gate()?;
    restored
}

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Restores a SQLite artifact as the new file `place`: written under a temporary name beside it,
/// checked to be SQLite, and renamed into place only if nothing has taken the name meanwhile.
pub async fn into_sqlite_file(
    mut stream: ByteStream,
    place: &Place,
    devpilot: Arc<DevpilotFiles>,
) -> Result<(), RestoreError> {
    let shown = place.path().display().to_string();
    let target = place.clone();
    let (folder, temp, file) = blocking(move || {
        let folder = open_folder(&target, &devpilot)?;
        if statat(&folder, target.name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW).is_ok() {
            let shown = target.path().display().to_string();
            return Err(
                SqliteError::Invalid(format!("{shown} already exists; choose a new file to restore into")).into()
            );
        }
        let temp = temporary_name();
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd =
            openat(&folder, temp.as_str(), flags, Mode::from_raw_mode(0o666)).map_err(|e| target_error(&target, e))?;
        Ok((folder, temp, std::fs::File::from(fd)))
    })
    .await?;
    let written: Result<(), RestoreError> = async {
        let io = |e: std::io::Error| SqliteError::Failed(format!("writing {shown} failed: {e}"));
        let mut file = tokio::fs::File::from_std(file);
        let mut header = Vec::with_capacity(SQLITE_HEADER.len());
        while let Some(chunk) = stream.try_next().await.map_err(io)? {
            let room = SQLITE_HEADER.len() - header.len();
            header.extend_from_slice(&chunk[..room.min(chunk.len())]);
            file.write_all(&chunk).await.map_err(io)?;
        }
        if header != SQLITE_HEADER {
            return Err(SqliteError::Invalid(format!(
                "the backup is not a SQLite database; nothing was written to {shown}"
            ))
            .into());
        }
        file.sync_all().await.map_err(io)?;
        let name = place.name.clone();
        renameat_with(&folder, temp.as_str(), &folder, name.as_os_str(), RenameFlags::NOREPLACE).map_err(
            |e| match e {
                rustix::io::Errno::EXIST => {
                    SqliteError::Invalid(format!("{shown} already exists; choose a new file to restore into"))
                }
                e => SqliteError::Failed(format!("cannot create {shown}: {e}")),
            },
        )?;
        Ok(())
    }
    .await;
    if written.is_err() {
        let _ = rustix::fs::unlinkat(&folder, temp.as_str(), AtFlags::empty());
    }
    written
}

/// Unpacks a directory artifact (tar + zstd) as the folder `place`, which must not exist or be an
/// empty folder: into a staging folder beside it, renamed into place once complete and once
/// `gate` passed (the stream is read to its very end first). On any failure the staging folder
/// goes and the target is as it was: an artifact may stream in unverified.
pub async fn into_directory(
    stream: ByteStream,
    place: &Place,
    devpilot: Arc<DevpilotFiles>,
    gate: Gate,
) -> Result<(), RestoreError> {
    into_directory_as(stream, place, devpilot, true, gate).await
}

/// As [`into_directory`], from a plain (uncompressed) tar: what a single-file restore hands on.
pub async fn into_directory_from_tar(
    stream: ByteStream,
    place: &Place,
    devpilot: Arc<DevpilotFiles>,
) -> Result<(), RestoreError> {
    into_directory_as(stream, place, devpilot, false, open_gate()).await
}

async fn into_directory_as(
    stream: ByteStream,
    place: &Place,
    devpilot: Arc<DevpilotFiles>,
    compressed: bool,
    gate: Gate,
) -> Result<(), RestoreError> {
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let place = place.clone();
    blocking(move || {
        let folder = open_folder(&place, &devpilot)?;
        let replaces = empty_folder_or_nothing(&folder, &place)?;
        let staging = temporary_name();
        mkdirat(&folder, staging.as_str(), Mode::from_raw_mode(0o700)).map_err(|e| target_error(&place, e))?;
        let done = unpack_and_rename(reader, &folder, &staging, &place, replaces, compressed, gate);
        if done.is_err() {
            let _ = beneath::remove_tree(folder.as_fd(), OsStr::new(&staging));
        }
        done
    })
    .await
}

fn unpack_and_rename(
    mut reader: impl std::io::Read,
    folder: &OwnedFd,
    staging: &str,
    place: &Place,
    replaces: bool,
    compressed: bool,
    gate: Gate,
) -> Result<(), RestoreError> {
    let fd = openat(folder, staging, FOLDER, Mode::empty()).map_err(|e| target_error(place, e))?;
    let unpacked = match compressed {
        true => super::unpack::unpack(&mut reader, &fd)?,
        false => super::unpack::unpack_tar(&mut reader, &fd, None)?,
    };
    // What follows the archive's end (tar's padding, or bytes appended to a damaged artifact) is
    // read too: the gate judges the whole artifact.
    std::io::copy(&mut reader, &mut std::io::sink()).map_err(RestoreError::Read)?;
    gate()?;
    let mode = unpacked.unwrap_or(0o755);
    fchmod(&fd, Mode::from_raw_mode(mode | 0o700)).map_err(|e| target_error(place, e))?;
    let flags = if replaces { RenameFlags::empty() } else { RenameFlags::NOREPLACE };
    renameat_with(folder, staging, folder, place.name.as_os_str(), flags).map_err(|e| match e {
        rustix::io::Errno::EXIST | rustix::io::Errno::NOTEMPTY => RestoreError::Target(format!(
            "{} is not empty (something was written there meanwhile); restore into an empty folder",
            place.path().display()
        )),
        e => target_error(place, e),
    })
}

/// Whether the target is an empty folder (to replace) rather than nothing; anything else refused.
fn empty_folder_or_nothing(folder: &OwnedFd, place: &Place) -> Result<bool, RestoreError> {
    let shown = place.path().display().to_string();
    let stat = match statat(folder, place.name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
        Err(rustix::io::Errno::NOENT) => return Ok(false),
        Err(e) => return Err(target_error(place, e)),
        Ok(stat) => stat,
    };
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::Directory => {
            let inner =
                openat(folder, place.name.as_os_str(), FOLDER, Mode::empty()).map_err(|e| target_error(place, e))?;
            match beneath::names_in(inner.as_fd()) {
                Ok(names) if names.is_empty() => Ok(true),
                Ok(_) => Err(RestoreError::Target(format!("{shown} is not empty; restore into an empty folder"))),
                Err(e) => Err(RestoreError::Target(format!("{shown}: {e}"))),
            }
        }
        FileType::Symlink => Err(RestoreError::Target(beneath::symlink_refused(&place.name).to_string())),
        _ => Err(RestoreError::Target(format!("{shown} is not a folder"))),
    }
}

/// The folder a restore writes in, opened from `/` without following a link.
pub(super) fn open_folder(place: &Place, devpilot: &DevpilotFiles) -> Result<OwnedFd, RestoreError> {
    let opened = beneath::open_folder(&place.folder.root)
        .and_then(|root| beneath::open_folder_below(root.as_fd(), &place.folder.relative, devpilot));
    opened.map_err(|e| {
        RestoreError::Target(format!("{}: {}", place.folder.path().display(), crate::hostfs::describe(&e)))
    })
}

pub(super) fn temporary_name() -> String {
    format!(".devpilot-restore-{}", uuid::Uuid::new_v4())
}

pub(super) fn target_error(place: &Place, e: rustix::io::Errno) -> RestoreError {
    RestoreError::Target(format!("cannot write {}: {}", place.path().display(), crate::hostfs::describe(&e.into())))
}

pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RestoreError> + Send + 'static,
) -> Result<T, RestoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| RestoreError::Target(format!("the restore stopped: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verify_compares_case_insensitively_and_reports_both_sums() {
        use sha2::{Digest, Sha256};
        let body = || futures::stream::iter(vec![Ok(bytes::Bytes::from_static(b"artifact"))]).boxed();
        let good = hex::encode(Sha256::digest(b"artifact"));
        verify(body(), &good.to_uppercase()).await.expect("matching checksum");
        let error = verify(body(), &"0".repeat(64)).await.expect_err("mismatch").to_string();
        assert!(error.contains(&good) && error.contains(&"0".repeat(64)), "{error}");
    }
}
