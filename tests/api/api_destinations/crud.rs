//! Create, show, list, update and delete; S3 configs as JSON (booleans, the spec's aliases and
//! presets, the spec-002 body), secrets kept when left blank on an update.

use super::{ALIAS, BASE, REDACTED, create_local, id_of};
use crate::api_client::{admin, assert_error};
use crate::helpers::{Backend, moto, spawn_app};
use crate::on_both_backends;
use serde_json::{Value, json};

on_both_backends!(
    a_local_destination_from_create_to_delete,
    the_list_pages_and_answers_at_both_paths,
    s3_takes_json_types_aliases_and_presets,
    an_update_keeps_blank_secrets_and_tests_again
);

async fn a_local_destination_from_create_to_delete(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    app.grant_folder(dir.path(), "read_write").await;
    let path = dir.path().to_string_lossy().into_owned();

    let created = api.post(BASE, json!({"name": "Disk", "destination_type": "local", "config": {"path": path}})).await;
    assert_eq!(created.status, 201, "{created:?}");
    let location = api
        .raw(reqwest::Method::POST, BASE)
        .bearer_auth(&api.token)
        .json(&json!({"name": "Disk B", "destinationType": "local"}))
        .send()
        .await
        .expect("send");
    assert_eq!(location.status(), 201);
    let new: serde_json::Value = {
        let at = location.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
        let body: serde_json::Value = location.json().await.expect("JSON");
        assert_eq!(at, Some(format!("{BASE}/{}", id_of(&body["data"]))), "Location names the new destination");
        body
    };
    assert_eq!(api.delete(&format!("{BASE}/{}", id_of(&new["data"]))).await.status, 200);
    let data = &created.json["data"];
    let id = id_of(data);
    assert_eq!((data["name"].as_str(), data["type"].as_str()), (Some("Disk"), Some("local")));
    assert_eq!((data["type_human"].as_str(), data["status"].as_str()), (Some("Local disk"), Some("active")));
    assert_eq!(data["settings"], json!({"path": path}));
    assert_eq!(data["credentials"], json!({}));
    assert_eq!(data["is_default"], true, "the workspace's first destination is its default");
    assert!(data["last_tested_at"].is_string() && data["last_test_message"].is_string(), "{data}");
    let test = &created.json["test"];
    assert_eq!(test["ok"], true, "{test}");
    assert!(test["steps"].as_array().is_some_and(|s| !s.is_empty() && s.iter().all(|s| s["state"] == "passed")));
    assert_eq!(app.destination("Disk").await.status, "active", "stored as the answer says");

    let shown = api.get(&format!("{BASE}/{id}")).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json["data"], created.json["data"]);

    // Renaming alone keeps type and config.
    let renamed = api.put(&format!("{BASE}/{id}"), json!({"name": "Disk 2"})).await;
    assert_eq!(renamed.status, 200, "{renamed:?}");
    assert_eq!(renamed.json["data"]["name"], "Disk 2");
    assert_eq!(renamed.json["data"]["settings"], json!({"path": path}));
    // A config replaces the settings; leaving the path out means the default folder.
    let moved = api.put(&format!("{BASE}/{id}"), json!({"config": {}})).await;
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(moved.json["data"]["settings"], json!({}));
    assert_eq!(moved.json["data"]["status"], "active");

    let deleted = api.delete(&format!("{BASE}/{id}")).await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    assert_eq!(deleted.json, json!({"message": "Backup destination successfully deleted", "disabled_plans": []}));
    assert_error(&api.get(&format!("{BASE}/{id}")).await, 404, "Backup destination not found");
    assert_error(&api.delete(&format!("{BASE}/{id}")).await, 404, "Backup destination not found");
    assert!(app.destination_rows().await.is_empty());
}

async fn the_list_pages_and_answers_at_both_paths(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    for name in ["A", "B", "C"] {
        create_local(&api, name, dir.path()).await;
    }
    let page = api.get(&format!("{BASE}?per_page=2&page=2")).await;
    assert_eq!(page.status, 200);
    let names: Vec<&str> =
        page.json["data"].as_array().expect("data").iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(names, ["C"]);
    assert_eq!(page.json["meta"]["total"], 3);
    assert_eq!((page.json["meta"]["from"].as_i64(), page.json["meta"]["last_page"].as_i64()), (Some(3), Some(2)));
    assert!(page.json["links"]["next"].is_null() && page.json["links"]["prev"].is_string());

    assert_error(&api.get(&format!("{BASE}?page=9223372036854775807&per_page=100")).await, 422, "page");
    assert_error(&api.get(&format!("{BASE}?page=0")).await, 422, "page");

    // Spec 002's path: the same destinations, the same handlers.
    let alias = api.get(ALIAS).await;
    assert_eq!(alias.status, 200);
    assert_eq!(alias.json["meta"]["total"], 3);
    assert!(alias.json["meta"]["path"].as_str().is_some_and(|p| p.ends_with(ALIAS)));
    let id = alias.json["data"][0]["id"].as_str().expect("id").to_owned();
    assert_eq!(api.get(&format!("{ALIAS}/{id}")).await.json["data"]["name"], "A");
    let created = api.post(ALIAS, json!({"name": "D", "destinationType": "local", "config": {}})).await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(api.post(&format!("{ALIAS}/{id}/test"), json!({})).await.status, 200);
    assert_eq!(api.delete(&format!("{ALIAS}/{id}")).await.status, 200);
    assert_eq!(api.get(BASE).await.json["meta"]["total"], 3);

    // The OpenAPI document lists every endpoint once, at the main path.
    let doc = api.get("/api/v1/openapi.json").await.json;
    let paths = &doc["paths"];
    for (path, methods) in [
        (BASE.to_owned(), &["get", "post"][..]),
        (format!("{BASE}/test"), &["post"]),
        (format!("{BASE}/{{id}}"), &["get", "put", "delete"]),
        (format!("{BASE}/{{id}}/test"), &["post"]),
        (format!("{BASE}/{{id}}/default"), &["post"]),
        (format!("{BASE}/{{id}}/oauth"), &["post"]),
    ] {
        for method in methods {
            assert!(paths[&path][method]["responses"].is_object(), "{method} {path} is documented");
        }
    }
    assert!(paths[&format!("{BASE}/{{id}}")]["delete"]["responses"]["409"].is_object());
}

async fn s3_takes_json_types_aliases_and_presets(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let m = moto();
    // Spec 002's body as printed there: fields at the top level, `provider: "s3"`, the short
    // key names; the endpoint points it at moto.
    let spec = json!({"name": "s3-backups", "provider": "s3", "access_key": m.access_key_id,
        "secret_key": m.secret_access_key, "bucket": m.bucket, "region": m.region, "endpoint": m.endpoint,
        "path_style": true});
    let created = api.post(ALIAS, spec).await;
    assert_eq!(created.status, 201, "{created:?}");
    let data = &created.json["data"];
    assert_eq!((data["type"].as_str(), data["type_human"].as_str()), (Some("s3"), Some("Amazon S3")));
    assert_eq!(data["status"], "active", "{data}");
    assert_eq!(data["settings"]["provider"], "aws");
    assert_eq!(data["settings"]["path_style"], true, "a checkbox is a boolean");
    assert_eq!(data["credentials"], json!({"access_key_id": REDACTED, "secret_access_key": REDACTED}));

    // The form's presets by name; `path_style: false` is an unticked box, which an endpoint given
    // by IP address cannot take (the bucket cannot go in its host name); left out, the
    // endpoint's default (path-style) applies and is stored.
    let custom = |path_style: Value| {
        let mut config = json!({"provider": "custom", "endpoint": m.endpoint, "region": m.region, "bucket": m.bucket,
            "access_key_id": m.access_key_id, "secret_access_key": m.secret_access_key});
        if !path_style.is_null() {
            config["path_style"] = path_style;
        }
        json!({"name": "MinIO", "destinationType": "s3", "config": config})
    };
    let refused = api.post(BASE, custom(json!(false))).await;
    assert_eq!(refused.status, 422, "{refused:?}");
    let why = refused.json["fields"]["config.path_style"].as_str().unwrap_or_default();
    assert!(why.contains("IP address"), "{refused:?}");
    let created = api.post(BASE, custom(Value::Null)).await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.json["data"]["type_human"], "Custom S3-compatible endpoint");
    assert_eq!(created.json["data"]["settings"]["path_style"], true);
    assert_eq!(created.json["data"]["status"], "active");
    let r2 = json!({"name": "R2", "destinationType": "s3", "config": {"provider": "r2", "bucket": "my-bucket",
        "access_key": "AKIAEXAMPLE", "secret_key": "s"}});
    let refused = api.post(BASE, r2).await;
    assert_error(&refused, 422, "R2 account ID is required");
    assert!(refused.json["fields"]["config.account_id"].is_string(), "{refused:?}");
}

async fn an_update_keeps_blank_secrets_and_tests_again(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let m = moto();
    let config = |secret: &str| {
        json!({"provider": "custom", "endpoint": m.endpoint, "region": m.region, "bucket": m.bucket,
            "path_style": "true", "access_key_id": m.access_key_id, "secret_access_key": secret})
    };
    let created = api.post(BASE, json!({"name": "S3", "destinationType": "s3", "config": config("wrongsecret")})).await;
    assert_eq!(created.status, 201, "a failed test still saves: {created:?}");
    assert_eq!(created.json["data"]["status"], "failed");
    assert_eq!(created.json["test"]["ok"], false);
    assert!(created.json["test"]["message"].as_str().is_some_and(|m| m.contains("SignatureDoesNotMatch")));
    assert!(created.json["test"]["hint"].as_str().is_some_and(|h| h.contains("secret key")));
    let id = super::id_of(&created.json["data"]);

    let fixed = api.put(&format!("{BASE}/{id}"), json!({"config": config(&m.secret_access_key)})).await;
    assert_eq!(fixed.status, 200, "{fixed:?}");
    assert_eq!(
        (fixed.json["data"]["status"].as_str(), fixed.json["test"]["ok"].as_bool()),
        (Some("active"), Some(true))
    );

    // Blank, missing and redacted secrets keep the stored ones: still active after a re-test.
    let mut keep = config("");
    keep["prefix"] = json!("nightly/");
    keep["access_key_id"] = json!(REDACTED);
    let kept = api.put(&format!("{BASE}/{id}"), json!({"name": "S3", "config": keep})).await;
    assert_eq!(kept.status, 200, "{kept:?}");
    assert_eq!(kept.json["data"]["status"], "active", "{kept:?}");
    assert_eq!(kept.json["data"]["settings"]["prefix"], "nightly/");
    let mut missing = config("");
    missing.as_object_mut().expect("object").remove("secret_access_key");
    let kept = api.put(&format!("{BASE}/{id}"), json!({"config": missing})).await;
    assert_eq!(kept.json["data"]["status"], "active", "{kept:?}");
    assert_eq!(kept.json["data"]["settings"].get("prefix"), None, "a config replaces the settings");

    // Another type does not inherit the old type's secrets.
    let switched = api
        .put(&format!("{BASE}/{id}"), json!({"destinationType": "cloudinary", "config": {"cloud_name": "demo"}}))
        .await;
    assert_error(&switched, 422, "fields are invalid");
    assert!(switched.json["fields"]["config.api_key"].is_string(), "{switched:?}");
    assert_eq!(app.destination("S3").await.status, "active", "a refused update changes nothing");
}
