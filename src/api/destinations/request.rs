//! The body of a create, an update or a credentials test, turned into the service's
//! `DestinationInput`. `config` holds the fields of the type's HTML form under the same names,
//! with JSON booleans for checkboxes and numbers for number fields. For the S3 body of spec 002,
//! `access_key`/`secret_key` name the key fields, `provider: "s3"` is Amazon's preset (an S3
//! `path_style` left out takes the service's default: see `providers::s3`), and a body
//! without `config` may give the fields at the top level (its `provider` then means type `s3`).
//! Field errors are keyed by where the value sits in the body: `name`, `destinationType`,
//! `config.<field>`.

use super::resource::REDACTED;
use crate::api::error::ApiError;
use crate::destinations::domain::DestinationName;
use crate::destinations::service::{Destination, DestinationError, DestinationInput};
use crate::fields::{FieldErrors, FieldSpec, Input, RawFields};
use crate::providers::ProviderKind;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A destination to create, or what to change in one. On an update, `name`, the type and
/// `config` may each be left out to keep them; inside `config`, secret fields left out, blank or
/// "••••" keep their stored values (when the type stays the same). A body without `config` may
/// give its fields at the top level, as spec 002 does (its `provider` then implies `s3`).
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
pub struct DestinationRequest {
    /// 1–100 characters, unique in the workspace. Required on create.
    #[schema(example = "Nightly S3", max_length = 100)]
    pub name: Option<String>,
    /// `local`, `s3`, `azure_blob`, `sftp`, `gcs`, `google_drive`, `onedrive` or `cloudinary`. Required on
    /// create (this or `destination_type`).
    #[serde(rename = "destinationType")]
    #[schema(example = "s3")]
    pub destination_type: Option<String>,
    /// The same as `destinationType`.
    #[serde(rename = "destination_type")]
    pub destination_type_snake: Option<String>,
    /// The type's fields, as on the HTML form: e.g. for `s3` `provider` (aws, r2, backblaze,
    /// minio, ceph, garage, seaweedfs, wasabi, digitalocean, custom), `bucket`, `region`,
    /// `prefix`, `endpoint`, `account_id`, `jurisdiction`, `path_style` (boolean; left out, the
    /// service's default: true for MinIO, Ceph, Garage, SeaweedFS, R2 and IP or localhost
    /// endpoints), `access_key_id`, `secret_access_key` (or `access_key`/`secret_key`).
    /// Plaintext; the secret fields are encrypted before storage.
    #[schema(value_type = Option<Object>, example = json!({"provider": "aws", "bucket": "my-backups", "region": "us-east-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}))]
    pub config: Option<Map<String, Value>>,
    /// Any other top-level field: the config of a spec-002 body without `config`.
    #[serde(flatten)]
    #[schema(ignore)]
    pub rest: Map<String, Value>,
}

impl DestinationRequest {
    /// The service's input; `current` is the destination an update changes.
    pub fn into_input(self, current: Option<&Destination>) -> Result<DestinationInput, ApiError> {
        let mut errors = FieldErrors::new();
        let config = match (&self.config, self.rest.is_empty()) {
            (Some(config), true) => Some(config),
            (None, false) => Some(&self.rest),
            (None, true) => None,
            (Some(config), false) => {
                for key in self.rest.keys() {
                    errors.add(key, "Unknown field: a destination's settings go inside config.");
                }
                Some(config)
            }
        };
        let kind = self.kind(current, config).map_err(|m| errors.add("destinationType", m)).ok();
        let name = self.name.clone().or_else(|| current.map(|d| d.name.clone())).unwrap_or_default();
        let fields = match (kind.map(ProviderKind::parse), config, current) {
            (Some(Ok(kind)), Some(config), _) => config_fields(kind, config).map_err(|e| errors.merge(e)).ok(),
            (_, None, Some(current)) => Some(current.settings.clone()),
            // An unknown type: the service names it; there are no fields to check against.
            _ => Some(RawFields::new()),
        };
        match (kind, fields) {
            (Some(kind), Some(fields)) if errors.is_empty() => {
                Ok(DestinationInput { name, kind: kind.to_owned(), fields })
            }
            _ => {
                if let Err(m) = DestinationName::parse(&name) {
                    errors.add("name", m);
                }
                Err(ApiError::invalid(&errors))
            }
        }
    }

    /// `destinationType` or `destination_type`; else the current type; else `s3` for a body
    /// that names an S3 `provider`.
    fn kind<'a>(
        &'a self,
        current: Option<&Destination>,
        config: Option<&Map<String, Value>>,
    ) -> Result<&'a str, String> {
        let given = match (self.destination_type.as_deref(), self.destination_type_snake.as_deref()) {
            (Some(a), Some(b)) if a.trim() != b.trim() => {
                return Err("destinationType and destination_type differ; give one of them.".into());
            }
            (Some(a), _) | (None, Some(a)) => Some(a.trim()),
            (None, None) => None,
        };
        match (given, current) {
            (Some(kind), _) => Ok(kind),
            (None, Some(current)) => Ok(current.kind.as_str()),
            (None, None) if config.is_some_and(|c| c.contains_key("provider")) => Ok(ProviderKind::S3.as_str()),
            (None, None) => {
                let all: Vec<&str> = ProviderKind::ALL.iter().map(|k| k.as_str()).collect();
                Err(format!("destinationType is required: one of {}.", all.join(", ")))
            }
        }
    }
}

/// Destination ids are UUIDs: anything else names no destination and never reaches the database.
pub fn destination_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| ApiError::not_found("Backup destination not found"))
}

/// Maps the service's errors to the API's, with field errors keyed by their place in the body.
pub fn api_error(e: DestinationError) -> ApiError {
    match e {
        DestinationError::Invalid(errors) => {
            let mut keyed = FieldErrors::new();
            for (field, message) in errors.iter() {
                let key = match field {
                    "name" | "config" => field.to_owned(),
                    "type" => "destinationType".to_owned(),
                    other => format!("config.{other}"),
                };
                keyed.add(&key, message);
            }
            ApiError::invalid(&keyed)
        }
        other => other.into(),
    }
}

/// The config object as the form's fields.
fn config_fields(kind: ProviderKind, config: &Map<String, Value>) -> Result<RawFields, FieldErrors> {
    let mut fields = RawFields::new();
    let mut errors = FieldErrors::new();
    for (key, value) in config {
        let at = format!("config.{key}");
        let name = alias(kind, key);
        let Some(spec) = kind.fields().iter().find(|f| f.name == name) else {
            let known: Vec<&str> = kind.fields().iter().map(|f| f.name).collect();
            errors.add(&at, format!("{} has no field {key:?}; its fields are: {}.", kind.label(), known.join(", ")));
            continue;
        };
        if name != key && config.contains_key(name) {
            errors.add(&at, format!("Give {name} or {key}, not both."));
            continue;
        }
        match text_of(spec, value) {
            // A redacted value sent back unchanged means "keep the stored one".
            Ok(Some(text)) if spec.secret && text.trim() == REDACTED => {}
            Ok(Some(text)) => fields.set(name, preset(kind, name, &text)),
            Ok(None) => {}
            Err(message) => errors.add(&at, message),
        }
    }
    if errors.is_empty() { Ok(fields) } else { Err(errors) }
}

/// The spec's names for S3's key fields.
fn alias(kind: ProviderKind, key: &str) -> &str {
    match (kind, key) {
        (ProviderKind::S3, "access_key") => "access_key_id",
        (ProviderKind::S3, "secret_key") => "secret_access_key",
        _ => key,
    }
}

/// The spec's `provider: "s3"` is the form's Amazon preset.
fn preset<'a>(kind: ProviderKind, name: &str, value: &'a str) -> &'a str {
    match (kind, name, value.trim()) {
        (ProviderKind::S3, "provider", "s3") => "aws",
        _ => value,
    }
}

/// A JSON value as the form would have sent it; None is an absent (or unticked) field.
fn text_of(spec: &FieldSpec, value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        // false is kept (not "absent"): an absent box takes the preset's default.
        Value::Bool(ticked) if spec.is_checkbox() => Ok(Some(ticked.to_string())),
        Value::Number(n) if spec.input == Input::Number => Ok(Some(n.to_string())),
        // A service-account key is itself JSON: it may come as an object.
        Value::Object(_) if spec.name == "service_account_key" => Ok(Some(value.to_string())),
        _ => Err(match spec.input {
            Input::Checkbox => format!("{} must be true or false.", spec.label),
            Input::Number => format!("{} must be a number.", spec.label),
            _ => format!("{} must be a string.", spec.label),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: Value) -> DestinationRequest {
        serde_json::from_value(body).expect("a request")
    }

    fn field_errors(e: ApiError) -> Vec<(String, String)> {
        e.fields.unwrap_or_default().into_iter().collect()
    }

    #[test]
    fn spec_002_s3_body_at_the_top_level() {
        let body = json!({"name": "s3-backups", "provider": "s3", "access_key": "AKIAIOSFODNN7EXAMPLE",
            "secret_key": "secret", "bucket": "my-backups", "region": "us-east-1"});
        let input = request(body).into_input(None).expect("valid");
        assert_eq!(input.kind, "s3");
        assert_eq!(input.fields.get("provider"), Some("aws"));
        assert_eq!(input.fields.get("access_key_id"), Some("AKIAIOSFODNN7EXAMPLE"));
        assert_eq!(input.fields.get("secret_access_key"), Some("secret"));
    }

    #[test]
    fn json_types_become_form_values() {
        let body = json!({"name": "n", "destination_type": "s3", "config": {"path_style": true, "bucket": "b",
            "prefix": null, "secret_access_key": REDACTED}});
        let input = request(body).into_input(None).expect("valid");
        assert_eq!(input.fields.get("path_style"), Some("true"));
        assert!(!input.fields.contains("prefix") && !input.fields.contains("secret_access_key"));
        let unticked = json!({"name": "n", "destinationType": "s3", "config": {"path_style": false}});
        assert_eq!(request(unticked).into_input(None).expect("valid").fields.get("path_style"), Some("false"));
        let port = json!({"name": "n", "destinationType": "sftp", "config": {"port": 2222}});
        assert_eq!(request(port).into_input(None).expect("valid").fields.get("port"), Some("2222"));
    }

    #[test]
    fn bad_values_are_named_by_their_place_in_the_body() {
        let body = json!({"destinationType": "s3", "config": {"bucket": 5, "path_style": "x", "region": true,
            "nope": "1", "access_key": "a", "access_key_id": "b"}});
        let errors = field_errors(request(body).into_input(None).expect_err("invalid"));
        let keys: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["config.access_key", "config.bucket", "config.nope", "config.region", "name"]);
        let missing = field_errors(request(json!({"name": "n"})).into_input(None).expect_err("no type"));
        assert!(missing[0].0 == "destinationType" && missing[0].1.contains("required"), "{missing:?}");
        let differ = json!({"name": "n", "destinationType": "s3", "destination_type": "gcs"});
        assert_eq!(field_errors(request(differ).into_input(None).expect_err("differ"))[0].0, "destinationType");
        let stray = json!({"name": "n", "destinationType": "local", "config": {}, "bucket": "b"});
        assert_eq!(field_errors(request(stray).into_input(None).expect_err("stray"))[0].0, "bucket");
    }

    #[test]
    fn service_errors_are_rekeyed() {
        let mut errors = FieldErrors::single("type", "bad type");
        errors.add("bucket", "bad bucket");
        let keyed = field_errors(api_error(DestinationError::Invalid(errors)));
        assert_eq!(keyed[0].0, "config.bucket");
        assert_eq!(keyed[1].0, "destinationType");
    }
}
