//! The manifest a directory artifact may end with (`.devpilot/manifest.jsonl`, one JSON object
//! per line: path, kind, size, mode, mtime, sha256), checked against what was unpacked. Older
//! artifacts have none; then the AEAD tags (when encrypted) and zstd's frame checksums are what
//! vouch for the content.

use crate::hostfs::DevpilotFiles;
use crate::hostfs::beneath::{self, open_folder_below};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

pub const FOLDER: &str = ".devpilot";
pub const FILE: &str = "manifest.jsonl";

#[derive(Debug, Deserialize)]
struct Line {
    path: String,
    kind: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    sha256: Option<String>,
}

/// What the check found: how many entries it compared.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Checked {
    pub files: u64,
    pub folders: u64,
    pub symlinks: u64,
}

/// Checks every manifest entry against the folder `root` (opened, never followed through a link)
/// and then removes the manifest, which is Devpilot's, not the backed-up folder's. Ok(None):
/// the artifact has no manifest.
pub fn verify_and_remove(root: &OwnedFd) -> Result<Option<Checked>, String> {
    let none = DevpilotFiles::default();
    let Ok(folder) = open_folder_below(root.as_fd(), Path::new(FOLDER), &none) else { return Ok(None) };
    let Ok(file) = beneath::open_file_in(folder.as_fd(), OsStr::new(FILE), &none) else { return Ok(None) };
    let mut checked = Checked::default();
    for (number, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("reading the manifest failed: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: Line = serde_json::from_str(&line)
            .map_err(|e| format!("the manifest's line {} is not a valid entry: {e}", number + 1))?;
        check(root, &entry, &mut checked)?;
    }
    rustix::fs::unlinkat(&folder, FILE, rustix::fs::AtFlags::empty())
        .map_err(|e| format!("removing the manifest failed: {e}"))?;
    // The folder goes too when nothing else of the backed-up folder was in it.
    let _ = rustix::fs::unlinkat(root, FOLDER, rustix::fs::AtFlags::REMOVEDIR);
    Ok(Some(checked))
}

fn inside(path: &str) -> Result<PathBuf, String> {
    let path = Path::new(path);
    if path.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(format!("the manifest names an unsafe path: {}", path.display()));
    }
    Ok(path.components().filter(|c| matches!(c, Component::Normal(_))).collect())
}

fn check(root: &OwnedFd, entry: &Line, checked: &mut Checked) -> Result<(), String> {
    let path = inside(&entry.path)?;
    let shown = path.display();
    let none = DevpilotFiles::default();
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else { return Ok(()) };
    let missing = |e: std::io::Error| format!("{shown} is in the manifest but was not restored: {e}");
    let folder = open_folder_below(root.as_fd(), parent, &none).map_err(missing)?;
    let stat =
        rustix::fs::statat(&folder, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).map_err(|e| missing(e.into()))?;
    let kind = rustix::fs::FileType::from_raw_mode(stat.st_mode);
    match entry.kind.as_str() {
        "dir" if kind == rustix::fs::FileType::Directory => checked.folders += 1,
        "symlink" if kind == rustix::fs::FileType::Symlink => checked.symlinks += 1,
        "file" if kind == rustix::fs::FileType::RegularFile => {
            let file = beneath::open_file_in(folder.as_fd(), name, &none).map_err(missing)?;
            let (size, sha256) = digest(file).map_err(|e| format!("reading {shown} failed: {e}"))?;
            if entry.size.is_some_and(|expected| expected != size) {
                return Err(format!(
                    "{shown} has {size} bytes, the manifest recorded {} at backup",
                    entry.size.unwrap_or_default()
                ));
            }
            if let Some(expected) = &entry.sha256
                && !expected.eq_ignore_ascii_case(&sha256)
            {
                return Err(format!("{shown}'s SHA-256 is {sha256}, the manifest recorded {expected} at backup"));
            }
            checked.files += 1;
        }
        other => return Err(format!("{shown} was restored as {kind:?}, the manifest recorded a {other}")),
    }
    Ok(())
}

fn digest(mut file: impl Read) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok((size, hex::encode(hasher.finalize())));
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
}
