//! A body in spec 003's words turned into the service's `DestinationInput`, and the service's
//! field errors turned back into the dialect's names. A create names every field; an update
//! (`PUT`) names only what changes, the rest is kept (secrets too, while the type stays S3).

use super::error::DialectError;
use super::resource::DialectType;
use crate::destinations::service::{Destination, DestinationInput};
use crate::fields::RawFields;
use crate::providers::ProviderKind;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The body of a create or an update. Strings unless said otherwise; `null` clears a setting.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
#[allow(dead_code)] // Only the OpenAPI document reads it: the body is read field by field.
pub struct DialectRequest {
    /// 1–100 characters, unique in the workspace. Required on create.
    #[schema(example = "Custom S3 Backup")]
    label: Option<String>,
    /// `s3`, `custom_s3` or `local`. Required on create.
    #[serde(rename = "type")]
    #[schema(example = "custom_s3")]
    kind: Option<String>,
    #[schema(example = "your_access_key")]
    s3_access_key: Option<String>,
    #[schema(example = "your_secret_key")]
    s3_secret_key: Option<String>,
    #[schema(example = "custom-backups")]
    s3_bucket_name: Option<String>,
    /// Required for `s3`.
    #[schema(example = "us-west-2")]
    s3_region: Option<String>,
    /// Required for `custom_s3` (this or `s3_endpoint`).
    #[schema(example = "https://custom-s3.example.com")]
    custom_s3_endpoint: Option<String>,
    /// The same as `custom_s3_endpoint`.
    s3_endpoint: Option<String>,
    /// Boolean (also 0/1, "true"/"false"); left out, the service's default.
    path_style_endpoint: Option<bool>,
    /// `local`: a host folder granted to the workspace.
    #[schema(example = "/srv/backups")]
    path: Option<String>,
}

/// Dialect field → Devpilot's S3 or local field.
const FIELDS: &[(&str, &str)] = &[
    ("s3_access_key", "access_key_id"),
    ("s3_secret_key", "secret_access_key"),
    ("s3_bucket_name", "bucket"),
    ("s3_region", "region"),
    ("custom_s3_endpoint", "endpoint"),
    ("s3_endpoint", "endpoint"),
    ("path_style_endpoint", "path_style"),
    ("path", "path"),
];

/// Devpilot's field → the dialect's, for the service's errors. Settings the dialect has no
/// word for (an R2 account id…) are the type's business.
pub fn dialect_field(field: &str) -> String {
    match field {
        "name" => "label",
        "type" | "provider" | "account_id" | "jurisdiction" => "type",
        "access_key_id" => "s3_access_key",
        "secret_access_key" => "s3_secret_key",
        "bucket" => "s3_bucket_name",
        "region" => "s3_region",
        "endpoint" => "custom_s3_endpoint",
        "path_style" => "path_style_endpoint",
        other => other,
    }
    .to_owned()
}

fn applies_to(field: &str, to: DialectType) -> bool {
    match field {
        "path" => to == DialectType::Local,
        "s3_region" => matches!(to, DialectType::S3 | DialectType::CustomS3),
        "custom_s3_endpoint" | "s3_endpoint" => to == DialectType::CustomS3,
        _ => matches!(to, DialectType::S3 | DialectType::CustomS3),
    }
}

/// The body (a JSON object) as the service's input; `current` is the destination an update
/// changes.
pub fn into_input(body: &Map<String, Value>, current: Option<&Destination>) -> Result<DestinationInput, DialectError> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let current_type = current.map(DialectType::of);
    if current_type == Some(DialectType::Other) {
        let kind = current.map(|d| d.kind.as_str()).unwrap_or_default();
        let id = current.map(|d| d.id.as_str()).unwrap_or_default();
        return Err(DialectError::invalid(vec![(
            "type".into(),
            format!(
                "This is a {kind} destination, which this API does not describe; change it through \
                 /api/v1/backup-destinations/{id}."
            ),
        )]));
    }
    for key in body.keys().filter(|k| *k != "label" && *k != "type" && !FIELDS.iter().any(|(f, _)| *f == k.as_str())) {
        errors.push((key.clone(), format!("{key} is not a field of a backup destination.")));
    }
    let label = match body.get("label") {
        None | Some(Value::Null) => current.map(|d| d.name.clone()).unwrap_or_default(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            errors.push(("label".into(), "label must be a string.".into()));
            String::new()
        }
    };
    let to = match (body.get("type"), current_type) {
        (None | Some(Value::Null), Some(current)) => Some(current),
        (None | Some(Value::Null), None) => {
            errors.push(("type".into(), "type is required: s3, custom_s3 or local.".into()));
            None
        }
        (Some(Value::String(s)), _) => {
            let parsed = DialectType::parse(s.trim());
            if parsed.is_none() {
                errors.push((
                    "type".into(),
                    format!(
                        "type {s:?} is not one of s3, custom_s3, local; other types are created through \
                         /api/v1/backup-destinations."
                    ),
                ));
            }
            parsed
        }
        (Some(_), _) => {
            errors.push(("type".into(), "type must be a string: s3, custom_s3 or local.".into()));
            None
        }
    };
    if let (Some(Value::String(a)), Some(Value::String(b))) = (body.get("custom_s3_endpoint"), body.get("s3_endpoint"))
        && a.trim() != b.trim()
    {
        errors.push(("s3_endpoint".into(), "custom_s3_endpoint and s3_endpoint differ; give one of them.".into()));
    }
    let Some(to) = to else {
        return Err(DialectError::invalid(errors));
    };
    let kind = to.kind().unwrap_or(ProviderKind::Local);
    // The same type keeps what it has; a change of type starts afresh.
    let mut fields = match current {
        Some(d) if d.kind == kind => d.settings.clone(),
        _ => RawFields::new(),
    };
    if to != current_type.unwrap_or(DialectType::Other) {
        match to {
            DialectType::S3 => {
                fields.set("provider", "aws");
                fields.set("endpoint", "");
            }
            DialectType::CustomS3 => fields.set("provider", "custom"),
            _ => {}
        }
    }
    for (key, value) in body {
        let Some((_, name)) = FIELDS.iter().find(|(f, _)| *f == key.as_str()) else { continue };
        if !applies_to(key, to) {
            errors.push((key.clone(), format!("{key} does not apply to a {} destination.", to.as_str())));
            continue;
        }
        match value_text(key, value) {
            Ok(Some(text)) => fields.set(*name, &text),
            // null clears a setting; a secret left out or null is kept.
            Ok(None) if !matches!(*name, "access_key_id" | "secret_access_key") => fields.set(*name, ""),
            Ok(None) => {}
            Err(message) => errors.push((key.clone(), message)),
        }
    }
    if !errors.is_empty() {
        return Err(DialectError::invalid(errors));
    }
    Ok(DestinationInput { name: label, kind: kind.as_str().to_owned(), fields })
}

/// A value as the form would have sent it (None: cleared).
fn value_text(key: &str, value: &Value) -> Result<Option<String>, String> {
    match (key, value) {
        (_, Value::Null) => Ok(None),
        ("path_style_endpoint", Value::Bool(b)) => Ok(Some(b.to_string())),
        ("path_style_endpoint", Value::Number(n)) if n.as_u64().is_some_and(|n| n <= 1) => {
            Ok(Some((n.as_u64() == Some(1)).to_string()))
        }
        ("path_style_endpoint", Value::String(s)) if matches!(s.trim(), "true" | "false" | "1" | "0") => {
            Ok(Some(matches!(s.trim(), "true" | "1").to_string()))
        }
        ("path_style_endpoint", _) => Err("path_style_endpoint must be true or false.".into()),
        (_, Value::String(s)) => Ok(Some(s.clone())),
        (key, _) => Err(format!("{key} must be a string.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("an object")
    }

    fn error_fields(e: DialectError) -> Vec<String> {
        e.errors.expect("field errors").into_keys().collect()
    }

    #[test]
    fn the_spec_s_custom_s3_body_is_an_s3_destination_with_a_custom_endpoint() {
        let body = object(json!({"label": "Custom S3 Backup", "type": "custom_s3", "s3_access_key": "your_access_key",
            "s3_secret_key": "your_secret_key", "s3_bucket_name": "custom-backups",
            "custom_s3_endpoint": "https://custom-s3.example.com", "path_style_endpoint": true}));
        let input = into_input(&body, None).expect("valid");
        assert_eq!((input.name.as_str(), input.kind.as_str()), ("Custom S3 Backup", "s3"));
        let f = &input.fields;
        assert_eq!(f.get("provider"), Some("custom"));
        assert_eq!(f.get("endpoint"), Some("https://custom-s3.example.com"));
        assert_eq!((f.get("bucket"), f.get("path_style")), (Some("custom-backups"), Some("true")));
        assert_eq!(
            (f.get("access_key_id"), f.get("secret_access_key")),
            (Some("your_access_key"), Some("your_secret_key"))
        );
    }

    #[test]
    fn bad_bodies_name_each_field() {
        let body = object(json!({"label": 5, "type": "s3", "s3_bucket_name": 3, "path_style_endpoint": "maybe",
            "path": "/x", "color": "red"}));
        assert_eq!(
            error_fields(into_input(&body, None).expect_err("invalid")),
            ["color", "label", "path", "path_style_endpoint", "s3_bucket_name"]
        );
        let no_type = into_input(&object(json!({"label": "x"})), None).expect_err("no type");
        assert!(no_type.message.starts_with("type: "), "{}", no_type.message);
        let sftp = into_input(&object(json!({"label": "x", "type": "sftp"})), None).expect_err("sftp");
        assert!(sftp.message.contains("/api/v1/backup-destinations"), "{}", sftp.message);
    }

    #[test]
    fn service_fields_are_renamed() {
        assert_eq!(dialect_field("bucket"), "s3_bucket_name");
        assert_eq!(dialect_field("name"), "label");
        assert_eq!(dialect_field("path"), "path");
    }
}
