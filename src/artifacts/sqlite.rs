//! A SQLite database file as an artifact: a consistent snapshot made with `VACUUM INTO`.
//!
//! `VACUUM INTO` reads the database inside one read transaction, so writers on other
//! connections never leave a half-applied change in the snapshot (the online backup API would
//! need `unsafe` FFI here). The snapshot goes to a private temporary folder and is removed as
//! soon as the stream ends or is dropped. The database is reached as every host path is: without
//! following a link, and never Devpilot's own.

use super::ByteStream;
use crate::hostfs::{DevpilotFiles, FileId, Located, beneath};
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use futures::StreamExt;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqliteError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Failed(String),
}

/// Opens the database at `located` for a snapshot. The file is first opened without following a
/// link from `/` and checked: a regular file, none of Devpilot's own (by device and inode, before
/// anything of it is opened), with SQLite's header. SQLite then opens it by its resolved path
/// (SQLite takes paths, not descriptors) and the path is checked again to name that same file.
fn open_checked(located: &Located, devpilot: &DevpilotFiles) -> Result<SqliteConnection, SqliteError> {
    let path = located.path();
    let shown = path.display();
    let (folder, name) = match (located.relative.parent(), located.relative.file_name()) {
        (Some(folder), Some(name)) => (folder, name),
        _ => return Err(SqliteError::Invalid(format!("{shown} is not a file"))),
    };
    let unreadable =
        |e: std::io::Error| SqliteError::Invalid(format!("{shown} cannot be read: {}", crate::hostfs::describe(&e)));
    let parent = beneath::open_folder(&located.root)
        .and_then(|root| beneath::open_folder_below(root.as_fd(), folder, devpilot))
        .map_err(unreadable)?;
    let mut file = beneath::open_file_in(parent.as_fd(), name, devpilot).map_err(unreadable)?;
    let checked = FileId::of(&rustix::fs::fstat(&file).map_err(|e| unreadable(e.into()))?);
    let mut header = [0u8; 16];
    if file.read_exact(&mut header).is_err() || &header != b"SQLite format 3\0" {
        return Err(SqliteError::Invalid(format!("{shown} is not a SQLite database")));
    }
    let location = path.to_str().ok_or_else(|| SqliteError::Invalid(format!("{shown} is not a UTF-8 path")))?;
    // Never create a database where the user named a file that should exist.
    let location = location.replace('%', "%25").replace('?', "%3f").replace('#', "%23");
    let mut connection = SqliteConnection::establish(&format!("file:{location}?mode=rw"))
        .map_err(|e| SqliteError::Invalid(format!("{shown} cannot be opened as a SQLite database: {e}")))?;
    let reopened = beneath::open_file_in(parent.as_fd(), name, devpilot).map_err(unreadable)?;
    if FileId::of(&rustix::fs::fstat(&reopened).map_err(|e| unreadable(e.into()))?) != checked {
        return Err(SqliteError::Invalid(format!("{shown} changed while it was opened")));
    }
    diesel::sql_query("PRAGMA busy_timeout = 10000").execute(&mut connection).map_err(|e| failed(&path, e))?;
    diesel::sql_query("SELECT count(*) FROM sqlite_master").execute(&mut connection).map_err(|e| {
        if e.to_string().contains("not a database") {
            SqliteError::Invalid(format!("{shown} is not a SQLite database (file is not a database)"))
        } else {
            failed(&path, e)
        }
    })?;
    Ok(connection)
}

/// The database file's size now, reached as a snapshot reaches it (no link followed, never one of
/// Devpilot's own files): what a snapshot reads, about (`VACUUM INTO` leaves out free pages).
pub fn file_size(located: &Located, devpilot: &DevpilotFiles) -> std::io::Result<u64> {
    let (Some(folder), Some(name)) = (located.relative.parent(), located.relative.file_name()) else {
        return Err(std::io::Error::other("not a file"));
    };
    let parent = beneath::open_folder(&located.root)
        .and_then(|root| beneath::open_folder_below(root.as_fd(), folder, devpilot))?;
    let file = beneath::open_file_in(parent.as_fd(), name, devpilot)?;
    Ok(u64::try_from(rustix::fs::fstat(&file)?.st_size).unwrap_or(0))
}

fn failed(path: &Path, error: impl std::fmt::Display) -> SqliteError {
    SqliteError::Failed(format!("{}: {error}", path.display()))
}

/// Removes the private snapshot folder when dropped.
struct SnapshotDir(PathBuf);

impl SnapshotDir {
    fn create() -> std::io::Result<SnapshotDir> {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!("devpilot-sqlite-{}", uuid::Uuid::new_v4()));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(SnapshotDir(path))
    }
}

impl Drop for SnapshotDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Streams a consistent snapshot of the database at `located` (see [`open_checked`]).
pub async fn snapshot(located: &Located, devpilot: Arc<DevpilotFiles>) -> Result<ByteStream, SqliteError> {
    let (located, source) = (located.clone(), located.path());
    let (dir, file) = tokio::task::spawn_blocking(move || -> Result<(SnapshotDir, PathBuf), SqliteError> {
        let mut connection = open_checked(&located, &devpilot)?;
        let dir =
            SnapshotDir::create().map_err(|e| SqliteError::Failed(format!("cannot make a temporary folder: {e}")))?;
        let file = dir.0.join("snapshot.sqlite");
        let target = file.to_str().ok_or_else(|| SqliteError::Failed("temporary path is not UTF-8".into()))?;
        diesel::sql_query(format!("VACUUM INTO '{}'", target.replace('\'', "''")))
            .execute(&mut connection)
            .map_err(|e| failed(&source, format!("snapshot failed: {e}")))?;
        Ok((dir, file))
    })
    .await
    .map_err(|e| SqliteError::Failed(format!("the snapshot stopped: {e}")))??;
    let reader =
        tokio::fs::File::open(&file).await.map_err(|e| SqliteError::Failed(format!("snapshot unreadable: {e}")))?;
    let chunks = tokio_util::io::ReaderStream::with_capacity(reader, 64 * 1024);
    // The folder lives in the stream's state and goes when the stream ends or is dropped.
    let stream = futures::stream::unfold((chunks, Some(dir)), |(mut chunks, mut dir)| async move {
        let _ = dir.as_ref()?;
        match chunks.next().await {
            Some(item) => Some((item, (chunks, dir))),
            None => {
                dir.take();
                None
            }
        }
    });
    Ok(stream.boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(path: &Path) -> Located {
        let path = std::fs::canonicalize(path).expect("resolved");
        let parent = path.parent().expect("folder").to_path_buf();
        Located { relative: PathBuf::from(path.file_name().expect("name")), root: parent }
    }

    #[tokio::test]
    async fn devpilots_own_database_and_links_are_refused_before_sqlite_opens_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("devpilot.db");
        let mut connection = SqliteConnection::establish(db.to_str().expect("utf-8")).expect("open");
        diesel::sql_query("CREATE TABLE t (v)").execute(&mut connection).expect("create");
        let files =
            DevpilotFiles::new(&dir.path().join("data"), &dir.path().join("b"), &dir.path().join("k"), Some(&db));
        let refused = snapshot(&located(&db), Arc::new(files)).await.err().expect("Devpilot's database").to_string();
        assert!(refused.contains("Devpilot's database"), "{refused}");
        std::os::unix::fs::symlink(&db, dir.path().join("alias.db")).expect("symlink");
        let alias = Located { root: std::fs::canonicalize(dir.path()).expect("resolved"), relative: "alias.db".into() };
        let refused = snapshot(&alias, Arc::default()).await.err().expect("a link").to_string();
        assert!(refused.contains("symbolic link"), "{refused}");
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, vec![b'x'; 4096]).expect("write");
        let refused = snapshot(&located(&text), Arc::default()).await.err().expect("not sqlite").to_string();
        assert!(refused.contains("is not a SQLite database"), "{refused}");
    }

    #[tokio::test]
    async fn snapshot_folder_is_removed_when_the_stream_is_dropped_early() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("app.db");
        let mut connection = SqliteConnection::establish(db.to_str().expect("utf-8")).expect("open");
        diesel::sql_query("CREATE TABLE t (v BLOB)").execute(&mut connection).expect("create");
        diesel::sql_query("INSERT INTO t VALUES (randomblob(500000))").execute(&mut connection).expect("insert");
        let before = snapshot_dirs();
        let mut stream = snapshot(&located(&db), Arc::default()).await.expect("snapshot");
        let ours: Vec<PathBuf> = snapshot_dirs().into_iter().filter(|d| !before.contains(d)).collect();
        assert_eq!(ours.len(), 1, "one private snapshot folder");
        stream.next().await.expect("a chunk").expect("ok");
        drop(stream);
        assert!(!ours[0].exists(), "the snapshot folder outlived its stream");
    }

    fn snapshot_dirs() -> Vec<PathBuf> {
        let dirs: Vec<PathBuf> = std::fs::read_dir(std::env::temp_dir())
            .expect("temp dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("devpilot-sqlite-")))
            .collect();
        dirs
    }
}
