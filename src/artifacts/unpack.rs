//! Unpacking a directory artifact (tar + zstd) into a staging folder Devpilot just made: every
//! entry is checked first (no absolute path, no `..`, no link pointing out, nothing written through
//! a link of the archive), then created relative to its folder's descriptor without following a
//! link, so even an archive that got past the checks cannot write outside the staging folder.

use crate::hostfs::DevpilotFiles;
use crate::hostfs::beneath::{make_folder_below, open_folder_below};
use rustix::fs::{
    AtFlags, Gid, Mode, OFlags, Timespec, Timestamps, Uid, chownat, fchmod, fchown, futimens, linkat, mkdirat, openat,
    symlinkat, unlinkat,
};
use std::collections::HashSet;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// While unpacking, folders stay open to us; their own modes are set once everything is in.
const WORKING_FOLDER: u32 = 0o700;

/// What makes an archive refused or unreadable: its entry and why, in words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UnsafeArchive(pub String);

/// Who what is unpacked belongs to, when not to Devpilot (a restored PostgreSQL cluster runs as
/// its own user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// Unpacks a `.tar.zst` from `reader` into the open folder `staging`; returns the mode the
/// archive gives its top folder (`.`), if it has one.
pub fn unpack(reader: impl Read, staging: &OwnedFd) -> Result<Option<u32>, UnsafeArchive> {
    let decoder = zstd::Decoder::new(reader).map_err(|e| UnsafeArchive(e.to_string()))?;
    unpack_tar(decoder, staging, None)
}

/// Unpacks a plain tar, as [`unpack`] does; with an `owner`, everything in `staging` becomes theirs.
pub fn unpack_tar(reader: impl Read, staging: &OwnedFd, owner: Option<Owner>) -> Result<Option<u32>, UnsafeArchive> {
    let archive_error = |e: std::io::Error| UnsafeArchive(e.to_string());
    let mut archive = tar::Archive::new(reader);
    let ids = owner.map(|o| (Uid::from_raw(o.uid), Gid::from_raw(o.gid)));
    // Every folder made on the way, to hand over to the owner at the end.
    let mut made: HashSet<PathBuf> = HashSet::new();
    let none = DevpilotFiles::default();
    // Symlinks already unpacked: nothing may be written through them.
    let mut symlinks: HashSet<PathBuf> = HashSet::new();
    let mut folders: Vec<(PathBuf, u32)> = Vec::new();
    let mut top_mode = None;
    for entry in archive.entries().map_err(archive_error)? {
        let mut entry = entry.map_err(archive_error)?;
        // Devpilot's manifest of a directory artifact is for Devpilot, never for a user's folder.
        if super::manifest::is_manifest_entry(&mut entry) {
            continue;
        }
        let path = entry.path().map_err(archive_error)?.into_owned();
        let kind = entry.header().entry_type();
        let link = entry.link_name().map_err(archive_error)?.map(|l| l.into_owned());
        check_entry(&path, kind, link.as_deref(), &symlinks).map_err(UnsafeArchive)?;
        if kind.is_pax_global_extensions() {
            continue;
        }
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        let inside = normalized(&path);
        let (Some(parent), Some(name)) = (inside.parent(), inside.file_name()) else {
            top_mode = top_mode.or(kind.is_dir().then_some(mode));
            continue;
        };
        let shown = |e: std::io::Error| UnsafeArchive(format!("{}: {e}", path.display()));
        let folder =
            make_folder_below(staging.as_fd(), parent, Mode::from_raw_mode(WORKING_FOLDER), &none).map_err(shown)?;
        if ids.is_some() {
            made.extend(parent.ancestors().filter(|a| !a.as_os_str().is_empty()).map(Path::to_path_buf));
        }
        if kind.is_dir() {
            match mkdirat(&folder, name, Mode::from_raw_mode(WORKING_FOLDER)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => folders.push((inside.clone(), mode)),
                Err(e) => return Err(shown(e.into())),
            }
        } else if kind.is_symlink() {
            let target = link.unwrap_or_default();
            replace(&folder, name, |f| symlinkat(&target, f, name)).map_err(shown)?;
            if let Some((uid, gid)) = ids {
                chownat(&folder, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW).map_err(|e| shown(e.into()))?;
            }
            symlinks.insert(inside);
        } else if kind.is_hard_link() {
            let target = normalized(&link.unwrap_or_default());
            let (Some(from_folder), Some(from_name)) = (target.parent(), target.file_name()) else {
                return Err(UnsafeArchive(format!("{}: a link to the folder itself", path.display())));
            };
            let from = open_folder_below(staging.as_fd(), from_folder, &none).map_err(shown)?;
            replace(&folder, name, |f| linkat(&from, from_name, f, name, AtFlags::empty())).map_err(shown)?;
        } else {
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = replace(&folder, name, |f| openat(f, name, flags, Mode::from_raw_mode(0o600))).map_err(shown)?;
            let mut file = std::fs::File::from(fd);
            std::io::copy(&mut entry, &mut file).map_err(shown)?;
            fchmod(&file, Mode::from_raw_mode(mode)).map_err(|e| shown(e.into()))?;
            if let Some((uid, gid)) = ids {
                fchown(&file, Some(uid), Some(gid)).map_err(|e| shown(e.into()))?;
            }
            let mtime =
                Timespec { tv_sec: i64::try_from(entry.header().mtime().unwrap_or(0)).unwrap_or(0), tv_nsec: 0 };
            let _ = futimens(&file, &Timestamps { last_access: mtime, last_modification: mtime });
        }
    }
    // Deepest first, so a folder that shuts us out is closed only after what is inside it.
    folders.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
    if let Some((uid, gid)) = ids {
        for inside in &made {
            let folder = open_folder_below(staging.as_fd(), inside, &none)
                .map_err(|e| UnsafeArchive(format!("{}: {e}", inside.display())))?;
            fchown(&folder, Some(uid), Some(gid)).map_err(|e| UnsafeArchive(e.to_string()))?;
        }
    }
    for (inside, mode) in folders {
        let folder = open_folder_below(staging.as_fd(), &inside, &none)
            .map_err(|e| UnsafeArchive(format!("{}: {e}", inside.display())))?;
        if let Some((uid, gid)) = ids {
            fchown(&folder, Some(uid), Some(gid)).map_err(|e| UnsafeArchive(e.to_string()))?;
        }
        fchmod(&folder, Mode::from_raw_mode(mode | 0o700)).map_err(|e| UnsafeArchive(e.to_string()))?;
    }
    Ok(top_mode)
}

/// Creates `name` in `folder` with `create`; a name the archive already used (a later entry wins,
/// as with tar) is removed first, unless it is a folder.
fn replace<T>(
    folder: &OwnedFd,
    name: &std::ffi::OsStr,
    create: impl Fn(&OwnedFd) -> rustix::io::Result<T>,
) -> std::io::Result<T> {
    match create(folder) {
        Err(rustix::io::Errno::EXIST) => {
            unlinkat(folder, name, AtFlags::empty())?;
            Ok(create(folder)?)
        }
        other => Ok(other?),
    }
}

fn normalized(path: &Path) -> PathBuf {
    path.components().filter(|c| matches!(c, Component::Normal(_))).collect()
}

/// Refuses an entry that could write outside the restore folder.
pub(super) fn check_entry(
    path: &Path,
    kind: tar::EntryType,
    link: Option<&Path>,
    symlinks: &HashSet<PathBuf>,
) -> Result<(), String> {
    let shown = path.display();
    if kind.is_pax_global_extensions() {
        return Ok(());
    }
    if !(kind.is_file() || kind.is_dir() || kind.is_symlink() || kind.is_hard_link() || kind.is_contiguous()) {
        return Err(format!("{shown}: entries of type {kind:?} are not restored"));
    }
    if path.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(format!("{shown}: absolute paths and .. are not allowed"));
    }
    let inside = normalized(path);
    if inside.ancestors().skip(1).any(|ancestor| symlinks.contains(ancestor)) {
        return Err(format!("{shown}: writes through a symlink in the archive"));
    }
    if kind.is_hard_link() || kind.is_symlink() {
        let link = link.ok_or_else(|| format!("{shown}: a link without a target"))?;
        // Symlinks resolve from the entry's folder, hard links from the archive's root.
        let start = if kind.is_symlink() { inside.parent().map_or(0, |p| p.components().count()) } else { 0 };
        if !stays_inside(start, link) {
            return Err(format!("{shown}: link to {} points outside the folder", link.display()));
        }
    }
    Ok(())
}

/// Whether following `link` from a folder `depth` levels below the root stays below the root.
fn stays_inside(mut depth: usize, link: &Path) -> bool {
    for component in link.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => depth -= 1,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use tar::EntryType;

    fn check(path: &str, kind: EntryType, link: Option<&str>) -> Result<(), String> {
        check_entry(Path::new(path), kind, link.map(Path::new), &HashSet::new())
    }

    #[test]
    fn entries_inside_the_folder_pass() {
        assert!(check("a/b.txt", EntryType::Regular, None).is_ok());
        assert!(check("./a/", EntryType::Directory, None).is_ok());
        assert!(check("a/link", EntryType::Symlink, Some("../b.txt")).is_ok());
        assert!(check("a/b/link", EntryType::Symlink, Some("../../c")).is_ok());
        assert!(check("a/hard", EntryType::Link, Some("a/b.txt")).is_ok());
    }

    #[test]
    fn escaping_entries_are_refused() {
        assert!(check("/etc/passwd", EntryType::Regular, None).is_err());
        assert!(check("../x", EntryType::Regular, None).is_err());
        assert!(check("a/../../x", EntryType::Regular, None).is_err());
        assert!(check("link", EntryType::Symlink, Some("/etc")).is_err());
        assert!(check("link", EntryType::Symlink, Some("..")).is_err());
        assert!(check("a/link", EntryType::Symlink, Some("b/../../..")).is_err());
        assert!(check("hard", EntryType::Link, Some("../outside")).is_err());
        assert!(check("dev", EntryType::Char, None).is_err());
        let symlinks = HashSet::from([PathBuf::from("a")]);
        assert!(check_entry(Path::new("a/b"), EntryType::Regular, None, &symlinks).is_err());
    }
}
