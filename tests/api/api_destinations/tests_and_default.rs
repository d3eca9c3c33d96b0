//! Connection tests answer 200 when they pass and 422 with the provider's message and steps
//! when they fail, for saved destinations (whose status follows) and for unsaved credentials
//! (nothing stored). The default moves from one destination to the next; a disabled one is 409.

use super::{BASE, create_local, id_of};
use crate::api_client::{admin, assert_error};
use crate::helpers::{Backend, moto, spawn_app};
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(
    a_saved_destination_tests_200_or_422,
    credentials_test_without_saving,
    the_default_moves_and_a_disabled_one_is_409
);

async fn a_saved_destination_tests_200_or_422(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let id = id_of(&create_local(&api, "Disk", dir.path()).await);

    let passed = api.post(&format!("{BASE}/{id}/test?deep=true"), json!({})).await;
    assert_eq!(passed.status, 200, "{passed:?}");
    assert_eq!(
        (passed.json["test"]["ok"].as_bool(), passed.json["data"]["status"].as_str()),
        (Some(true), Some("active"))
    );
    let steps: Vec<&str> =
        passed.json["test"]["steps"].as_array().expect("steps").iter().filter_map(|s| s["step"].as_str()).collect();
    assert!(steps.contains(&"write probe") && steps.contains(&"delete probe"), "a deep test: {steps:?}");
    assert!(passed.json["test"]["message"].as_str().is_some_and(|m| m.contains("probe object")));

    // The folder disappears: 422, the provider's message, the failed step, the status Failed.
    let gone = dir.path().to_path_buf();
    drop(dir);
    let failed = api.post(&format!("{BASE}/{id}/test"), json!({})).await;
    assert_error(&failed, 422, &gone.display().to_string());
    assert_eq!(failed.json["test"]["ok"], false);
    assert_eq!(failed.json["message"], failed.json["test"]["message"]);
    let states: Vec<&str> =
        failed.json["test"]["steps"].as_array().expect("steps").iter().filter_map(|s| s["state"].as_str()).collect();
    assert!(states.contains(&"failed"), "{states:?}");
    assert_eq!(failed.json["data"]["status"], "failed");
    let message = failed.json["message"].as_str().expect("a message");
    assert!(failed.json["data"]["last_test_message"].as_str().is_some_and(|m| m.starts_with(message)));
    assert_eq!(app.destination("Disk").await.status, "failed");
}

async fn credentials_test_without_saving(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let m = moto();
    let config = |secret: &str| {
        json!({"destinationType": "s3", "config": {"provider": "custom", "endpoint": m.endpoint, "region": m.region,
            "bucket": m.bucket, "path_style": true, "access_key": m.access_key_id, "secret_key": secret}})
    };
    let passed = api.post(&format!("{BASE}/test"), config(&m.secret_access_key)).await;
    assert_eq!(passed.status, 200, "{passed:?}");
    assert_eq!(passed.json["test"]["ok"], true);
    assert!(passed.json.get("data").is_none(), "nothing was saved, so nothing is shown");

    let failed = api.post(&format!("{BASE}/test"), config("wrongsecretwrongsecret")).await;
    assert_error(&failed, 422, "SignatureDoesNotMatch");
    assert!(failed.json["test"]["hint"].as_str().is_some_and(|h| h.contains("secret key")), "{failed:?}");
    assert!(failed.json["test"]["steps"].as_array().is_some_and(|s| s.iter().any(|s| s["state"] == "not-run")));
    assert!(failed.json.get("data").is_none());
    assert!(app.destination_rows().await.is_empty(), "a credentials test stores nothing");
    let spec = json!({"provider": "s3", "bucket": m.bucket, "region": m.region, "endpoint": m.endpoint,
        "path_style": true, "access_key": m.access_key_id, "secret_key": m.secret_access_key});
    let flat = api.post(&format!("{BASE}/test"), spec).await;
    assert_eq!(flat.status, 200, "spec 002's body, without a name: {flat:?}");
}

async fn the_default_moves_and_a_disabled_one_is_409(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let a = id_of(&create_local(&api, "A", dir.path()).await);
    let b = id_of(&create_local(&api, "B", dir.path()).await);

    assert_eq!(api.get(&format!("{BASE}/{a}")).await.json["data"]["is_default"], true, "the first is the default");
    let made = api.post(&format!("{BASE}/{b}/default"), json!({})).await;
    assert_eq!(made.status, 200, "{made:?}");
    assert_eq!(
        (made.json["data"]["id"].as_str(), made.json["data"]["is_default"].as_bool()),
        (Some(b.as_str()), Some(true))
    );
    assert_eq!(api.get(&format!("{BASE}/{a}")).await.json["data"]["is_default"], false, "one default per workspace");
    assert_eq!(api.get(BASE).await.json["data"][0]["id"], b, "the default is listed first");
    assert_eq!(api.post(&format!("{BASE}/{a}/default"), json!({})).await.json["data"]["is_default"], true);
    assert_eq!(api.get(&format!("{BASE}/{b}")).await.json["data"]["is_default"], false);

    assert_eq!(app.post(&format!("/destinations/{b}/disable"), &[]).await.status, 303);
    assert_error(&api.post(&format!("{BASE}/{b}/default"), json!({})).await, 409, "disabled");
    assert!(app.destination("A").await.is_default && !app.destination("B").await.is_default);
}
