//! A destination as the API shows it: settings typed as the form enters them (checkboxes as
//! booleans, numbers as numbers), credentials only as the names of the stored ones.

use crate::destinations::service::Destination;
use crate::fields::{Input, RawFields};
use crate::providers::ProviderKind;
use crate::providers::compatibility::Compatibility;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What a redacted credential looks like: present, never shown.
pub const REDACTED: &str = "••••";

/// One non-secret setting: text, a checkbox (boolean) or a number.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SettingValue {
    Flag(bool),
    Number(i64),
    Text(String),
}

/// A destination as the API shows it.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DestinationResource {
    #[schema(format = "uuid")]
    pub id: String,
    pub name: String,
    /// `local`, `s3`, `azure_blob`, `sftp`, `gcs`, `google_drive`, `onedrive` or `cloudinary`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type for people: "Amazon S3", "Cloudflare R2", "Azure Blob Storage", …
    pub type_human: String,
    /// The non-secret settings, by the field names of `config`. Checkboxes are always present.
    pub settings: BTreeMap<String, SettingValue>,
    /// The secret fields that are stored, each shown as "••••".
    pub credentials: BTreeMap<String, String>,
    /// `active`, `testing`, `failed` or `disabled`.
    pub status: String,
    pub last_tested_at: Option<DateTime<Utc>>,
    pub last_test_message: Option<String>,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// S3: what the last deep test found about the service (absent until one ran, and after a
    /// change of settings): `checks` (each `feature`, `state` — `works`, `ignored` or `refused` —
    /// and `detail`), `warnings` (the key can do more than Devpilot needs) and `uses` (what
    /// Devpilot uses there because of the checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub compatibility: Option<Compatibility>,
}

impl From<&Destination> for DestinationResource {
    fn from(d: &Destination) -> Self {
        DestinationResource {
            settings: typed_settings(d.kind, &d.settings),
            credentials: d.stored_secrets.iter().map(|k| ((*k).to_owned(), REDACTED.to_owned())).collect(),
            id: d.id.clone(),
            name: d.name.clone(),
            kind: d.kind.as_str().to_owned(),
            type_human: d.type_label.to_owned(),
            status: d.status.as_str().to_owned(),
            last_tested_at: d.last_tested_at.map(|t| t.and_utc()),
            last_test_message: d.last_test_message.clone(),
            is_default: d.is_default,
            compatibility: d.compatibility.clone(),
            created_at: d.created_at.and_utc(),
            updated_at: d.updated_at.and_utc(),
        }
    }
}

impl From<Destination> for DestinationResource {
    fn from(d: Destination) -> Self {
        DestinationResource::from(&d)
    }
}

/// The stored settings typed by their field: a checkbox reads as the form reads it, so an
/// unticked one (stored as absent) is `false`.
fn typed_settings(kind: ProviderKind, settings: &RawFields) -> BTreeMap<String, SettingValue> {
    let mut typed = BTreeMap::new();
    for spec in kind.fields().iter().filter(|f| !f.secret) {
        let value = settings.get(spec.name);
        let shown = match (spec.input, value) {
            (Input::Checkbox, v) => Some(SettingValue::Flag(matches!(
                v.map(str::to_ascii_lowercase).as_deref(),
                Some("on" | "true" | "1" | "yes")
            ))),
            (Input::Number, Some(v)) => {
                Some(v.parse().map_or_else(|_| SettingValue::Text(v.to_owned()), SettingValue::Number))
            }
            (_, Some(v)) => Some(SettingValue::Text(v.to_owned())),
            (_, None) => None,
        };
        if let Some(shown) = shown {
            typed.insert(spec.name.to_owned(), shown);
        }
    }
    typed
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DestinationEnvelope {
    pub data: DestinationResource,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkboxes_are_booleans_and_ports_numbers() {
        let s3 = RawFields::from_pairs([("bucket", "b"), ("provider", "minio")]);
        let typed = typed_settings(ProviderKind::S3, &s3);
        assert_eq!(typed.get("path_style"), Some(&SettingValue::Flag(false)));
        assert_eq!(typed.get("bucket"), Some(&SettingValue::Text("b".into())));
        let ticked = RawFields::from_pairs([("path_style", "on")]);
        assert_eq!(typed_settings(ProviderKind::S3, &ticked).get("path_style"), Some(&SettingValue::Flag(true)));
        let sftp = RawFields::from_pairs([("port", "2222"), ("password", "never shown")]);
        let typed = typed_settings(ProviderKind::Sftp, &sftp);
        assert_eq!(typed.get("port"), Some(&SettingValue::Number(2222)));
        assert!(!typed.contains_key("password"));
    }
}
