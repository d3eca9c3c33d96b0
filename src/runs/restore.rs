//! Restoring a run's artifact into a chosen target. The artifact is read twice: once to check its
//! SHA-256 against the run's record, writing nothing, and only then again, through decryption when
//! the run encrypted it, into the target.

use super::databases::DatabaseTarget;
use super::runner::Runner;
use super::store::RunRow;
use crate::artifacts::restore::{self, RestoreError};
use crate::artifacts::{encryption, workspace_key};
use crate::config::AllowedPaths;
use crate::destinations::fields::FieldErrors;
use crate::error::AppError;
use std::path::{Path, PathBuf};

/// Where a restore writes.
pub enum RestoreTarget {
    /// An empty (or missing) folder for a directory artifact.
    Directory(PathBuf),
    /// A database for a PostgreSQL artifact: a new one, or an existing one whose name was typed
    /// (built by [`Runner::database_target`], which checks it).
    Postgres(DatabaseTarget),
    /// A new file for a SQLite artifact.
    SqliteFile(PathBuf),
}

/// What the artifact holds: recorded on the run, or told by its object key for older runs.
pub fn artifact_kind(run: &RunRow) -> &'static str {
    let key = run.object_key.as_deref().unwrap_or_default().trim_end_matches(".dpbe");
    match run.source_kind.as_deref() {
        Some("postgres") => "postgres",
        Some("sqlite") => "sqlite",
        Some(_) => "directory",
        None if key.ends_with(".pgdump") => "postgres",
        None if key.ends_with(".sqlite3") => "sqlite",
        None => "directory",
    }
}

impl RestoreTarget {
    /// Parses the restore form's `target` path for a directory or SQLite artifact (`kind`).
    pub fn parse(kind: &str, target: &str, allowed: &AllowedPaths) -> Result<RestoreTarget, FieldErrors> {
        let error = |m: String| FieldErrors::single("target", m);
        let target = target.trim();
        if target.is_empty() {
            return Err(error("Enter the absolute path to restore into.".into()));
        }
        let path = Path::new(target);
        if !path.is_absolute() {
            return Err(error(format!("“{target}” is not an absolute path; start it with /.")));
        }
        allowed.check(path).map_err(error)?;
        let parent_exists = path.parent().is_some_and(Path::is_dir);
        match kind {
            "sqlite" if path.exists() => {
                Err(error(format!("“{target}” already exists; choose a new file to restore into.")))
            }
            "sqlite" if !parent_exists => Err(error(format!("The folder of “{target}” does not exist."))),
            "sqlite" => Ok(RestoreTarget::SqliteFile(path.to_path_buf())),
            _ if path.is_file() => Err(error(format!("“{target}” is a file; choose an empty folder."))),
            _ if path.is_dir() && std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_some()) => {
                Err(error(format!("“{target}” is not empty; choose an empty or new folder.")))
            }
            _ if !path.exists() && !parent_exists => Err(error(format!("The folder of “{target}” does not exist."))),
            _ => Ok(RestoreTarget::Directory(path.to_path_buf())),
        }
    }
}

impl Runner {
    /// Verifies the artifact's checksum, then restores it into `target`.
    pub async fn restore(&self, workspace: &str, run_id: &str, target: &RestoreTarget) -> Result<(), AppError> {
        let (run, key, provider) = self.available_artifact(workspace, run_id).await?;
        let sha256 = run.sha256.clone().ok_or_else(|| {
            AppError::BadRequest("This backup has no recorded checksum, so it cannot be verified.".into())
        })?;
        let failed = |e: RestoreError| AppError::BadRequest(format!("The restore failed: {e}."));
        let read = |e: crate::providers::ProviderError| AppError::BadRequest(format!("Reading the backup failed: {e}"));
        restore::verify(provider.get(&key).await.map_err(read)?, &sha256).await.map_err(failed)?;
        let mut body = provider.get(&key).await.map_err(read)?;
        if run.encrypted {
            let artifact_key = workspace_key::for_workspace(self.db(), self.cipher(), workspace)
                .await
                .map_err(|e| AppError::BadRequest(format!("The backup cannot be decrypted: {e}.")))?;
            body = encryption::decrypt(body, &artifact_key);
        }
        match target {
            RestoreTarget::Directory(folder) => restore::into_directory(body, folder).await,
            RestoreTarget::SqliteFile(file) => restore::into_sqlite_file(body, file).await,
            RestoreTarget::Postgres(database) => self.restore_database(body, database).await,
        }
        .map_err(failed)
    }
}
