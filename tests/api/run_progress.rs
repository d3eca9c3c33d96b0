//! Real progress (issue 18): a run knows how much it will read before it reads it, and its API
//! resource and progress partial show percent, rate and time left. A directory run behind an S3
//! stand-in that leaves writes unread until released is watched part-way: its percent never goes
//! down, stays below 100 while running and ends at 100 with every byte of the folder read; a run
//! whose size is not known (one another instance started without asking it) shows bytes only.

use crate::api_client::{Api, admin};
use crate::api_runs::{finished, start};
use crate::api_schedules::create;
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::provider_s3::s3s;
use crate::runs::fill;
use crate::s3_compatible::app_for;
use crate::standins::s3_proxy::{Lacks, S3Proxy};
use serde_json::{Value, json};
use std::time::Duration;

on_both_backends!(
    a_directory_runs_percent_climbs_to_100,
    a_run_of_unknown_size_shows_bytes_only,
    a_sqlite_run_expects_the_files_size
);

/// Bytes that zstd cannot shrink, so the upload is as large as the folder (more than the S3
/// provider keeps in memory: five 8 MiB parts).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The run as the API shows it now.
async fn run(api: &Api<'_>, id: &str) -> Value {
    let reply = api.get(&format!("/api/v1/backup-runs/{id}")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json["data"].clone()
}

/// Percent seen so far must never go down.
fn climbs(seen: &mut Vec<u64>, run: &Value) {
    if let Some(p) = run["percent"].as_u64() {
        assert!(seen.last().is_none_or(|last| p >= *last), "percent went down: {seen:?} then {p}");
        seen.push(p);
    }
}

async fn a_directory_runs_percent_climbs_to_100(backend: Backend) {
    let s = s3s();
    let app = app_for(&s, backend).await;
    let proxy = S3Proxy::start(&s.endpoint, Lacks::Nothing);
    let fields = [
        ("provider", "custom"),
        ("endpoint", proxy.url.as_str()),
        ("bucket", s.bucket.as_str()),
        ("access_key_id", s.access_key_id.as_str()),
        ("secret_access_key", s.secret_access_key.as_str()),
    ];
    assert_eq!(app.create_destination("Slow", "s3", &fields).await.status, 303);
    let destination = app.destination("Slow").await.id;
    let source = tempfile::tempdir().expect("source");
    fill(source.path());
    for (i, name) in ["one.bin", "two.bin", "three.bin"].iter().enumerate() {
        std::fs::write(source.path().join(name), noise(32 << 20, i as u64 + 7)).expect("write");
    }
    // Links are not followed: what it points at is not read, so not counted.
    std::os::unix::fs::symlink("/etc", source.path().join("link")).expect("symlink");
    let total = folder_size(source.path());
    app.grant_folder(source.path(), "read").await;
    let api = admin(&app).await;
    let schedule = create(
        &api,
        json!({
            "name": "Big folder",
            "cron_expression": "0 2 * * *",
            "retention_count": 3,
            "destination_id": destination,
            "source": {"type": "directory", "path": source.path().to_string_lossy()},
        }),
    )
    .await;

    proxy.pause_writes(true);
    let id = start(&api, &schedule).await["id"].as_str().expect("id").to_owned();
    let mut seen = Vec::new();
    // While the stand-in leaves the parts unread, the run reads until its memory is full and waits.
    let mut held = Value::Null;
    for _ in 0..600 {
        held = run(&api, &id).await;
        climbs(&mut seen, &held);
        if held["status"] == "running" && held["percent"].as_u64().is_some_and(|p| p > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(held["status"], "running", "{held}");
    assert_eq!(held["expected_bytes"].as_u64(), Some(total), "the folder's file contents, asked before: {held}");
    let percent = held["percent"].as_u64().expect("percent");
    assert!((1..=99).contains(&percent), "part-way: {held}");
    let read = held["read_bytes"].as_u64().expect("read_bytes");
    assert!(read > 0 && read <= total, "{held}");
    assert!(held["bytes_per_second"].as_u64().is_some(), "a rate while running: {held}");
    assert!(held["eta_seconds"].as_u64().is_some(), "a time left while running: {held}");
    let partial = app.get(&format!("/runs/{id}/progress")).await;
    assert_eq!(partial.status, 200);
    assert!(partial.body.contains("<progress max=\"100\" value=\""), "{}", partial.body);
    assert!(partial.body.contains("% ·") || partial.body.contains("%</span>"), "{}", partial.body);
    assert!(
        partial.body.contains(" read") && partial.body.contains("/s") && partial.body.contains(" left"),
        "{}",
        partial.body
    );

    proxy.pause_writes(false);
    let done = loop {
        let now = run(&api, &id).await;
        climbs(&mut seen, &now);
        if !matches!(now["status"].as_str(), Some("queued" | "running")) {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["percent"], 100, "{done}");
    assert_eq!(seen.last(), Some(&100), "{seen:?}");
    assert_eq!(done["read_bytes"].as_u64(), Some(total), "every byte read: {done}");
    assert_eq!(done["expected_bytes"].as_u64(), Some(total), "{done}");
    assert!(done["eta_seconds"].is_null() && done["bytes_per_second"].is_null(), "{done}");
    assert_eq!(finished(&api, &id).await["bytes"], done["bytes"]);
}

/// Bytes of the regular files below `dir`, not following links.
fn folder_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry"))
        .map(|e| {
            let meta = std::fs::symlink_metadata(e.path()).expect("stat");
            if meta.is_dir() {
                folder_size(&e.path())
            } else if meta.is_file() {
                meta.len()
            } else {
                0
            }
        })
        .sum()
}

/// A run another instance (alive, an older version) started without asking its size: no
/// expected size, so no percent, only bytes; the partial shows an indeterminate bar.
async fn a_run_of_unknown_size_shows_bytes_only(backend: Backend) {
    let f = crate::plans::fixture(backend).await;
    let api = admin(&f.app).await;
    let schedule = create(&api, crate::api_schedules::directory_schedule(&f, "Old")).await;
    let id = uuid::Uuid::new_v4().to_string();
    insert_old_run(&f.app, &schedule, &id).await;

    let shown = run(&api, &id).await;
    assert_eq!(shown["status"], "running", "{shown}");
    assert!(shown["expected_bytes"].is_null() && shown["percent"].is_null(), "{shown}");
    assert!(shown["eta_seconds"].is_null(), "no time left without a size: {shown}");
    assert_eq!(shown["bytes"], 123_456, "{shown}");
    let partial = f.app.get(&format!("/runs/{id}/progress")).await;
    assert_eq!(partial.status, 200);
    assert!(partial.body.contains("size unknown") && !partial.body.contains(" value=\""), "{}", partial.body);
    assert!(!partial.body.contains(" left"), "{}", partial.body);
}

/// A SQLite source: the file's size is asked before the snapshot is read, and the run ends at 100.
async fn a_sqlite_run_expects_the_files_size(backend: Backend) {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let f = crate::plans::fixture(backend).await;
    let file = f.source.path().join("notes.db");
    let mut connection = SqliteConnection::establish(&file.display().to_string()).expect("sqlite");
    diesel::sql_query("CREATE TABLE notes (body TEXT)").execute(&mut connection).expect("table");
    diesel::sql_query("INSERT INTO notes VALUES (hex(randomblob(100000)))").execute(&mut connection).expect("row");
    drop(connection);
    let size = std::fs::metadata(&file).expect("size").len();
    let api = admin(&f.app).await;
    let schedule = json!({
        "name": "Notes",
        "cron_expression": "0 2 * * *",
        "retention_count": 3,
        "source": {"type": "sqlite", "path": file.to_string_lossy()},
    });
    let schedule = create(&api, schedule).await;
    let id = start(&api, &schedule).await["id"].as_str().expect("id").to_owned();
    let done = finished(&api, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["expected_bytes"].as_u64(), Some(size), "{done}");
    assert_eq!(done["percent"], 100, "{done}");
    assert!(done["read_bytes"].as_u64().is_some_and(|read| read > 0 && read <= size), "{done}");
}

async fn insert_old_run(app: &TestApp, plan: &str, run: &str) {
    let (plan, run) = (plan.to_owned(), run.to_owned());
    app.db()
        .run(move |c| {
            use devpilot::db::schema::{instances, plans, runs};
            use diesel::prelude::*;
            let workspace: String = plans::table.find(&plan).select(plans::workspace_id).first(c)?;
            let now = chrono::Utc::now().naive_utc();
            // Alive, so the run is not taken for an orphan and marked interrupted.
            diesel::insert_into(instances::table)
                .values((
                    instances::id.eq("an-older-instance"),
                    instances::started_at.eq(now),
                    instances::heartbeat_at.eq(now),
                ))
                .execute(c)?;
            diesel::insert_into(runs::table)
                .values((
                    runs::id.eq(&run),
                    runs::workspace_id.eq(&workspace),
                    runs::plan_id.eq(&plan),
                    runs::status.eq("running"),
                    runs::trigger.eq("manual"),
                    runs::started_at.eq(now),
                    runs::bytes.eq(123_456i64),
                    runs::created_at.eq(now),
                    runs::encrypted.eq(false),
                    runs::owner_id.eq("an-older-instance"),
                ))
                .execute(c)
                .map(drop)
        })
        .await
        .expect("insert the run");
}
