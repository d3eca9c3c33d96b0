//! Backup schedules through the JSON API: create (the default destination when none is named),
//! read, list a page at a time, partial update, delete; field errors under the API's names;
//! viewers read but get 403 on writes; another workspace gets 404; a PostgreSQL source's password
//! never appears in a response.

use crate::api_client::{Api, admin, anonymous, assert_error};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, captured_logs};
use crate::on_both_backends;
use crate::plans::{Fixture, fixture, plan_rows};
use crate::provider_sftp::viewer;
use serde_json::{Value, json};

on_both_backends!(
    a_schedule_is_created_read_updated_and_deleted,
    schedules_are_listed_a_page_at_a_time,
    invalid_fields_are_named_as_the_api_names_them,
    viewers_read_but_cannot_write,
    another_workspace_sees_nothing,
    a_postgres_password_never_leaves,
    the_document_describes_schedules_and_runs
);

const NO_SUCH_ID: &str = "00000000-0000-4000-8000-000000000000";

/// A viewer of the workspace, with an API token.
pub async fn viewer_api(app: &TestApp) -> Api<'_> {
    viewer(app).await;
    let reply = anonymous(app)
        .post("/api/v1/auth/token", json!({"email": "viewer@example.com", "password": "viewer password 1"}))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    Api::with_token(app, reply.json["access_token"].as_str().expect("token"))
}

/// The admin acting in a second workspace, "Other".
pub async fn other_workspace_api(app: &TestApp) -> Api<'_> {
    assert_eq!(app.post("/workspaces", &[("workspace", "Other")]).await.status, 303);
    let workspace = app
        .db()
        .run(|c| {
            use devpilot::db::schema::workspaces::dsl::*;
            use diesel::prelude::*;
            workspaces.filter(name.eq("Other")).select(id).first::<String>(c)
        })
        .await
        .expect("the other workspace");
    let reply = anonymous(app)
        .post(
            "/api/v1/auth/token",
            json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "workspace_id": workspace}),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    Api::with_token(app, reply.json["access_token"].as_str().expect("token"))
}

/// A schedule of the fixture's folder, on the default destination.
pub fn directory_schedule(f: &Fixture, name: &str) -> Value {
    json!({
        "name": name,
        "cron_expression": "0 2 * * *",
        "retention_count": 3,
        "source": {"type": "directory", "path": f.source_path()},
    })
}

/// Creates the schedule; returns its id.
pub async fn create(api: &Api<'_>, body: Value) -> String {
    let reply = api.post("/api/v1/backup-schedules", body).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.json["data"]["id"].as_str().expect("id").to_owned()
}

async fn a_schedule_is_created_read_updated_and_deleted(backend: Backend) {
    let f = fixture(backend).await;
    let api = admin(&f.app).await;
    let created = api.post("/api/v1/backup-schedules", directory_schedule(&f, "Nightly files")).await;
    assert_eq!(created.status, 201, "{created:?}");
    let data = &created.json["data"];
    let id = data["id"].as_str().expect("id").to_owned();
    assert_eq!(data["name"], "Nightly files");
    assert_eq!(data["source"], json!({"type": "directory", "location": f.source_path()}));
    assert_eq!(data["destination_id"], f.destination_id.as_str(), "the default destination");
    assert_eq!(data["destination_name"], "Disk");
    assert_eq!(data["cron_expression"], "0 2 * * *");
    assert_eq!(data["schedule_preview"], "every day at 02:00 UTC");
    assert_eq!(data["retention_count"], 3);
    assert_eq!((data["enabled"].as_bool(), data["encrypt"].as_bool()), (Some(true), Some(false)));
    let next = data["next_run_at"].as_str().expect("next_run_at");
    assert!(next.ends_with("T02:00:00Z"), "{next}");
    assert!(data["created_at"].is_string() && data["updated_at"].is_string(), "{data}");

    let shown = api.get(&format!("/api/v1/backup-schedules/{id}")).await;
    assert_eq!(shown.status, 200, "{shown:?}");
    assert_eq!(shown.json["data"], *data);

    // Fields left out keep their values.
    let changed = api
        .put(
            &format!("/api/v1/backup-schedules/{id}"),
            json!({"cron_expression": "30 3 * * 1", "retention_count": 14, "enabled": false, "encrypt": true}),
        )
        .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    let data = &changed.json["data"];
    assert_eq!((data["cron_expression"].as_str(), data["retention_count"].as_i64()), (Some("30 3 * * 1"), Some(14)));
    assert!(data["schedule_preview"].as_str().is_some_and(|p| p.contains("03:30 UTC")), "{data}");
    assert_eq!((data["enabled"].as_bool(), data["encrypt"].as_bool()), (Some(false), Some(true)));
    assert!(data["next_run_at"].is_null(), "a disabled schedule is never due: {data}");
    assert_eq!(data["name"], "Nightly files");
    assert_eq!(data["source"]["location"], f.source_path().as_str());
    assert_eq!(data["destination_id"], f.destination_id.as_str());
    let row = plan_rows(&f.app).await.remove(0);
    assert_eq!((row.schedule.as_str(), row.retention, row.enabled), ("30 3 * * 1", 14, false));

    // A source of another type replaces the whole source (in the granted folder).
    let db = tempfile::NamedTempFile::new_in(f.source.path()).expect("file");
    write_sqlite_header(db.path());
    let path = db.path().to_string_lossy().into_owned();
    let sqlite = api
        .put(
            &format!("/api/v1/backup-schedules/{id}"),
            json!({"name": "Notes", "source": {"type": "sqlite", "path": path}}),
        )
        .await;
    assert_eq!(sqlite.status, 200, "{sqlite:?}");
    assert_eq!(sqlite.json["data"]["source"], json!({"type": "sqlite", "location": path}));
    assert_eq!(sqlite.json["data"]["name"], "Notes");

    let deleted = api.delete(&format!("/api/v1/backup-schedules/{id}")).await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    assert_eq!(deleted.json["message"], "Backup schedule successfully deleted");
    assert!(plan_rows(&f.app).await.is_empty());
    assert_error(&api.get(&format!("/api/v1/backup-schedules/{id}")).await, 404, "Backup schedule not found");
    assert_error(&api.delete(&format!("/api/v1/backup-schedules/{id}")).await, 404, "Backup schedule not found");
    let put = api.put(&format!("/api/v1/backup-schedules/{id}"), json!({"name": "Back"})).await;
    assert_error(&put, 404, "Backup schedule not found");
    assert_error(&api.post(&format!("/api/v1/backup-schedules/{id}/run"), json!({})).await, 404, "not found");
    assert_error(&api.get("/api/v1/backup-schedules/not-a-uuid").await, 404, "");

    // Named explicitly, the destination and the switches are taken as sent.
    let mut body = directory_schedule(&f, "Explicit");
    body["destination_id"] = json!(f.destination_id);
    body["enabled"] = json!(false);
    body["encrypt"] = json!(true);
    let explicit = api.post("/api/v1/backup-schedules", body).await;
    assert_eq!(explicit.status, 201, "{explicit:?}");
    let data = &explicit.json["data"];
    assert_eq!((data["enabled"].as_bool(), data["encrypt"].as_bool()), (Some(false), Some(true)));
    assert!(data["next_run_at"].is_null());
}

/// A file that starts like a SQLite database (the source check reads the header only).
fn write_sqlite_header(path: &std::path::Path) {
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.resize(4096, 0);
    std::fs::write(path, bytes).expect("write");
}

async fn schedules_are_listed_a_page_at_a_time(backend: Backend) {
    let f = fixture(backend).await;
    let api = admin(&f.app).await;
    let empty = api.get("/api/v1/backup-schedules").await;
    assert_eq!(empty.status, 200, "{empty:?}");
    assert_eq!((empty.json["data"].clone(), empty.json["meta"]["total"].clone()), (json!([]), json!(0)));
    for name in ["Charlie", "alpha", "Bravo"] {
        create(&api, directory_schedule(&f, name)).await;
    }
    let first = api.get("/api/v1/backup-schedules?per_page=2").await;
    assert_eq!(first.status, 200, "{first:?}");
    let names = |reply: &crate::api_client::Reply| -> Vec<String> {
        reply.json["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|s| s["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(names(&first).len(), 2);
    let meta = &first.json["meta"];
    assert_eq!(
        (meta["total"].as_i64(), meta["last_page"].as_i64(), meta["from"].as_i64()),
        (Some(3), Some(2), Some(1))
    );
    let next = first.json["links"]["next"].as_str().expect("next");
    assert!(next.ends_with("/api/v1/backup-schedules?page=2&per_page=2"), "{next}");
    let second = api.get("/api/v1/backup-schedules?page=2&per_page=2").await;
    assert_eq!(names(&second).len(), 1);
    assert!(second.json["links"]["next"].is_null());
    let mut all = names(&first);
    all.extend(names(&second));
    all.sort_by_key(|n| n.to_lowercase());
    assert_eq!(all, ["alpha", "Bravo", "Charlie"]);
    let beyond = api.get("/api/v1/backup-schedules?page=9").await;
    assert_eq!((beyond.status, beyond.json["data"].clone()), (200, json!([])));
    assert_error(&api.get("/api/v1/backup-schedules?per_page=101").await, 422, "per_page");
    assert_error(&api.get("/api/v1/backup-schedules?page=0").await, 422, "page");
    assert_error(&api.get("/api/v1/backup-schedules?page=abc").await, 400, "query string");
}

async fn invalid_fields_are_named_as_the_api_names_them(backend: Backend) {
    let f = fixture(backend).await;
    let api = admin(&f.app).await;
    let bad = api
        .post(
            "/api/v1/backup-schedules",
            json!({
                "name": " ",
                "destination_id": NO_SUCH_ID,
                "cron_expression": "61 * * * *",
                "retention_count": 0,
                "source": {"type": "directory", "path": "relative/folder"},
            }),
        )
        .await;
    assert_error(&bad, 422, "fields are invalid");
    let fields = bad.json["fields"].as_object().expect("fields");
    let mut named: Vec<&str> = fields.keys().map(String::as_str).collect();
    named.sort_unstable();
    assert_eq!(named, ["cron_expression", "destination_id", "name", "retention_count", "source.path"], "{fields:?}");
    assert!(fields["source.path"].as_str().is_some_and(|m| m.contains("absolute")), "{fields:?}");
    assert!(fields["destination_id"].as_str().is_some_and(|m| m.contains("does not exist")), "{fields:?}");
    assert!(fields["retention_count"].as_str().is_some_and(|m| m.contains("between 1 and 365")), "{fields:?}");

    let no_url = api
        .post(
            "/api/v1/backup-schedules",
            json!({"name": "Db", "cron_expression": "@daily", "retention_count": 7, "source": {"type": "postgres"}}),
        )
        .await;
    assert_error(&no_url, 422, "Connection URL is required");
    assert!(no_url.json["fields"]["source.url"].is_string(), "{no_url:?}");
    let no_path = api
        .post(
            "/api/v1/backup-schedules",
            json!({"name": "Db", "cron_expression": "@daily", "retention_count": 7, "source": {"type": "sqlite"}}),
        )
        .await;
    assert!(no_path.json["fields"]["source.path"].as_str().is_some_and(|m| m.contains("required")), "{no_path:?}");

    // The body's shape: 422 for wrong types and missing fields, 400 for what is not JSON.
    for body in [
        json!({"name": "X", "cron_expression": "@daily", "retention_count": "7", "source": {"type": "directory"}}),
        json!({"name": "X", "cron_expression": "@daily", "retention_count": 7, "source": {"type": "mysql"}}),
        json!({"name": "X", "retention_count": 7, "source": {"type": "directory"}}),
        json!({"name": "X", "cron_expression": "@daily", "retention_count": 7, "destination_id": "nope",
               "source": {"type": "directory", "path": f.source_path()}}),
    ] {
        assert_error(&api.post("/api/v1/backup-schedules", body.clone()).await, 422, "The request body is not valid");
    }
    let not_json = api
        .raw(reqwest::Method::POST, "/api/v1/backup-schedules")
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .expect("send");
    assert_eq!(not_json.status(), 400);
    assert!(plan_rows(&f.app).await.is_empty(), "nothing was stored");

    let id = create(&api, directory_schedule(&f, "Taken")).await;
    let twice = api.post("/api/v1/backup-schedules", directory_schedule(&f, "taken")).await;
    assert_error(&twice, 422, "already exists");
    assert!(twice.json["fields"]["name"].is_string());
    let bad_edit = api
        .put(
            &format!("/api/v1/backup-schedules/{id}"),
            json!({"cron_expression": "* * 31 2 *", "retention_count": 400}),
        )
        .await;
    assert_error(&bad_edit, 422, "fields are invalid");
    assert!(bad_edit.json["fields"]["cron_expression"].as_str().is_some_and(|m| m.contains("never comes due")));
    assert!(bad_edit.json["fields"]["retention_count"].is_string(), "{bad_edit:?}");
    let row = plan_rows(&f.app).await.remove(0);
    assert_eq!((row.schedule.as_str(), row.retention), ("0 2 * * *", 3), "a refused edit changes nothing");
}

async fn viewers_read_but_cannot_write(backend: Backend) {
    let f = fixture(backend).await;
    let api = admin(&f.app).await;
    let id = create(&api, directory_schedule(&f, "Guarded")).await;
    let one = format!("/api/v1/backup-schedules/{id}");

    let viewer = viewer_api(&f.app).await;
    assert_eq!(viewer.get("/api/v1/backup-schedules").await.json["meta"]["total"], 1);
    assert_eq!(viewer.get(&one).await.status, 200);
    let writes = [
        viewer.post("/api/v1/backup-schedules", directory_schedule(&f, "By viewer")).await,
        viewer.put(&one, json!({"name": "Renamed by viewer"})).await,
        viewer.delete(&one).await,
        viewer.post(&format!("{one}/run"), json!({})).await,
    ];
    for reply in &writes {
        assert_error(reply, 403, "Viewers can read but not change anything");
    }
    let rows = plan_rows(&f.app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].name, "Guarded");
    assert_eq!(viewer.get("/api/v1/backup-runs").await.json["meta"]["total"], 0, "no run was started");

    let nobody = anonymous(&f.app);
    let replies = [
        nobody.get("/api/v1/backup-schedules").await,
        nobody.post("/api/v1/backup-schedules", directory_schedule(&f, "Anonymous")).await,
        nobody.get(&one).await,
        nobody.put(&one, json!({"name": "Anonymous"})).await,
        nobody.delete(&one).await,
        nobody.post(&format!("{one}/run"), json!({})).await,
    ];
    for reply in &replies {
        assert_error(reply, 401, "Authorization: Bearer");
    }
    assert_eq!(plan_rows(&f.app).await.len(), 1);
}

async fn another_workspace_sees_nothing(backend: Backend) {
    let f = fixture(backend).await;
    let api = admin(&f.app).await;
    let id = create(&api, directory_schedule(&f, "Ours")).await;
    let one = format!("/api/v1/backup-schedules/{id}");

    let other = other_workspace_api(&f.app).await;
    assert_eq!(other.get("/api/v1/backup-schedules").await.json["meta"]["total"], 0);
    assert_error(&other.get(&one).await, 404, "Backup schedule not found");
    assert_error(&other.put(&one, json!({"name": "Theirs"})).await, 404, "Backup schedule not found");
    assert_error(&other.delete(&one).await, 404, "Backup schedule not found");
    assert_error(&other.post(&format!("{one}/run"), json!({})).await, 404, "Backup schedule not found");
    // Nor can its schedules use our destination; and it has no default to fall back on.
    let mut body = directory_schedule(&f, "Borrowing");
    body["destination_id"] = json!(f.destination_id);
    let borrowed = other.post("/api/v1/backup-schedules", body).await;
    assert_eq!(borrowed.status, 422, "{borrowed:?}");
    let fields = &borrowed.json["fields"];
    assert!(fields["destination_id"].as_str().is_some_and(|m| m.contains("does not exist in this workspace")));
    // Nor our granted folder: grants are per workspace.
    assert!(fields["source.path"].as_str().is_some_and(|m| m.contains("not granted to this workspace")), "{fields}");
    let without = other.post("/api/v1/backup-schedules", directory_schedule(&f, "Nowhere")).await;
    assert_eq!(without.status, 422);
    assert!(without.json["fields"]["destination_id"].as_str().is_some_and(|m| m.contains("Choose a destination")));

    let rows = plan_rows(&f.app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].name, "Ours");
    assert_eq!(api.get(&one).await.status, 200, "ours is untouched");
}

/// The password-checking PostgreSQL that scripts/test starts, with a password of its own.
fn scram() -> (String, String) {
    let url = std::env::var("DEVPILOT_TEST_PG_SCRAM").expect("DEVPILOT_TEST_PG_SCRAM: run the tests with scripts/test");
    let password = url::Url::parse(&url).expect("url").password().expect("password").to_owned();
    (url, password)
}

async fn a_postgres_password_never_leaves(backend: Backend) {
    let f = fixture(backend).await;
    crate::database_grants::grant_test_postgres(&f.app).await;
    let api = admin(&f.app).await;
    let (good, password) = scram();
    let wrong = good.replacen(&password, "not-the-password", 1);
    let body = |url: &str| {
        json!({"name": "Database", "cron_expression": "0 4 * * *", "retention_count": 7,
               "source": {"type": "postgres", "url": url}})
    };
    let refused = api.post("/api/v1/backup-schedules", body(&wrong)).await;
    assert_error(&refused, 422, "authentication failed");
    assert!(refused.json["fields"]["source.url"].is_string(), "{refused:?}");
    let refused_text = refused.json.to_string();
    assert!(!refused_text.contains("not-the-password") && !refused_text.contains(&password), "{refused_text}");

    let created = api.post("/api/v1/backup-schedules", body(&good)).await;
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.json["data"]["id"].as_str().expect("id").to_owned();
    let location = created.json["data"]["source"]["location"].as_str().expect("location").to_owned();
    assert!(location.starts_with("postgres://postgres@127.0.0.1:"), "{location}");
    let one = format!("/api/v1/backup-schedules/{id}");

    // A missing URL, or a source without one, keeps the stored URL (checked again on save).
    let renamed = api.put(&one, json!({"name": "Database 2"})).await;
    assert_eq!(renamed.status, 200, "{renamed:?}");
    let kept = api.put(&one, json!({"source": {"type": "postgres", "url": ""}})).await;
    assert_eq!(kept.status, 200, "{kept:?}");
    assert_eq!(kept.json["data"]["source"]["location"], location.as_str());
    let bad = api.put(&one, json!({"source": {"type": "postgres", "url": wrong}})).await;
    assert_error(&bad, 422, "authentication failed");
    assert!(bad.json["fields"]["source.url"].is_string(), "{bad:?}");

    // The URL kept through those edits is the one a run uses.
    let run = crate::api_runs::start(&api, &id).await;
    let run = crate::api_runs::finished(&api, run["id"].as_str().expect("id")).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(run["object_key"].as_str().is_some_and(|k| k.ends_with(".pgdump.zst")), "{run}");

    let shown = [
        created,
        renamed,
        kept,
        bad,
        api.get(&one).await,
        api.get("/api/v1/backup-schedules").await,
        api.get("/api/v1/backup-runs").await,
        api.get(&format!("/api/v1/backup-runs/{}", run["id"].as_str().unwrap_or(""))).await,
    ];
    for reply in &shown {
        let text = reply.json.to_string();
        assert!(!text.contains(&password) && !text.contains("not-the-password"), "a password was shown: {text}");
    }
    assert!(!captured_logs().contains(&password), "the password reached the logs");
}

async fn the_document_describes_schedules_and_runs(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let doc = anonymous(&app).get("/api/v1/openapi.json").await;
    assert_eq!(doc.status, 200);
    let paths = &doc.json["paths"];
    for (path, method) in [
        ("/api/v1/backup-schedules", "get"),
        ("/api/v1/backup-schedules", "post"),
        ("/api/v1/backup-schedules/{id}", "get"),
        ("/api/v1/backup-schedules/{id}", "put"),
        ("/api/v1/backup-schedules/{id}", "delete"),
        ("/api/v1/backup-schedules/{id}/run", "post"),
        ("/api/v1/backup-schedules/{id}/runs", "get"),
        ("/api/v1/backup-runs", "get"),
        ("/api/v1/backup-runs/{id}", "get"),
        ("/api/v1/backup-runs/{id}/download", "get"),
        ("/api/v1/backup-runs/{id}/artifact", "get"),
    ] {
        assert!(paths[path][method]["responses"]["401"].is_object(), "{method} {path}: {}", paths[path]);
    }
    let created = &paths["/api/v1/backup-schedules"]["post"]["responses"]["201"];
    assert_eq!(created["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ScheduleEnvelope");
    let streamed = &paths["/api/v1/backup-runs/{id}/artifact"]["get"]["responses"]["200"]["content"];
    assert!(streamed["application/vnd.sqlite3"].is_object(), "{streamed}");
    assert_eq!(streamed["application/zstd"]["schema"]["format"], "binary", "{streamed}");
    let schemas = &doc.json["components"]["schemas"];
    let retention = &schemas["NewSchedule"]["properties"]["retention_count"];
    assert_eq!((retention["minimum"].as_i64(), retention["maximum"].as_i64()), (Some(1), Some(365)), "{retention}");
    let required = schemas["NewSchedule"]["required"].as_array().expect("required");
    assert!(!required.contains(&json!("destination_id")) && !required.contains(&json!("enabled")), "{required:?}");
    assert_eq!(schemas["SourceType"]["enum"], json!(["directory", "postgres", "sqlite", "mariadb", "bucket"]));
    assert!(schemas["ScheduleResource"]["properties"]["next_run_at"]["type"].to_string().contains("null"));
}
