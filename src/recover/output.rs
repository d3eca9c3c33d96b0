//! Where `devpilot recover` writes: a directory artifact into a new (or empty) folder, unpacked
//! by the server's own unpacker (`artifacts::unpack`: no absolute or `..` entries, no links
//! leaving the folder, no devices) into a staging folder beside the target that is renamed into
//! place only once everything checked out; a database into a new file. A failure leaves nothing.

use super::manifest::{self, Checked};
use super::unpacked::Unpacked;
use crate::artifacts::unpack::unpack_tar;
use crate::hostfs::beneath::{self, FOLDER};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, fchmod, mkdirat, openat, renameat_with, statat};
use std::ffi::OsStr;
use std::io::{self, BufRead, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// How a failure is worded: the reading side may know better (a decryption failure).
pub type Explain<'a> = &'a dyn Fn(io::Error) -> String;

/// The folder the target is in, and the target's name in it.
fn parent_and_name(out: &Path) -> Result<(OwnedFd, PathBuf, std::ffi::OsString), String> {
    let name = out.file_name().ok_or_else(|| format!("{} names no folder or file", out.display()))?.to_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let fd = rustix::fs::open(&parent, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| format!("cannot open the folder {}: {e}", parent.display()))?;
    Ok((fd, parent, name))
}

/// Unpacks the tar in `unpacked` into the folder `out`; returns what the manifest check found.
pub fn directory(
    unpacked: Unpacked<impl BufRead>,
    out: &Path,
    explain: Explain<'_>,
) -> Result<Option<Checked>, String> {
    let (parent, _, name) = parent_and_name(out)?;
    let replaces = match statat(&parent, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
        Err(rustix::io::Errno::NOENT) => false,
        Err(e) => return Err(format!("cannot look at {}: {e}", out.display())),
        Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => {
            let inner = openat(&parent, name.as_os_str(), FOLDER, Mode::empty())
                .map_err(|e| format!("cannot open {}: {e}", out.display()))?;
            if !beneath::names_in(inner.as_fd()).map_err(|e| e.to_string())?.is_empty() {
                return Err(format!("{} is not empty; recover into a new or empty folder", out.display()));
            }
            true
        }
        Ok(_) => return Err(format!("{} exists and is not a folder; recover into a new folder", out.display())),
    };
    let staging = format!(".devpilot-recover-{}", uuid::Uuid::new_v4());
    mkdirat(&parent, staging.as_str(), Mode::from_raw_mode(0o700))
        .map_err(|e| format!("cannot write next to {}: {e}", out.display()))?;
    let done = unpack_checked(unpacked, &parent, &staging, explain).and_then(|checked| {
        let flags = if replaces { RenameFlags::empty() } else { RenameFlags::NOREPLACE };
        renameat_with(&parent, staging.as_str(), &parent, name.as_os_str(), flags)
            .map_err(|e| format!("cannot move the recovered folder to {}: {e}", out.display()))?;
        Ok(checked)
    });
    if done.is_err() {
        let _ = beneath::remove_tree(parent.as_fd(), OsStr::new(&staging));
    }
    done
}

fn unpack_checked(
    mut tar: Unpacked<impl BufRead>,
    parent: &OwnedFd,
    staging: &str,
    explain: Explain<'_>,
) -> Result<Option<Checked>, String> {
    let folder = openat(parent, staging, FOLDER, Mode::empty()).map_err(|e| e.to_string())?;
    let unpacked = unpack_tar(&mut tar, &folder, None);
    // Read to the very end whatever happened: a decryption failure explains a broken archive best.
    tar.drain().map_err(explain)?;
    let mode = unpacked.map_err(|e| explain(io::Error::new(io::ErrorKind::InvalidData, e.0)))?.unwrap_or(0o755);
    let checked = manifest::verify_and_remove(&folder)?;
    fchmod(&folder, Mode::from_raw_mode(mode | 0o700)).map_err(|e| e.to_string())?;
    Ok(checked)
}

/// Writes `plain` to the new file `out` (never over an existing one, never through a link).
pub fn file(mut plain: impl Read, out: &Path, explain: Explain<'_>) -> Result<u64, String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc_nofollow())
        .open(out)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => format!("{} already exists; recover into a new file", out.display()),
            _ => format!("cannot create {}: {e}", out.display()),
        })?;
    let written = io::copy(&mut plain, &mut file).map_err(explain).and_then(|n| {
        file.flush().and_then(|_| file.sync_all()).map_err(|e| format!("writing {} failed: {e}", out.display()))?;
        Ok(n)
    });
    if written.is_err() {
        drop(file);
        let _ = std::fs::remove_file(out);
    }
    written
}

fn libc_nofollow() -> i32 {
    OFlags::NOFOLLOW.bits() as i32
}
