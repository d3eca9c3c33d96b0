//! Opening host paths without following symbolic links: from `/` one name at a time to a granted
//! folder, then below it the same way. A folder swapped for a link after its path was checked is
//! refused, never followed; a folder of Devpilot's own met on the way (a bind mount, say) is
//! refused too. Every later step works relative to the descriptors opened here.

use super::own::{DevpilotFiles, FileId};
use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, fstat, mkdirat, openat, statat, unlinkat};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

/// A folder passed through on the way (searchable, not necessarily readable).
const PASS: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);
/// A folder to read or work in.
pub const FOLDER: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);
/// A file to read: never through a link, never blocking on a pipe swapped in.
pub const READ_FILE: OFlags =
    OFlags::RDONLY.union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC).union(OFlags::NOCTTY).union(OFlags::NONBLOCK);

/// Opens a resolved absolute folder from `/`, following no link on the way.
pub fn open_folder(path: &Path) -> io::Result<OwnedFd> {
    let names = plain_names(path.strip_prefix("/").map_err(|_| not_plain(path))?)?;
    let mut fd = openat(CWD, "/", if names.is_empty() { FOLDER } else { PASS }, Mode::empty())?;
    for (i, name) in names.iter().enumerate() {
        let flags = if i + 1 == names.len() { FOLDER } else { PASS };
        fd = step(fd.as_fd(), name, flags)?;
    }
    Ok(fd)
}

/// Opens `relative` (plain names; empty for `dir` itself) below an open folder, following no link
/// and entering none of Devpilot's folders.
pub fn open_folder_below(dir: BorrowedFd<'_>, relative: &Path, devpilot: &DevpilotFiles) -> io::Result<OwnedFd> {
    let mut fd = openat(dir, ".", FOLDER, Mode::empty())?;
    for name in plain_names(relative)? {
        fd = step(fd.as_fd(), name, FOLDER)?;
        refuse_own_folder(&fd, name, devpilot)?;
    }
    Ok(fd)
}

/// Like [`open_folder_below`], making the folders that are missing (with `mode`).
pub fn make_folder_below(
    dir: BorrowedFd<'_>,
    relative: &Path,
    mode: Mode,
    devpilot: &DevpilotFiles,
) -> io::Result<OwnedFd> {
    let mut fd = openat(dir, ".", FOLDER, Mode::empty())?;
    for name in plain_names(relative)? {
        match mkdirat(fd.as_fd(), name, mode) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        fd = step(fd.as_fd(), name, FOLDER)?;
        refuse_own_folder(&fd, name, devpilot)?;
    }
    Ok(fd)
}

/// Opens the file `name` in an open folder for reading, refusing a link, anything but a regular
/// file, and Devpilot's own files (checked before the file is opened: opening and closing
/// Devpilot's database through another handle would drop SQLite's locks on it).
pub fn open_file_in(dir: BorrowedFd<'_>, name: &OsStr, devpilot: &DevpilotFiles) -> io::Result<std::fs::File> {
    let before = statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    match FileType::from_raw_mode(before.st_mode) {
        FileType::Symlink => return Err(symlink_refused(name)),
        FileType::RegularFile => {}
        _ => return Err(io::Error::other(format!("“{}” is not a regular file", name.display()))),
    }
    if let Some(own) = devpilot.file(FileId::of(&fstat(dir)?), name, Some(FileId::of(&before))) {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("it is {}", own.label())));
    }
    let fd = openat(dir, name, READ_FILE, Mode::empty()).map_err(|e| explain(dir, name, e))?;
    if FileId::of(&fstat(&fd)?) != FileId::of(&before) {
        return Err(io::Error::other(format!("“{}” changed while it was opened", name.display())));
    }
    Ok(std::fs::File::from(fd))
}

/// The names in an open folder, without `.` and `..`.
pub fn names_in(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    let mut entries = Dir::read_from(dir)?;
    while let Some(entry) = entries.read() {
        let entry = entry?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name != "." && name != ".." {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Removes `name` in an open folder and, for a folder, everything in it, following no link.
pub fn remove_tree(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let stat = statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
        return Ok(unlinkat(dir, name, AtFlags::empty())?);
    }
    let inner = step(dir, name, FOLDER)?;
    for child in names_in(inner.as_fd())? {
        remove_tree(inner.as_fd(), &child)?;
    }
    Ok(unlinkat(dir, name, AtFlags::REMOVEDIR)?)
}

/// The error for a link met where Devpilot does not follow links.
pub fn symlink_refused(name: &OsStr) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("“{}” is a symbolic link, which Devpilot does not follow in host folders", name.display()),
    )
}

fn step(dir: BorrowedFd<'_>, name: &OsStr, flags: OFlags) -> io::Result<OwnedFd> {
    openat(dir, name, flags, Mode::empty()).map_err(|e| explain(dir, name, e))
}

/// Says "symbolic link" when that is why an open failed (the kernel says ELOOP or ENOTDIR).
fn explain(dir: BorrowedFd<'_>, name: &OsStr, e: rustix::io::Errno) -> io::Error {
    let is_link = matches!(e, rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)
        && statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Symlink);
    if is_link { symlink_refused(name) } else { e.into() }
}

fn refuse_own_folder(fd: &OwnedFd, name: &OsStr, devpilot: &DevpilotFiles) -> io::Result<()> {
    match devpilot.folder(FileId::of(&fstat(fd)?)) {
        Some(own) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("“{}” is {}, which no workspace can use", name.display(), own.label()),
        )),
        None => Ok(()),
    }
}

/// The names of a relative path; `.`, `..`, or a root in it is refused.
fn plain_names(path: &Path) -> io::Result<Vec<&OsStr>> {
    path.components()
        .map(|c| match c {
            Component::Normal(name) => Ok(name),
            _ => Err(not_plain(path)),
        })
        .collect()
}

fn not_plain(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("“{}” is not a plain path", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_link_on_the_way_is_refused_not_followed() {
        let root = tempfile::tempdir().expect("tempdir");
        let r = std::fs::canonicalize(root.path()).expect("resolved");
        std::fs::create_dir_all(r.join("granted/sub")).expect("mkdir");
        std::fs::create_dir(r.join("secret")).expect("mkdir");
        symlink(r.join("secret"), r.join("granted/link")).expect("symlink");
        let none = DevpilotFiles::default();
        let granted = open_folder(&r.join("granted")).expect("open");
        assert!(open_folder_below(granted.as_fd(), Path::new("sub"), &none).is_ok());
        let refused = open_folder_below(granted.as_fd(), Path::new("link"), &none).expect_err("a link");
        assert!(refused.to_string().contains("symbolic link"), "{refused}");
        let refused = open_folder(&r.join("granted/link")).expect_err("a link from /");
        assert!(refused.to_string().contains("symbolic link"), "{refused}");
        assert!(open_folder_below(granted.as_fd(), Path::new("sub/../../secret"), &none).is_err(), "no ..");
        std::fs::write(r.join("secret/key"), b"k").expect("write");
        symlink(r.join("secret/key"), r.join("granted/key")).expect("symlink");
        let refused = open_file_in(granted.as_fd(), OsStr::new("key"), &none).expect_err("a file link");
        assert!(refused.to_string().contains("symbolic link"), "{refused}");
    }

    #[test]
    fn devpilot_folders_and_files_are_refused_below_a_granted_folder() {
        let root = tempfile::tempdir().expect("tempdir");
        let r = std::fs::canonicalize(root.path()).expect("resolved");
        std::fs::create_dir_all(r.join("data/backups")).expect("mkdir");
        std::fs::write(r.join("data/devpilot.db"), b"db").expect("db");
        let files = DevpilotFiles::new(
            &r.join("data"),
            &r.join("data/backups"),
            &r.join("data/key"),
            Some(&r.join("data/devpilot.db")),
        );
        let top = open_folder(&r).expect("open");
        let refused = open_folder_below(top.as_fd(), Path::new("data"), &files).expect_err("data folder");
        assert!(refused.to_string().contains("data folder"), "{refused}");
        let data = open_folder(&r.join("data")).expect("open");
        let refused = open_file_in(data.as_fd(), OsStr::new("devpilot.db"), &files).expect_err("database");
        assert!(refused.to_string().contains("database"), "{refused}");
    }

    #[test]
    fn missing_folders_are_made_below_and_trees_removed() {
        let root = tempfile::tempdir().expect("tempdir");
        let none = DevpilotFiles::default();
        let top = open_folder(&std::fs::canonicalize(root.path()).expect("resolved")).expect("open");
        make_folder_below(top.as_fd(), Path::new("a/b/c"), Mode::from_raw_mode(0o755), &none).expect("mkdir -p");
        assert!(root.path().join("a/b/c").is_dir());
        symlink("/etc", root.path().join("a/b/etc")).expect("symlink");
        remove_tree(top.as_fd(), OsStr::new("a")).expect("remove");
        assert!(!root.path().join("a").exists());
        assert!(Path::new("/etc").is_dir(), "the link was removed, not followed");
    }
}
