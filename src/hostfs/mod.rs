//! Host folders: what of this machine's file system a workspace may reach, and opening it so that
//! what was checked is what gets used.
//!
//! [`access`] says whether a path a workspace names lies in a folder granted to it (or its own
//! folder) and is none of Devpilot's own files ([`own`]); [`beneath`] opens it from `/` one name
//! at a time without following a symbolic link, so a folder swapped for a link after the check is
//! refused, never followed. Sources, local destinations and restores work through those
//! descriptors. Nothing here knows about the database: grants come in through [`HostAccess`].

pub mod access;
pub mod beneath;
pub mod own;
pub mod private;

pub use access::{FolderAccess, HostAccess, Located, NOT_GRANTED, Need, Place, Refusal};
pub use own::{DevpilotFiles, DevpilotIds, FileId, Own};

/// The system's own words for the common failures (what `df`, `ls` and the logs say too).
pub fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied if e.raw_os_error().is_some() => "Permission denied".into(),
        std::io::ErrorKind::ReadOnlyFilesystem => "Read-only file system".into(),
        std::io::ErrorKind::StorageFull => "No space left on device".into(),
        std::io::ErrorKind::QuotaExceeded => "Disk quota exceeded".into(),
        std::io::ErrorKind::NotFound if e.raw_os_error().is_some() => "No such file or directory".into(),
        _ => e.to_string(),
    }
}
