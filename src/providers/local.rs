//! Local disk: artifacts under a folder of the server's own filesystem.

use super::{ByteStream, ErrorKind, Provider, ProviderContext, ProviderError, Step, StoredObject, check_key};
use crate::destinations::fields::{FieldErrors, FieldReader, FieldSpec, RawFields};
use async_trait::async_trait;
use futures::StreamExt;
use std::io;
use std::path::{Component, Path, PathBuf};
use tokio::io::AsyncWriteExt;

pub const FIELDS: &[FieldSpec] = &[FieldSpec::text("path", "Base directory")
    .max_len(1024)
    .placeholder("/var/backups/devpilot")
    .help("An absolute folder on the Devpilot server. Leave blank to use the default backup folder.")];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    pub path: Option<PathBuf>,
}

impl LocalConfig {
    pub fn parse(raw: &RawFields) -> Result<LocalConfig, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
        let path = r.checked("path", |p| {
            let path = Path::new(p);
            if !path.is_absolute() {
                Err("Base directory must be an absolute path (starting with \"/\").".into())
            } else if path.components().any(|c| matches!(c, Component::ParentDir)) {
                Err("Base directory must not contain \"..\".".into())
            } else {
                Ok(())
            }
        });
        r.finish(|| Some(LocalConfig { path: path.map(PathBuf::from) }))
    }

    pub fn location(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "default backup folder".into(),
        }
    }
}

pub struct LocalProvider {
    root: PathBuf,
    /// The default folder is ours to create; a folder the admin named must already exist.
    create_root: bool,
}

impl LocalProvider {
    /// The server's default folder is always allowed; a folder the admin named must be inside
    /// the allowed paths.
    pub fn new(config: &LocalConfig, ctx: &ProviderContext) -> Result<LocalProvider, ProviderError> {
        match &config.path {
            Some(p) => {
                ctx.settings.allowed_paths.check(p).map_err(|m| ProviderError::new(ErrorKind::Permission, m))?;
                Ok(LocalProvider { root: p.clone(), create_root: false })
            }
            None => Ok(LocalProvider { root: ctx.local_default_dir.clone(), create_root: true }),
        }
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, ProviderError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    fn io_error(&self, what: &str, path: &Path, e: &io::Error) -> ProviderError {
        let kind = match e.kind() {
            io::ErrorKind::NotFound => ErrorKind::NotFound,
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => ErrorKind::Permission,
            // Not transient: retrying the upload would fill the disk again.
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => ErrorKind::Provider,
            _ => ErrorKind::Provider,
        };
        ProviderError::new(kind, format!("Cannot {what} {}: {}.", path.display(), describe(e)))
    }

    async fn ensure_root(&self) -> Result<(), ProviderError> {
        if self.create_root {
            tokio::fs::create_dir_all(&self.root)
                .await
                .map_err(|e| self.io_error("create the folder", &self.root, &e))?;
        }
        match tokio::fs::metadata(&self.root).await {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(ProviderError::new(ErrorKind::NotFound, format!("{} is not a folder.", self.root.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ProviderError::new(
                ErrorKind::NotFound,
                format!("The folder {} does not exist.", self.root.display()),
            )),
            Err(e) => Err(self.io_error("open", &self.root, &e)),
        }
    }
}

/// The system's own words for the common failures (what `df`, `ls` and the logs say too).
fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => "Permission denied".into(),
        io::ErrorKind::ReadOnlyFilesystem => "Read-only file system".into(),
        io::ErrorKind::StorageFull => "No space left on device".into(),
        io::ErrorKind::QuotaExceeded => "Disk quota exceeded".into(),
        io::ErrorKind::NotFound => "No such file or directory".into(),
        _ => e.to_string(),
    }
}

#[async_trait]
impl Provider for LocalProvider {
    fn steps(&self) -> &'static [Step] {
        &[Step::Find, Step::Write]
    }

    async fn test(&self) -> Result<String, ProviderError> {
        self.ensure_root().await?;
        let probe = self.root.join(format!(".devpilot-probe-{}", uuid::Uuid::new_v4()));
        let write = async {
            let mut f = tokio::fs::File::create(&probe).await?;
            f.write_all(b"devpilot write probe").await?;
            f.sync_all().await
        };
        let result = write.await;
        let _ = tokio::fs::remove_file(&probe).await;
        result.map_err(|e| self.io_error("write to", &self.root, &e).at(Step::Write))?;
        Ok(format!("{} exists and is writable.", self.root.display()))
    }

    async fn put(&self, key: &str, mut body: ByteStream) -> Result<u64, ProviderError> {
        self.ensure_root().await?;
        let path = self.path_of(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| self.io_error("create the folder", parent, &e))?;
        }
        // Written beside the target and renamed when complete, so a reader never sees half.
        let partial =
            path.with_file_name(super::partial_name(path.file_name().and_then(|n| n.to_str()).unwrap_or("artifact")));
        let write = async {
            let mut file = tokio::fs::File::create(&partial).await?;
            let mut written = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                file.write_all(&chunk).await?;
                written += chunk.len() as u64;
            }
            file.sync_all().await?;
            tokio::fs::rename(&partial, &path).await?;
            Ok::<u64, io::Error>(written)
        };
        match write.await {
            Ok(n) => Ok(n),
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(self.io_error("write", &path, &e))
            }
        }
    }

    async fn get(&self, key: &str) -> Result<ByteStream, ProviderError> {
        let path = self.path_of(key)?;
        let file = tokio::fs::File::open(&path).await.map_err(|e| self.io_error("read", &path, &e))?;
        Ok(tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).boxed())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, ProviderError> {
        self.ensure_root().await?;
        let mut found = Vec::new();
        let mut pending = vec![self.root.clone()];
        while let Some(dir) = pending.pop() {
            let mut entries = tokio::fs::read_dir(&dir).await.map_err(|e| self.io_error("list", &dir, &e))?;
            while let Some(entry) = entries.next_entry().await.map_err(|e| self.io_error("list", &dir, &e))? {
                let name = entry.file_name();
                // Probe files and unfinished writes are ours and not artifacts.
                if name.to_string_lossy().starts_with('.') {
                    continue;
                }
                let meta = entry.metadata().await.map_err(|e| self.io_error("list", &entry.path(), &e))?;
                if meta.is_dir() {
                    pending.push(entry.path());
                    continue;
                }
                let Ok(relative) = entry.path().strip_prefix(&self.root).map(Path::to_path_buf) else {
                    continue;
                };
                let key = relative.to_string_lossy().into_owned();
                if key.starts_with(prefix) {
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

    async fn remove_leftovers(&self, folder: &str) -> Result<usize, ProviderError> {
        let dir = self.path_of(folder.trim_end_matches('/'))?;
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(self.io_error("list", &dir, &e)),
        };
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await.map_err(|e| self.io_error("list", &dir, &e))? {
            if super::is_partial_name(&entry.file_name().to_string_lossy()) {
                tokio::fs::remove_file(entry.path()).await.map_err(|e| self.io_error("delete", &entry.path(), &e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        let path = self.path_of(key)?;
        tokio::fs::remove_file(&path).await.map_err(|e| self.io_error("delete", &path, &e))?;
        // Folders that held only this artifact go too; `remove_dir` refuses non-empty ones.
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != self.root && d.starts_with(&self.root)) {
            if tokio::fs::remove_dir(d).await.is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }
}
