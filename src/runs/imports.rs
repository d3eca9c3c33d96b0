//! Importing a dump someone hands in into a PostgreSQL database of the workspace: an upload
//! (already saved in a private temporary folder) or a file in a folder granted to the workspace
//! for reading, opened beneath the grant without following a link and never one of Devpilot's
//! own. What the file holds is told before any database is touched; the target is checked again
//! right before it is written, and a new database the import could not fill is removed again, as
//! for a restore.

use super::databases::DatabaseTarget;
use super::runner::Runner;
use crate::artifacts::postgres::import::{Compression, Dump, DumpError, DumpFormat};
use crate::artifacts::restore::RestoreError;
use crate::db::DbError;
use crate::hostfs::{Need, beneath, describe, private};
use futures::StreamExt;
use rustix::fs::{Mode, OFlags};
use std::os::fd::AsFd;
use std::path::PathBuf;

/// Where a dump comes from.
#[derive(Debug, Clone)]
pub enum DumpSource {
    /// An upload, saved in a private temporary folder under the data folder
    /// (`web::upload::receive`); whoever holds the upload keeps it until the import ends.
    Upload(PathBuf),
    /// A path the workspace typed: a file in a folder granted to it for reading.
    HostFile(String),
}

/// Why an import did not happen, or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The path typed cannot be used (not granted, missing, a folder, a link, Devpilot's own):
    /// for the field that named it. Nothing was read.
    #[error("{0}")]
    Path(String),
    /// The file is not a dump Devpilot imports. No database was touched.
    #[error("{0}")]
    NotADump(String),
    /// The database could not be written, or the tool stopped at an error (its words); nothing
    /// of the dump stayed, and a new database was removed again.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Db(#[from] DbError),
    /// Devpilot's side: an upload that is not where uploads are kept, a task that died.
    #[error("{0}")]
    Internal(String),
}

/// What was imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    pub format: DumpFormat,
    /// How the file was compressed, if it was.
    pub compression: Option<Compression>,
}

impl Runner {
    /// Imports the dump at `source` into `target` (built by [`Runner::database_target`]): a
    /// custom-format archive with `pg_restore` (`--clean` into an existing database), SQL with
    /// `psql`, each in one transaction that stops at the first error.
    pub async fn import_dump(
        &self,
        workspace: &str,
        source: DumpSource,
        target: &DatabaseTarget,
    ) -> Result<Imported, ImportError> {
        let file = match source {
            DumpSource::Upload(path) => self.uploaded(path).await?,
            DumpSource::HostFile(typed) => self.granted_file(workspace, typed).await?,
        };
        let stream = tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 256 * 1024).boxed();
        let dump = Dump::read(stream).await.map_err(|e| match e {
            DumpError::NotADump(_) => ImportError::NotADump(format!("{}.", capitalized(&e.to_string()))),
            other => ImportError::Failed(format!("{}.", capitalized(&other.to_string()))),
        })?;
        let imported = Imported { format: dump.format, compression: dump.compression };
        target
            .fill(|checked, replace| async move {
                dump.load(&checked, replace).await.map_err(|e| match e {
                    DumpError::Postgres(e) => RestoreError::Postgres(e),
                    DumpError::Read(e) => RestoreError::Read(e),
                    DumpError::NotADump(m) => RestoreError::Target(m),
                })
            })
            .await
            .map_err(|e| ImportError::Failed(format!("The import failed: {e}.")))?;
        Ok(imported)
    }

    /// The upload's file: only ever one in Devpilot's private temporary folder, never a link.
    async fn uploaded(&self, path: PathBuf) -> Result<std::fs::File, ImportError> {
        if !private::is_private_temp(self.data_dir(), &path) {
            return Err(ImportError::Internal(format!("{} is not a saved upload", path.display())));
        }
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let opened = tokio::task::spawn_blocking(move || rustix::fs::open(&path, flags, Mode::empty()))
            .await
            .map_err(|e| ImportError::Internal(format!("opening the upload: {e}")))?;
        let fd = opened.map_err(|e| ImportError::Internal(format!("opening the upload: {e}")))?;
        Ok(std::fs::File::from(fd))
    }

    /// A file the workspace may read: its path checked against the grants of the moment, then
    /// opened from the granted folder down, one name at a time, following no link.
    async fn granted_file(&self, workspace: &str, typed: String) -> Result<std::fs::File, ImportError> {
        let access = self.grants().access(workspace).await?;
        let opened = tokio::task::spawn_blocking(move || {
            let located = access.locate(&typed, Need::Read).map_err(|e| ImportError::Path(e.to_string()))?;
            let shown = typed.trim();
            let (Some(folder), Some(name)) = (located.relative.parent(), located.relative.file_name()) else {
                return Err(ImportError::Path(format!("“{shown}” is a folder; name the dump file in it.")));
            };
            let unreadable = |e: std::io::Error| {
                ImportError::Path(format!("“{shown}” cannot be read by the server: {}.", describe(&e)))
            };
            let root = beneath::open_folder(&located.root).map_err(unreadable)?;
            let folder = beneath::open_folder_below(root.as_fd(), folder, access.devpilot()).map_err(unreadable)?;
            beneath::open_file_in(folder.as_fd(), name, access.devpilot()).map_err(unreadable)
        });
        opened.await.map_err(|e| ImportError::Internal(format!("opening the dump: {e}")))?
    }
}

fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}
