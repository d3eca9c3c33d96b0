//! S3-compatible services that really work (issue 15), against s3s-fs (a second S3
//! implementation, SigV4 checked; path-style at 127.0.0.1, virtual-hosted under `*.localhost`,
//! where the R2 and Backblaze hosts live too through the `r2_base`/`backblaze_base` settings):
//! - spec 002's example bodies (`provider`: minio, r2, backblaze, custom, s3) each end Active,
//!   and a backup to each then succeeds; the body of the bug report (a virtual-hosted request
//!   that names no bucket) ends Failed with why;
//! - the HTML presets tick path-style where the service needs it, and each preset, filled in as
//!   a person would, ends Active and backs up;
//! - backup → download → restore byte-identical, path-style and virtual-hosted.

use crate::api_client::admin;
use crate::every_destination::{plan_form, run_and_wait};
use crate::helpers::{Backend, TestApp, spawn_with, test_settings};
use crate::on_both_backends;
use crate::provider_s3::{S3s, s3s};
use crate::runs::fill;
use serde_json::{Value, json};

on_both_backends!(spec_002_bodies_end_active_and_back_up, html_presets_end_active_and_back_up);

/// An app whose R2 and Backblaze hosts are s3s-fs's virtual-hosted names.
pub async fn app_for(s: &S3s, backend: Backend) -> TestApp {
    let (mut settings, data_dir, pg) = test_settings(backend);
    settings.provider.endpoints.r2_base = s.r2_base.clone();
    settings.provider.endpoints.backblaze_base = s.backblaze_base.clone();
    let app = spawn_with(settings, data_dir, pg).await;
    app.setup_admin().await;
    app
}

/// A directory plan to the destination, run now: it must succeed.
pub async fn backs_up(app: &TestApp, destination: &str, label: &str, count: usize) {
    let source = tempfile::tempdir().expect("source");
    fill(source.path());
    let name = format!("{label} {}", uuid::Uuid::new_v4().simple());
    let path = source.path().to_string_lossy().into_owned();
    app.grant_folder(source.path(), "read").await;
    let form = plan_form(&name, destination, &[("source_kind", "directory"), ("source_path", &path)]);
    assert_eq!(app.post("/plans", &form).await.status, 303, "{label}");
    run_and_wait(app, &name, count).await;
}

async fn spec_002_bodies_end_active_and_back_up(backend: Backend) {
    let s = s3s();
    let app = app_for(&s, backend).await;
    let api = admin(&app).await;
    let keys = json!({"access_key": s.access_key_id, "secret_key": s.secret_access_key, "bucket": s.bucket});
    let with = |extra: Value| {
        let mut body = keys.clone();
        body.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        body
    };
    let bodies = [
        ("minio", with(json!({"name": "minio", "provider": "minio", "endpoint": s.endpoint}))),
        ("r2", with(json!({"name": "r2", "provider": "r2", "account_id": s.r2_account}))),
        ("r2 eu", with(json!({"name": "r2 eu", "provider": "r2", "account_id": s.r2_account, "jurisdiction": "eu"}))),
        ("backblaze", with(json!({"name": "backblaze", "provider": "backblaze", "region": s.backblaze_region}))),
        ("custom", with(json!({"name": "custom", "provider": "custom", "endpoint": s.endpoint}))),
        ("s3", with(json!({"name": "s3", "provider": "s3", "region": s.region, "endpoint": s.vhost_endpoint}))),
    ];
    for (i, (label, body)) in bodies.into_iter().enumerate() {
        let reply = api.post("/api/v1/settings/backup-destinations", body).await;
        assert_eq!(reply.status, 201, "{label}: {reply:?}");
        let data = &reply.json["data"];
        assert_eq!(data["status"], "active", "{label}: {data}");
        backs_up(&app, data["id"].as_str().expect("id"), label, i + 1).await;
    }

    // The bug report's body: MinIO's preset told not to use path-style, at a name the server
    // takes for its root. Refused before: "Listed the bucket", then every backup NoSuchBucket.
    let port = s.endpoint.rsplit(':').next().expect("port");
    let broken = with(json!({"name": "broken", "provider": "minio", "endpoint": format!("http://localhost:{port}"),
        "path_style": false}));
    let reply = api.post("/api/v1/settings/backup-destinations", broken).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let data = &reply.json["data"];
    assert_eq!(data["status"], "failed", "{data}");
    let message = data["last_test_message"].as_str().unwrap_or_default();
    assert!(message.contains("list of buckets") && message.contains("tick “Use path-style requests”"), "{message}");

    // A shape that can name no bucket is refused when parsed, with the field named.
    let ip = with(json!({"name": "ip", "provider": "custom", "endpoint": s.endpoint, "path_style": false}));
    let reply = api.post("/api/v1/settings/backup-destinations", ip).await;
    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(reply.json["fields"]["config.path_style"].as_str().is_some_and(|m| m.contains("IP address")), "{reply:?}");
}

/// Whether the form, after choosing `preset`, shows "Use path-style requests" ticked.
async fn preset_ticks_path_style(app: &TestApp, preset: &str) -> bool {
    let token = app.csrf(&app.client).await;
    let page = app
        .client
        .post(app.url("/destinations/fields"))
        .header("HX-Request", "true")
        .header("HX-Trigger-Name", "config.provider")
        .header("X-CSRF-Token", token)
        .form(&[("type", "s3"), ("config.provider", preset), ("config.path_style", "false")])
        .send()
        .await
        .expect("fields");
    let html = page.text().await.expect("body");
    let checkbox = html.split("name=\"config.path_style\" type=\"checkbox\"").nth(1).expect("the box");
    checkbox.split('>').next().unwrap_or_default().contains("checked")
}

/// A preset, whether the form ticks path-style for it, and the fields a person types.
type Preset<'a> = (&'a str, bool, Vec<(&'a str, &'a str)>);

async fn html_presets_end_active_and_back_up(backend: Backend) {
    let s = s3s();
    let app = app_for(&s, backend).await;
    let presets: [Preset; 8] = [
        ("minio", true, vec![("endpoint", &s.endpoint)]),
        ("ceph", true, vec![("endpoint", &s.endpoint)]),
        ("garage", true, vec![("endpoint", &s.endpoint)]),
        ("seaweedfs", true, vec![("endpoint", &s.endpoint)]),
        ("custom", false, vec![("endpoint", &s.endpoint)]),
        ("r2", true, vec![("account_id", &s.r2_account)]),
        ("backblaze", false, vec![("region", &s.backblaze_region)]),
        ("aws", false, vec![("region", &s.region), ("endpoint", &s.vhost_endpoint)]),
    ];
    for (i, (preset, ticked, typed)) in presets.into_iter().enumerate() {
        assert_eq!(preset_ticks_path_style(&app, preset).await, ticked, "{preset}");
        // What the browser sends: the typed fields, and the box as shown (a ticked one with its
        // hidden "false" first); an unticked one sends nothing, so an IP endpoint takes path-style.
        let mut form: Vec<(&str, &str)> = vec![
            ("provider", preset),
            ("bucket", &s.bucket),
            ("access_key_id", &s.access_key_id),
            ("secret_access_key", &s.secret_access_key),
        ];
        form.extend(typed);
        if ticked {
            form.extend([("path_style", "false"), ("path_style", "true")]);
        }
        let name = format!("Preset {preset}");
        assert_eq!(app.create_destination(&name, "s3", &form).await.status, 303, "{preset}");
        let row = app.destination(&name).await;
        assert_eq!(row.status, "active", "{preset}: {}", row.message);
        backs_up(&app, &row.id, preset, i + 1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_backup_download_restore_path_style_and_virtual_hosted() {
    for virtual_hosted in [false, true] {
        let fixture = crate::provider_s3::s3s_fixture(virtual_hosted);
        let (app, destination) = crate::every_destination::app_with_destination(&fixture, Backend::Sqlite).await;
        let source = tempfile::tempdir().expect("source");
        fill(source.path());
        let name = format!("Round trip {virtual_hosted}");
        let path = source.path().to_string_lossy().into_owned();
        app.grant_folder(source.path(), "read").await;
        let form = plan_form(&name, &destination, &[("source_kind", "directory"), ("source_path", &path)]);
        assert_eq!(app.post("/plans", &form).await.status, 303);
        let run = run_and_wait(&app, &name, 1).await;

        // The download: a presigned link to s3s-fs (followed with a client that resolves
        // `*.localhost` as Devpilot does), or the bytes themselves.
        let download = app.client.get(app.url(&format!("/runs/{}/download", run.id))).send().await.expect("download");
        let bytes = match download.headers().get("location").and_then(|l| l.to_str().ok()) {
            Some(link) => crate::conformance::localhost_client()
                .get(link)
                .send()
                .await
                .expect("presigned GET")
                .bytes()
                .await
                .expect("body"),
            None => download.bytes().await.expect("body"),
        };
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        assert_eq!(Some(digest), run.sha256, "virtual-hosted {virtual_hosted}: the download differs from the backup");

        let place = tempfile::tempdir().expect("restore place");
        app.grant_folder(place.path(), "read_write").await;
        let into = place.path().join("restored");
        let restored = app.post(&format!("/runs/{}/restore", run.id), &[("target", &into.to_string_lossy())]).await;
        assert_eq!(restored.status, 200, "{}", restored.body);
        assert_eq!(
            crate::artifacts::tree(&into),
            crate::artifacts::tree(source.path()),
            "virtual-hosted {virtual_hosted}"
        );
    }
}
