//! A destination in spec 003's words. S3 with Amazon's preset is `s3`; S3 with any other preset
//! (a custom endpoint, MinIO, R2, …) is `custom_s3`; a host folder is `local`. Every other type
//! is listed with its Devpilot type, `type_human` and the times, and `api_v1_url`, where its
//! settings are read and changed. Never a credential.

use crate::destinations::service::Destination;
use crate::providers::ProviderKind;
use chrono::NaiveDateTime;
use utoipa::ToSchema;

/// The dialect's types, and the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialectType {
    S3,
    CustomS3,
    Local,
    /// A type the dialect has no words for (Azure, SFTP, GCS, Google Drive, Cloudinary…).
    Other,
}

impl DialectType {
    pub fn of(d: &Destination) -> DialectType {
        match d.kind {
            ProviderKind::S3 if matches!(d.settings.get("provider"), None | Some("aws")) => DialectType::S3,
            ProviderKind::S3 => DialectType::CustomS3,
            ProviderKind::Local => DialectType::Local,
            _ => DialectType::Other,
        }
    }

    pub fn parse(value: &str) -> Option<DialectType> {
        match value {
            "s3" => Some(DialectType::S3),
            "custom_s3" => Some(DialectType::CustomS3),
            "local" => Some(DialectType::Local),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DialectType::S3 => "s3",
            DialectType::CustomS3 => "custom_s3",
            DialectType::Local => "local",
            DialectType::Other => "other",
        }
    }

    /// The Devpilot type behind it.
    pub fn kind(self) -> Option<ProviderKind> {
        match self {
            DialectType::S3 | DialectType::CustomS3 => Some(ProviderKind::S3),
            DialectType::Local => Some(ProviderKind::Local),
            DialectType::Other => None,
        }
    }
}

/// A backup destination as spec 003 shows it.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DialectDestination {
    /// The destination's number: an integer, unique on this Devpilot, never reused. The
    /// destination's UUID (as `/api/v1` names it) is accepted in URLs too.
    #[schema(example = 1)]
    pub id: i64,
    /// The owner. Devpilot's destinations belong to a workspace: its id.
    #[schema(format = "uuid")]
    pub user_id: String,
    #[schema(example = "AWS S3 Backup")]
    pub label: String,
    /// `s3`, `custom_s3`, `local`, or a Devpilot type (`azure_blob`, `sftp`, `gcs`,
    /// `google_drive`, `onedrive`, `cloudinary`) read and changed through `api_v1_url`.
    #[serde(rename = "type")]
    #[schema(example = "s3")]
    pub kind: String,
    /// The type for people: "Amazon S3", "Custom S3", "Local", …
    #[schema(example = "Amazon S3")]
    pub type_human: String,
    /// S3 and custom S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket_name: Option<String>,
    /// S3 and custom S3: the bucket in the path rather than the host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_style_endpoint: Option<bool>,
    /// S3 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_region: Option<String>,
    /// Custom S3 only (absent for a preset whose endpoint Devpilot derives, e.g. R2's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// Local only: the host folder (granted to the workspace) backups go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Other types only: where this destination's settings are read and changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_v1_url: Option<String>,
    #[schema(example = "2024-08-07T00:00:00Z")]
    pub created_at: String,
    #[schema(example = "2024-08-07T00:00:00Z")]
    pub updated_at: String,
}

/// `{"data": …}`.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DialectEnvelope {
    pub data: DialectDestination,
}

/// The spec's time format: seconds, UTC, `Z`.
pub fn time(t: NaiveDateTime) -> String {
    t.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl DialectDestination {
    /// `origin` is the request's scheme and host (`http://example.com`), for `api_v1_url`.
    pub fn new(d: &Destination, number: i64, origin: &str) -> DialectDestination {
        let dialect = DialectType::of(d);
        let setting = |name: &str| d.settings.get(name).map(str::to_owned);
        let s3 = matches!(dialect, DialectType::S3 | DialectType::CustomS3);
        let (kind, type_human) = match dialect {
            DialectType::S3 => ("s3".to_owned(), "Amazon S3".to_owned()),
            DialectType::CustomS3 if d.settings.get("provider") == Some("custom") => {
                ("custom_s3".to_owned(), "Custom S3".to_owned())
            }
            // MinIO, R2, Backblaze…: a custom S3 to the dialect, its service's name for people.
            DialectType::CustomS3 => ("custom_s3".to_owned(), d.type_label.to_owned()),
            DialectType::Local => ("local".to_owned(), "Local".to_owned()),
            DialectType::Other => (d.kind.as_str().to_owned(), d.type_label.to_owned()),
        };
        DialectDestination {
            id: number,
            user_id: d.workspace_id.clone(),
            label: d.name.clone(),
            kind,
            type_human,
            s3_bucket_name: s3.then(|| setting("bucket").unwrap_or_default()),
            path_style_endpoint: s3.then(|| matches!(d.settings.get("path_style"), Some("true" | "on" | "1" | "yes"))),
            s3_region: (dialect == DialectType::S3).then(|| setting("region").unwrap_or_default()),
            s3_endpoint: (dialect == DialectType::CustomS3).then(|| setting("endpoint")).flatten(),
            path: (dialect == DialectType::Local).then(|| setting("path")).flatten(),
            api_v1_url: (dialect == DialectType::Other)
                .then(|| format!("{origin}/api/v1/backup-destinations/{}", d.id)),
            created_at: time(d.created_at),
            updated_at: time(d.updated_at),
        }
    }
}
