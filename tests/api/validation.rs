//! Bad input for every field of every type: a specific message next to the field, a 4xx, the
//! other values kept, and nothing stored or changed.

use crate::helpers::{Backend, Form, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    every_bad_field_is_reported_next_to_it,
    duplicate_names_are_refused,
    edits_with_errors_change_nothing
);

/// (type, valid config, field to break, bad value, words expected in the message)
fn cases() -> Vec<(&'static str, Form<'static>, &'static str, String, &'static str)> {
    let s3 = vec![
        ("provider", "custom"),
        ("endpoint", "http://127.0.0.1:9"),
        ("bucket", "my-bucket"),
        ("access_key_id", "AKIA1234"),
        ("secret_access_key", "secret"),
    ];
    let azure = vec![("account_name", "acct1"), ("container", "backups"), ("account_key", "c2VjcmV0")];
    let sftp =
        vec![("host", "backup.example.com"), ("directory", "/srv/backups"), ("username", "deploy"), ("password", "pw")];
    let gcs = vec![("bucket", "my-bucket"), ("access_token", "ya29.token")];
    let drive = vec![("folder_id", "1AbC_d-E"), ("access_token", "ya29.token")];
    let cloudinary = vec![("cloud_name", "demo"), ("api_key", "1234"), ("api_secret", "abc")];
    let long = "x".repeat(300);
    vec![
        ("local", vec![], "path", "relative/dir".into(), "absolute path"),
        ("local", vec![], "path", "/a/../b".into(), "must not contain"),
        ("s3", s3.clone(), "bucket", "".into(), "Bucket is required"),
        ("s3", s3.clone(), "bucket", "Bad_Bucket".into(), "lowercase letters"),
        ("s3", s3.clone(), "bucket", long.clone(), "at most 63 characters"),
        ("s3", s3.clone(), "endpoint", "ftp://host".into(), "http:// or https://"),
        ("s3", s3.clone(), "endpoint", "".into(), "Endpoint URL is required"),
        ("s3", s3.clone(), "provider", "dropbox".into(), "must be one of"),
        ("s3", s3.clone(), "prefix", "/leading".into(), "must not start with"),
        ("s3", s3.clone(), "region", "us east".into(), "may contain only"),
        ("s3", s3.clone(), "access_key_id", "".into(), "Access key ID is required"),
        ("s3", s3.clone(), "access_key_id", "AK!A".into(), "letters and digits"),
        ("s3", s3.clone(), "secret_access_key", "has space".into(), "must not contain spaces"),
        ("s3", s3.clone(), "path_style", "maybe".into(), "true or false"),
        ("s3", s3.clone(), "account_id", "xyz".into(), "32-character"),
        ("azure_blob", azure.clone(), "account_name", "Bad-Name".into(), "lowercase letters and digits"),
        ("azure_blob", azure.clone(), "container", "a".into(), "3 to 63"),
        ("azure_blob", azure.clone(), "account_key", "not base64!".into(), "base64"),
        ("azure_blob", azure.clone(), "endpoint", "nope".into(), "not a valid URL"),
        ("sftp", sftp.clone(), "host", "bad host!".into(), "host name or an IP"),
        ("sftp", sftp.clone(), "port", "70000".into(), "from 1 to 65535"),
        ("sftp", sftp.clone(), "directory", "relative".into(), "absolute path"),
        ("sftp", sftp.clone(), "username", "a b".into(), "must not contain"),
        ("sftp", sftp.clone(), "password", "".into(), "password or a private key"),
        ("sftp", sftp.clone(), "private_key", "not a key".into(), "OpenSSH or PEM"),
        ("gcs", gcs.clone(), "bucket", "UPPER".into(), "lowercase letters"),
        (
            "gcs",
            vec![("bucket", "my-bucket")],
            "service_account_key",
            "".into(),
            "service-account key or an access token",
        ),
        ("gcs", gcs.clone(), "service_account_key", "{\"type\":\"user\"}".into(), "service_account"),
        ("gcs", gcs.clone(), "service_account_key", "not json".into(), "JSON key file"),
        ("google_drive", drive.clone(), "folder_id", "a/b".into(), "may contain only"),
        ("google_drive", drive.clone(), "access_token", "".into(), "access token, or a refresh token"),
        ("cloudinary", cloudinary.clone(), "cloud_name", "".into(), "Cloud name is required"),
        ("cloudinary", cloudinary.clone(), "api_key", "abc".into(), "API key is the number"),
        ("cloudinary", cloudinary.clone(), "api_secret", long, "at most 128 characters"),
    ]
}

async fn every_bad_field_is_reported_next_to_it(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    for (kind, valid, field, bad, expected) in cases() {
        let mut config: Vec<(&str, &str)> = valid.iter().filter(|(k, _)| *k != field).copied().collect();
        config.push((field, bad.as_str()));
        let page = app.create_destination("Checked", kind, &config).await;
        assert_eq!(page.status, 422, "{kind}.{field}={bad:?} should be refused");
        let error_id = format!("id=\"f-{field}-error\"");
        let at = page.body.find(&error_id).unwrap_or_else(|| panic!("{kind}.{field}: no error next to the field"));
        let message = &page.body[at..page.body[at..].find("</div>").map_or(page.body.len(), |e| at + e)];
        assert!(message.contains(expected), "{kind}.{field}={bad:?}: expected {expected:?}, got {message:?}");
        assert!(page.body.contains("value=\"Checked\""), "{kind}.{field}: the name typed is kept");
    }

    let unknown = app.create_destination("Odd", "ftp", &[]).await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.body.contains("Unknown destination type"), "{}", unknown.body);
    let nameless = app.create_destination("", "local", &[]).await;
    assert!(nameless.body.contains("id=\"f-name-error\"") && nameless.body.contains("Name is required."));
    let too_long = app.create_destination(&"n".repeat(101), "local", &[]).await;
    assert!(too_long.body.contains("Name must be at most 100 characters."));

    assert!(app.destination_rows().await.is_empty(), "nothing was stored");
}

async fn duplicate_names_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    assert_eq!(app.create_destination("Offsite", "local", &[]).await.status, 303);
    let dup = app.create_destination("OFFSITE", "local", &[]).await;
    assert_eq!(dup.status, 422);
    assert!(dup.body.contains("OFFSITE") && dup.body.contains("already exists in this workspace."), "{}", dup.body);
    assert_eq!(app.destination_rows().await.len(), 1);

    // The same name in another workspace is fine.
    app.post("/workspaces", &[("workspace", "Other")]).await;
    assert_eq!(app.create_destination("Offsite", "local", &[]).await.status, 303);
}

async fn edits_with_errors_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    app.create_destination("First", "local", &[]).await;
    app.create_destination("Second", "local", &[]).await;
    let before = app.destination("Second").await;
    let renamed = app.post(&format!("/destinations/{}", before.id), &[("name", "first"), ("type", "local")]).await;
    assert_eq!(renamed.status, 422);
    assert!(renamed.body.contains("already exists"));
    let bad_path = app
        .post(&format!("/destinations/{}", before.id), &[("name", "Second"), ("type", "local"), ("config.path", "x")])
        .await;
    assert_eq!(bad_path.status, 422);
    let after = app.destination("Second").await;
    assert_eq!((after.settings, after.credentials), (before.settings, before.credentials));
}
