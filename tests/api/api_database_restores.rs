//! Spec 002's restore endpoints over HTTP against the real server: a `pg_dump` run of a PostgreSQL
//! schedule restored into a new database on 127.0.0.1:5432 (granted) and then over it, row for
//! row; a directory run restored into a new folder, file for file. Existing databases only with
//! their name typed, viewers 403, another workspace's runs 404, a run of the other kind 422
//! naming the right endpoint, a run with nothing to restore 409. And spec 002's schedule body:
//! `application_id` answered with a pointer to directory sources, `database_id` parsed.

use crate::api_client::{Api, admin, assert_error};
use crate::api_runs::{finished, start};
use crate::api_schedules::{create, directory_schedule, other_workspace_api, viewer_api};
use crate::artifacts::{ScratchDb, rows, tree};
use crate::helpers::{Backend, postgres_base_url};
use crate::on_both_backends;
use crate::plans::{Fixture, fixture};
use crate::runs::fill;
use devpilot::grants::DatabaseServer;
use serde_json::{Value, json};

on_both_backends!(
    a_postgres_backup_is_restored_into_a_new_database_then_over_it,
    a_directory_backup_is_restored_into_a_new_folder,
    spec_schedule_bodies_are_answered_field_by_field
);

const NO_SUCH_ID: &str = "00000000-0000-4000-8000-000000000000";

/// The field's message in a 422.
fn field_error(reply: &crate::api_client::Reply, field: &str) -> String {
    assert_eq!(reply.status, 422, "{reply:?}");
    reply.json["fields"][field].as_str().unwrap_or_else(|| panic!("no error on {field}: {reply:?}")).to_owned()
}

/// A succeeded run of a new schedule with `body`.
async fn succeeded_run(api: &Api<'_>, body: Value) -> String {
    let schedule = create(api, body).await;
    let run = start(api, &schedule).await;
    let run = finished(api, run["id"].as_str().expect("id")).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    // Asked beside the read from the source's own check (a database's size, a folder's walk).
    assert!(run["expected_bytes"].as_u64().is_some_and(|n| n > 0), "the source's size: {run}");
    run["id"].as_str().expect("id").to_owned()
}

/// A database of the shop's people, and the fixture's workspace granted its server.
pub(crate) async fn shop(f: &Fixture) -> ScratchDb {
    let workspace = f.app.workspace_id("Acme").await;
    let server = DatabaseServer::Tcp { host: "127.0.0.1".into(), port: 5432 };
    crate::database_grants::grant_database(&f.app, &workspace, server).await;
    let source = ScratchDb::new();
    let mut connection = source.connect();
    for statement in [
        "CREATE TABLE people (id serial PRIMARY KEY, name text NOT NULL, joined date)",
        "INSERT INTO people (name, joined) VALUES ('Ada', '2024-01-15'), ('Grace', NULL), ('Linus', '1991-08-25')",
    ] {
        diesel::RunQueryDsl::execute(diesel::sql_query(statement), &mut connection).expect(statement);
    }
    source
}

pub(crate) fn database_exists(name: &str) -> bool {
    let url = format!("{}/{name}", postgres_base_url());
    <diesel::PgConnection as diesel::Connection>::establish(&url).is_ok()
}

async fn a_postgres_backup_is_restored_into_a_new_database_then_over_it(backend: Backend) {
    let f = fixture(backend).await;
    let source = shop(&f).await;
    let api = admin(&f.app).await;
    let body = json!({"name": "Shop", "cron_expression": "0 2 * * *", "retention_count": 3,
                      "source": {"type": "postgres", "url": source.url()}});
    let run = succeeded_run(&api, body).await;
    let restore = format!("/api/v1/backups/database/{run}/restore");
    let original = rows(&mut source.connect(), "people");

    let name = format!("devpilot_restored_{}", uuid::Uuid::new_v4().simple());
    let restored_db = ScratchDb::adopt(&name);
    let url = restored_db.url();
    let reply = api.post(&restore, json!({"target_url": url})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.json,
        json!({"restored": true, "from_copy": "the primary (“Disk”)", "run_id": run, "database": name, "into": "new"})
    );
    assert_eq!(rows(&mut restored_db.connect(), "people"), original, "row for row");

    let again = api.post(&restore, json!({"target_url": url, "into": "new"})).await;
    assert!(field_error(&again, "target_url").contains("already exists"), "{again:?}");
    let unconfirmed = api.post(&restore, json!({"target_url": url, "into": "existing"})).await;
    assert!(field_error(&unconfirmed, "confirm").contains(&name), "{unconfirmed:?}");
    let mistyped = api.post(&restore, json!({"target_url": url, "into": "existing", "confirm": "shop"})).await;
    assert!(field_error(&mistyped, "confirm").contains("Type the database's name"), "{mistyped:?}");

    diesel::RunQueryDsl::execute(
        diesel::sql_query("DELETE FROM people WHERE name = 'Ada'"),
        &mut restored_db.connect(),
    )
    .expect("change the copy");
    let replaced = api.post(&restore, json!({"target_url": url, "into": "existing", "confirm": name})).await;
    assert_eq!(replaced.status, 200, "{replaced:?}");
    assert_eq!(replaced.json["into"], "existing");
    assert_eq!(rows(&mut restored_db.connect(), "people"), original, "the backed-up table replaced");

    for (target, words) in [
        ("mysql://app@db/shop", "postgres://"),
        ("", "Enter the connection URL"),
        ("postgres://app@169.254.169.254/shop", "cannot be restored into"),
    ] {
        let reply = api.post(&restore, json!({"target_url": target})).await;
        assert!(field_error(&reply, "target_url").contains(words), "{target}: {reply:?}");
    }
    assert_eq!(api.post(&restore, json!({"target_url": url, "into": "sideways"})).await.status, 422);
    let no_url = api.post(&restore, json!({"into": "new"})).await;
    assert!(field_error(&no_url, "target_url").contains("Enter the connection URL"), "{no_url:?}");

    let volume = api.post(&format!("/api/v1/backups/volume/{run}/restore"), json!({"target_path": "/tmp/x"})).await;
    assert_error(&volume, 422, &format!("a PostgreSQL dump; restore it with POST {restore}"));

    let second = format!("devpilot_restored_{}", uuid::Uuid::new_v4().simple());
    let _second_db = ScratchDb::adopt(&second);
    let second_url = format!("{}/{second}", postgres_base_url());
    let viewer = viewer_api(&f.app).await;
    assert_error(&viewer.post(&restore, json!({"target_url": second_url})).await, 403, "Viewers");
    let other = other_workspace_api(&f.app).await;
    assert_error(&other.post(&restore, json!({"target_url": second_url})).await, 404, "Backup run not found");
    let missing = format!("/api/v1/backups/database/{NO_SUCH_ID}/restore");
    assert_error(&api.post(&missing, json!({"target_url": second_url})).await, 404, "Backup run not found");
    assert!(!database_exists(&second), "no database was made for a refused caller");
}

async fn a_directory_backup_is_restored_into_a_new_folder(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let api = admin(&f.app).await;
    let run = succeeded_run(&api, directory_schedule(&f, "Files")).await;
    let restore = format!("/api/v1/backups/volume/{run}/restore");
    let place = tempfile::tempdir().expect("place");
    f.app.grant_folder(place.path(), "read_write").await;
    let into = place.path().join("restored");
    let into_text = into.to_string_lossy().into_owned();

    let reply = api.post(&restore, json!({"target_path": into_text})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let resolved = std::fs::canonicalize(&into).expect("restored").to_string_lossy().into_owned();
    assert_eq!(
        reply.json,
        json!({"restored": true, "from_copy": "the primary (“Disk”)", "run_id": run, "path": resolved})
    );
    assert_eq!(tree(&into), tree(f.source.path()), "files identical");

    let not_empty = api.post(&restore, json!({"target_path": into_text})).await;
    assert!(field_error(&not_empty, "target_path").contains("is not empty"), "{not_empty:?}");
    for (target, words) in [
        ("/etc/restored", "not granted to this workspace"),
        ("relative", "not an absolute path"),
        ("", "Enter the absolute path"),
    ] {
        let reply = api.post(&restore, json!({"target_path": target})).await;
        assert!(field_error(&reply, "target_path").contains(words), "{target}: {reply:?}");
    }
    let database = format!("/api/v1/backups/database/{run}/restore");
    let database = api.post(&database, json!({"target_url": "postgres://x@y/z"})).await;
    assert_error(&database, 422, &format!("a directory archive; restore it with POST {restore}"));

    let elsewhere = place.path().join("by-others").to_string_lossy().into_owned();
    assert_eq!(viewer_api(&f.app).await.post(&restore, json!({"target_path": elsewhere})).await.status, 403);
    assert_eq!(other_workspace_api(&f.app).await.post(&restore, json!({"target_path": elsewhere})).await.status, 404);
    assert!(!place.path().join("by-others").exists());

    // A run that failed has nothing to restore.
    std::fs::remove_dir_all(f.source.path()).expect("remove the source");
    let schedule = api.get(&format!("/api/v1/backup-runs/{run}")).await.json["data"]["schedule_id"].clone();
    let schedule = schedule.as_str().expect("schedule_id").to_owned();
    let failed = start(&api, &schedule).await;
    let failed = finished(&api, failed["id"].as_str().expect("id")).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let failed = format!("/api/v1/backups/volume/{}/restore", failed["id"].as_str().expect("id"));
    assert_error(&api.post(&failed, json!({"target_path": elsewhere})).await, 409, "did not succeed (failed)");
    assert!(!place.path().join("by-others").exists());
}

async fn spec_schedule_bodies_are_answered_field_by_field(backend: Backend) {
    let f = fixture(backend).await;
    let api = admin(&f.app).await;
    let id = uuid::Uuid::new_v4().to_string();
    let spec = json!({"cron_expression": "0 2 * * *", "retention_count": 7, "destination_id": f.destination_id});
    let with = |extra: Value| {
        let mut body = spec.clone();
        body.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        body
    };
    let application = api.post("/api/v1/backup-schedules", with(json!({"application_id": id}))).await;
    let message = field_error(&application, "application_id");
    assert!(message.contains("\"type\": \"directory\"") && message.contains("\"path\""), "{message}");
    let database = api.post("/api/v1/backup-schedules", with(json!({"database_id": id}))).await;
    assert!(field_error(&database, "database_id").contains("no database"), "{database:?}");
    let neither = api.post("/api/v1/backup-schedules", spec.clone()).await;
    assert!(field_error(&neither, "source").contains("database_id"), "{neither:?}");
    let source = json!({"type": "directory", "path": f.source_path()});
    let both = api.post("/api/v1/backup-schedules", with(json!({"database_id": id, "source": source}))).await;
    assert!(field_error(&both, "database_id").contains("not both"), "{both:?}");
    let unnamed = api.post("/api/v1/backup-schedules", with(json!({"source": source}))).await;
    assert_eq!(unnamed.status, 422, "a name is still needed for a source: {unnamed:?}");
    assert!(unnamed.json["fields"]["name"].is_string(), "{unnamed:?}");
    assert_eq!(api.get("/api/v1/backup-schedules").await.json["meta"]["total"], 0, "nothing was created");

    let doc = crate::api_client::anonymous(&f.app).get("/api/v1/openapi.json").await.json;
    for path in ["/api/v1/backups/database/{id}/restore", "/api/v1/backups/volume/{id}/restore"] {
        let responses = &doc["paths"][path]["post"]["responses"];
        for status in ["200", "401", "403", "404", "409", "422"] {
            assert!(responses[status].is_object(), "{path} documents {status}: {responses}");
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["DatabaseRestore"]["required"], json!(["target_url"]));
    assert_eq!(schemas["VolumeRestore"]["required"], json!(["target_path"]));
    for field in ["application_id", "database_id", "source"] {
        assert!(schemas["NewSchedule"]["properties"][field].is_object(), "NewSchedule.{field}");
    }
}
