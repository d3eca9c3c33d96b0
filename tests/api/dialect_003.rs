//! Spec 003's dialect at `/api/backup-destinations`: the spec's examples sent as written (their
//! values swapped for the local servers' — moto for Amazon S3, s3s-fs for a custom S3
//! path-style endpoint, a granted folder for local) and the answers compared with the spec's
//! field by field; pages of 15 with `links` and `meta` as the spec shows them; integer ids (and
//! the UUID) in URLs; another workspace's destination 404; a viewer's writes 403; bad bodies 422
//! naming the field; other types listed with a pointer to `/api/v1`; no secret in any answer.

mod access;
mod bodies;
mod examples;
mod pages;

use crate::api_client::Reply;
use serde_json::Value;

pub const BASE: &str = "/api/backup-destinations";

/// The answer's object has exactly the expected fields with the expected values.
pub fn assert_fields(actual: &Value, expected: &Value) {
    let (Some(actual), Some(expected)) = (actual.as_object(), expected.as_object()) else {
        panic!("not objects: {actual} / {expected}");
    };
    let keys = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(actual), keys(expected), "the fields of {actual:?}");
    for (key, value) in expected {
        assert_eq!(&actual[key], value, "field {key}");
    }
}

/// A dialect error: exactly `error` and `message` (and `errors` for 422).
pub fn assert_dialect_error(reply: &Reply, status: u16, message: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    let reason = reqwest::StatusCode::from_u16(status).expect("status").canonical_reason().expect("reason");
    let expected = serde_json::json!({"error": reason, "message": message});
    assert_fields(&reply.json, &expected);
}

/// The `errors` object of a 422, as field → first message.
pub fn field_errors(reply: &Reply) -> Vec<(String, String)> {
    assert_eq!(reply.status, 422, "{reply:?}");
    let errors = reply.json["errors"].as_object().unwrap_or_else(|| panic!("no errors: {reply:?}"));
    errors.iter().map(|(k, v)| (k.clone(), v[0].as_str().unwrap_or_default().to_owned())).collect()
}

/// `2024-08-07T00:00:00Z`.
pub fn is_spec_time(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%SZ").is_ok() && t.len() == 20)
}
