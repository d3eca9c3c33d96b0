//! Local disk: artifacts under a folder of the server's own file system — a folder granted to the
//! workspace for reading and writing, or the workspace's own folder `<backups>/<workspace id>`.
//!
//! The grants of the moment come in through [`ProviderContext::host`] (a provider never reads the
//! database). Every operation opens the folder again from `/` and walks below it without following
//! a symbolic link ([`crate::hostfs::beneath`]), so what was checked is what is written.

use super::{
    ByteStream, ErrorKind, Leftovers, Provider, ProviderContext, ProviderError, Step, StoredObject, check_key,
};
use crate::fields::{FieldErrors, FieldReader, FieldSpec, RawFields};
use crate::hostfs::beneath;
use crate::hostfs::{HostAccess, Located, Need, describe};
use async_trait::async_trait;
use futures::StreamExt;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, openat, renameat, statat, unlinkat};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

pub const FIELDS: &[FieldSpec] = &[FieldSpec::text("path", "Base directory")
    .max_len(1024)
    .placeholder("/var/backups/devpilot")
    .help("An absolute folder on the Devpilot server granted to this workspace for reading and writing. Leave blank to use the workspace's own folder.")];

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
            None => "this workspace's folder".into(),
        }
    }
}

/// The workspace's own folder in messages (`[workspace folder]/nightly/….tar.zst`).
const OWN_FOLDER: &str = "[workspace folder]";

/// New files and folders: what `umask` leaves of these.
const FILE_MODE: u32 = 0o666;
const FOLDER_MODE: u32 = 0o777;

pub struct LocalProvider {
    base: Located,
    /// The workspace's own folder is ours to create; a folder the admin named must exist.
    own: bool,
    host: HostAccess,
}

impl LocalProvider {
    /// A named folder must lie in a folder granted for writing (checked against the grants of the
    /// moment, and never Devpilot's own); no folder means the workspace's own.
    pub fn new(config: &LocalConfig, ctx: &ProviderContext) -> Result<LocalProvider, ProviderError> {
        let host = ctx.host.clone();
        match &config.path {
            Some(p) => {
                let base = host
                    .locate_stored(p, Need::Write)
                    .map_err(|e| ProviderError::new(ErrorKind::Permission, e.to_string()))?;
                Ok(LocalProvider { base, own: false, host })
            }
            None => {
                let base = Located { root: host.own_folder().to_path_buf(), relative: PathBuf::new() };
                Ok(LocalProvider { base, own: true, host })
            }
        }
    }

    /// The folder as messages name it, which every member of the workspace reads: the path the
    /// workspace typed (in a folder granted to it), or its own folder by name, never where that
    /// lies on the server.
    fn shown(&self) -> PathBuf {
        let shown = Located { root: OWN_FOLDER.into(), relative: self.base.relative.clone() };
        if self.own { shown.path() } else { self.base.path() }
    }

    fn io_error(&self, what: &str, path: &Path, e: &io::Error) -> ProviderError {
        let kind = match e.kind() {
            io::ErrorKind::NotFound => ErrorKind::NotFound,
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => ErrorKind::Permission,
            // Not transient: retrying the upload would fill the disk again.
            _ => ErrorKind::Provider,
        };
        ProviderError::new(kind, format!("Cannot {what} {}: {}.", path.display(), describe(e)))
    }

    /// The base folder, opened afresh from `/` (the workspace's own made when missing).
    fn open_base(&self) -> Result<OwnedFd, ProviderError> {
        let root = &self.base.root;
        let devpilot = self.host.devpilot();
        let opened = if self.own {
            let (parent, name) = (root.parent().unwrap_or(root), root.file_name().unwrap_or_default());
            beneath::open_folder(parent).and_then(|p| {
                beneath::make_folder_below(p.as_fd(), Path::new(name), Mode::from_raw_mode(0o700), devpilot)
            })
        } else {
            beneath::open_folder(root)
                .and_then(|r| beneath::open_folder_below(r.as_fd(), &self.base.relative, devpilot))
        };
        opened.map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ProviderError::new(
                ErrorKind::NotFound,
                format!("The folder {} does not exist.", self.shown().display()),
            ),
            io::ErrorKind::NotADirectory => {
                ProviderError::new(ErrorKind::NotFound, format!("{} is not a folder.", self.shown().display()))
            }
            _ => self.io_error("open", &self.shown(), &e),
        })
    }

    /// The folder `relative` (plain names) below the base, made when `make`.
    fn folder(&self, relative: &str, make: bool) -> Result<OwnedFd, ProviderError> {
        let base = self.open_base()?;
        let devpilot = self.host.devpilot();
        let opened = if make {
            beneath::make_folder_below(base.as_fd(), Path::new(relative), Mode::from_raw_mode(FOLDER_MODE), devpilot)
        } else {
            beneath::open_folder_below(base.as_fd(), Path::new(relative), devpilot)
        };
        let what = if make { "create the folder" } else { "open" };
        opened.map_err(|e| self.io_error(what, &self.shown().join(relative), &e))
    }

    /// The folder holding `key` (made when `make`), and the key's file name.
    fn folder_of<'k>(&self, key: &'k str, make: bool) -> Result<(OwnedFd, &'k str), ProviderError> {
        check_key(key)?;
        let (folder, name) = key.rsplit_once('/').unwrap_or(("", key));
        Ok((self.folder(folder, make)?, name))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&LocalProvider) -> Result<T, ProviderError> + Send + 'static,
    ) -> Result<T, ProviderError> {
        let me = LocalProvider { base: self.base.clone(), own: self.own, host: self.host.clone() };
        tokio::task::spawn_blocking(move || work(&me))
            .await
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("the disk operation stopped: {e}")))?
    }
}

fn create_new(dir: &OwnedFd, name: &str) -> io::Result<std::fs::File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(std::fs::File::from(openat(dir, name, flags, Mode::from_raw_mode(FILE_MODE))?))
}

#[async_trait]
impl Provider for LocalProvider {
    fn steps(&self) -> &'static [Step] {
        &[Step::Find, Step::Write]
    }

    async fn test(&self) -> Result<String, ProviderError> {
        self.blocking(|me| {
            let base = me.open_base()?;
            let probe = format!(".devpilot-probe-{}", uuid::Uuid::new_v4());
            let written = create_new(&base, &probe).and_then(|mut f| {
                io::Write::write_all(&mut f, b"devpilot write probe")?;
                f.sync_all()
            });
            let _ = unlinkat(&base, probe.as_str(), AtFlags::empty());
            written.map_err(|e| me.io_error("write to", &me.shown(), &e).at(Step::Write))?;
            Ok(format!("{} exists and is writable.", me.shown().display()))
        })
        .await
    }

    async fn put(&self, key: &str, body: ByteStream) -> Result<u64, ProviderError> {
        let key = key.to_owned();
        // Written beside the target and renamed when complete, so a reader never sees half.
        let (folder, name, partial, file) = self
            .blocking(move |me| {
                let (folder, name) = me.folder_of(&key, true)?;
                let partial = super::partial_name(name);
                let file =
                    create_new(&folder, &partial).map_err(|e| me.io_error("write", &me.shown().join(&key), &e))?;
                Ok((folder, name.to_owned(), partial, file))
            })
            .await?;
        let shown = self.shown().join(&name);
        let result = match super::file_writer::write(file, body, super::file_writer::Durability::Synced).await {
            Ok(n) => renameat(&folder, partial.as_str(), &folder, name.as_str()).map(|()| n).map_err(io::Error::from),
            Err(e) => Err(e),
        };
        result.map_err(|e| {
            let _ = unlinkat(&folder, partial.as_str(), AtFlags::empty());
            self.io_error("write", &shown, &e)
        })
    }

    async fn get(&self, key: &str) -> Result<ByteStream, ProviderError> {
        let key = key.to_owned();
        let file = self
            .blocking(move |me| {
                let (folder, name) = me.folder_of(&key, false)?;
                beneath::open_file_in(folder.as_fd(), OsStr::new(name), me.host.devpilot())
                    .map_err(|e| me.io_error("read", &me.shown().join(&key), &e))
            })
            .await?;
        Ok(tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 256 * 1024).boxed())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, ProviderError> {
        let prefix = prefix.to_owned();
        self.blocking(move |me| {
            let base = me.open_base()?;
            let listed = list_below(base, &prefix, me.host.devpilot());
            listed.map_err(|e| me.io_error("list", &me.shown(), &e))
        })
        .await
    }

    async fn remove_leftovers(&self, folder: &str, ours: Leftovers<'_>) -> Result<usize, ProviderError> {
        let folder = folder.trim_end_matches('/').to_owned();
        let (dir, names) = match self
            .blocking(move |me| {
                check_key(&folder)?;
                let dir = me.folder(&folder, false)?;
                let names = beneath::names_in(dir.as_fd()).map_err(|e| me.io_error("list", &me.shown(), &e))?;
                Ok((dir, names))
            })
            .await
        {
            Ok(found) => found,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for name in names.iter().filter_map(|n| n.to_str()) {
            if super::partial_for(name).is_some_and(ours) {
                unlinkat(&dir, name, AtFlags::empty())
                    .map_err(|e| self.io_error("delete", Path::new(name), &e.into()))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        let key = key.to_owned();
        self.blocking(move |me| {
            check_key(&key)?;
            let mut folders = vec![me.open_base()?];
            let names: Vec<&str> = key.split('/').collect();
            for name in &names[..names.len() - 1] {
                let next =
                    beneath::open_folder_below(folders[folders.len() - 1].as_fd(), Path::new(name), me.host.devpilot())
                        .map_err(|e| me.io_error("delete", &me.shown().join(&key), &e))?;
                folders.push(next);
            }
            let last = folders.len() - 1;
            unlinkat(&folders[last], names[last], AtFlags::empty())
                .map_err(|e| me.io_error("delete", &me.shown().join(&key), &e.into()))?;
            // Folders that held only this artifact go too; a folder that is not empty stays.
            for depth in (0..last).rev() {
                if unlinkat(&folders[depth], names[depth], AtFlags::REMOVEDIR).is_err() {
                    break;
                }
            }
            Ok(())
        })
        .await
    }
}

/// Every artifact below an open folder whose key starts with `prefix`, following no link and
/// skipping hidden names (probes and unfinished writes).
fn list_below(base: OwnedFd, prefix: &str, devpilot: &crate::hostfs::DevpilotFiles) -> io::Result<Vec<StoredObject>> {
    let mut found = Vec::new();
    let mut pending = vec![(base, String::new())];
    while let Some((dir, relative)) = pending.pop() {
        for name in beneath::names_in(dir.as_fd())? {
            let Some(name) = name.to_str().filter(|n| !n.starts_with('.')) else { continue };
            let key = if relative.is_empty() { name.to_owned() } else { format!("{relative}/{name}") };
            let stat = statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::Directory
                    if format!("{key}/").starts_with(prefix) || prefix.starts_with(&format!("{key}/")) =>
                {
                    pending.push((beneath::open_folder_below(dir.as_fd(), Path::new(name), devpilot)?, key));
                }
                FileType::RegularFile if key.starts_with(prefix) => {
                    let modified = chrono::DateTime::from_timestamp(stat.st_mtime, 0);
                    found.push(StoredObject {
                        key,
                        size: u64::try_from(stat.st_size).unwrap_or(0),
                        last_modified: modified,
                    });
                }
                _ => {}
            }
        }
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(found)
}
