//! A directory or SQLite source on this machine, checked when the plan is saved: granted to the
//! workspace for reading (checked before the path is looked at), never Devpilot's own, then there
//! and of the right kind. The plan keeps the resolved path; each run opens it again without
//! following a link.

use super::domain::Source;
use crate::hostfs::beneath::{self, open_file_in};
use crate::hostfs::{HostAccess, Need, describe};
use rustix::fs::{AtFlags, FileType, statat};
use std::io::Read;
use std::os::fd::AsFd;

/// The source with its path resolved, or what is wrong with it (for the `source_path` field).
pub fn check(access: &HostAccess, source: Source) -> Result<Source, String> {
    let (path, is_directory) = match &source {
        Source::Directory(path) => (path, true),
        Source::Sqlite(path) => (path, false),
        Source::Postgres(_) | Source::Mariadb(_) | Source::Bucket(_) => return Ok(source),
    };
    let typed = path.display().to_string();
    let located = access.locate(&typed, Need::Read).map_err(|e| e.to_string())?;
    let unreadable = |e: std::io::Error| format!("“{typed}” cannot be read by the server: {}.", describe(&e));
    let root = beneath::open_folder(&located.root).map_err(unreadable)?;
    let (folder, name) = match (located.relative.parent(), located.relative.file_name()) {
        (Some(folder), Some(name)) => (folder, name),
        _ if is_directory => return Ok(Source::Directory(located.path())),
        _ => return Err(format!("“{typed}” is a directory, not a database file.")),
    };
    let folder = beneath::open_folder_below(root.as_fd(), folder, access.devpilot()).map_err(unreadable)?;
    let kind = statat(&folder, name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| unreadable(e.into()))?;
    match (FileType::from_raw_mode(kind.st_mode), is_directory) {
        (FileType::Directory, true) => {
            let opened = beneath::open_folder_below(folder.as_fd(), std::path::Path::new(name), access.devpilot());
            beneath::names_in(opened.map_err(unreadable)?.as_fd()).map_err(unreadable)?;
            Ok(Source::Directory(located.path()))
        }
        (_, true) => Err(format!("“{typed}” is a file, not a directory.")),
        (FileType::Directory, false) => Err(format!("“{typed}” is a directory, not a database file.")),
        (_, false) => {
            let mut header = [0u8; 16];
            let mut file = open_file_in(folder.as_fd(), name, access.devpilot()).map_err(unreadable)?;
            match file.read_exact(&mut header) {
                Ok(()) if &header == b"SQLite format 3\0" => Ok(Source::Sqlite(located.path())),
                _ => Err(format!("“{typed}” is not a SQLite database.")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::FolderAccess;
    use crate::hostfs::DevpilotFiles;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    #[test]
    fn sources_are_granted_there_and_of_their_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = std::fs::canonicalize(dir.path()).expect("resolved");
        std::fs::create_dir_all(r.join("granted/files")).expect("mkdir");
        std::fs::write(r.join("granted/file.txt"), b"x".repeat(64)).expect("write");
        std::fs::write(r.join("granted/app.db"), b"SQLite format 3\0rest").expect("write");
        let access = HostAccess::new(
            vec![(r.join("granted"), FolderAccess::Read)],
            r.join("own"),
            Arc::new(DevpilotFiles::default()),
        );
        let at = |p: &str| r.join(p);
        let dir_of = |p: PathBuf| check(&access, Source::Directory(p));
        let db_of = |p: PathBuf| check(&access, Source::Sqlite(p));
        assert_eq!(dir_of(at("granted/files/../files")), Ok(Source::Directory(at("granted/files"))));
        assert_eq!(db_of(at("granted/app.db")), Ok(Source::Sqlite(at("granted/app.db"))));
        let expect = |result: Result<Source, String>, words: &str| {
            let message = result.expect_err(words);
            assert!(message.contains(words), "{words}: {message}");
        };
        expect(dir_of(at("granted/missing")), "does not exist");
        expect(dir_of(at("granted/file.txt")), "is a file, not a directory");
        expect(db_of(at("granted/files")), "is a directory, not a database file");
        expect(db_of(at("granted/file.txt")), "is not a SQLite database");
        expect(dir_of(at("elsewhere")), crate::hostfs::NOT_GRANTED);
        expect(dir_of(Path::new("/etc").to_path_buf()), crate::hostfs::NOT_GRANTED);
    }
}
