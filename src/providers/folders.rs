//! Folders of a drive as a folder picker shows them: one folder, the way up, its sub-folders,
//! and a new folder made in it. Google Drive and OneDrive implement [`FolderBrowser`]; the
//! destination service and the one picker page serve both through it.

use super::{ErrorKind, ProviderError};
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct FolderListing {
    pub folder: Folder,
    /// The folder above, when there is one the account can see.
    pub parent: Option<String>,
    /// Sub-folders, by name.
    pub children: Vec<Folder>,
}

#[async_trait]
pub trait FolderBrowser: Send + Sync {
    /// `folder`, or the destination's own folder (its drive's root when it names none).
    async fn browse(&self, folder: Option<&str>) -> Result<FolderListing, ProviderError>;

    /// Makes `name` in `parent`; refused when the name is taken.
    async fn create_folder(&self, parent: &str, name: &str) -> Result<Folder, ProviderError>;
}

/// A folder ID as it comes from a browser: hostile until checked. Drive and Graph IDs are
/// letters, digits and `-_!.`; anything else (a path, a quote for Drive's query) is refused.
pub fn check_id(id: &str) -> Result<(), ProviderError> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_!.".contains(c));
    if ok { Ok(()) } else { Err(ProviderError::new(ErrorKind::NotFound, "That is not a folder ID.")) }
}

/// A new folder's name, as both drives accept it.
pub fn check_name(name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err("Enter a folder name of 1 to 200 characters.".into());
    }
    if name.chars().any(|c| c.is_control() || "\\/:*?\"<>|".contains(c)) || name == "." || name == ".." {
        return Err("A folder name cannot contain \\ / : * ? \" < > | or control characters.".into());
    }
    Ok(())
}

/// Sorted by name, case aside, as the drives show them.
pub fn by_name(mut folders: Vec<Folder>) -> Vec<Folder> {
    folders.sort_by_key(|f| f.name.to_lowercase());
    folders
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_ids_and_names_are_refused() {
        for bad in ["", "../x", "a/b", "x' or name != '", "..", "a b", "%2e%2e"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
        assert!(check_id("D4648F06C91D9D3D!54927").is_ok());
        assert!(check_id("1a2B-c_D").is_ok());
        for bad in ["", "a/b", "..", "x:y", "tab\there"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name("Backups 2026").is_ok());
    }
}
