//! SFTP to a server of the workspace's own, with russh and russh-sftp (pure Rust and async).
//!
//! Host keys are pinned: the destination service puts the fingerprint an earlier test recorded
//! into [`SftpConfig::host_key`], a different key is refused, and the key the server presented is
//! reported back through [`Provider::presented_host_key`] for the service to record.

mod config;
mod connection;
mod errors;
mod shared;

pub use config::{FIELDS, LOGIN_FIELD_NAMES, LOGIN_FIELDS, SftpConfig, SftpTarget, SshLogin};
pub use shared::SharedLogins;

use super::{
    ByteStream, ErrorKind, Leftovers, Provider, ProviderContext, ProviderError, Step, StoredObject, check_key,
};
use crate::config::ProviderSettings;
use async_trait::async_trait;
use connection::{Connection, Dial};
use errors::{io_error, sftp_error};
use futures::StreamExt;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

const STEPS: &[Step] =
    &[Step::Resolve, Step::Connect, Step::Handshake, Step::Authenticate, Step::Find, Step::List, Step::Write];

pub struct SftpProvider {
    login: SshLogin,
    /// The remote directory without a trailing slash ("" for the root directory).
    root: String,
    expected_host_key: Option<String>,
    presented_host_key: Arc<Mutex<Option<String>>>,
    settings: ProviderSettings,
    /// One connection serves every operation of this provider; reopened if it drops.
    connection: tokio::sync::Mutex<Option<Arc<Connection>>>,
    /// In a batch ("Test all"): connections come from the logins the batch shares.
    shared: Option<Arc<SharedLogins>>,
}

impl SftpProvider {
    pub fn new(config: &SftpConfig, ctx: &ProviderContext) -> Result<SftpProvider, ProviderError> {
        let SftpTarget::Login(login) = &config.target else {
            return Err(ProviderError::new(ErrorKind::Provider, "The managed server's login was not filled in."));
        };
        Ok(SftpProvider {
            login: login.clone(),
            root: config.directory.trim_end_matches('/').to_owned(),
            expected_host_key: config.host_key.clone(),
            presented_host_key: Arc::default(),
            settings: ctx.settings.clone(),
            connection: tokio::sync::Mutex::new(None),
            shared: ctx.shared_logins.clone(),
        })
    }

    fn dial(&self) -> Dial<'_> {
        Dial {
            login: &self.login,
            settings: &self.settings,
            expected_host_key: self.expected_host_key.as_deref(),
            presented: Arc::clone(&self.presented_host_key),
        }
    }

    async fn connection(&self) -> Result<Arc<Connection>, ProviderError> {
        let mut slot = self.connection.lock().await;
        if let Some(open) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(Arc::clone(open));
        }
        let open = match &self.shared {
            Some(shared) => {
                let opened = shared.open(&self.dial()).await;
                if let Ok(mut presented) = self.presented_host_key.lock() {
                    presented.clone_from(&opened.presented_host_key);
                }
                opened.connection?
            }
            _ => Arc::new(self.dial().open().await?),
        };
        *slot = Some(Arc::clone(&open));
        Ok(open)
    }

    /// A session that timed out or closed mid-upload is not used again (the next operation
    /// reconnects); one closed under us means the server went silent or away, whatever error the
    /// write happened to report.
    fn after_failed_upload(&self, conn: &Arc<Connection>, error: ProviderError) -> ProviderError {
        let closed = conn.is_closed();
        if (closed || error.kind == ErrorKind::Timeout)
            && let Ok(mut slot) = self.connection.try_lock()
            && slot.as_ref().is_some_and(|open| Arc::ptr_eq(open, conn))
        {
            *slot = None;
        }
        if closed && error.kind != ErrorKind::Timeout {
            return ProviderError::new(
                ErrorKind::Unreachable,
                format!(
                    "The connection to {} was lost during the upload: the server stopped answering or closed it ({error}).",
                    self.login.address()
                ),
            );
        }
        error
    }

    fn root_display(&self) -> &str {
        if self.root.is_empty() { "/" } else { &self.root }
    }

    fn path_of(&self, key: &str) -> Result<String, ProviderError> {
        check_key(key)?;
        Ok(format!("{}/{key}", self.root))
    }

    /// Creates the folders between the root and `dir` that are missing.
    async fn make_dirs(&self, sftp: &russh_sftp::client::SftpSession, dir: &str) -> Result<(), ProviderError> {
        let relative = dir.strip_prefix(self.root.as_str()).unwrap_or_default();
        let mut current = self.root.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            current = format!("{current}/{part}");
            if sftp.metadata(current.as_str()).await.is_ok_and(|m| m.is_dir()) {
                continue;
            }
            if let Err(e) = sftp.create_dir(current.as_str()).await {
                // Another upload may have created it meanwhile.
                if !sftp.metadata(current.as_str()).await.is_ok_and(|m| m.is_dir()) {
                    return Err(sftp_error(&e, "create the directory", &current));
                }
            }
        }
        Ok(())
    }

    /// SFTP's rename does not replace an existing file: an artifact written again replaces the
    /// old one only once the new one is complete.
    async fn rename_into_place(
        &self,
        sftp: &russh_sftp::client::SftpSession,
        partial: &str,
        path: &str,
    ) -> Result<(), ProviderError> {
        if sftp.rename(partial, path).await.is_ok() {
            return Ok(());
        }
        if sftp.metadata(path).await.is_ok() {
            sftp.remove_file(path).await.map_err(|e| sftp_error(&e, "replace", path))?;
        }
        sftp.rename(partial, path).await.map_err(|e| sftp_error(&e, "rename the upload to", path))
    }

    async fn write_probe(&self, sftp: &russh_sftp::client::SftpSession) -> Result<(), ProviderError> {
        let probe = format!("{}/.devpilot-probe-{}", self.root, uuid::Uuid::new_v4());
        let at = |e: ProviderError| e.at(Step::Write);
        let mut file =
            sftp.create(probe.as_str()).await.map_err(|e| at(sftp_error(&e, "write in", self.root_display())))?;
        let written = async {
            file.write_all(b"devpilot write probe").await?;
            file.shutdown().await
        }
        .await;
        let removed = sftp.remove_file(probe.as_str()).await;
        written.map_err(|e| at(io_error(&e, "write in", self.root_display())))?;
        removed.map_err(|e| sftp_error(&e, "remove the probe file", &probe).at(Step::Write))
    }
}

#[async_trait]
impl Provider for SftpProvider {
    fn steps(&self) -> &'static [Step] {
        STEPS
    }

    async fn test(&self) -> Result<String, ProviderError> {
        let conn = self.connection().await?;
        let root = self.root_display();
        let meta = conn.sftp.metadata(root).await.map_err(|e| sftp_error(&e, "find", root).at(Step::Find))?;
        if !meta.is_dir() {
            return Err(ProviderError::new(ErrorKind::NotFound, format!("{root} is not a directory.")).at(Step::Find));
        }
        conn.sftp.read_dir(root).await.map_err(|e| sftp_error(&e, "list", root).at(Step::List))?;
        self.write_probe(&conn.sftp).await?;
        Ok(format!("{root} on {} exists and is writable.", self.login.address()))
    }

    async fn put(&self, key: &str, mut body: ByteStream) -> Result<u64, ProviderError> {
        let path = self.path_of(key)?;
        let (dir, name) = path.rsplit_once('/').unwrap_or((self.root.as_str(), key));
        let conn = self.connection().await?;
        self.make_dirs(&conn.sftp, dir).await?;
        // Written under a temporary name and renamed when complete, so a reader never sees half.
        let partial = format!("{dir}/{}", super::partial_name(name));
        // A server that dies without closing the connection leaves writes unacknowledged forever.
        let stall = self.settings.stall_timeout;
        let unanswered = || {
            ProviderError::new(
                ErrorKind::Timeout,
                format!("The server stopped acknowledging writes to {path} for {} s.", stall.as_secs()),
            )
        };
        let upload = async {
            let mut file = conn.sftp.create(partial.as_str()).await.map_err(|e| sftp_error(&e, "write", &path))?;
            let mut written = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(super::chunks::read_error)?;
                // Writes are pipelined: this waits only when 64 are already in flight.
                tokio::time::timeout(stall, file.write_all(&chunk))
                    .await
                    .map_err(|_| unanswered())?
                    .map_err(|e| io_error(&e, "write", &path))?;
                written += chunk.len() as u64;
            }
            // Waits for every write to be acknowledged, then closes.
            tokio::time::timeout(stall, file.shutdown())
                .await
                .map_err(|_| unanswered())?
                .map_err(|e| io_error(&e, "write", &path))?;
            self.rename_into_place(&conn.sftp, &partial, &path).await?;
            Ok(written)
        };
        let result = upload.await;
        if result.is_err() {
            let _ = conn.sftp.remove_file(partial.as_str()).await;
        }
        result.map_err(|e| self.after_failed_upload(&conn, e))
    }

    async fn get(&self, key: &str) -> Result<ByteStream, ProviderError> {
        let path = self.path_of(key)?;
        let conn = self.connection().await?;
        let file = conn.sftp.open(path.as_str()).await.map_err(|e| sftp_error(&e, "read", &path))?;
        // The stream holds the connection, so it outlives this provider if need be.
        let keep_open = Arc::clone(&conn);
        Ok(tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
            .map(move |chunk| {
                let _ = &keep_open;
                chunk
            })
            .boxed())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, ProviderError> {
        let conn = self.connection().await?;
        // Start in the deepest folder the prefix names instead of walking the whole tree.
        let start = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
        if !start.is_empty() {
            check_key(start)?;
        }
        let mut found = Vec::new();
        let mut pending = vec![start.to_owned()];
        while let Some(relative) = pending.pop() {
            let dir = if relative.is_empty() { self.root_display().to_owned() } else { self.path_of(&relative)? };
            let entries = match conn.sftp.read_dir(dir.as_str()).await {
                Ok(entries) => entries,
                Err(e) if relative == start && errors::is_not_found(&e) => break,
                Err(e) => return Err(sftp_error(&e, "list", &dir)),
            };
            for entry in entries {
                let name = entry.file_name();
                // Probe files and unfinished uploads are ours and not artifacts.
                if name.starts_with('.') {
                    continue;
                }
                let key = if relative.is_empty() { name } else { format!("{relative}/{name}") };
                let meta = entry.metadata();
                if meta.is_dir() {
                    let folder = format!("{key}/");
                    if folder.starts_with(prefix) || prefix.starts_with(&folder) {
                        pending.push(key);
                    }
                } else if meta.is_regular() && key.starts_with(prefix) {
                    found.push(StoredObject {
                        key,
                        size: meta.len(),
                        last_modified: meta.modified().ok().map(chrono::DateTime::from),
                    });
                }
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    async fn remove_leftovers(&self, folder: &str, ours: Leftovers<'_>) -> Result<usize, ProviderError> {
        let dir = self.path_of(folder.trim_end_matches('/'))?;
        let conn = self.connection().await?;
        let entries = match conn.sftp.read_dir(dir.as_str()).await {
            Ok(entries) => entries,
            Err(e) if errors::is_not_found(&e) => return Ok(0),
            Err(e) => return Err(sftp_error(&e, "list", &dir)),
        };
        let mut removed = 0;
        for entry in entries.filter(|e| super::partial_for(&e.file_name()).is_some_and(ours)) {
            let path = format!("{dir}/{}", entry.file_name());
            conn.sftp.remove_file(path.as_str()).await.map_err(|e| sftp_error(&e, "delete", &path))?;
            removed += 1;
        }
        Ok(removed)
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        let path = self.path_of(key)?;
        let conn = self.connection().await?;
        conn.sftp.remove_file(path.as_str()).await.map_err(|e| sftp_error(&e, "delete", &path))?;
        // Folders that held only this artifact go too; the server refuses to remove non-empty ones.
        let mut dir = path.rsplit_once('/').map(|(d, _)| d.to_owned());
        while let Some(d) = dir.filter(|d| d.len() > self.root.len() && d.starts_with(&self.root)) {
            if conn.sftp.remove_dir(d.as_str()).await.is_err() {
                break;
            }
            dir = d.rsplit_once('/').map(|(parent, _)| parent.to_owned());
        }
        Ok(())
    }

    fn presented_host_key(&self) -> Option<String> {
        self.presented_host_key.lock().ok().and_then(|slot| slot.clone())
    }
}

/// Connects just far enough to learn the server's host key fingerprint (no login).
pub async fn fetch_host_key(login: &SshLogin, settings: &ProviderSettings) -> Result<String, ProviderError> {
    let dial = Dial { login, settings, expected_host_key: None, presented: Arc::default() };
    dial.host_key().await
}

/// A managed server's test: logs in and opens SFTP, checking the pinned host key. Returns the
/// outcome and the fingerprint the server presented.
pub async fn check_login(
    login: &SshLogin,
    expected_host_key: Option<&str>,
    settings: &ProviderSettings,
) -> (Result<String, ProviderError>, Option<String>) {
    let presented = Arc::new(Mutex::new(None));
    let dial = Dial { login, settings, expected_host_key, presented: Arc::clone(&presented) };
    let result = dial.open().await.map(|_| format!("Logged in to {} as {}.", login.address(), login.username));
    (result, presented.lock().ok().and_then(|slot| slot.clone()))
}

/// The steps [`check_login`] goes through.
pub const LOGIN_STEPS: &[Step] = &[Step::Resolve, Step::Connect, Step::Handshake, Step::Authenticate];
