//! Immutable copies on moto with auth on: a bucket created WITH Object Lock (through the S3 API,
//! here), its default retention in the connection test; a plan that locks its backups in
//! governance mode → the object carries the retention (GetObjectRetention), the lock is recorded
//! and shown, retention skips it and says until when, a delete of the locked version with the
//! destination's own key is refused, and the deep test proves it; hostile lock values refused.

use crate::api_client::admin;
use crate::helpers::{Backend, TestApp, moto, spawn_app};
use crate::on_both_backends;
use crate::runs::{run_rows, settled};
use bytes::Bytes;
use object_store::aws::{AwsAuthorizer, AwsCredential};
use serde_json::json;

on_both_backends!(a_locked_backup_cannot_be_deleted_early);

/// Azure's test reports the container's immutability as the service reports it: Azurite answers
/// Get Container Properties with `x-ms-has-immutability-policy: false` and
/// `x-ms-has-legal-hold: false`, so "Immutability: off".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_reports_the_containers_immutability() {
    let a = crate::provider_azure::azurite();
    let app = spawn_app(Backend::Sqlite).await;
    app.setup_admin().await;
    let fields = [
        ("account_name", a.account.as_str()),
        ("container", &a.container),
        ("endpoint", &a.endpoint),
        ("account_key", &a.key),
    ];
    assert_eq!(app.create_destination("Azure", "azure_blob", &fields).await.status, 303);
    let row = app.destination("Azure").await;
    assert_eq!(row.status, "active", "{}", row.message);
    assert!(row.message.contains("Immutability: "), "{}", row.message);
    assert!(!row.message.contains("unknown"), "Azurite answers Get Container Properties: {}", row.message);
    println!("Azurite: {}", row.message);
}

/// A signed S3 request to moto with the destination's key: (status, answer's headers, body).
async fn s3(method: http::Method, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Headers, String) {
    let m = moto();
    let credential =
        AwsCredential { key_id: m.access_key_id.clone(), secret_key: m.secret_access_key.clone(), token: None };
    let mut request = http::Request::builder().method(method.clone()).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let mut request =
        request.body(object_store::client::HttpRequestBody::from(Bytes::copy_from_slice(body))).expect("request");
    AwsAuthorizer::new(&credential, "s3", &m.region).try_authorize(&mut request, None).expect("signed");
    let reply = reqwest::Client::new()
        .request(method, url)
        .headers(request.headers().clone())
        .body(body.to_vec())
        .send()
        .await
        .expect("moto answers");
    let status = reply.status().as_u16();
    let headers = Headers(reply.headers().clone());
    (status, headers, reply.text().await.unwrap_or_default())
}

#[derive(Debug)]
struct Headers(reqwest::header::HeaderMap);

impl Headers {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
}

/// Creates a bucket with Object Lock enabled and a default governance retention of one day.
async fn locked_bucket() -> String {
    let m = moto();
    let bucket = format!("locked-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let url = format!("{}/{bucket}", m.endpoint);
    let created = s3(http::Method::PUT, &url, &[("x-amz-bucket-object-lock-enabled", "true")], b"").await;
    assert_eq!(created.0, 200, "{created:?}");
    let rule = "<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ObjectLockEnabled>Enabled\
                </ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention>\
                </Rule></ObjectLockConfiguration>";
    let configured = s3(http::Method::PUT, &format!("{url}?object-lock="), &[], rule.as_bytes()).await;
    assert_eq!(configured.0, 200, "{configured:?}");
    bucket
}

/// Adds a 9 MiB incompressible file: the next backup is a multipart upload.
fn add_noise(dir: &std::path::Path) {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..9 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(dir.join("noise.bin"), noise).expect("write");
}

/// A folder of one small file: its backup is one PutObject.
fn source() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("source");
    std::fs::write(dir.path().join("readme.txt"), "locked\n").expect("write");
    dir
}

async fn s3_destination(app: &TestApp, name: &str, bucket: &str) -> crate::helpers::DestinationRow {
    let m = moto();
    let fields = m.fields(&m.access_key_id, &m.secret_access_key, bucket);
    assert_eq!(app.create_destination(name, "s3", &fields).await.status, 303);
    app.destination(name).await
}

async fn a_locked_backup_cannot_be_deleted_early(backend: Backend) {
    let m = moto();
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let bucket = locked_bucket().await;

    // The connection test reports the lock, and "off" for a bucket without one (not an error).
    let locked = s3_destination(&app, "Locked", &bucket).await;
    assert_eq!(locked.status, "active", "{}", locked.message);
    assert!(locked.message.contains("Object Lock: on, default retention governance 1 days"), "{}", locked.message);
    let plain = s3_destination(&app, "Plain", &m.bucket).await;
    assert_eq!(plain.status, "active", "{}", plain.message);
    assert!(plain.message.contains("Object Lock: off"), "{}", plain.message);

    // Hostile lock values through the API, on a destination that can lock.
    let api = admin(&app).await;
    let src = source();
    app.grant_folder(src.path(), "read").await;
    let path = src.path().to_string_lossy().into_owned();
    let base = json!({"name": "Locked files", "cron_expression": "0 2 * * *", "destination_id": locked.id,
                      "source": {"type": "directory", "path": path}});
    for (retention, field) in [
        (json!({"keep_last": 1, "lock_mode": "forever", "lock_days": 1}), "retention.lock_mode"),
        (json!({"keep_last": 1, "lock_mode": "governance", "lock_days": 0}), "retention.lock_days"),
        (json!({"keep_last": 1, "lock_mode": "governance", "lock_days": 36500}), "retention.lock_days"),
        (json!({"keep_last": 1, "lock_days": 5}), "retention.lock_mode"),
    ] {
        let mut body = base.clone();
        body["retention"] = retention.clone();
        let reply = api.post("/api/v1/backup-schedules", body).await;
        assert_eq!(reply.status, 422, "{retention}: {reply:?}");
        assert!(reply.json["fields"][field].is_string(), "{retention}: {reply:?}");
    }
    let mut body = base.clone();
    // Two days, not the bucket's default one: the retention seen is the upload's own.
    body["retention"] = json!({"keep_last": 1, "lock_mode": "governance", "lock_days": 2});
    let created = api.post("/api/v1/backup-schedules", body).await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.json["data"]["retention"]["lock_mode"], "governance");
    let plan = created.json["data"]["id"].as_str().expect("id").to_owned();

    // Run 1: a locked PutObject; the object carries the upload's retention.
    assert_eq!(app.post(&format!("/plans/{plan}/run"), &[]).await.status, 303);
    let first = settled(&app, 1).await.remove(0);
    assert_eq!(first.status, "succeeded", "{first:?}");
    let key = first.object_key.clone().expect("key");
    let object = format!("{}/{bucket}/{key}", m.endpoint);
    // HeadObject shows the retention (moto has no GetObjectRetention).
    let (status, head, _) = s3(http::Method::HEAD, &object, &[], b"").await;
    assert_eq!(status, 200, "{head:?}");
    assert_eq!(head.get("x-amz-object-lock-mode").as_deref(), Some("GOVERNANCE"), "{head:?}");
    let until = head.get("x-amz-object-lock-retain-until-date").expect("a date");
    let until = chrono::DateTime::parse_from_rfc3339(&until).expect("RFC 3339").to_utc();
    let left = until - chrono::Utc::now();
    assert!(left > chrono::Duration::hours(47) && left <= chrono::Duration::days(2), "{until}");
    let page = app.get(&format!("/plans/{plan}")).await;
    assert!(page.body.contains("Locked: governance until"), "the history shows the lock: {}", page.body);

    // Run 2, a locked multipart upload (SHA-256 checksums on every part), keeps the newest 1,
    // but the first is locked: kept, and the run says until when.
    add_noise(src.path());
    assert_eq!(app.post(&format!("/plans/{plan}/run"), &[]).await.status, 303);
    let runs = settled(&app, 2).await;
    let second = &runs[1];
    assert_eq!(second.status, "succeeded", "{second:?}");
    assert!(second.error.is_none(), "{second:?}");
    assert!(!runs[0].pruned, "a locked backup is not deleted: {runs:?}");
    let notes = notes(&app, &second.id).await;
    assert!(notes.contains(&key) && notes.contains("locked until"), "{notes}");
    let second_key = second.object_key.clone().expect("key");
    let (status, head, _) = s3(http::Method::HEAD, &format!("{}/{bucket}/{second_key}", m.endpoint), &[], b"").await;
    // moto keeps no lock on a multipart upload (neither the upload's nor the bucket's default;
    // S3 applies CreateMultipartUpload's): what it shows is the SHA-256 checksums S3 requires.
    assert_eq!((status, head.get("x-amz-checksum-algorithm").as_deref()), (200, Some("SHA256")), "{head:?}");
    assert!(second.bytes > 9 * 1024 * 1024, "{second:?}");
    // The form's preview says the same.
    let preview = app
        .post(
            &format!("/plans/{plan}/retention-preview"),
            &[("retention", "1"), ("lock_mode", "governance"), ("lock_days", "2")],
        )
        .await;
    assert!(preview.body.contains("locked until"), "{}", preview.body);

    // A delete of the locked version with the destination's own key is refused.
    let (status, head, _) = s3(http::Method::HEAD, &object, &[], b"").await;
    assert_eq!(status, 200);
    let version = head.get("x-amz-version-id").expect("a versioned bucket names the version");
    let (status, _, refused) = s3(http::Method::DELETE, &format!("{object}?versionId={version}"), &[], b"").await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused.contains("AccessDenied"), "{refused}");
    let (status, _, _) = s3(http::Method::HEAD, &object, &[], b"").await;
    assert_eq!(status, 200, "still there");

    // The deep test proves it on its own probe object, and cleans up with bypass-governance.
    let reply = api.post(&format!("/api/v1/backup-destinations/{}/test?deep=true", locked.id), json!({})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let checks = reply.json["data"]["compatibility"]["checks"].as_array().cloned().unwrap_or_default();
    let lock = checks.iter().find(|c| c["feature"] == "Object Lock").expect("an Object Lock check");
    let detail = lock["detail"].as_str().unwrap_or_default();
    assert_eq!(lock["state"], "works", "{lock}");
    assert!(detail.contains("an early delete was refused") && detail.contains("immutability works"), "{detail}");
    assert!(detail.contains("removed with bypass-governance"), "{detail}");
    assert_eq!(run_rows(&app).await.len(), 2);
}

async fn notes(app: &TestApp, run: &str) -> String {
    let run = run.to_owned();
    app.db()
        .run(move |c| {
            use devpilot::db::schema::runs::dsl::*;
            use diesel::prelude::*;
            runs.filter(id.eq(&run)).select(notes).first::<Option<String>>(c)
        })
        .await
        .expect("notes")
        .unwrap_or_default()
}
