//! Devpilot's own files: its data folder, its default backup folder, its key file and its SQLite
//! database with `-wal`, `-shm` and `-journal`. Whatever is granted, no workspace reads, writes or
//! restores over them. They are known by device and inode (a bind mount or a hard link is no way
//! round the check) and the database's companions, which come and go, by name in its folder.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A file's identity on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(stat: &rustix::fs::Stat) -> FileId {
        FileId { dev: stat.st_dev, ino: stat.st_ino }
    }

    /// The identity of what `path` names, following links; None when it does not exist.
    pub fn of_path(path: &Path) -> Option<FileId> {
        std::fs::metadata(path).ok().map(|m| FileId { dev: m.dev(), ino: m.ino() })
    }
}

/// One of Devpilot's own things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Own {
    DataFolder,
    BackupFolder,
    KeyFile,
    Database,
}

impl Own {
    pub fn label(self) -> &'static str {
        match self {
            Own::DataFolder => "Devpilot's data folder",
            Own::BackupFolder => "Devpilot's backup folder",
            Own::KeyFile => "Devpilot's master key file",
            Own::Database => "Devpilot's database",
        }
    }

    pub fn is_folder(self) -> bool {
        matches!(self, Own::DataFolder | Own::BackupFolder)
    }
}

#[derive(Debug, Clone)]
struct Known {
    own: Own,
    /// Resolved when known (or as configured, when it does not exist yet).
    path: PathBuf,
    id: Option<FileId>,
}

/// The companions SQLite keeps beside a database file.
const DATABASE_COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

#[derive(Debug, Clone, Default)]
pub struct DevpilotFiles {
    known: Vec<Known>,
    /// The database's folder and file name, for its companions.
    database: Option<(FileId, OsString)>,
}

impl DevpilotFiles {
    /// Learns where and what Devpilot's files are; call it once they exist (after start-up has
    /// made the data folder, the key and the database).
    pub fn new(data_dir: &Path, backup_dir: &Path, key_file: &Path, database: Option<&Path>) -> DevpilotFiles {
        let know = |own: Own, path: &Path| {
            let resolved = std::fs::canonicalize(path)
                .or_else(|_| std::path::absolute(path))
                .unwrap_or_else(|_| path.to_path_buf());
            Known { own, id: FileId::of_path(&resolved), path: resolved }
        };
        let mut known = vec![know(Own::DataFolder, data_dir), know(Own::BackupFolder, backup_dir)];
        known.push(know(Own::KeyFile, key_file));
        let mut companions = None;
        if let Some(db) = database {
            let db = know(Own::Database, db);
            if let (Some(dir), Some(name)) = (db.path.parent(), db.path.file_name()) {
                companions = FileId::of_path(dir).map(|id| (id, name.to_owned()));
            }
            known.push(db);
        }
        DevpilotFiles { known, database: companions }
    }

    /// What of Devpilot's a resolved path is or lies inside, if anything.
    pub fn what_is(&self, path: &Path) -> Option<Own> {
        let ancestors: Vec<(&Path, Option<FileId>)> = path.ancestors().map(|a| (a, FileId::of_path(a))).collect();
        for known in self.known.iter().filter(|k| k.own.is_folder()) {
            let same = |(a, id): &(&Path, Option<FileId>)| *a == known.path || (id.is_some() && *id == known.id);
            if ancestors.iter().any(same) {
                return Some(known.own);
            }
        }
        let id = FileId::of_path(path);
        let parent = path.parent().and_then(FileId::of_path);
        match (parent, path.file_name()) {
            (Some(dir), Some(name)) => self.file(dir, name, id),
            _ => None,
        }
        .or_else(|| self.known.iter().find(|k| !k.own.is_folder() && k.path == path).map(|k| k.own))
    }

    /// Which of Devpilot's folders and files lie inside a resolved folder (or are it).
    pub fn inside(&self, folder: &Path) -> Vec<Own> {
        let mut found: Vec<Own> = self.known.iter().filter(|k| k.path.starts_with(folder)).map(|k| k.own).collect();
        found.dedup();
        found
    }

    /// A folder met on a walk: one of Devpilot's, or None.
    pub fn folder(&self, id: FileId) -> Option<Own> {
        self.known.iter().find(|k| k.own.is_folder() && k.id == Some(id)).map(|k| k.own)
    }

    /// A file named `name` met in the folder `dir` on a walk (`id` when it exists): one of
    /// Devpilot's, or None.
    pub fn file(&self, dir: FileId, name: &OsStr, id: Option<FileId>) -> Option<Own> {
        if let Some(own) = self.known.iter().find(|k| !k.own.is_folder() && k.id.is_some() && k.id == id) {
            return Some(own.own);
        }
        let (db_dir, db_name) = self.database.as_ref()?;
        let companion = |suffix: &str| {
            let mut expected = db_name.clone();
            expected.push(suffix);
            expected == name
        };
        (*db_dir == dir && (name == db_name || DATABASE_COMPANIONS.iter().any(|s| companion(s))))
            .then_some(Own::Database)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> (tempfile::TempDir, DevpilotFiles) {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        std::fs::create_dir_all(data.join("backups")).expect("mkdir");
        std::fs::write(data.join("master.key"), b"k").expect("key");
        std::fs::create_dir(root.path().join("db")).expect("mkdir");
        std::fs::write(root.path().join("db/devpilot.db"), b"SQLite format 3\0").expect("db");
        let files = DevpilotFiles::new(
            &data,
            &data.join("backups"),
            &data.join("master.key"),
            Some(&root.path().join("db/devpilot.db")),
        );
        (root, files)
    }

    #[test]
    fn knows_its_folders_files_and_the_database_companions() {
        let (root, files) = layout();
        let r = std::fs::canonicalize(root.path()).expect("resolved");
        assert_eq!(files.what_is(&r.join("data")), Some(Own::DataFolder));
        assert_eq!(files.what_is(&r.join("data/backups/ws")), Some(Own::DataFolder));
        assert_eq!(files.what_is(&r.join("db/devpilot.db")), Some(Own::Database));
        assert_eq!(files.what_is(&r.join("db/devpilot.db-wal")), Some(Own::Database), "a companion not yet made");
        assert_eq!(files.what_is(&r.join("db/other.db")), None);
        assert_eq!(files.what_is(&r), None);
        assert_eq!(files.inside(&r), vec![Own::DataFolder, Own::BackupFolder, Own::KeyFile, Own::Database]);
    }

    #[test]
    fn a_hard_link_to_the_database_is_still_the_database() {
        let (root, files) = layout();
        let r = std::fs::canonicalize(root.path()).expect("resolved");
        std::fs::hard_link(r.join("db/devpilot.db"), r.join("copy.db")).expect("link");
        assert_eq!(files.what_is(&r.join("copy.db")), Some(Own::Database));
    }
}
