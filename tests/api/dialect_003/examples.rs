//! The spec's examples, sent as the spec writes them, answered as the spec shows (ids, owner and
//! times are this server's; the values of the S3 examples are the local servers').

use super::{BASE, assert_dialect_error, assert_fields, is_spec_time};
use crate::api_client::{Api, Reply, admin};
use crate::helpers::{Backend, TestApp, moto, spawn_with, test_settings};
use crate::on_both_backends;
use crate::provider_s3::s3s;
use serde_json::{Value, json};

on_both_backends!(the_spec_examples_replayed);

/// Spec 003's "Create Backup Destination" body, byte for byte but for the values.
const CREATE_BODY: &str = r#"{
"label": "Custom S3 Backup",
"type": "custom_s3",
"s3_access_key": "your_access_key",
"s3_secret_key": "your_secret_key",
"s3_bucket_name": "custom-backups",
"custom_s3_endpoint": "https://custom-s3.example.com",
"path_style_endpoint": true
}"#;

/// Its answer's `data`.
const CREATE_ANSWER: &str = r#"{
"id": 2,
"user_id": 1,
"label": "Custom S3 Backup",
"type": "custom_s3",
"type_human": "Custom S3",
"s3_bucket_name": "custom-backups",
"path_style_endpoint": true,
"s3_endpoint": "https://custom-s3.example.com",
"created_at": "2024-08-07T01:00:00Z",
"updated_at": "2024-08-07T01:00:00Z"
}"#;

/// "List Backup Destinations"' answer.
const LIST_ANSWER: &str = r#"{
"data": [
{
"id": 1,
"user_id": 1,
"label": "AWS S3 Backup",
"type": "s3",
"type_human": "Amazon S3",
"s3_bucket_name": "my-backups",
"path_style_endpoint": false,
"s3_region": "us-west-2",
"created_at": "2024-08-07T00:00:00Z",
"updated_at": "2024-08-07T00:00:00Z"
}
],
"links": {
"first": "http://example.com/api/backup-destinations?page=1",
"last": "http://example.com/api/backup-destinations?page=1",
"prev": null,
"next": null
},
"meta": {
"current_page": 1,
"from": 1,
"last_page": 1,
"path": "http://example.com/api/backup-destinations",
"per_page": 15,
"to": 1,
"total": 1
}
}"#;

/// "Update Backup Destination"'s body.
const UPDATE_BODY: &str = r#"{
"label": "Updated S3 Backup",
"s3_bucket_name": "new-backups"
}"#;

/// The spec's example with this server's id, owner and times (checked for their format).
fn as_answered(spec: &str, replace: &[(&str, &str)], answer: &Value) -> Value {
    let mut text = spec.to_owned();
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    let mut expected: Value = serde_json::from_str(&text).expect("the spec's JSON");
    for key in ["id", "user_id", "created_at", "updated_at"] {
        assert!(answer.get(key).is_some(), "{key} missing from {answer}");
        expected[key] = answer[key].clone();
    }
    assert!(answer["id"].as_i64().is_some_and(|n| n > 0), "an integer id: {answer}");
    assert!(is_spec_time(&answer["created_at"]) && is_spec_time(&answer["updated_at"]), "{answer}");
    expected
}

async fn send(api: &Api<'_>, method: reqwest::Method, path: &str, body: String) -> Reply {
    let response = api
        .raw(method, path)
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    Reply { status, json: response.json().await.unwrap_or(Value::Null) }
}

/// An app whose Amazon S3 is moto, at a host name (virtual-hosted requests need one).
async fn app_with_aws_at_moto(backend: Backend) -> TestApp {
    let (mut settings, dir, pg) = test_settings(backend);
    settings.provider.endpoints.aws_s3 = moto().endpoint.replace("127.0.0.1", "localhost");
    spawn_with(settings, dir, pg).await
}

async fn v1_status(api: &Api<'_>, number: &Value) -> String {
    let reply = api.get(&format!("{BASE}/{number}")).await;
    let uuid = reply.json["data"]["api_v1_url"].as_str().map(str::to_owned);
    assert!(uuid.is_none(), "S3 has no pointer to /api/v1: {reply:?}");
    let all = api.get("/api/v1/backup-destinations?per_page=100").await;
    let label = reply.json["data"]["label"].clone();
    let found = all.json["data"].as_array().and_then(|d| d.iter().find(|d| d["name"] == label).cloned());
    let found = found.unwrap_or_else(|| panic!("{label} in /api/v1: {all:?}"));
    format!("{} {}", found["status"].as_str().unwrap_or_default(), found["last_test_message"])
}

async fn the_spec_examples_replayed(backend: Backend) {
    let app = app_with_aws_at_moto(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let (m, s) = (moto(), s3s());
    let origin = app.url("");

    // An Amazon S3 destination as the list and show examples describe it, on moto.
    let aws = json!({"label": "AWS S3 Backup", "type": "s3", "s3_access_key": m.access_key_id,
        "s3_secret_key": m.secret_access_key, "s3_bucket_name": m.bucket, "path_style_endpoint": false,
        "s3_region": m.region});
    let created = api.post(BASE, aws).await;
    assert_eq!(created.status, 201, "{created:?}");
    let number = created.json["data"]["id"].clone();
    let status = v1_status(&api, &number).await;
    assert!(status.starts_with("active"), "moto answered the virtual-hosted requests: {status}");

    let list = api.get(BASE).await;
    assert_eq!(list.status, 200, "{list:?}");
    let values = [("my-backups", m.bucket.as_str()), ("us-west-2", m.region.as_str()), ("http://example.com", &origin)];
    let mut expected: Value = serde_json::from_str(&LIST_ANSWER.replace("my-backups", &m.bucket)).expect("JSON");
    let item = as_answered(&serde_json::to_string(&expected["data"][0]).expect("text"), &values, &list.json["data"][0]);
    expected["data"][0] = item;
    let text = serde_json::to_string(&expected).expect("text").replace("http://example.com", &origin);
    let expected: Value = serde_json::from_str(&text).expect("JSON");
    assert_fields(&list.json, &expected);
    assert_fields(&list.json["links"], &expected["links"]);
    assert_fields(&list.json["meta"], &expected["meta"]);
    assert_fields(&list.json["data"][0], &expected["data"][0]);

    // Show: the list's item, alone.
    let shown = api.get(&format!("{BASE}/{number}")).await;
    assert_eq!(shown.status, 200, "{shown:?}");
    assert_fields(&shown.json, &json!({"data": expected["data"][0]}));

    // Update: the spec's body; the rest (the keys too) stays.
    let updated = send(&api, reqwest::Method::PUT, &format!("{BASE}/{number}"), UPDATE_BODY.to_owned()).await;
    assert_eq!(updated.status, 200, "{updated:?}");
    let mut after = expected["data"][0].clone();
    after["label"] = json!("Updated S3 Backup");
    after["s3_bucket_name"] = json!("new-backups");
    after["updated_at"] = updated.json["data"]["updated_at"].clone();
    assert_fields(&updated.json["data"], &after);
    let status = v1_status(&api, &number).await;
    assert!(status.starts_with("failed"), "tested again, on moto, which has no bucket new-backups: {status}");

    // Create: the spec's custom S3 body, path-style on s3s-fs.
    let body = CREATE_BODY
        .replace("your_access_key", &s.access_key_id)
        .replace("your_secret_key", &s.secret_access_key)
        .replace("custom-backups", &s.bucket)
        .replace("https://custom-s3.example.com", &s.endpoint);
    let created = send(&api, reqwest::Method::POST, BASE, body).await;
    assert_eq!(created.status, 201, "{created:?}");
    let values = [("custom-backups", s.bucket.as_str()), ("https://custom-s3.example.com", s.endpoint.as_str())];
    assert_fields(&created.json, &json!({"data": as_answered(CREATE_ANSWER, &values, &created.json["data"])}));
    let custom = created.json["data"]["id"].clone();
    assert!(custom.as_i64() > number.as_i64(), "numbers grow: {custom} after {number}");
    assert!(v1_status(&api, &custom).await.starts_with("active"), "s3s-fs answered");
    let text = created.json.to_string() + &api.get(BASE).await.json.to_string();
    assert!(!text.contains(&s.secret_access_key) && !text.contains(&m.secret_access_key), "no secret: {text}");

    // Delete, then it is gone.
    let deleted = api.delete(&format!("{BASE}/{custom}")).await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    assert_fields(&deleted.json, &json!({"message": "Backup destination successfully deleted"}));
    assert_dialect_error(&api.get(&format!("{BASE}/{custom}")).await, 404, "Backup destination not found");
    assert_dialect_error(&api.delete(&format!("{BASE}/{custom}")).await, 404, "Backup destination not found");
}
