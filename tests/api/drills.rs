//! Restore drills for real: a drill of each source kind passes (a directory against its manifest,
//! SQLite's integrity_check, PostgreSQL restored into a throwaway database on the granted server
//! at 127.0.0.1:5432, counted, dropped); a corrupted artifact, a truncated one, a wrong key and a
//! file that differs from the manifest each fail with their own message, each failure delivered
//! to a webhook channel; the schedule runs a due drill; "Drill now" is audited, shown on the plan
//! page and the overview, and in the metrics.

use crate::api_client::{Api, admin};
use crate::helpers::{Backend, TestApp, spawn_with, test_settings};
use crate::notifications_delivery::webhook_channel;
use crate::on_both_backends;
use crate::plans::{Fixture, fixture, plan};
use crate::runs::{RunRow, fill};
use crate::standins::notify::WebhookReceiver;
use serde_json::{Value, json};
use std::time::Duration;

on_both_backends!(a_directory_drill_passes_and_is_shown_everywhere, a_new_plan_has_its_drill_schedule_as_it_is_saved);

mod sqlite_only {
    use crate::helpers::Backend;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sqlite_drill_passes() {
        super::a_sqlite_drill_passes(Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_postgres_drill_passes_and_leaves_no_database() {
        super::a_postgres_drill_passes_and_leaves_no_database(Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_damage_fails_with_its_own_message_and_is_notified() {
        super::each_damage_fails_with_its_own_message_and_is_notified(Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_schedule_runs_a_due_drill() {
        super::the_schedule_runs_a_due_drill(Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn viewers_and_other_workspaces_cannot_drill() {
        super::viewers_and_other_workspaces_cannot_drill(Backend::Sqlite).await
    }
}

/// Starts a drill through the API and waits for its end; returns the drill.
pub async fn drill(api: &Api<'_>, plan_id: &str) -> Value {
    let started = api.post(&format!("/api/v1/backup-schedules/{plan_id}/drills"), json!({})).await;
    assert_eq!(started.status, 202, "{started:?}");
    let id = started.json["data"]["id"].as_str().expect("id").to_owned();
    for _ in 0..600 {
        let got = api.get(&format!("/api/v1/restore-drills/{id}")).await;
        assert_eq!(got.status, 200, "{got:?}");
        if got.json["data"]["status"] != "running" {
            return got.json["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the drill did not end");
}

/// A plan of the fixture's folder, run once; returns the plan id and its run.
pub async fn backed_up(f: &Fixture, name: &str, overrides: &[(&str, &str)]) -> (String, RunRow) {
    let page = f.save_plan("/plans", name, overrides).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let id = plan(&f.app, name).await.id;
    let ran = f.app.post(&format!("/plans/{id}/run"), &[]).await;
    assert_eq!(ran.status, 303);
    // Up to two minutes: the single-file test backs up a large folder.
    let mut run = None;
    for _ in 0..1200 {
        let rows = crate::runs::run_rows(&f.app).await;
        let mine = rows.into_iter().rev().find(|r| r.plan_id == id);
        if mine.as_ref().is_some_and(|r| r.status != "queued" && r.status != "running") {
            run = mine;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = run.expect("the run ended");
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    (id, run)
}

/// The artifact's file on the local destination.
pub fn artifact_file(f: &Fixture, run: &RunRow) -> std::path::PathBuf {
    f.target_path().join(run.object_key.as_deref().expect("key"))
}

async fn a_directory_drill_passes_and_is_shown_everywhere(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let (plan_id, run) = backed_up(&f, "Files", &[("encrypt", "on")]).await;
    let api = admin(&f.app).await;
    let done = drill(&api, &plan_id).await;
    assert_eq!(done["status"], "passed", "{done}");
    let checked = done["checked"].as_str().expect("checked");
    // readme.txt, empty, nested/deeper/noise.bin.
    assert!(checked.starts_with("3 files, ") && checked.ends_with("every hash matched"), "{checked}");
    assert_eq!(done["bytes_read"].as_i64(), Some(run.bytes), "the whole artifact is read: {done}");
    assert_eq!(done["copy_position"], 0);
    // Nothing left in the private temporary folder.
    let tmp = f.app.data_dir.path().join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "temporary files left: {left:?}");

    let page = f.app.get(&format!("/plans/{plan_id}")).await.body;
    assert!(page.contains("Last drill: Passed") && page.contains(checked), "{page}");
    assert!(page.contains("Drill now"), "{page}");
    let overview = f.app.get("/overview").await.body;
    assert!(overview.contains(&format!("overview-drill-{plan_id}")) && overview.contains(checked), "{overview}");
    let metrics = f.app.get("/metrics").await.body;
    let result =
        format!("devpilot_drill_last_result{{workspace=\"{}\",plan=\"{plan_id}\"}} 1", workspace(&f.app).await);
    assert!(metrics.contains(&result), "{metrics}");
    assert!(metrics.contains("devpilot_drill_last_success_timestamp_seconds{"), "{metrics}");
    let audit = f.app.get("/audit").await.body;
    assert!(audit.contains("Restore drill") && audit.contains(crate::helpers::ADMIN_EMAIL), "{audit}");
    // The page's button does the same.
    let pressed = f.app.post(&format!("/plans/{plan_id}/drill"), &[]).await;
    assert_eq!(pressed.status, 303, "{}", pressed.body);
}

async fn workspace(app: &TestApp) -> String {
    crate::database_grants::workspace_ids(app).await.remove(0)
}

async fn a_sqlite_drill_passes(backend: Backend) {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let f = fixture(backend).await;
    let database = f.source.path().join("app.db");
    let path = database.to_string_lossy().into_owned();
    let mut connection = SqliteConnection::establish(&path).expect("create the database");
    diesel::sql_query("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .execute(&mut connection)
        .expect("table");
    diesel::sql_query("INSERT INTO notes (body) VALUES ('one'), ('two')").execute(&mut connection).expect("rows");
    let (plan_id, _) = backed_up(&f, "App database", &[("source_kind", "sqlite"), ("source_path", &path)]).await;
    let done = drill(&admin(&f.app).await, &plan_id).await;
    assert_eq!(done["status"], "passed", "{done}");
    assert!(done["checked"].as_str().expect("checked").starts_with("integrity_check ok"), "{done}");
    // Nothing was written beside the source or the destination.
    let beside: Vec<_> = std::fs::read_dir(f.source.path()).expect("source").flatten().map(|e| e.file_name()).collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("app.db")]);
}

/// The throwaway databases a drill may have left.
fn drill_databases() -> Vec<String> {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let mut conn =
        PgConnection::establish(&format!("{}/postgres", crate::helpers::postgres_base_url())).expect("postgres");
    diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'devpilot_drill_%'")
        .load::<Name>(&mut conn)
        .expect("databases")
        .into_iter()
        .map(|n| n.datname)
        .collect()
}

async fn a_postgres_drill_passes_and_leaves_no_database(backend: Backend) {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let f = fixture(backend).await;
    crate::database_grants::grant_test_postgres(&f.app).await;
    let name = format!("drill_source_{}", uuid::Uuid::new_v4().simple());
    let base = crate::helpers::postgres_base_url();
    let mut admin_conn = PgConnection::establish(&format!("{base}/postgres")).expect("postgres");
    diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut admin_conn).expect("create");
    let url = format!("{base}/{name}");
    let mut source = PgConnection::establish(&url).expect("source");
    diesel::connection::SimpleConnection::batch_execute(
        &mut source,
        "CREATE TABLE customers (id serial PRIMARY KEY, name text); \
         CREATE TABLE orders (id serial PRIMARY KEY, total int); \
         INSERT INTO customers (name) SELECT 'c' || g FROM generate_series(1, 3) g; \
         INSERT INTO orders (total) SELECT g FROM generate_series(1, 1204) g;",
    )
    .expect("tables");
    drop(source);
    let (plan_id, _) = backed_up(&f, "Shop", &[("source_kind", "postgres"), ("source_url", &url)]).await;
    let before = drill_databases();
    let done = drill(&admin(&f.app).await, &plan_id).await;
    assert_eq!(done["status"], "passed", "{done}");
    assert_eq!(done["checked"], "2 tables, 1,207 rows", "{done}");
    let after = drill_databases();
    assert!(after.iter().all(|d| before.contains(d)), "a throwaway database was left: {after:?}");
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut admin_conn);
}

/// A drill that must fail: its error contains `expected`, and the webhook is told.
async fn fails_with(api: &Api<'_>, receiver: &WebhookReceiver, told: usize, plan_id: &str, expected: &str) {
    let done = drill(api, plan_id).await;
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["error"].as_str().expect("error");
    assert!(error.contains(expected), "expected “{expected}” in “{error}”");
    let delivered = receiver.log.wait_accepted(told).await;
    let event = delivered[told - 1].json();
    assert_eq!(event["type"], "drill.failed", "{event}");
    assert!(event["message"].as_str().unwrap_or_default().contains(expected), "{event}");
    assert_eq!(event["plan"]["id"], plan_id);
}

async fn each_damage_fails_with_its_own_message_and_is_notified(backend: Backend) {
    let f = crate::notifications_support::fixture_with(backend, |_| {}).await;
    fill(f.source.path());
    let api = admin(&f.app).await;
    let receiver = WebhookReceiver::start(vec![]);
    webhook_channel(&api, &receiver, json!(["drill.failed"])).await;
    let (plan_id, run) = backed_up(&f, "Files", &[("encrypt", "on")]).await;
    let file = artifact_file(&f, &run);
    let original = std::fs::read(&file).expect("artifact");

    // Bytes flipped on the destination.
    let mut flipped = original.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    std::fs::write(&file, &flipped).expect("flip");
    let expected = format!("checksum mismatch: expected {}", run.sha256.as_deref().expect("sha"));
    fails_with(&api, &receiver, 1, &plan_id, &expected).await;

    // Cut short.
    std::fs::write(&file, &original[..original.len() / 3]).expect("truncate");
    fails_with(&api, &receiver, 2, &plan_id, "truncated: it ended early").await;

    // Intact, but the workspace's key is another one (sealed the same way).
    std::fs::write(&file, &original).expect("restore");
    let workspace = workspace(&f.app).await;
    let cipher = devpilot::crypto::CredentialCipher::new(
        devpilot::crypto::MasterKey::from_base64(&f.app.master_key).expect("key"),
    );
    let other = cipher.seal(&[7u8; 32], &devpilot::artifacts::workspace_key::associated_data(&workspace));
    let ws = workspace.clone();
    let key = f
        .app
        .db()
        .run(move |c| {
            use devpilot::db::schema::workspaces::dsl::*;
            use diesel::prelude::*;
            let kept: Option<Vec<u8>> = workspaces.find(&ws).select(artifact_key).first(c)?;
            diesel::update(workspaces.find(&ws)).set(artifact_key.eq(Some(other))).execute(c)?;
            Ok(kept)
        })
        .await
        .expect("swap the key");
    fails_with(&api, &receiver, 3, &plan_id, "cannot be decrypted with the workspace's key").await;
    f.app
        .db()
        .run(move |c| {
            use devpilot::db::schema::workspaces::dsl::*;
            use diesel::prelude::*;
            diesel::update(workspaces.find(&workspace)).set(artifact_key.eq(key)).execute(c)
        })
        .await
        .expect("put the key back");
    let good = drill(&api, &plan_id).await;
    assert_eq!(good["status"], "passed", "{good}");

    // A file whose hash differs from the manifest recorded at backup.
    let changed = run.id.clone();
    f.app
        .db()
        .run(move |c| {
            use devpilot::artifacts::manifest;
            use devpilot::db::schema::run_manifest_parts as parts;
            use diesel::prelude::*;
            let first = parts::table.filter(parts::run_id.eq(&changed)).filter(parts::part.eq(0));
            let packed: Vec<u8> = first.select(parts::entries).first(c)?;
            let mut lines = manifest::lines_of_part(&packed).expect("lines");
            let noise = lines.iter_mut().find(|l| l.path == "nested/deeper/noise.bin").expect("noise in the manifest");
            noise.sha256 = Some("0".repeat(64));
            let text: String = lines.iter().map(|l| serde_json::to_string(l).expect("json") + "\n").collect();
            let repacked = zstd::encode_all(text.as_bytes(), 3).expect("zstd");
            diesel::update(first).set(parts::entries.eq(repacked)).execute(c)
        })
        .await
        .expect("change the manifest");
    fails_with(&api, &receiver, 4, &plan_id, "file nested/deeper/noise.bin: SHA-256 differs").await;

    let page = f.app.get(&format!("/plans/{plan_id}")).await.body;
    assert!(page.contains("Last drill: Failed") && page.contains("nested/deeper/noise.bin"), "{page}");
}

async fn the_schedule_runs_a_due_drill(backend: Backend) {
    let (mut settings, dir, pg) = test_settings(backend);
    settings.scheduler_tick = Duration::from_millis(300);
    let app = spawn_with(settings, dir, pg).await;
    app.setup_admin().await;
    let source = tempfile::tempdir().expect("source");
    let target = tempfile::tempdir().expect("target");
    app.grant_folder(source.path(), "read").await;
    app.grant_folder(target.path(), "read_write").await;
    let path = target.path().to_string_lossy().into_owned();
    assert_eq!(app.create_destination("Disk", "local", &[("path", &path)]).await.status, 303);
    let destination_id = app.destination("Disk").await.id;
    let f = Fixture { app, source, target, destination_id };
    fill(f.source.path());
    let (plan_id, run) = backed_up(&f, "Files", &[]).await;
    let api = admin(&f.app).await;
    // On the plan page (htmx): the error next to the field; saved, the block says so.
    let bad_form = f
        .app
        .htmx_post(
            &format!("/plans/{plan_id}/drill-schedule"),
            &[("drill_schedule", "every day"), ("drill_enabled", "on")],
        )
        .await;
    assert_eq!(bad_form.status, 422, "{}", bad_form.body);
    assert!(bad_form.body.contains("id=\"f-drill-schedule-error\""), "{}", bad_form.body);
    let good_form = f
        .app
        .htmx_post(
            &format!("/plans/{plan_id}/drill-schedule"),
            &[("drill_schedule", "15 4 * * 1"), ("drill_enabled", "on")],
        )
        .await;
    assert_eq!(good_form.status, 200, "{}", good_form.body);
    assert!(
        good_form.body.contains("Saved the drill schedule.") && good_form.body.contains("15 4 * * 1"),
        "{}",
        good_form.body
    );
    // A bad schedule is the field's error; a good one is saved (audited) and shown.
    let bad = api
        .put(
            &format!("/api/v1/backup-schedules/{plan_id}/drill-schedule"),
            json!({"schedule": "61 * * * *", "enabled": true}),
        )
        .await;
    assert_eq!(bad.status, 422, "{bad:?}");
    assert!(bad.json["fields"]["schedule"].as_str().is_some(), "{bad:?}");
    let saved = api
        .put(
            &format!("/api/v1/backup-schedules/{plan_id}/drill-schedule"),
            json!({"schedule": "0 3 * * *", "enabled": true}),
        )
        .await;
    assert_eq!((saved.status, saved.json["schedule"].as_str()), (200, Some("0 3 * * *")), "{saved:?}");
    // Due now: the scheduler claims it once and drills the newest backup.
    let id = plan_id.clone();
    f.app
        .db()
        .run(move |c| {
            use devpilot::db::schema::plan_drills::dsl::*;
            use diesel::prelude::*;
            diesel::update(plan_drills.filter(plan_id.eq(&id)))
                .set(next_drill_at.eq(Some(chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1))))
                .execute(c)
        })
        .await
        .expect("make it due");
    let mut drills = Value::Null;
    for _ in 0..100 {
        drills = api.get(&format!("/api/v1/backup-schedules/{plan_id}/drills")).await.json;
        if drills["data"].as_array().is_some_and(|d| d.len() == 1 && d[0]["status"] != "running") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let list = drills["data"].as_array().expect("drills");
    assert_eq!(list.len(), 1, "{drills}");
    assert_eq!(
        (list[0]["trigger"].as_str(), list[0]["status"].as_str()),
        (Some("schedule"), Some("passed")),
        "{drills}"
    );
    assert_eq!(list[0]["run_id"], run.id.as_str());
    // Moved on to its next time: no second drill.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let again = api.get(&format!("/api/v1/backup-schedules/{plan_id}/drills")).await.json;
    assert_eq!(again["data"].as_array().map(Vec::len), Some(1), "{again}");
    let schedule = api.get(&format!("/api/v1/backup-schedules/{plan_id}/drill-schedule")).await.json;
    let next = schedule["next_drill_at"].as_str().expect("next");
    assert!(next > chrono::Utc::now().to_rfc3339().as_str(), "{schedule}");
}

async fn viewers_and_other_workspaces_cannot_drill(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let (plan_id, _) = backed_up(&f, "Files", &[]).await;
    let viewer = crate::provider_sftp::viewer(&f.app).await;
    let page = f.app.post_with(&viewer, &format!("/plans/{plan_id}/drill"), &[]).await;
    assert_eq!(page.status, 403, "{}", page.body);
    // An id of nothing in this workspace is not found.
    let api = admin(&f.app).await;
    let missing = api.post(&format!("/api/v1/backup-schedules/{}/drills", uuid::Uuid::new_v4()), json!({})).await;
    assert_eq!(missing.status, 404, "{missing:?}");
    let none = api.get(&format!("/api/v1/restore-drills/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(none.status, 404, "{none:?}");
}

/// The weekly default is stored with the plan, not left to the scheduler's next tick (a write
/// in the background after the plan's creation).
async fn a_new_plan_has_its_drill_schedule_as_it_is_saved(backend: Backend) {
    let f = fixture(backend).await;
    assert_eq!(f.save_plan("/plans", "Nightly", &[]).await.status, 303);
    let plan_id = plan(&f.app, "Nightly").await.id;
    let id = plan_id.clone();
    let stored = f
        .app
        .db()
        .run(move |c| {
            use devpilot::db::schema::plan_drills::dsl;
            use diesel::prelude::*;
            dsl::plan_drills
                .filter(dsl::plan_id.eq(id))
                .select((dsl::schedule, dsl::enabled, dsl::next_drill_at))
                .first::<(String, bool, Option<chrono::NaiveDateTime>)>(c)
                .optional()
        })
        .await
        .expect("read the drill schedule");
    let (schedule, enabled, next) = stored.expect("a drill schedule row as soon as the plan is saved");
    assert_eq!((schedule.as_str(), enabled), ("30 4 * * 0", true));
    assert!(next.is_some_and(|at| at > chrono::Utc::now().naive_utc()), "{next:?}");
}
