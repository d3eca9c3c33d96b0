//! Devpilot's own folders at start-up, and its private temporary folder `<data>/tmp` (mode 0700):
//! a restore downloads its artifact there, into a folder of its own that goes when the restore
//! ends, whatever happens (and at the next start, after a crash).

use super::own::DevpilotFiles;
use crate::config::Settings;
use anyhow::Context;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// Makes the backup and temporary folders (empties the latter: what is there, a crash left) and
/// learns where Devpilot's own files are.
pub fn at_start(settings: &Settings) -> anyhow::Result<DevpilotFiles> {
    let private = |path: &Path| {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .with_context(|| format!("creating {}", path.display()))
    };
    private(&settings.data_dir)?;
    private(&settings.local_backup_dir)?;
    let tmp = temp_root(&settings.data_dir);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("emptying {}", tmp.display()))?;
    }
    private(&tmp)?;
    let database = crate::db::sqlite_file(&settings.database_url);
    Ok(DevpilotFiles::new(
        &settings.data_dir,
        &settings.local_backup_dir,
        &settings.master_key_file(),
        database.as_deref(),
    ))
}

fn temp_root(data_dir: &Path) -> PathBuf {
    data_dir.join("tmp")
}

/// Whether `path` names something inside a private temporary folder of `data_dir` (by its text:
/// plain names below `<data>/tmp`, no `..`).
pub fn is_private_temp(data_dir: &Path, path: &Path) -> bool {
    path.strip_prefix(temp_root(data_dir)).is_ok_and(|rest| {
        rest.components().count() >= 2 && rest.components().all(|c| matches!(c, Component::Normal(_)))
    })
}

/// A folder of its own under `<data>/tmp`, removed with everything in it when dropped.
#[derive(Debug)]
pub struct PrivateTemp(PathBuf);

impl PrivateTemp {
    pub fn create(data_dir: &Path) -> std::io::Result<PrivateTemp> {
        let path = temp_root(data_dir).join(uuid::Uuid::new_v4().to_string());
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(PrivateTemp(path))
    }

    /// A new file in it, readable and writable by Devpilot alone.
    pub fn new_file(&self, name: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
        let path = self.0.join(name);
        let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&path)?;
        Ok((path, file))
    }
}

impl Drop for PrivateTemp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
