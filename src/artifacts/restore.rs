//! Reading artifacts back: checksum verification, then restore into a chosen target.
//!
//! The runs engine calls [`verify`] on a first read of the stored artifact, and only when it
//! matches opens a second read for one of the restore entry points (after [`super::encryption::decrypt`]
//! when the plan encrypts). Nothing is written before the checksum is known to be right.

use super::ByteStream;
use super::checksum::Digesting;
use super::postgres::{Checked, PostgresError, tools};
use super::sqlite::{self, SqliteError};
use futures::StreamExt;
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("checksum mismatch: expected SHA-256 {expected}, the artifact has {actual}")]
    ChecksumMismatch { expected: String, actual: String },
    #[error("reading the artifact failed: {0}")]
    Read(std::io::Error),
    #[error("{0}")]
    Target(String),
    #[error("the archive is unsafe or damaged: {0}")]
    Archive(String),
    #[error(transparent)]
    Postgres(#[from] PostgresError),
    #[error(transparent)]
    Sqlite(#[from] SqliteError),
}

/// Reads the whole artifact once, writing nothing, and checks its SHA-256.
pub async fn verify(stream: ByteStream, expected_sha256: &str) -> Result<(), RestoreError> {
    let (mut stream, digest) = Digesting::new(stream);
    while let Some(chunk) = stream.next().await {
        chunk.map_err(RestoreError::Read)?;
    }
    let (actual, _) = digest.finish();
    if actual.eq_ignore_ascii_case(expected_sha256.trim()) {
        Ok(())
    } else {
        Err(RestoreError::ChecksumMismatch { expected: expected_sha256.trim().to_string(), actual })
    }
}

/// Restores a PostgreSQL artifact into a checked database; `replace` drops the backed-up
/// objects first (an existing database whose name was confirmed).
pub async fn into_postgres(stream: ByteStream, target: &Checked, replace: bool) -> Result<(), RestoreError> {
    Ok(tools::restore(target, stream, replace).await?)
}

/// Restores a SQLite artifact to `target`, a file that must not exist yet.
pub async fn into_sqlite_file(stream: ByteStream, target: &Path) -> Result<(), RestoreError> {
    Ok(sqlite::restore(stream, target).await?)
}

/// Unpacks a directory artifact (tar + zstd) into `target`, which must be an empty folder (it is
/// created when missing). Entries that would land outside it are refused; on any failure the
/// folder is emptied again.
pub async fn into_directory(stream: ByteStream, target: &Path) -> Result<(), RestoreError> {
    let target = prepare_empty_folder(target).await?;
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let folder = target.clone();
    let unpacked = tokio::task::spawn_blocking(move || unpack(reader, &folder))
        .await
        .map_err(|e| RestoreError::Target(format!("the restore stopped: {e}")))?;
    if unpacked.is_err() {
        empty_folder(&target).await;
    }
    unpacked
}

async fn prepare_empty_folder(target: &Path) -> Result<PathBuf, RestoreError> {
    let shown = target.display();
    match tokio::fs::metadata(target).await {
        Ok(metadata) if !metadata.is_dir() => Err(RestoreError::Target(format!("{shown} is not a folder"))),
        Ok(_) => {
            let mut entries =
                tokio::fs::read_dir(target).await.map_err(|e| RestoreError::Target(format!("{shown}: {e}")))?;
            match entries.next_entry().await {
                Ok(None) => Ok(target.to_path_buf()),
                Ok(Some(_)) => Err(RestoreError::Target(format!("{shown} is not empty; restore into an empty folder"))),
                Err(e) => Err(RestoreError::Target(format!("{shown}: {e}"))),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tokio::fs::create_dir(target)
                .await
                .map_err(|e| RestoreError::Target(format!("cannot create {shown}: {e}")))?;
            Ok(target.to_path_buf())
        }
        Err(e) => Err(RestoreError::Target(format!("{shown}: {e}"))),
    }
}

async fn empty_folder(folder: &Path) {
    let Ok(mut entries) = tokio::fs::read_dir(folder).await else { return };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        let is_dir = entry.file_type().await.is_ok_and(|t| t.is_dir());
        let _ = if is_dir { tokio::fs::remove_dir_all(&path).await } else { tokio::fs::remove_file(&path).await };
    }
}

fn unpack(reader: impl std::io::Read, target: &Path) -> Result<(), RestoreError> {
    let archive_error = |e: std::io::Error| RestoreError::Archive(e.to_string());
    let decoder = zstd::Decoder::new(reader).map_err(archive_error)?;
    let mut archive = tar::Archive::new(decoder);
    archive.set_preserve_ownerships(false);
    // Symlinks already unpacked: nothing may be written through them.
    let mut symlinks: HashSet<PathBuf> = HashSet::new();
    for entry in archive.entries().map_err(archive_error)? {
        let mut entry = entry.map_err(archive_error)?;
        let path = entry.path().map_err(archive_error)?.into_owned();
        let kind = entry.header().entry_type();
        let link = entry.link_name().map_err(archive_error)?.map(|l| l.into_owned());
        check_entry(&path, kind, link.as_deref(), &symlinks).map_err(RestoreError::Archive)?;
        if kind.is_pax_global_extensions() {
            continue;
        }
        if !entry.unpack_in(target).map_err(archive_error)? {
            return Err(RestoreError::Archive(format!("{} would land outside the folder", path.display())));
        }
        if kind.is_symlink() {
            symlinks.insert(normalized(&path));
        }
    }
    Ok(())
}

fn normalized(path: &Path) -> PathBuf {
    path.components().filter(|c| matches!(c, Component::Normal(_))).collect()
}

/// Refuses an entry that could write outside the restore folder.
fn check_entry(
    path: &Path,
    kind: tar::EntryType,
    link: Option<&Path>,
    symlinks: &HashSet<PathBuf>,
) -> Result<(), String> {
    let shown = path.display();
    if kind.is_pax_global_extensions() {
        return Ok(());
    }
    if !(kind.is_file() || kind.is_dir() || kind.is_symlink() || kind.is_hard_link() || kind.is_contiguous()) {
        return Err(format!("{shown}: entries of type {kind:?} are not restored"));
    }
    if path.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(format!("{shown}: absolute paths and .. are not allowed"));
    }
    let inside = normalized(path);
    if inside.ancestors().skip(1).any(|ancestor| symlinks.contains(ancestor)) {
        return Err(format!("{shown}: writes through a symlink in the archive"));
    }
    if kind.is_hard_link() || kind.is_symlink() {
        let link = link.ok_or_else(|| format!("{shown}: a link without a target"))?;
        // Symlinks resolve from the entry's folder, hard links from the archive's root.
        let start = if kind.is_symlink() { inside.parent().map_or(0, |p| p.components().count()) } else { 0 };
        if !stays_inside(start, link) {
            return Err(format!("{shown}: link to {} points outside the folder", link.display()));
        }
    }
    Ok(())
}

/// Whether following `link` from a folder `depth` levels below the root stays below the root.
fn stays_inside(mut depth: usize, link: &Path) -> bool {
    for component in link.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => depth -= 1,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use tar::EntryType;

    fn check(path: &str, kind: EntryType, link: Option<&str>) -> Result<(), String> {
        check_entry(Path::new(path), kind, link.map(Path::new), &HashSet::new())
    }

    #[test]
    fn entries_inside_the_folder_pass() {
        assert!(check("a/b.txt", EntryType::Regular, None).is_ok());
        assert!(check("./a/", EntryType::Directory, None).is_ok());
        assert!(check("a/link", EntryType::Symlink, Some("../b.txt")).is_ok());
        assert!(check("a/b/link", EntryType::Symlink, Some("../../c")).is_ok());
        assert!(check("a/hard", EntryType::Link, Some("a/b.txt")).is_ok());
    }

    #[test]
    fn escaping_entries_are_refused() {
        assert!(check("/etc/passwd", EntryType::Regular, None).is_err());
        assert!(check("../x", EntryType::Regular, None).is_err());
        assert!(check("a/../../x", EntryType::Regular, None).is_err());
        assert!(check("link", EntryType::Symlink, Some("/etc")).is_err());
        assert!(check("link", EntryType::Symlink, Some("..")).is_err());
        assert!(check("a/link", EntryType::Symlink, Some("b/../../..")).is_err());
        assert!(check("hard", EntryType::Link, Some("../outside")).is_err());
        assert!(check("dev", EntryType::Char, None).is_err());
        let symlinks = HashSet::from([PathBuf::from("a")]);
        assert!(check_entry(Path::new("a/b"), EntryType::Regular, None, &symlinks).is_err());
    }

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
