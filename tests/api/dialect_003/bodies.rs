//! Bad bodies: 422 with the field named in `message` and each in `errors`; nothing saved. A
//! body that is not JSON is 400; a local folder that is not granted is refused like everywhere.

use super::{BASE, field_errors};
use crate::api_client::admin;
use crate::helpers::{Backend, spawn_app};
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(bad_bodies_name_their_fields);

async fn bad_bodies_name_their_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let granted = tempfile::tempdir().expect("dir");
    let ungranted = tempfile::tempdir().expect("dir");
    app.grant_folder(granted.path(), "read_write").await;
    let s3 = |extra: serde_json::Value| {
        let mut body = json!({"label": "S3", "type": "s3", "s3_access_key": "AKIAEXAMPLE", "s3_secret_key": "secret",
            "s3_bucket_name": "my-backups", "s3_region": "us-west-2"});
        body.as_object_mut().expect("object").extend(extra.as_object().cloned().unwrap_or_default());
        body
    };
    let cases = [
        (json!({"label": "No type"}), "type", "type is required"),
        (json!({"label": "x", "type": "sftp"}), "type", "/api/v1/backup-destinations"),
        (json!({"label": "", "type": "local", "path": granted.path().to_string_lossy()}), "label", ""),
        (json!({"label": 7, "type": "local"}), "label", "must be a string"),
        (s3(json!({"s3_bucket_name": null})), "s3_bucket_name", "Bucket"),
        (s3(json!({"s3_bucket_name": "Not A Bucket"})), "s3_bucket_name", "lowercase"),
        (s3(json!({"s3_region": null})), "s3_region", "Region is required"),
        (s3(json!({"path_style_endpoint": "maybe"})), "path_style_endpoint", "true or false"),
        (s3(json!({"custom_s3_endpoint": "https://x.example.com"})), "custom_s3_endpoint", "does not apply"),
        (s3(json!({"colour": "red"})), "colour", "not a field"),
        (
            json!({"label": "C", "type": "custom_s3", "s3_access_key": "AKIAEXAMPLE", "s3_secret_key": "s",
            "s3_bucket_name": "b-1"}),
            "custom_s3_endpoint",
            "Endpoint URL is required",
        ),
        (json!({"label": "Disk", "type": "local", "path": ungranted.path().to_string_lossy()}), "path", ""),
        (json!({"label": "Disk", "type": "local", "s3_bucket_name": "b"}), "s3_bucket_name", "does not apply"),
    ];
    for (body, field, words) in cases {
        let reply = api.post(BASE, body.clone()).await;
        let errors = field_errors(&reply);
        assert!(errors.iter().any(|(f, m)| f == field && m.contains(words)), "{body} → {reply:?}");
        let message = reply.json["message"].as_str().unwrap_or_default();
        assert!(errors.iter().any(|(f, _)| message.starts_with(&format!("{f}: "))), "names a field: {message}");
        assert_eq!(reply.json["error"], "Unprocessable Entity");
    }
    let not_json = api.raw(reqwest::Method::POST, BASE).bearer_auth(&api.token).body("{\"label\":").send().await;
    let not_json = not_json.expect("send");
    assert_eq!(not_json.status(), 400);
    let array = api.post(BASE, json!(["label", "type"])).await;
    assert_eq!(array.status, 422, "{array:?}");
    assert_eq!(api.get(BASE).await.json["meta"]["total"], 0, "nothing was saved");

    // An update with a bad value changes nothing.
    let created =
        api.post(BASE, json!({"label": "Disk", "type": "local", "path": granted.path().to_string_lossy()})).await;
    assert_eq!(created.status, 201, "{created:?}");
    let number = created.json["data"]["id"].clone();
    let bad = api.put(&format!("{BASE}/{number}"), json!({"label": "x".repeat(101)})).await;
    assert_eq!(field_errors(&bad)[0].0, "label");
    let moved = api.put(&format!("{BASE}/{number}"), json!({"path": ungranted.path().to_string_lossy()})).await;
    assert_eq!(field_errors(&moved)[0].0, "path");
    let shown = api.get(&format!("{BASE}/{number}")).await;
    assert_eq!(
        (shown.json["data"]["label"].clone(), shown.json["data"]["path"].clone()),
        (json!("Disk"), json!(granted.path().to_string_lossy()))
    );
}
