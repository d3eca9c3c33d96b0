//! The walk of a directory backup: below a granted folder opened without following links, every
//! entry opened relative to its folder's descriptor with no-follow, links stored as links, and
//! Devpilot's own folders and files skipped before anything of theirs is opened (so Devpilot never
//! opens its own database through another handle, which would drop SQLite's locks on it).
//! Memory stays at one open folder and its names per level, whatever the directory's size. The
//! same walk, opening no file, tells a run beforehand how much it will read ([`content_size`]).

use super::manifest;
use crate::hostfs::beneath::{self, FOLDER, READ_FILE};
use crate::hostfs::{DevpilotFiles, FileId, Located};
use rustix::fs::{AtFlags, FileType, Mode, Stat, fstat, openat, readlinkat, statat};
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What a walk skipped, in words, for the run's notes.
pub type Skipped = Arc<Mutex<Vec<String>>>;

struct Level {
    fd: OwnedFd,
    id: FileId,
    path: PathBuf,
    names: std::vec::IntoIter<OsString>,
}

/// What a walk does with the entries it meets, in order. The walk itself opens the folders (below
/// the granted one, no link followed) and skips Devpilot's own entries before calling it, so every
/// use of a directory sees the same entries under the same rules.
trait Visit {
    fn folder(&mut self, path: &Path, stat: &Stat) -> io::Result<()>;
    /// A regular file in `parent` (not opened yet: `stat` is the entry's, without following a link).
    fn file(&mut self, parent: BorrowedFd<'_>, name: &OsStr, path: &Path, stat: &Stat) -> io::Result<()>;
    fn link(&mut self, parent: BorrowedFd<'_>, name: &OsStr, path: &Path, stat: &Stat) -> io::Result<()>;
}

/// Writes `located` as a tar archive into `out`, noting what it skipped in `skipped`, adding the
/// bytes of file content it reads to `read` (what a run's progress counts) and recording every
/// entry in `manifest` on the way (each file's hash from the bytes the archive holds); the
/// manifest is the archive's last entry.
pub fn archive<W: Write>(
    located: &Located,
    devpilot: &DevpilotFiles,
    out: W,
    skipped: &Skipped,
    read: &AtomicU64,
    manifest: manifest::Writer,
) -> io::Result<(W, manifest::Written)> {
    let mut archive = Archive { tar: tar::Builder::new(out), shown: located.path(), skipped, read, manifest };
    walk(located, devpilot, skipped, &mut archive)?;
    let Archive { mut tar, manifest, .. } = archive;
    let written = manifest.finish()?;
    manifest::append_to(&mut tar, &written)?;
    Ok((tar.into_inner()?, written))
}

/// The bytes of file content a backup of `located` would read now: the same walk without opening
/// any file (sizes from each entry's own `stat`). Memory stays at one folder's names per level.
pub fn content_size(located: &Located, devpilot: &DevpilotFiles) -> io::Result<u64> {
    let mut size = Size(0);
    walk(located, devpilot, &Skipped::default(), &mut size)?;
    Ok(size.0)
}

struct Size(u64);

impl Visit for Size {
    fn folder(&mut self, _: &Path, _: &Stat) -> io::Result<()> {
        Ok(())
    }

    fn file(&mut self, _: BorrowedFd<'_>, _: &OsStr, _: &Path, stat: &Stat) -> io::Result<()> {
        self.0 = self.0.saturating_add(u64::try_from(stat.st_size).unwrap_or(0));
        Ok(())
    }

    fn link(&mut self, _: BorrowedFd<'_>, _: &OsStr, _: &Path, _: &Stat) -> io::Result<()> {
        Ok(())
    }
}

struct Archive<'a, W: Write> {
    tar: tar::Builder<W>,
    shown: PathBuf,
    skipped: &'a Skipped,
    read: &'a AtomicU64,
    manifest: manifest::Writer,
}

impl<W: Write> Archive<'_, W> {
    fn record(&mut self, path: &Path, kind: &str, stat: &Stat, size: u64, sha256: Option<String>) -> io::Result<()> {
        let path = manifest::Line::path_of(path);
        if path.is_empty() {
            return Ok(());
        }
        let (mode, mtime) = (stat.st_mode & 0o7777, stat.st_mtime);
        self.manifest.push(&manifest::Line { path, kind: kind.into(), size, mode, mtime, sha256, etag: None })
    }
}

impl<W: Write> Visit for Archive<'_, W> {
    fn folder(&mut self, path: &Path, stat: &Stat) -> io::Result<()> {
        append_folder(&mut self.tar, path, stat)?;
        self.record(path, manifest::DIR, stat, 0, None)
    }

    fn file(&mut self, parent: BorrowedFd<'_>, name: &OsStr, path: &Path, stat: &Stat) -> io::Result<()> {
        let fd = openat(parent, name, READ_FILE, Mode::empty()).map_err(|e| at(&self.shown, path, e.into()))?;
        let opened = fstat(&fd)?;
        if FileId::of(&opened) != FileId::of(stat) || FileType::from_raw_mode(opened.st_mode) != FileType::RegularFile {
            return Err(at(&self.shown, path, io::Error::other("it changed while it was read")));
        }
        let size = u64::try_from(opened.st_size).unwrap_or(0);
        let mut header = header(&opened, tar::EntryType::Regular, size);
        let body = Exactly { file: std::fs::File::from(fd), left: size, short: false, read: self.read };
        let mut body = manifest::Hashing::new(body);
        self.tar.append_data(&mut header, path, &mut body)?;
        self.record(path, manifest::FILE, &opened, size, Some(body.hex()))?;
        let body = body.inner;
        if body.short {
            note(
                self.skipped,
                format!("{} shrank while it was read (the rest is zeros)", self.shown.join(path).display()),
            );
        }
        Ok(())
    }

    fn link(&mut self, parent: BorrowedFd<'_>, name: &OsStr, path: &Path, stat: &Stat) -> io::Result<()> {
        let target = readlinkat(parent, name, Vec::new()).map_err(|e| at(&self.shown, path, e.into()))?;
        let target = PathBuf::from(OsString::from_vec(target.into_bytes()));
        self.tar.append_link(&mut header(stat, tar::EntryType::Symlink, 0), path, target)?;
        self.record(path, manifest::SYMLINK, stat, 0, None)
    }
}

/// Walks `located` depth first in name order, calling `visit` for every entry a backup holds.
fn walk(located: &Located, devpilot: &DevpilotFiles, skipped: &Skipped, visit: &mut impl Visit) -> io::Result<()> {
    let root = beneath::open_folder(&located.root)?;
    let top = beneath::open_folder_below(root.as_fd(), &located.relative, devpilot)?;
    let shown = located.path();
    // Devpilot's files as they are now, checked for every entry without a stat of them each time.
    let devpilot = devpilot.now();
    let mut specials = 0usize;
    let stat = fstat(&top)?;
    visit.folder(Path::new("."), &stat)?;
    let mut stack = vec![level(top, FileId::of(&stat), PathBuf::from("."))?];
    while let Some(current) = stack.last_mut() {
        let Some(name) = current.names.next() else {
            stack.pop();
            continue;
        };
        let path = current.path.join(&name);
        let stat = match statat(&current.fd, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            // Gone since the folder was listed: nothing to back up.
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => return Err(at(&shown, &path, e.into())),
        };
        let id = FileId::of(&stat);
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => {
                if let Some(own) = devpilot.folder(id) {
                    note(skipped, format!("{} ({})", own.label(), shown.join(&path).display()));
                    continue;
                }
                let fd = openat(&current.fd, &name, FOLDER, Mode::empty()).map_err(|e| at(&shown, &path, e.into()))?;
                let opened = fstat(&fd)?;
                if FileId::of(&opened) != id {
                    return Err(at(&shown, &path, io::Error::other("it changed while it was read")));
                }
                visit.folder(&path, &opened)?;
                stack.push(level(fd, id, path)?);
            }
            FileType::RegularFile => {
                if let Some(own) = devpilot.file(current.id, &name, Some(id)) {
                    note(skipped, format!("{} ({})", own.label(), shown.join(&path).display()));
                    continue;
                }
                visit.file(current.fd.as_fd(), &name, &path, &stat)?;
            }
            FileType::Symlink => visit.link(current.fd.as_fd(), &name, &path, &stat)?,
            _ => specials += 1,
        }
    }
    if specials > 0 {
        note(skipped, format!("{specials} sockets, pipes or device files (never backed up)"));
    }
    Ok(())
}

fn level(fd: OwnedFd, id: FileId, path: PathBuf) -> io::Result<Level> {
    let mut names = beneath::names_in(fd.as_fd())?;
    names.sort();
    Ok(Level { fd, id, path, names: names.into_iter() })
}

fn append_folder<W: Write>(tar: &mut tar::Builder<W>, path: &Path, stat: &Stat) -> io::Result<()> {
    tar.append_data(&mut header(stat, tar::EntryType::Directory, 0), path, io::empty())
}

fn header(stat: &Stat, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(stat.st_mode & 0o7777);
    header.set_uid(u64::from(stat.st_uid));
    header.set_gid(u64::from(stat.st_gid));
    header.set_mtime(u64::try_from(stat.st_mtime).unwrap_or(0));
    header
}

fn note(skipped: &Skipped, what: String) {
    if let Ok(mut list) = skipped.lock() {
        list.push(what);
    }
}

fn at(shown: &Path, path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", shown.join(path).display()))
}

/// Exactly `left` bytes of a file whose size was read when it was opened: a file that grows is
/// cut there, one that shrinks is padded with zeros (the archive's header already said its size).
struct Exactly<'a> {
    file: std::fs::File,
    left: u64,
    short: bool,
    /// The run's count of source bytes read.
    read: &'a AtomicU64,
}

impl Read for Exactly<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = match self.file.read(&mut buf[..want])? {
            0 => {
                self.short = true;
                buf[..want].fill(0);
                want
            }
            n => n,
        };
        self.left -= n as u64;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
