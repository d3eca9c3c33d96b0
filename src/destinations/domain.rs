//! Destination types that parse their input: a name, a kind, a status, and a typed config with
//! one struct per kind.

use super::fields::{FieldErrors, FieldSpec, RawFields};
use crate::providers::outbound::url_host;
use crate::providers::{azure_blob, cloudinary, gcs, google_drive, local, s3, sftp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestinationKind {
    Local,
    S3,
    AzureBlob,
    Sftp,
    Gcs,
    GoogleDrive,
    Cloudinary,
}

impl DestinationKind {
    pub const ALL: [DestinationKind; 7] = [
        DestinationKind::Local,
        DestinationKind::S3,
        DestinationKind::AzureBlob,
        DestinationKind::Sftp,
        DestinationKind::Gcs,
        DestinationKind::GoogleDrive,
        DestinationKind::Cloudinary,
    ];

    pub fn parse(value: &str) -> Result<DestinationKind, String> {
        DestinationKind::ALL.into_iter().find(|k| k.as_str() == value).ok_or_else(|| {
            let all: Vec<&str> = DestinationKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("Unknown destination type {value:?}; choose one of: {}.", all.join(", "))
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DestinationKind::Local => "local",
            DestinationKind::S3 => "s3",
            DestinationKind::AzureBlob => "azure_blob",
            DestinationKind::Sftp => "sftp",
            DestinationKind::Gcs => "gcs",
            DestinationKind::GoogleDrive => "google_drive",
            DestinationKind::Cloudinary => "cloudinary",
        }
    }

    /// The human name (the API's `type_human`).
    pub fn label(self) -> &'static str {
        match self {
            DestinationKind::Local => "Local disk",
            DestinationKind::S3 => "Amazon S3",
            DestinationKind::AzureBlob => "Azure Blob Storage",
            DestinationKind::Sftp => "SFTP",
            DestinationKind::Gcs => "Google Cloud Storage",
            DestinationKind::GoogleDrive => "Google Drive",
            DestinationKind::Cloudinary => "Cloudinary",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            DestinationKind::Local => "A folder on the Devpilot server. Good for single-node setups and staging.",
            DestinationKind::S3 => "Amazon S3 or an S3-compatible service: R2, Backblaze, MinIO, Wasabi, Spaces.",
            DestinationKind::AzureBlob => "An Azure Blob Storage container, with a SAS token or the account key.",
            DestinationKind::Sftp => "A directory on a server you reach over SSH.",
            DestinationKind::Gcs => "A Google Cloud Storage bucket.",
            DestinationKind::GoogleDrive => "A folder in Google Drive.",
            DestinationKind::Cloudinary => "Raw assets in a Cloudinary account.",
        }
    }

    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            DestinationKind::Local => local::FIELDS,
            DestinationKind::S3 => s3::FIELDS,
            DestinationKind::AzureBlob => azure_blob::FIELDS,
            DestinationKind::Sftp => sftp::FIELDS,
            DestinationKind::Gcs => gcs::FIELDS,
            DestinationKind::GoogleDrive => google_drive::FIELDS,
            DestinationKind::Cloudinary => cloudinary::FIELDS,
        }
    }

    pub fn icon(self) -> &'static str {
        match self {
            DestinationKind::Local => "/static/icons/local.svg",
            DestinationKind::S3 => "/static/icons/s3.svg",
            DestinationKind::AzureBlob => "/static/icons/azure_blob.svg",
            DestinationKind::Sftp => "/static/icons/sftp.svg",
            DestinationKind::Gcs => "/static/icons/gcs.svg",
            DestinationKind::GoogleDrive => "/static/icons/google_drive.svg",
            DestinationKind::Cloudinary => "/static/icons/cloudinary.svg",
        }
    }
}

/// A destination's name (and a plan's, a server's): 1–100 characters, none of them hidden (see
/// `crate::text`), unique (case-insensitively) in a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationName(String);

impl DestinationName {
    pub fn parse(value: &str) -> Result<DestinationName, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err("Name is required.".into());
        }
        if value.chars().count() > 100 {
            return Err("Name must be at most 100 characters.".into());
        }
        crate::text::refuse_hidden(value, "the name")?;
        Ok(DestinationName(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Testing,
    Failed,
    Disabled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Testing => "testing",
            Status::Failed => "failed",
            Status::Disabled => "disabled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::Testing => "Testing",
            Status::Failed => "Failed",
            Status::Disabled => "Disabled",
        }
    }

    /// Unknown text reads as Failed: a row we cannot interpret must not look healthy.
    pub fn from_db(value: &str) -> Status {
        match value {
            "active" => Status::Active,
            "testing" => Status::Testing,
            "disabled" => Status::Disabled,
            _ => Status::Failed,
        }
    }
}

/// A destination's full configuration, settings and credentials, parsed and checked.
#[derive(Debug, Clone)]
pub enum DestinationConfig {
    Local(local::LocalConfig),
    S3(s3::S3Config),
    AzureBlob(azure_blob::AzureBlobConfig),
    Sftp(sftp::SftpConfig),
    Gcs(gcs::GcsConfig),
    GoogleDrive(google_drive::GoogleDriveConfig),
    Cloudinary(cloudinary::CloudinaryConfig),
}

impl DestinationConfig {
    pub fn parse(kind: DestinationKind, raw: &RawFields) -> Result<DestinationConfig, FieldErrors> {
        Ok(match kind {
            DestinationKind::Local => DestinationConfig::Local(local::LocalConfig::parse(raw)?),
            DestinationKind::S3 => DestinationConfig::S3(s3::S3Config::parse(raw)?),
            DestinationKind::AzureBlob => DestinationConfig::AzureBlob(azure_blob::AzureBlobConfig::parse(raw)?),
            DestinationKind::Sftp => DestinationConfig::Sftp(sftp::SftpConfig::parse(raw)?),
            DestinationKind::Gcs => DestinationConfig::Gcs(gcs::GcsConfig::parse(raw)?),
            DestinationKind::GoogleDrive => {
                DestinationConfig::GoogleDrive(google_drive::GoogleDriveConfig::parse(raw)?)
            }
            DestinationKind::Cloudinary => DestinationConfig::Cloudinary(cloudinary::CloudinaryConfig::parse(raw)?),
        })
    }

    pub fn kind(&self) -> DestinationKind {
        match self {
            DestinationConfig::Local(_) => DestinationKind::Local,
            DestinationConfig::S3(_) => DestinationKind::S3,
            DestinationConfig::AzureBlob(_) => DestinationKind::AzureBlob,
            DestinationConfig::Sftp(_) => DestinationKind::Sftp,
            DestinationConfig::Gcs(_) => DestinationKind::Gcs,
            DestinationConfig::GoogleDrive(_) => DestinationKind::GoogleDrive,
            DestinationConfig::Cloudinary(_) => DestinationKind::Cloudinary,
        }
    }

    /// The config with what a deep test learned about its service (S3 uses it).
    pub fn with_compatibility(
        mut self,
        found: Option<crate::providers::compatibility::Compatibility>,
    ) -> DestinationConfig {
        if let (DestinationConfig::S3(c), Some(found)) = (&mut self, found) {
            c.learned = found.s3;
        }
        self
    }

    /// The checks that depend on when they are made, for a config as it is entered (an expired
    /// Azure SAS). A stored config that has aged since is the provider's failure, in its words.
    pub fn check_now(&self, now: chrono::DateTime<chrono::Utc>) -> Result<(), FieldErrors> {
        match self {
            DestinationConfig::AzureBlob(c) => c.check_now(now),
            _ => Ok(()),
        }
    }

    /// The type as a person names it; S3-compatible services by their own name.
    pub fn type_label(&self) -> &'static str {
        match self {
            DestinationConfig::S3(c) => c.service_label(),
            other => other.kind().label(),
        }
    }

    /// The hosts the admin typed that this config connects to, by field: the outbound address
    /// policy checks them when the destination is saved (and again at every connection). The
    /// presets' own endpoints and the Google and Cloudinary APIs are the server's settings.
    pub fn typed_hosts(&self) -> Vec<(&'static str, String)> {
        let endpoint = |e: &Option<String>| e.as_deref().and_then(url_host).map(|h| ("endpoint", h));
        match self {
            DestinationConfig::S3(c) => endpoint(&c.endpoint).into_iter().collect(),
            DestinationConfig::AzureBlob(c) => endpoint(&c.endpoint).into_iter().collect(),
            DestinationConfig::Sftp(sftp::SftpConfig { target: sftp::SftpTarget::Login(login), .. }) => {
                vec![("host", login.host.clone())]
            }
            _ => Vec::new(),
        }
    }

    /// Where artifacts go, in one line for lists.
    pub fn location(&self) -> String {
        match self {
            DestinationConfig::Local(c) => c.location(),
            DestinationConfig::S3(c) => c.location(),
            DestinationConfig::AzureBlob(c) => c.location(),
            DestinationConfig::Sftp(c) => c.location(),
            DestinationConfig::Gcs(c) => c.location(),
            DestinationConfig::GoogleDrive(c) => c.location(),
            DestinationConfig::Cloudinary(c) => c.location(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in DestinationKind::ALL {
            assert_eq!(DestinationKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(DestinationKind::parse("ftp").is_err());
    }

    #[test]
    fn names_are_checked() {
        assert!(DestinationName::parse("  ").is_err());
        assert!(DestinationName::parse(&"x".repeat(101)).is_err());
        assert!(DestinationName::parse("a\u{7}b").is_err());
        assert!(DestinationName::parse("invoice\u{202E}fdp.exe").is_err_and(|m| m.contains("U+202E")));
        assert_eq!(DestinationName::parse(" Prod S3 ").map(|n| n.0), Ok("Prod S3".into()));
    }
}
