//! Browsing a directory run's files (its manifest) and getting one file or one folder back:
//! downloaded (a file as itself, a folder as a tar) or restored into a new or empty folder the
//! workspace was granted for writing, under the same rules as a whole restore. Only what is needed
//! is read from the destination: a streamed scan that stops once the wanted entries are past
//! ([`crate::artifacts::extract`]); the time taken and the bytes read are reported.

use super::runner::Runner;
use crate::artifacts::extract::{self, Output, Wanted};
use crate::artifacts::manifest::{self, Line, Totals};
use crate::artifacts::{ByteStream, channel::produced_by, encryption, restore, workspace_key};
use crate::error::AppError;
use crate::hostfs::Place;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// At most this many entries are listed per folder or search.
pub const LIST_LIMIT: usize = 1000;

/// One entry of a folder's listing.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub path: String,
    /// `file`, `dir` or `symlink`.
    pub kind: String,
    /// A file's size; a folder's, the size of every file below it.
    pub size: u64,
    /// A folder's files, below it at any depth.
    pub files: u64,
    pub mtime: i64,
}

/// A folder of a run's manifest, or the entries whose name matches a search.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The folder listed ("" for the top).
    pub folder: String,
    /// The search, when it is one (then `entries` come from every folder).
    pub search: Option<String>,
    pub entries: Vec<Listed>,
    /// How many matched beyond [`LIST_LIMIT`].
    pub more: u64,
    pub totals: Totals,
}

/// What a single-file restore or download read and gave.
#[derive(Debug, Clone, Copy)]
pub struct Retrieved {
    pub files: u64,
    pub bytes: u64,
    /// Bytes of the artifact read from the destination.
    pub bytes_read: u64,
    /// The whole artifact's size.
    pub artifact_bytes: u64,
    pub millis: u64,
}

/// A download of one path: its bytes, its name, and what it is.
pub struct PathDownload {
    pub body: ByteStream,
    pub file_name: String,
    pub content_type: &'static str,
}

fn no_manifest() -> AppError {
    AppError::NotFound(
        "This backup has no file list (only directory backups made since file lists exist have one)".into(),
    )
}

fn not_in_backup(path: &str) -> AppError {
    AppError::NotFound(format!("“{path}” is not in this backup"))
}

impl Runner {
    /// The entries of `folder` in the run's manifest (or those whose name contains `search`,
    /// case-insensitively, anywhere), folders first, each folder with the size of what is below.
    pub async fn list_files(
        &self,
        workspace: &str,
        run_id: &str,
        folder: &str,
        search: Option<&str>,
    ) -> Result<Listing, AppError> {
        self.find(workspace, run_id).await?;
        let (totals, parts) = self.manifest(workspace, run_id).await?.ok_or_else(no_manifest)?;
        let folder = folder.trim_matches('/').to_owned();
        let search = search.map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        let mut listed: BTreeMap<(bool, String), Listed> = BTreeMap::new();
        let mut found_folder = folder.is_empty();
        let mut more = 0u64;
        let prefix = if folder.is_empty() { String::new() } else { format!("{folder}/") };
        parts
            .each(|line| {
                if line.path == folder && line.kind == manifest::DIR {
                    found_folder = true;
                }
                if let Some(search) = &search {
                    if line.name().to_lowercase().contains(search.as_str()) {
                        if listed.len() < LIST_LIMIT {
                            listed.insert((line.kind != manifest::DIR, line.path.clone()), listed_of(&line));
                        } else {
                            more += 1;
                        }
                    }
                    return true;
                }
                let Some(rest) = line.path.strip_prefix(&prefix) else { return true };
                let child = rest.split('/').next().unwrap_or(rest);
                if child.len() == rest.len() {
                    let key = (line.kind != manifest::DIR, child.to_owned());
                    if listed.len() < LIST_LIMIT || listed.contains_key(&key) {
                        let entry = listed.entry(key).or_insert_with(|| listed_of(&line));
                        entry.kind.clone_from(&line.kind);
                        entry.mtime = line.mtime;
                        if line.kind != manifest::DIR {
                            entry.size = line.size;
                            entry.files = u64::from(line.kind == manifest::FILE);
                        }
                    } else {
                        more += 1;
                    }
                } else if line.kind == manifest::FILE
                    && let Some(entry) = listed.get_mut(&(false, child.to_owned()))
                {
                    entry.size += line.size;
                    entry.files += 1;
                }
                true
            })
            .await?;
        if !found_folder {
            return Err(not_in_backup(&folder));
        }
        let entries = listed.into_values().collect();
        Ok(Listing { folder, search, entries, more, totals })
    }

    /// The manifest's line for `path` and, for a folder, the lines below it (in tar order).
    async fn wanted(&self, workspace: &str, run_id: &str, path: &str) -> Result<(Wanted, Vec<Line>), AppError> {
        let (_, parts) = self.manifest(workspace, run_id).await?.ok_or_else(no_manifest)?;
        let path = path.trim().trim_matches('/').to_owned();
        if path.is_empty() {
            return Err(AppError::BadRequest("Choose a file or a folder of the backup.".into()));
        }
        let mut found: Option<Line> = None;
        let mut lines = Vec::new();
        // Lines of a folder's files are kept to check each one as it passes (a folder's worth).
        parts
            .each(|line| {
                let below = found.as_ref().is_some_and(|f| f.kind == manifest::DIR)
                    && line.path.starts_with(&path)
                    && line.path[path.len()..].starts_with('/');
                if line.path == path {
                    lines.push(line.clone());
                    found = Some(line);
                    true
                } else if below {
                    lines.push(line);
                    true
                } else {
                    found.is_none()
                }
            })
            .await?;
        let found = found.ok_or_else(|| not_in_backup(&path))?;
        Ok((Wanted { path, folder: found.kind == manifest::DIR }, lines))
    }

    /// The artifact's decrypted bytes, and a count of the bytes read from the destination.
    async fn scanned_artifact(
        &self,
        workspace: &str,
        run_id: &str,
    ) -> Result<(ByteStream, Arc<AtomicU64>, u64), AppError> {
        let opened = self.artifact_of(workspace, run_id).await?;
        let read = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&read);
        let mut body = opened
            .body
            .inspect(move |chunk| {
                if let Ok(chunk) = chunk {
                    counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
            })
            .boxed();
        if opened.run.encrypted {
            let key = workspace_key::for_workspace(self.db(), self.cipher(), workspace)
                .await
                .map_err(|e| AppError::BadRequest(format!("The backup cannot be decrypted: {e}.")))?;
            body = encryption::decrypt(body, &key);
        }
        Ok((body, read, u64::try_from(opened.run.bytes).unwrap_or(0)))
    }

    /// Restores one file or folder of the run into `place` (a new or empty folder, checked by
    /// [`super::restore::RestoreTarget::parse`]): the wanted entries keep their own name inside it.
    pub async fn restore_path(
        &self,
        workspace: &str,
        run_id: &str,
        path: &str,
        place: &Place,
    ) -> Result<Retrieved, AppError> {
        let started = Instant::now();
        let (wanted, lines) = self.wanted(workspace, run_id, path).await?;
        let (body, read, artifact_bytes) = self.scanned_artifact(workspace, run_id).await?;
        let counts = Arc::new(std::sync::Mutex::new(extract::Extracted::default()));
        let noted = Arc::clone(&counts);
        let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(body));
        let tar = produced_by(move |out| {
            let (done, mut out) = extract::scan(reader, &wanted, lines, Output::Tar(tar::Builder::new(out)))?;
            std::io::Write::flush(&mut out)?;
            if let Ok(mut counts) = noted.lock() {
                *counts = done;
            }
            Ok(())
        });
        restore::into_directory_from_tar(tar, place, self.grants().devpilot_files())
            .await
            .map_err(|e| AppError::BadRequest(format!("The restore failed: {e}.")))?;
        let done = counts.lock().map(|c| *c).unwrap_or_default();
        Ok(Retrieved {
            files: done.files,
            bytes: done.bytes,
            bytes_read: read.load(Ordering::Relaxed),
            artifact_bytes,
            millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// One file of the run as its own bytes, or a folder as a tar; a file that differs from the
    /// manifest ends the download with an error (the client sees it cut short).
    pub async fn download_path(&self, workspace: &str, run_id: &str, path: &str) -> Result<PathDownload, AppError> {
        let (wanted, lines) = self.wanted(workspace, run_id, path).await?;
        let (body, read, artifact_bytes) = self.scanned_artifact(workspace, run_id).await?;
        let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(body));
        let name = wanted.path.rsplit('/').next().unwrap_or(&wanted.path).to_owned();
        let (file_name, content_type) = match wanted.folder {
            true => (format!("{name}.tar"), "application/x-tar"),
            false => (name, "application/octet-stream"),
        };
        let shown = wanted.path.clone();
        let (run, started) = (run_id.to_owned(), Instant::now());
        let body = produced_by(move |out| {
            let output = match wanted.folder {
                true => Output::Tar(tar::Builder::new(out)),
                false => Output::Content(out),
            };
            let (done, mut out) = extract::scan(reader, &wanted, lines, output)?;
            std::io::Write::flush(&mut out)?;
            tracing::info!(
                run = %run, path = %shown, files = done.files, bytes = done.bytes,
                read = read.load(Ordering::Relaxed), artifact = artifact_bytes,
                millis = started.elapsed().as_millis() as u64, "single-file download"
            );
            Ok(())
        });
        Ok(PathDownload { body, file_name, content_type })
    }
}

fn listed_of(line: &Line) -> Listed {
    Listed {
        name: line.name().to_owned(),
        path: line.path.clone(),
        kind: line.kind.clone(),
        size: line.size,
        files: u64::from(line.kind == manifest::FILE),
        mtime: line.mtime,
    }
}
