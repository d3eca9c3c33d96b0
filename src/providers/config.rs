//! One enum of every provider's typed config: parsed once from the fields a form or the API
//! gives, then handed to [`super::build`]. A destination wraps one with its name and status.

use super::kind::ProviderKind;
use super::outbound::url_host;
use super::{azure_blob, cloudinary, gcs, google_drive, local, onedrive, s3, sftp};
use crate::fields::{FieldErrors, RawFields};

/// A provider's full configuration, settings and credentials, parsed and checked.
#[derive(Debug, Clone)]
pub enum ProviderConfig {
    Local(local::LocalConfig),
    S3(s3::S3Config),
    AzureBlob(azure_blob::AzureBlobConfig),
    Sftp(sftp::SftpConfig),
    Gcs(gcs::GcsConfig),
    GoogleDrive(google_drive::GoogleDriveConfig),
    Cloudinary(cloudinary::CloudinaryConfig),
    OneDrive(onedrive::OneDriveConfig),
}

impl ProviderConfig {
    pub fn parse(kind: ProviderKind, raw: &RawFields) -> Result<ProviderConfig, FieldErrors> {
        Ok(match kind {
            ProviderKind::Local => ProviderConfig::Local(local::LocalConfig::parse(raw)?),
            ProviderKind::S3 => ProviderConfig::S3(s3::S3Config::parse(raw)?),
            ProviderKind::AzureBlob => ProviderConfig::AzureBlob(azure_blob::AzureBlobConfig::parse(raw)?),
            ProviderKind::Sftp => ProviderConfig::Sftp(sftp::SftpConfig::parse(raw)?),
            ProviderKind::Gcs => ProviderConfig::Gcs(gcs::GcsConfig::parse(raw)?),
            ProviderKind::GoogleDrive => ProviderConfig::GoogleDrive(google_drive::GoogleDriveConfig::parse(raw)?),
            ProviderKind::Cloudinary => ProviderConfig::Cloudinary(cloudinary::CloudinaryConfig::parse(raw)?),
            ProviderKind::OneDrive => ProviderConfig::OneDrive(onedrive::OneDriveConfig::parse(raw)?),
        })
    }

    pub fn kind(&self) -> ProviderKind {
        match self {
            ProviderConfig::Local(_) => ProviderKind::Local,
            ProviderConfig::S3(_) => ProviderKind::S3,
            ProviderConfig::AzureBlob(_) => ProviderKind::AzureBlob,
            ProviderConfig::Sftp(_) => ProviderKind::Sftp,
            ProviderConfig::Gcs(_) => ProviderKind::Gcs,
            ProviderConfig::GoogleDrive(_) => ProviderKind::GoogleDrive,
            ProviderConfig::Cloudinary(_) => ProviderKind::Cloudinary,
            ProviderConfig::OneDrive(_) => ProviderKind::OneDrive,
        }
    }

    /// The config with what a deep test learned about its service (S3 uses it).
    pub fn with_compatibility(mut self, found: Option<super::compatibility::Compatibility>) -> ProviderConfig {
        if let (ProviderConfig::S3(c), Some(found)) = (&mut self, found) {
            c.learned = found.s3;
        }
        self
    }

    /// The checks that depend on when they are made, for a config as it is entered (an expired
    /// Azure SAS). A stored config that has aged since is the provider's failure, in its words.
    pub fn check_now(&self, now: chrono::DateTime<chrono::Utc>) -> Result<(), FieldErrors> {
        match self {
            ProviderConfig::AzureBlob(c) => c.check_now(now),
            _ => Ok(()),
        }
    }

    /// The type as a person names it; S3-compatible services by their own name.
    pub fn type_label(&self) -> &'static str {
        match self {
            ProviderConfig::S3(c) => c.service_label(),
            other => other.kind().label(),
        }
    }

    /// The hosts the admin typed that this config connects to, by field: the outbound address
    /// policy checks them when the destination is saved (and again at every connection). The
    /// presets' own endpoints and the Google and Cloudinary APIs are the server's settings.
    pub fn typed_hosts(&self) -> Vec<(&'static str, String)> {
        let endpoint = |e: &Option<String>| e.as_deref().and_then(url_host).map(|h| ("endpoint", h));
        match self {
            ProviderConfig::S3(c) => endpoint(&c.endpoint).into_iter().collect(),
            ProviderConfig::AzureBlob(c) => endpoint(&c.endpoint).into_iter().collect(),
            ProviderConfig::Sftp(sftp::SftpConfig { target: sftp::SftpTarget::Login(login), .. }) => {
                vec![("host", login.host.clone())]
            }
            _ => Vec::new(),
        }
    }

    /// Where artifacts go, in one line for lists.
    pub fn location(&self) -> String {
        match self {
            ProviderConfig::Local(c) => c.location(),
            ProviderConfig::S3(c) => c.location(),
            ProviderConfig::AzureBlob(c) => c.location(),
            ProviderConfig::Sftp(c) => c.location(),
            ProviderConfig::Gcs(c) => c.location(),
            ProviderConfig::GoogleDrive(c) => c.location(),
            ProviderConfig::Cloudinary(c) => c.location(),
            ProviderConfig::OneDrive(c) => c.location(),
        }
    }
}
