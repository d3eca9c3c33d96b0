//! A directory artifact restored in place (spec 002's volume restore): the folder's new contents
//! are unpacked into a staging folder beside it, and only once complete swapped with it in one
//! atomic rename (`RENAME_EXCHANGE`); the old contents then go. A failure at any point leaves the
//! folder as it was. The folder is reached without following a link, and must be a folder.

use super::ByteStream;
use super::restore::{RestoreError, blocking, open_folder, target_error, temporary_name};
use crate::hostfs::beneath::{self, FOLDER};
use crate::hostfs::{DevpilotFiles, Place};
use rustix::fs::{AtFlags, FileType, Mode, RenameFlags, fchmod, mkdirat, openat, renameat_with, statat};
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

/// Replaces the contents of the existing folder `place` with the artifact's.
pub async fn replace_directory(
    stream: ByteStream,
    place: &Place,
    devpilot: Arc<DevpilotFiles>,
) -> Result<(), RestoreError> {
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let place = place.clone();
    blocking(move || {
        let folder = open_folder(&place, &devpilot)?;
        let shown = place.path().display().to_string();
        match statat(&folder, place.name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => {}
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
                return Err(RestoreError::Target(beneath::symlink_refused(&place.name).to_string()));
            }
            Ok(_) => return Err(RestoreError::Target(format!("{shown} is not a folder"))),
            Err(e) => return Err(target_error(&place, e)),
        }
        let staging = temporary_name();
        mkdirat(&folder, staging.as_str(), Mode::from_raw_mode(0o700)).map_err(|e| target_error(&place, e))?;
        let unpacked = unpack(reader, &folder, &staging, &place).and_then(|()| {
            renameat_with(&folder, staging.as_str(), &folder, place.name.as_os_str(), RenameFlags::EXCHANGE)
                .map_err(|e| target_error(&place, e))
        });
        // After the exchange the staging name holds the old contents; before it, the partial new ones.
        let removed = beneath::remove_tree(folder.as_fd(), OsStr::new(&staging));
        unpacked?;
        if let Err(e) = removed {
            tracing::warn!(folder = %shown, error = %e, "the replaced contents could not all be removed");
        }
        Ok(())
    })
    .await
}

fn unpack(reader: impl std::io::Read, folder: &OwnedFd, staging: &str, place: &Place) -> Result<(), RestoreError> {
    let fd = openat(folder, staging, FOLDER, Mode::empty()).map_err(|e| target_error(place, e))?;
    let mode = super::unpack::unpack(reader, &fd)?.unwrap_or(0o755);
    fchmod(&fd, Mode::from_raw_mode(mode | 0o700)).map_err(|e| target_error(place, e))
}
