//! No secret value in any response body: destinations of every type created, shown, listed,
//! updated, tested (saved and unsaved, passing and failing) and refused, through the API.

use super::{BASE, REDACTED, id_of};
use crate::api_client::{admin, anonymous};
use crate::helpers::{Backend, captured_logs, moto, spawn_app};
use crate::on_both_backends;
use serde_json::{Value, json};

on_both_backends!(no_secret_in_any_response_body);

fn marker(tag: &str) -> String {
    format!("{tag}{}", uuid::Uuid::new_v4().simple())
}

async fn no_secret_in_any_response_body(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let m = moto();
    let s3_key = marker("AKIA").to_uppercase();
    let secrets = [
        s3_key.clone(),
        marker("s3secret"),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, marker("azurekey")),
        marker("sassig"),
        marker("sftppw"),
        marker("sftpkey"),
        marker("sftppass"),
        marker("ya29gcs"),
        marker("gcsprivate"),
        marker("ya29drive"),
        marker("refresh"),
        marker("clientsecret"),
        format!("{}", 100_000_000_000u64 + u64::from(uuid::Uuid::new_v4().as_u128() as u32)),
        marker("cloudsecret"),
    ];
    let [
        s3_key,
        s3_secret,
        azure_key,
        sas_sig,
        sftp_pw,
        sftp_key,
        sftp_pass,
        gcs_token,
        gcs_private,
        drive_access,
        drive_refresh,
        drive_secret,
        cloud_key,
        cloud_secret,
    ] = secrets.clone();
    let private_key = format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{sftp_key}\n-----END OPENSSH PRIVATE KEY-----");
    let configs = [
        (
            "S3",
            "s3",
            json!({"provider": "custom", "endpoint": m.endpoint, "region": m.region, "bucket": m.bucket,
            "path_style": true, "access_key": s3_key, "secret_key": s3_secret}),
        ),
        (
            "Azure",
            "azure_blob",
            json!({"account_name": "acct1", "container": "backups",
            "endpoint": "http://127.0.0.1:9/acct1", "account_key": azure_key}),
        ),
        (
            "Azure SAS",
            "azure_blob",
            json!({"account_name": "acct1", "container": "backups", "endpoint": "http://127.0.0.1:9/acct1",
            "sas_token": format!("?sv=2022-11-02&sr=c&sp=rwdl&se=2099-01-01&sig={sas_sig}")}),
        ),
        (
            "SFTP",
            "sftp",
            json!({"host": "127.0.0.1", "port": 9, "directory": "/srv", "username": "deploy",
            "password": sftp_pw, "private_key": private_key, "passphrase": sftp_pass}),
        ),
        (
            "GCS",
            "gcs",
            json!({"bucket": "bucket-1", "access_token": gcs_token, "service_account_key": {
            "type": "service_account", "client_email": "backup@proj.iam.gserviceaccount.com",
            "private_key": format!("-----BEGIN PRIVATE KEY-----\n{gcs_private}\n-----END PRIVATE KEY-----\n")}}),
        ),
        (
            "Drive",
            "google_drive",
            json!({"folder_id": "folder1", "access_token": drive_access,
            "refresh_token": drive_refresh, "client_id": "client.apps.googleusercontent.com", "client_secret": drive_secret}),
        ),
        ("Cloudinary", "cloudinary", json!({"cloud_name": "demo", "api_key": cloud_key, "api_secret": cloud_secret})),
    ];

    let mut bodies: Vec<Value> = Vec::new();
    let mut ids = Vec::new();
    for (name, kind, config) in &configs {
        let body = json!({"name": name, "destinationType": kind, "config": config});
        bodies.push(api.post(&format!("{BASE}/test"), body.clone()).await.json);
        let created = api.post(BASE, body.clone()).await;
        assert_eq!(created.status, 201, "{name}: {created:?}");
        let credentials = created.json["data"]["credentials"].as_object().expect("credentials").clone();
        assert!(!credentials.is_empty() && credentials.values().all(|v| v == REDACTED), "{name}: {credentials:?}");
        ids.push(id_of(&created.json["data"]));
        bodies.push(created.json);
        // Refused bodies do not echo what was sent either.
        let mut refused = body.clone();
        refused["name"] = json!("");
        refused["config"]["unknown"] = json!("x");
        bodies.push(api.post(BASE, refused).await.json);
        bodies.push(api.post(BASE, body).await.json);
    }
    bodies.push(api.get(BASE).await.json);
    for (id, (_, _, config)) in ids.iter().zip(&configs) {
        bodies.push(api.get(&format!("{BASE}/{id}")).await.json);
        bodies.push(api.post(&format!("{BASE}/{id}/test"), json!({})).await.json);
        bodies.push(api.put(&format!("{BASE}/{id}"), json!({"config": config})).await.json);
        bodies.push(api.put(&format!("{BASE}/{id}"), json!({"name": "", "config": config})).await.json);
        bodies.push(api.post(&format!("{BASE}/{id}/default"), json!({})).await.json);
        bodies.push(api.post(&format!("{BASE}/{id}/oauth"), json!({})).await.json);
        bodies.push(anonymous(&app).get(&format!("{BASE}/{id}")).await.json);
    }
    for id in &ids {
        bodies.push(api.delete(&format!("{BASE}/{id}")).await.json);
    }
    assert!(bodies.iter().any(|b| b["test"]["ok"] == false), "failing tests were among them");
    for body in &bodies {
        let text = body.to_string();
        let leaked: Vec<&String> = secrets.iter().filter(|s| text.contains(s.as_str())).collect();
        assert!(leaked.is_empty(), "a secret in a response: {leaked:?} in {text}");
    }
    let logs = captured_logs();
    let leaked: Vec<&String> = secrets.iter().filter(|s| logs.contains(s.as_str())).collect();
    assert!(leaked.is_empty(), "a secret in the logs: {leaked:?}");
}
