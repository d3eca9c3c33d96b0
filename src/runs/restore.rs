//! Restoring a run's artifact into a chosen target, its SHA-256 checked against the run's record
//! before anything restored is put in place or kept (see [`Runner::restore`]). Files and folders are
//! restored only inside a folder granted to the workspace for reading and writing, or its own
//! folder.

use super::databases::{DatabaseInto, DatabaseTarget};
use super::runner::Runner;
use super::store::RunRow;
use crate::artifacts::checksum::Digesting;
use crate::artifacts::restore::{self, RestoreError};
use crate::artifacts::{ByteStream, channel, encryption, workspace_key};
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::hostfs::private::PrivateTemp;
use crate::hostfs::{HostAccess, Need, Place};
use futures::StreamExt;

/// Chunks of a streamed restore read ahead of the unpacking (64 KiB each when decrypted).
const READ_AHEAD: usize = 32;

/// Where a restore writes.
pub enum RestoreTarget {
    /// An empty (or missing) folder for a directory artifact.
    Directory(Place),
    /// A database for a PostgreSQL artifact: a new one, or an existing one whose name was typed
    /// (built by [`Runner::database_target`], which checks it).
    Postgres(DatabaseTarget),
    /// A new file for a SQLite artifact.
    SqliteFile(Place),
    /// The existing folder a directory artifact was made of, its contents replaced (staged and
    /// swapped in whole; built by [`Runner::volume_target`] after a typed confirmation).
    Replace(Place),
    /// A database for a MariaDB artifact (built by [`Runner::mariadb_target`]).
    Mariadb(super::mariadb::MariaDbTarget),
    /// A bucket and prefix for a bucket artifact (built by [`Runner::bucket_target`]).
    Bucket(super::bucket::BucketTarget),
}

/// Whether a MariaDB run's artifact holds every database of its server (its key says so).
pub fn holds_all_databases(run: &RunRow) -> bool {
    run.object_key.as_deref().is_some_and(|key| key.contains(".mariadb-all."))
}

/// What the artifact holds: recorded on the run, or told by its object key for older runs.
pub fn artifact_kind(run: &RunRow) -> &'static str {
    let key = run.object_key.as_deref().unwrap_or_default().trim_end_matches(".dpbe");
    match run.source_kind.as_deref() {
        Some("postgres") => "postgres",
        Some("mariadb") => "mariadb",
        Some("sqlite") => "sqlite",
        Some("bucket") => "bucket",
        Some(_) => "directory",
        None if key.ends_with(".pgdump") => "postgres",
        None if key.ends_with(".sql.zst") && key.contains(".mariadb") => "mariadb",
        None if key.ends_with(".sqlite3") => "sqlite",
        None if key.ends_with(".bucket.tar.zst") => "bucket",
        None => "directory",
    }
}

impl RestoreTarget {
    /// Whether the artifact streams straight in, checked as it arrives: a folder (staged, put in
    /// place once the checksum matched) and, when the artifact is `encrypted`, a new database
    /// (dropped again if it did not match). A restoring tool runs what it is fed — SQL, and as a
    /// superuser even `COPY … TO PROGRAM` — so it only ever reads bytes that are the workspace's
    /// own: decrypted segment by segment (authenticated, in order, none missing), or a plain
    /// artifact's verified private copy. What is written in place is always restored from such a
    /// copy.
    fn streams(&self, encrypted: bool) -> bool {
        match self {
            RestoreTarget::Directory(_) => true,
            RestoreTarget::Postgres(database) => encrypted && database.into == DatabaseInto::New,
            RestoreTarget::Mariadb(database) => {
                encrypted && database.into == DatabaseInto::New && database.database().is_some()
            }
            RestoreTarget::SqliteFile(_) | RestoreTarget::Replace(_) | RestoreTarget::Bucket(_) => false,
        }
    }

    /// Parses the restore form's `target` path for a directory or SQLite artifact (`kind`); it
    /// must lie in a folder `access` allows writing in, and its folder exist (none is created).
    pub fn parse(kind: &str, target: &str, access: &HostAccess) -> Result<RestoreTarget, FieldErrors> {
        let error = |m: String| FieldErrors::single("target", m);
        let target = target.trim();
        if target.is_empty() {
            return Err(error("Enter the absolute path to restore into.".into()));
        }
        let place = access.locate_new(target, Need::Write).map_err(|e| error(e.to_string()))?;
        // What is there now, for a clear message; the restore checks again as it writes.
        let existing = std::fs::symlink_metadata(place.path()).ok();
        match (kind, existing) {
            ("sqlite", Some(_)) => Err(error(format!("“{target}” already exists; choose a new file to restore into."))),
            ("sqlite", None) => Ok(RestoreTarget::SqliteFile(place)),
            (_, Some(m)) if m.file_type().is_symlink() => {
                Err(error(format!("“{target}” is a symbolic link; choose an empty or new folder.")))
            }
            (_, Some(m)) if !m.is_dir() => Err(error(format!("“{target}” is a file; choose an empty folder."))),
            (_, Some(_)) if std::fs::read_dir(place.path()).is_ok_and(|mut d| d.next().is_some()) => {
                Err(error(format!("“{target}” is not empty; choose an empty or new folder.")))
            }
            _ => Ok(RestoreTarget::Directory(place)),
        }
    }
}

impl Runner {
    /// Restores the run's artifact into `target` from the first copy that can give it whole and
    /// with its recorded SHA-256 — a copy whose bytes do not match (or break off) is set aside and
    /// the next one read; answers which copy it read (“copy 1 (“Offsite”)”).
    ///
    /// A folder, and an encrypted artifact into a new database, stream straight in (see
    /// `RestoreTarget::streams` and `artifacts/restore.rs`: a folder is put in place, a new
    /// database kept, only once the checksum matched); the rest (a plain database artifact, and
    /// what is written in place: an existing database, a SQLite file, a volume, a bucket) is first
    /// downloaded into a private file under the data folder, checked on the way, and restored from
    /// that file only, which goes when the restore ends, whatever happens.
    pub async fn restore(&self, workspace: &str, run_id: &str, target: &RestoreTarget) -> Result<String, AppError> {
        let run = self.find(workspace, run_id).await?;
        let artifact_key = match run.encrypted {
            true => Some(
                workspace_key::for_workspace(self.db(), self.cipher(), workspace)
                    .await
                    .map_err(|e| AppError::BadRequest(format!("The backup cannot be decrypted: {e}.")))?,
            ),
            false => None,
        };
        let plain = |body: ByteStream| match &artifact_key {
            Some(key) => encryption::decrypt(body, key),
            None => body,
        };
        let failed = |e: RestoreError| AppError::BadRequest(format!("The restore failed: {e}."));
        if target.streams(run.encrypted) {
            let streamed = self
                .read_first_good_copy(&run, |download, sha256| {
                    let (download, digest) = Digesting::new(download);
                    let body = channel::read_ahead(plain(download), READ_AHEAD);
                    self.restore_into(body, target, restore::checksum_gate(digest, &sha256))
                })
                .await?;
            return streamed.map(|(copy, ())| copy).map_err(failed);
        }
        let temp = PrivateTemp::create(self.data_dir())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("making a private temporary folder: {e}")))?;
        let mut attempt = 0;
        let downloaded = self
            .read_first_good_copy(&run, |download, sha256| {
                let temp = &temp;
                attempt += 1;
                async move {
                    let (path, file) = temp
                        .new_file(&format!("artifact-{attempt}"))
                        .map_err(|e| RestoreError::Target(format!("a private temporary file: {e}")))?;
                    let verified = restore::download_verified(download, file, &sha256).await;
                    verified.map(|()| path.clone()).inspect_err(|_| drop(std::fs::remove_file(&path)))
                }
            })
            .await?;
        let (copy, path) = match downloaded {
            Ok(done) => done,
            Err(e) => return Err(failed(e)),
        };
        let file = tokio::fs::File::open(&path).await.map_err(|e| failed(RestoreError::Read(e)))?;
        let body = plain(tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).boxed());
        let restored = self.restore_into(body, target, restore::open_gate()).await;
        // The private copy goes now, whatever happened (and with `temp` on every early return).
        drop(temp);
        restored.map_err(failed).map(|()| copy)
    }

    /// Writes the artifact `body` into `target`; `gate` (the checksum of a streamed artifact) is
    /// passed before anything restored is put in place or kept.
    async fn restore_into(
        &self,
        body: ByteStream,
        target: &RestoreTarget,
        gate: restore::Gate,
    ) -> Result<(), RestoreError> {
        let devpilot = self.grants().devpilot_files();
        match target {
            RestoreTarget::Directory(place) => restore::into_directory(body, place, devpilot, gate).await,
            RestoreTarget::Postgres(database) => self.restore_database(body, database, gate).await,
            RestoreTarget::Mariadb(database) => self.restore_mariadb(body, database, gate).await,
            // Never streamed (see `RestoreTarget::streams`): their gate is open, passed first.
            RestoreTarget::Replace(place) => {
                gate()?;
                crate::artifacts::volume::replace_directory(body, place, devpilot).await
            }
            RestoreTarget::SqliteFile(place) => {
                gate()?;
                restore::into_sqlite_file(body, place, devpilot).await
            }
            RestoreTarget::Bucket(bucket) => {
                gate()?;
                self.restore_bucket(body, bucket).await
            }
        }
    }

    /// Reads the copy's artifact whole and checks its SHA-256, writing nothing.
    async fn verify_copy(&self, opened: &super::artifact::OpenedCopy, sha256: &str) -> Result<(), RestoreError> {
        let key = opened.copy.object_key.as_deref().unwrap_or_default();
        let download =
            opened.provider.get(key).await.map_err(|e| RestoreError::Read(std::io::Error::other(e.to_string())))?;
        restore::verify(download, sha256).await
    }

    /// Runs `read` on each copy of the run's artifact in turn (with the copy's recorded SHA-256)
    /// until one is read whole and matches; a copy whose bytes are damaged (a checksum mismatch, a
    /// read that broke off, an archive or decryption that failed on bytes that do not match) is set
    /// aside for the next.
    /// The outer error: no copy could be opened; the inner: the last copy's failure (every copy's
    /// problems named) or one that another copy would not mend (the target's).
    async fn read_first_good_copy<T, F, Read>(
        &self,
        run: &RunRow,
        mut read: F,
    ) -> Result<Result<(String, T), RestoreError>, AppError>
    where
        F: FnMut(ByteStream, String) -> Read,
        Read: std::future::Future<Output = Result<T, RestoreError>>,
    {
        let (mut damaged, mut problems) = (Vec::new(), Vec::new());
        loop {
            let (opened, download) = match self.open_artifact_skipping(run, &damaged).await {
                Ok(opened) => opened,
                Err(e) if problems.is_empty() => return Err(e),
                Err(_) => return Ok(Err(RestoreError::Target(problems.join("; ")))),
            };
            let sha256 = opened.copy.sha256.clone().ok_or_else(|| {
                AppError::BadRequest("This backup has no recorded checksum, so it cannot be verified.".into())
            })?;
            let failure = match read(download, sha256.clone()).await {
                Ok(done) => return Ok(Ok((opened.describe(), done))),
                Err(e @ (RestoreError::ChecksumMismatch { .. } | RestoreError::Read(_))) => e,
                // A streamed archive that failed part-way was not read to its end, so its checksum
                // could not judge it: the copy is read once more, whole, to tell damaged bytes
                // (the next copy may have good ones) from an artifact that is itself unusable.
                Err(e @ RestoreError::Archive(_)) => match self.verify_copy(&opened, &sha256).await {
                    Ok(()) => return Ok(Err(e)),
                    Err(damage) => damage,
                },
                Err(e) => return Ok(Err(e)),
            };
            tracing::warn!(run = %run.id, copy = opened.copy.position, error = %failure, "a copy's artifact is damaged; reading the next copy");
            problems.push(format!("{}: {failure}", opened.describe()));
            damaged.push(opened.copy.position);
        }
    }
}
