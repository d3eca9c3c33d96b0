//! The database goes away and comes back. PostgreSQL sits behind a relay the test kills (every
//! connection reset, the port closed) and revives on the same port: meanwhile pages answer 503
//! with a clear message (an HTML page; the JSON error shape under /api/v1), the server keeps
//! serving, a backup that finishes during the outage is recorded once the database is back, the
//! scheduler keeps going, and everything answers 200 again afterwards (the broken pooled
//! connections are replaced). For SQLite, "unavailable" is a file that cannot be written: its
//! disk full (on a small tmpfs), where writes answer 503 and reads still work until space is
//! freed.

use crate::api_client::admin;
use crate::helpers::{Backend, TestApp, spawn_with, test_settings};
use crate::plans::plan;
use crate::provider_sftp::sftp;
use crate::relay::Relay;
use crate::runs::run_rows;
use crate::tmpfs::Tmpfs;
use std::time::{Duration, Instant};

const UNAVAILABLE: &str = "The database is unavailable right now. Try again in a moment.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_goes_away_and_comes_back() {
    let (mut settings, data_dir, pg) = test_settings(Backend::Postgres);
    let direct = settings.database_url.clone();
    let relay = Relay::start("127.0.0.1:5432").await;
    settings.database_url = direct.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", relay.port));
    assert_ne!(settings.database_url, direct, "the app goes through the relay");
    settings.db_timeout = Duration::from_secs(2);
    settings.scheduler_tick = Duration::from_secs(1);
    settings.provider.stall_timeout = Duration::from_secs(10);
    let mut app = spawn_with(settings, data_dir, pg).await;
    // The test itself reads the database directly.
    app.database_url = direct;
    app.setup_admin().await;
    let api = admin(&app).await;
    assert_eq!(app.get("/destinations").await.status, 200);

    // A backup to SFTP through a throttled relay, so it is still uploading when the database goes.
    let s = sftp();
    let sftp_relay = Relay::start(&format!("{}:{}", s.host, s.port)).await;
    let mut fields = s.password_fields();
    fields.retain(|(k, _)| k != "port");
    fields.push(("port".into(), sftp_relay.port.to_string()));
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(app.create_destination("Remote", "sftp", &form).await.status, 303);
    let remote = app.destination("Remote").await;
    assert_eq!(remote.status, "active", "{}", remote.message);
    let slug = format!("outage-{}", uuid::Uuid::new_v4().simple());
    let source = tempfile::tempdir().expect("source");
    std::fs::write(source.path().join("random.bin"), crate::killed_destination::pseudo_random(24 << 20))
        .expect("write");
    app.grant_folder(source.path(), "read").await;
    let source_path = source.path().to_string_lossy().into_owned();
    let plan_source = [("source_kind", "directory"), ("source_path", source_path.as_str())];
    assert_eq!(
        app.post("/plans", &crate::every_destination::plan_form(&slug, &remote.id, &plan_source)).await.status,
        303
    );
    let backup = plan(&app, &slug).await.id;
    assert_eq!(app.post(&format!("/plans/{backup}/run"), &[]).await.status, 303);
    // And a small plan to a local folder, to fall due during the outage.
    let folder = tempfile::tempdir().expect("folder");
    let small = tempfile::tempdir().expect("small source");
    std::fs::write(small.path().join("a.txt"), b"a").expect("write");
    app.grant_folder(folder.path(), "read_write").await;
    app.grant_folder(small.path(), "read").await;
    let (folder_path, small_path) =
        (folder.path().to_string_lossy().into_owned(), small.path().to_string_lossy().into_owned());
    assert_eq!(app.create_destination("Disk", "local", &[("path", &folder_path)]).await.status, 303);
    let disk = app.destination("Disk").await.id;
    let due_name = format!("due-{}", uuid::Uuid::new_v4().simple());
    let due_source = [("source_kind", "directory"), ("source_path", small_path.as_str())];
    assert_eq!(
        app.post("/plans", &crate::every_destination::plan_form(&due_name, &disk, &due_source)).await.status,
        303
    );
    let due = plan(&app, &due_name).await.id;

    while sftp_relay.uploaded() < 2 << 20 {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    let csrf = app.csrf(&app.client).await;
    relay.kill();

    // Pages: 503 with a clear message, as a page for browsers.
    let page = app.client.get(app.url("/destinations")).send().await.expect("GET");
    assert_eq!(page.status(), 503);
    assert!(content_type(&page).starts_with("text/html"), "{}", content_type(&page));
    let body = page.text().await.expect("body");
    assert!(body.contains(UNAVAILABLE), "{body}");
    let form = app
        .client
        .post(app.url("/destinations"))
        .form(&[("name", "During the outage"), ("type", "local"), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(form.status(), 503);
    // The API: the JSON error shape.
    let reply = api.get("/api/v1/backup-destinations").await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.json["error"], "Service Unavailable", "{reply:?}");
    assert_eq!(reply.json["message"], UNAVAILABLE, "{reply:?}");
    // The server is still there.
    assert_eq!(app.get("/healthz").await.status, 200);

    // The backup finishes during the outage; a plan falls due; the scheduler ticks in vain.
    let artifact_in = std::path::Path::new(&s.directory).join(&slug);
    let finished = wait_until(Duration::from_secs(60), || {
        std::fs::read_dir(&artifact_in)
            .map(|d| d.flatten().any(|e| !e.file_name().to_string_lossy().starts_with('.')))
            .unwrap_or(false)
    })
    .await;
    assert!(finished, "the upload did not finish during the outage");
    make_due(&app, &due).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app.get("/plans").await.status, 503);

    relay.revive().await;

    // Everything answers again, at once: the broken pooled connections were replaced.
    for _ in 0..12 {
        assert_eq!(app.get("/destinations").await.status, 200);
    }
    assert_eq!(api.get("/api/v1/backup-destinations").await.status, 200);
    assert_eq!(app.create_destination("After the outage", "local", &[]).await.status, 303);
    // The backup that finished meanwhile is recorded; the due plan ran.
    let started = Instant::now();
    loop {
        let runs = run_rows(&app).await;
        let ended =
            |plan: &str| runs.iter().find(|r| r.plan_id == plan && r.status != "queued" && r.status != "running");
        if let (Some(backup), Some(scheduled)) = (ended(&backup), ended(&due)) {
            assert_eq!(backup.status, "succeeded", "{backup:?}");
            assert!(backup.object_key.is_some(), "{backup:?}");
            assert_eq!(
                (scheduled.status.as_str(), scheduled.trigger.as_str()),
                ("succeeded", "schedule"),
                "{scheduled:?}"
            );
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "runs after the outage: {runs:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(source);
}

/// Makes the plan due now, through the database directly (the app cannot reach it).
async fn make_due(app: &TestApp, plan_id: &str) {
    let plan = plan_id.to_owned();
    let due = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(5);
    app.db()
        .run(move |c| {
            use devpilot::db::schema::plans::dsl::*;
            use diesel::prelude::*;
            diesel::update(plans.filter(id.eq(&plan))).set(next_run_at.eq(due)).execute(c)
        })
        .await
        .expect("make the plan due");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_on_a_full_disk() {
    let disk = Tmpfs::mount("16m");
    let (mut settings, data_dir, pg) = test_settings(Backend::Sqlite);
    settings.database_url = format!("sqlite://{}/devpilot.db", disk.path().display());
    settings.db_timeout = Duration::from_secs(2);
    let app = spawn_with(settings, data_dir, pg).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    assert_eq!(app.create_destination("Before", "local", &[]).await.status, 303);

    // Fill the disk.
    let filler = disk.path().join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
    }

    // Writes answer 503 and say why; reads still work; nothing exits.
    let full = "The database's disk is full, so nothing can be saved right now. Free some space and try again.";
    let mut refused = None;
    for n in 0..20 {
        // Each write grows the write-ahead log until the disk refuses it.
        let page = app.create_destination(&format!("During {n}"), "local", &[]).await;
        if page.status != 303 {
            refused = Some(page);
            break;
        }
    }
    let refused = refused.expect("a write on a full disk was refused");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.body.contains("disk is full, so nothing can be saved right now"), "{}", refused.body);
    let reply = api
        .post(
            "/api/v1/backup-destinations",
            serde_json::json!({"name": "Via the API", "destinationType": "local", "config": {}}),
        )
        .await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(
        (reply.json["error"].as_str(), reply.json["message"].as_str()),
        (Some("Service Unavailable"), Some(full))
    );
    assert_eq!(app.get("/destinations").await.status, 200);

    std::fs::remove_file(&filler).expect("free the space");
    assert_eq!(app.create_destination("After", "local", &[]).await.status, 303);
    assert_eq!(app.get("/destinations").await.status, 200);
    drop(disk);
}

fn content_type(response: &reqwest::Response) -> String {
    response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
