//! A SQLite database file as an artifact: a consistent snapshot made with `VACUUM INTO`.
//!
//! `VACUUM INTO` reads the database inside one read transaction, so writers on other
//! connections never leave a half-applied change in the snapshot (the online backup API would
//! need `unsafe` FFI here). The snapshot goes to a private temporary folder and is removed as
//! soon as the stream ends or is dropped.

use super::ByteStream;
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use futures::{StreamExt, TryStreamExt};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqliteError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Failed(String),
}

/// Checks that `path` is an existing SQLite database file and says what is wrong otherwise.
pub async fn validate(path: &Path) -> Result<(), SqliteError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || open_existing(&path).map(drop))
        .await
        .map_err(|e| SqliteError::Failed(format!("the check stopped: {e}")))?
}

fn open_existing(path: &Path) -> Result<SqliteConnection, SqliteError> {
    let shown = path.display();
    let metadata = std::fs::metadata(path).map_err(|e| SqliteError::Invalid(format!("{shown} cannot be read: {e}")))?;
    if !metadata.is_file() {
        return Err(SqliteError::Invalid(format!("{shown} is not a file")));
    }
    let location = path.to_str().ok_or_else(|| SqliteError::Invalid(format!("{shown} is not a UTF-8 path")))?;
    // Never create a database where the user named a file that should exist.
    let location = location.replace('%', "%25").replace('?', "%3f").replace('#', "%23");
    let mut connection = SqliteConnection::establish(&format!("file:{location}?mode=rw"))
        .map_err(|e| SqliteError::Invalid(format!("{shown} cannot be opened as a SQLite database: {e}")))?;
    diesel::sql_query("PRAGMA busy_timeout = 10000").execute(&mut connection).map_err(|e| failed(path, e))?;
    diesel::sql_query("SELECT count(*) FROM sqlite_master").execute(&mut connection).map_err(|e| {
        if e.to_string().contains("not a database") {
            SqliteError::Invalid(format!("{shown} is not a SQLite database (file is not a database)"))
        } else {
            failed(path, e)
        }
    })?;
    Ok(connection)
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

/// Streams a consistent snapshot of the database at `path`.
pub async fn snapshot(path: &Path) -> Result<ByteStream, SqliteError> {
    let source = path.to_path_buf();
    let (dir, file) = tokio::task::spawn_blocking(move || -> Result<(SnapshotDir, PathBuf), SqliteError> {
        let mut connection = open_existing(&source)?;
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

/// Writes a snapshot to `target`, which must not exist yet, and checks it opens as SQLite.
/// A failed restore leaves nothing behind.
pub async fn restore(mut input: ByteStream, target: &Path) -> Result<(), SqliteError> {
    let shown = target.display().to_string();
    let mut file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(target).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            SqliteError::Invalid(format!("{shown} already exists; choose a new file to restore into"))
        } else {
            SqliteError::Invalid(format!("cannot create {shown}: {e}"))
        }
    })?;
    let written: Result<(), SqliteError> = async {
        let io = |e: std::io::Error| SqliteError::Failed(format!("writing {shown} failed: {e}"));
        while let Some(chunk) = input.try_next().await.map_err(io)? {
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.sync_all().await.map_err(io)?;
        drop(file);
        validate(target).await
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(target).await;
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn validation_says_what_is_wrong() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = validate(&dir.path().join("missing.db")).await.expect_err("missing").to_string();
        assert!(missing.contains("cannot be read"), "{missing}");
        assert!(!dir.path().join("missing.db").exists(), "validation must not create the file");
        let folder = validate(dir.path()).await.expect_err("folder").to_string();
        assert!(folder.contains("is not a file"), "{folder}");
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, vec![b'x'; 4096]).expect("write");
        let garbage = validate(&text).await.expect_err("not sqlite").to_string();
        assert!(garbage.contains("is not a SQLite database"), "{garbage}");
    }

    #[tokio::test]
    async fn snapshot_folder_is_removed_when_the_stream_is_dropped_early() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("app.db");
        let mut connection = SqliteConnection::establish(db.to_str().expect("utf-8")).expect("open");
        diesel::sql_query("CREATE TABLE t (v BLOB)").execute(&mut connection).expect("create");
        diesel::sql_query("INSERT INTO t VALUES (randomblob(500000))").execute(&mut connection).expect("insert");
        let before = snapshot_dirs();
        let mut stream = snapshot(&db).await.expect("snapshot");
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
