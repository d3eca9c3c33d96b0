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
}

/// The companions SQLite keeps beside a database file.
const DATABASE_COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Where Devpilot's own files are. Their identities are read afresh for every check
/// ([`DevpilotFiles::now`]): a key rotation replaces the key file, and a freed inode number may
/// come back as any other file's.
#[derive(Debug, Clone, Default)]
pub struct DevpilotFiles {
    known: Vec<Known>,
}

/// Devpilot's own files as they are at one moment: for a walk, read once at its start.
#[derive(Debug, Clone, Default)]
pub struct DevpilotIds {
    folders: Vec<(Own, FileId)>,
    files: Vec<(Own, FileId)>,
    /// The database's folder and file name, for its companions, which come and go.
    database: Option<(FileId, OsString)>,
}

impl DevpilotFiles {
    /// Learns where Devpilot's files are (resolved where they exist).
    pub fn new(data_dir: &Path, backup_dir: &Path, key_file: &Path, database: Option<&Path>) -> DevpilotFiles {
        let know = |own: Own, path: &Path| {
            let resolved = std::fs::canonicalize(path)
                .or_else(|_| std::path::absolute(path))
                .unwrap_or_else(|_| path.to_path_buf());
            Known { own, path: resolved }
        };
        let mut known = vec![know(Own::DataFolder, data_dir), know(Own::BackupFolder, backup_dir)];
        known.push(know(Own::KeyFile, key_file));
        known.extend(database.map(|db| know(Own::Database, db)));
        DevpilotFiles { known }
    }

    /// The identities of Devpilot's files now.
    pub fn now(&self) -> DevpilotIds {
        let mut ids = DevpilotIds::default();
        for known in &self.known {
            let Some(id) = FileId::of_path(&known.path) else { continue };
            if known.own.is_folder() { ids.folders.push((known.own, id)) } else { ids.files.push((known.own, id)) }
        }
        let database = self.known.iter().find(|k| k.own == Own::Database);
        if let Some((dir, name)) = database.and_then(|db| Some((db.path.parent()?, db.path.file_name()?))) {
            ids.database = FileId::of_path(dir).map(|id| (id, name.to_owned()));
        }
        ids
    }

    /// What of Devpilot's a path is or lies inside, if anything (by its text and by the identity
    /// of it and each folder above it).
    pub fn what_is(&self, path: &Path) -> Option<Own> {
        let now = self.now();
        for known in self.known.iter().filter(|k| k.own.is_folder()) {
            if path.starts_with(&known.path) {
                return Some(known.own);
            }
        }
        for ancestor in path.ancestors() {
            if let Some(own) = FileId::of_path(ancestor).and_then(|id| now.folder(id)) {
                return Some(own);
            }
        }
        let parent = path.parent().and_then(FileId::of_path);
        match (parent, path.file_name()) {
            (Some(dir), Some(name)) => now.file(dir, name, FileId::of_path(path)),
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

    /// A folder met on the way: one of Devpilot's, or None.
    pub fn folder(&self, id: FileId) -> Option<Own> {
        self.now().folder(id)
    }

    /// A file named `name` met in the folder `dir`: one of Devpilot's, or None.
    pub fn file(&self, dir: FileId, name: &OsStr, id: Option<FileId>) -> Option<Own> {
        self.now().file(dir, name, id)
    }
}

impl DevpilotIds {
    pub fn folder(&self, id: FileId) -> Option<Own> {
        self.folders.iter().find(|(_, known)| *known == id).map(|(own, _)| *own)
    }

    pub fn file(&self, dir: FileId, name: &OsStr, id: Option<FileId>) -> Option<Own> {
        if let Some((own, _)) = self.files.iter().find(|(_, known)| Some(*known) == id) {
            return Some(*own);
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
    fn a_replaced_key_file_is_known_by_its_new_identity() {
        let (root, files) = layout();
        let r = std::fs::canonicalize(root.path()).expect("resolved");
        let key = r.join("data/master.key");
        std::fs::write(r.join("data/new.key"), b"k2").expect("write");
        std::fs::rename(r.join("data/new.key"), &key).expect("rotate");
        let id = FileId::of_path(&key).expect("key");
        let dir = FileId::of_path(&r.join("data")).expect("dir");
        assert_eq!(files.file(dir, OsStr::new("master.key"), Some(id)), Some(Own::KeyFile));
        std::fs::create_dir(r.join("elsewhere")).expect("mkdir");
        assert_eq!(files.what_is(&r.join("elsewhere")), None, "no stale identity matches another file");
    }

    #[test]
    fn a_hard_link_to_the_database_is_still_the_database() {
        let (root, files) = layout();
        let r = std::fs::canonicalize(root.path()).expect("resolved");
        std::fs::hard_link(r.join("db/devpilot.db"), r.join("copy.db")).expect("link");
        assert_eq!(files.what_is(&r.join("copy.db")), Some(Own::Database));
    }
}
