//! Devpilot's own files are its user's alone: the data folder 0700, the SQLite database (and its
//! `-wal` and `-shm`) and the master key file 0600. Made so when missing; tightened at start when
//! an older install (or a hand-made file) left them open to others, with a log line for each.

use crate::config::Settings;
use crate::db::Backend;
use anyhow::Context;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const PRIVATE_DIR: u32 = 0o700;
const PRIVATE_FILE: u32 = 0o600;

/// Runs before the database opens, so SQLite finds its file private (it gives `-wal` and `-shm`
/// the database file's mode).
pub fn secure(settings: &Settings) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(&settings.data_dir)
        .with_context(|| format!("creating the data folder {}", settings.data_dir.display()))?;
    tighten(&settings.data_dir, PRIVATE_DIR)?;
    if Backend::of(&settings.database_url) == Backend::Sqlite {
        let db = PathBuf::from(crate::db::sqlite_path(&settings.database_url));
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            std::fs::DirBuilder::new().recursive(true).mode(PRIVATE_DIR).create(dir)?;
        }
        // Created empty and private if missing: SQLite takes an empty file for a new database.
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(PRIVATE_FILE).open(&db) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating the database {}", db.display())),
        }
        for file in [db.clone(), suffixed(&db, "-wal"), suffixed(&db, "-shm")] {
            tighten(&file, PRIVATE_FILE)?;
        }
    }
    tighten(&settings.master_key_file(), PRIVATE_FILE)
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Takes from `path` whatever its mode grants beyond `allowed` (a missing file is fine).
fn tighten(path: &Path, allowed: u32) -> anyhow::Result<()> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading the permissions of {}", path.display())),
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & !allowed == 0 {
        return Ok(());
    }
    let tightened = mode & allowed;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(tightened))
        .with_context(|| format!("restricting the permissions of {}", path.display()))?;
    tracing::warn!(
        path = %path.display(),
        "tightened permissions of {} from {mode:04o} to {tightened:04o}: only Devpilot's user may read it",
        path.display()
    );
    Ok(())
}
