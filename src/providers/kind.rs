//! The types of storage there are, with what a person sees of each: its name, a line of
//! description, its icon and its form's fields (each provider file owns its list).

use super::{azure_blob, cloudinary, gcs, google_drive, local, onedrive, s3, sftp};
use crate::fields::FieldSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Local,
    S3,
    AzureBlob,
    Sftp,
    Gcs,
    GoogleDrive,
    Cloudinary,
    OneDrive,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 8] = [
        ProviderKind::Local,
        ProviderKind::S3,
        ProviderKind::AzureBlob,
        ProviderKind::Sftp,
        ProviderKind::Gcs,
        ProviderKind::GoogleDrive,
        ProviderKind::Cloudinary,
        ProviderKind::OneDrive,
    ];

    pub fn parse(value: &str) -> Result<ProviderKind, String> {
        ProviderKind::ALL.into_iter().find(|k| k.as_str() == value).ok_or_else(|| {
            let all: Vec<&str> = ProviderKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("Unknown destination type {value:?}; choose one of: {}.", all.join(", "))
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Local => "local",
            ProviderKind::S3 => "s3",
            ProviderKind::AzureBlob => "azure_blob",
            ProviderKind::Sftp => "sftp",
            ProviderKind::Gcs => "gcs",
            ProviderKind::GoogleDrive => "google_drive",
            ProviderKind::Cloudinary => "cloudinary",
            ProviderKind::OneDrive => "onedrive",
        }
    }

    /// Whether uploads can carry a retention no key can shorten (S3 Object Lock).
    pub fn can_lock(self) -> bool {
        self == ProviderKind::S3
    }

    /// Whether a person grants access on the provider's consent page (OAuth): Google Drive, OneDrive.
    pub fn connects_through_consent(self) -> bool {
        matches!(self, ProviderKind::GoogleDrive | ProviderKind::OneDrive)
    }

    /// Whose consent page grants access, for the types that have one.
    pub fn consent_owner(self) -> &'static str {
        if self == ProviderKind::OneDrive { "Microsoft" } else { "Google" }
    }

    /// The human name (the API's `type_human`).
    pub fn label(self) -> &'static str {
        match self {
            ProviderKind::Local => "Local disk",
            ProviderKind::S3 => "Amazon S3",
            ProviderKind::AzureBlob => "Azure Blob Storage",
            ProviderKind::Sftp => "SFTP",
            ProviderKind::Gcs => "Google Cloud Storage",
            ProviderKind::GoogleDrive => "Google Drive",
            ProviderKind::Cloudinary => "Cloudinary",
            ProviderKind::OneDrive => "OneDrive",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            ProviderKind::Local => "A folder on the Devpilot server. Good for single-node setups and staging.",
            ProviderKind::S3 => "Amazon S3 or an S3-compatible service: R2, Backblaze, MinIO, Wasabi, Spaces.",
            ProviderKind::AzureBlob => "An Azure Blob Storage container, with a SAS token or the account key.",
            ProviderKind::Sftp => "A directory on a server you reach over SSH.",
            ProviderKind::Gcs => "A Google Cloud Storage bucket.",
            ProviderKind::GoogleDrive => "A folder in Google Drive.",
            ProviderKind::Cloudinary => "Raw assets in a Cloudinary account.",
            ProviderKind::OneDrive => "A folder in OneDrive (personal or business) or a SharePoint document library.",
        }
    }

    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            ProviderKind::Local => local::FIELDS,
            ProviderKind::S3 => s3::FIELDS,
            ProviderKind::AzureBlob => azure_blob::FIELDS,
            ProviderKind::Sftp => sftp::FIELDS,
            ProviderKind::Gcs => gcs::FIELDS,
            ProviderKind::GoogleDrive => google_drive::FIELDS,
            ProviderKind::Cloudinary => cloudinary::FIELDS,
            ProviderKind::OneDrive => onedrive::FIELDS,
        }
    }

    pub fn icon(self) -> &'static str {
        match self {
            ProviderKind::Local => "/static/icons/local.svg",
            ProviderKind::S3 => "/static/icons/s3.svg",
            ProviderKind::AzureBlob => "/static/icons/azure_blob.svg",
            ProviderKind::Sftp => "/static/icons/sftp.svg",
            ProviderKind::Gcs => "/static/icons/gcs.svg",
            ProviderKind::GoogleDrive => "/static/icons/google_drive.svg",
            ProviderKind::Cloudinary => "/static/icons/cloudinary.svg",
            ProviderKind::OneDrive => "/static/icons/onedrive.svg",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(ProviderKind::parse("ftp").is_err());
    }
}
