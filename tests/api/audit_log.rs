//! The audit log: every change to a destination, a plan or a managed server (and every test,
//! "Test all" one entry per destination, and "Run now") is recorded with who, through what and
//! when, on the page and in the API, newest first; never a secret; only for owners and admins;
//! written in the change's own transaction, so a change is never unrecorded.

use crate::api_client::{Api, admin, anonymous};
use crate::api_tokens::mint;
use crate::helpers::{Backend, TestApp, moto, new_client, spawn_app};
use crate::on_both_backends;
use crate::plans::{fixture, plan};
use crate::provider_azure::azurite;
use crate::provider_sftp::{sftp, viewer};
use serde_json::{Value, json};

on_both_backends!(
    every_change_is_recorded_with_its_actor,
    no_secret_is_ever_recorded,
    only_owners_and_admins_read_it,
    a_change_is_never_unrecorded
);

/// (action, subject name, detail, actor email, token, channel), newest first, straight from the table.
type Entry = (String, String, String, String, Option<String>, String);

async fn entries(app: &TestApp) -> Vec<Entry> {
    app.db()
        .run(|c| {
            use devpilot::db::schema::audit_events::dsl::*;
            use diesel::prelude::*;
            audit_events
                .order((occurred_at.desc(), id.desc()))
                .select((action, subject_name, detail, actor_email, actor_token, channel))
                .load::<Entry>(c)
        })
        .await
        .expect("audit entries")
}

/// Every column of every entry, as text (to look for secrets in).
async fn whole_table(app: &TestApp) -> String {
    let rows = app
        .db()
        .run(|c| {
            use devpilot::audit::store::AuditRow;
            use devpilot::db::schema::audit_events::dsl::*;
            use diesel::prelude::*;
            audit_events.select(AuditRow::as_select()).load::<AuditRow>(c)
        })
        .await
        .expect("audit table");
    format!("{rows:?}")
}

fn actions_of(entries: &[Entry], subject: &str) -> Vec<String> {
    entries.iter().filter(|e| e.1 == subject).map(|e| e.0.clone()).rev().collect()
}

async fn every_change_is_recorded_with_its_actor(backend: Backend) {
    let f = fixture(backend).await;
    let app = &f.app;
    let disk = f.destination_id.clone();
    let path = f.target_path().to_string_lossy().into_owned();
    let other = tempfile::tempdir().expect("dir");
    app.grant_folder(other.path(), "read_write").await;
    let other_path = other.path().to_string_lossy().into_owned();
    // Destinations through the pages.
    let edit = [("name", "Disk"), ("type", "local"), ("config.path", other_path.as_str())];
    assert_eq!(app.post(&format!("/destinations/{disk}"), &edit).await.status, 303);
    assert_eq!(app.post(&format!("/destinations/{disk}/test"), &[]).await.status, 303);
    assert_eq!(app.post(&format!("/destinations/{disk}/test"), &[("deep", "true")]).await.status, 303);
    assert_eq!(app.post(&format!("/destinations/{disk}/disable"), &[]).await.status, 303);
    assert_eq!(app.post(&format!("/destinations/{disk}/enable"), &[]).await.status, 303);
    assert_eq!(app.create_destination("Second", "local", &[("path", &path)]).await.status, 303);
    let second = app.destination("Second").await.id;
    assert_eq!(app.post(&format!("/destinations/{second}/default"), &[]).await.status, 303);
    assert_eq!(app.post("/destinations/test-all", &[]).await.status, 303);
    let log = entries(app).await;
    assert_eq!(
        actions_of(&log, "Disk"),
        ["created", "tested", "updated", "tested", "tested", "deep_tested", "disabled", "enabled", "tested", "tested"],
        "{log:#?}"
    );
    assert_eq!(actions_of(&log, "Second"), ["created", "tested", "made_default", "tested"]);
    let detail = |action: &str, name: &str, nth: usize| {
        log.iter().rev().filter(|e| e.0 == action && e.1 == name).nth(nth).map(|e| e.2.clone()).unwrap_or_default()
    };
    assert_eq!(detail("created", "Disk", 0), "Local disk, with path.");
    assert_eq!(detail("updated", "Disk", 0), "Changed: path.");
    assert!(detail("tested", "Disk", 0).starts_with("After saving: passed."), "{log:#?}");
    assert!(detail("tested", "Disk", 2).starts_with("Test connection: passed."), "{log:#?}");
    assert!(detail("deep_tested", "Disk", 0).contains("Wrote, read back and deleted a probe object"), "{log:#?}");
    assert!(detail("tested", "Disk", 3).starts_with("After enabling: passed."), "{log:#?}");
    for name in ["Disk", "Second"] {
        assert!(detail("tested", name, if name == "Disk" { 4 } else { 1 }).starts_with("Test all: passed."), "{name}");
    }
    assert!(log.iter().all(|e| e.3 == "admin@example.com" && e.4.is_none() && e.5 == "web"), "{log:#?}");

    // Plans, and "Run now".
    assert_eq!(f.save_plan("/plans", "Files", &[]).await.status, 303);
    let files = plan(app, "Files").await.id;
    assert_eq!(f.save_plan(&format!("/plans/{files}"), "Files", &[("schedule", "0 3 * * *")]).await.status, 303);
    assert_eq!(app.post(&format!("/plans/{files}/disable"), &[]).await.status, 303);
    assert_eq!(app.post(&format!("/plans/{files}/enable"), &[]).await.status, 303);
    assert_eq!(app.post(&format!("/plans/{files}/run"), &[]).await.status, 303);
    crate::runs::settled(app, 1).await;
    assert_eq!(app.post(&format!("/plans/{files}/delete"), &[]).await.status, 303);
    let log = entries(app).await;
    assert_eq!(actions_of(&log, "Files"), ["created", "updated", "disabled", "enabled", "run_started", "deleted"]);
    assert!(log.iter().any(|e| e.1 == "Files" && e.2 == "Changed: schedule."), "{log:#?}");

    // Managed servers.
    let s = sftp();
    let port = s.port();
    let server = [
        ("name", "Box"),
        ("config.host", s.host.as_str()),
        ("config.port", port.as_str()),
        ("config.username", s.username.as_str()),
        ("config.password", s.password.as_str()),
    ];
    assert_eq!(app.post("/servers", &server).await.status, 303);
    let box_id = server_id(app).await;
    let renamed = [
        ("name", "Box 2"),
        ("config.host", s.host.as_str()),
        ("config.port", port.as_str()),
        ("config.username", s.username.as_str()),
    ];
    assert_eq!(app.post(&format!("/servers/{box_id}"), &renamed).await.status, 303);
    assert_eq!(app.post(&format!("/servers/{box_id}/test"), &[]).await.status, 303);
    assert_eq!(app.post(&format!("/servers/{box_id}/delete"), &[]).await.status, 303);
    let log = entries(app).await;
    assert_eq!(actions_of(&log, "Box"), ["created", "tested"]);
    assert_eq!(actions_of(&log, "Box 2"), ["updated", "tested", "tested", "deleted"]);
    assert!(log.iter().any(|e| e.1 == "Box 2" && e.2 == "Changed: name."), "{log:#?}");

    // Deleting a destination names the plans it disabled.
    assert_eq!(f.save_plan("/plans", "Nightly", &[]).await.status, 303);
    assert_eq!(app.post(&format!("/destinations/{disk}/delete"), &[]).await.status, 303);
    assert!(entries(app).await.iter().any(|e| e.0 == "deleted" && e.1 == "Disk" && e.2 == "Plans disabled: Nightly."));

    // Through the API: a JWT, then an API token, named by the token's name and prefix.
    let jwt = admin(app).await;
    let created = jwt
        .post(
            "/api/v1/backup-destinations",
            json!({"name": "Scripted", "destinationType": "local",
        "config": {"path": path}}),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let scripted = created.json["data"]["id"].as_str().expect("id").to_owned();
    let token = mint(app, "nightly", "admin", "30").await;
    let bot = Api::with_token(app, &token);
    let renamed = bot.put(&format!("/api/v1/backup-destinations/{scripted}"), json!({"name": "Scripted 2"})).await;
    assert_eq!(renamed.status, 200, "{renamed:?}");
    assert_eq!(bot.delete(&format!("/api/v1/backup-destinations/{scripted}")).await.status, 200);
    let log = entries(app).await;
    let by_jwt = log.iter().find(|e| e.0 == "created" && e.1 == "Scripted").expect("created through the API");
    assert_eq!((by_jwt.3.as_str(), by_jwt.4.as_deref(), by_jwt.5.as_str()), ("admin@example.com", None, "api"));
    let by_token = log.iter().find(|e| e.0 == "deleted" && e.1 == "Scripted 2").expect("deleted with a token");
    let label = by_token.4.clone().unwrap_or_default();
    assert!(label.starts_with("nightly (dpk_") && !label.contains(&token), "{label}");
    assert!(log.iter().any(|e| e.0 == "updated" && e.1 == "Scripted 2" && e.2 == "Changed: name."), "{log:#?}");

    // The page: newest first, the actor named, one subject's history a click away.
    let page = app.get("/audit").await;
    assert_eq!(page.status, 200);
    let first_row = page.body.split("<tr class=\"audit-event\">").nth(1).unwrap_or_default();
    assert!(first_row.contains("Deleted") && first_row.contains("Scripted 2"), "{first_row}");
    assert!(
        first_row.contains("admin@example.com (API token nightly (dpk_") && first_row.contains("(api)"),
        "{first_row}"
    );
    assert!(page.body.contains("href=\"/audit\" class=\"active\""), "the nav link");
    let history = app.get(&format!("/audit?subject={second}")).await.body;
    assert_eq!(history.matches("<tr class=\"audit-event\">").count(), 4, "Second's history only: {history}");
    let plans_only = app.get("/audit?type=plan").await.body;
    assert!(plans_only.contains("Files") && !plans_only.contains("Scripted"), "{plans_only}");
    assert_eq!(app.get("/audit?type=nonsense").await.status, 400);

    // The API: the same entries, newest first, a page at a time, filtered the same way.
    let reply = jwt.get("/api/v1/audit-events?per_page=2").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let total = log.len() as i64;
    assert_eq!(reply.json["meta"]["total"], total);
    let newest = &reply.json["data"][0];
    assert_eq!((newest["action"].as_str(), newest["subject"]["name"].as_str()), (Some("deleted"), Some("Scripted 2")));
    assert_eq!(newest["subject"]["type"], "destination");
    assert_eq!(newest["actor"]["channel"], "api");
    assert!(newest["actor"]["api_token"].as_str().is_some_and(|t| t.starts_with("nightly (dpk_")), "{newest}");
    let second_page = jwt.get("/api/v1/audit-events?per_page=2&page=2").await.json;
    assert_ne!(second_page["data"][0]["id"], newest["id"]);
    let of_second = jwt.get(&format!("/api/v1/audit-events?subject_id={second}")).await.json;
    assert_eq!(of_second["meta"]["total"], 4, "{of_second}");
    let servers = jwt.get("/api/v1/audit-events?subject_type=server&per_page=100").await.json;
    let all_servers = servers["data"].as_array().expect("data").iter().all(|e| e["subject"]["type"] == "server");
    assert!(all_servers && servers["meta"]["total"] == 6, "{servers}");
    assert_eq!(jwt.get("/api/v1/audit-events?subject_type=nonsense").await.status, 400);
}

async fn server_id(app: &TestApp) -> String {
    app.db()
        .run(|c| {
            use devpilot::db::schema::servers::dsl::*;
            use diesel::prelude::*;
            servers.select(id).first::<String>(c)
        })
        .await
        .expect("server")
}

/// The secrets of every kind the tests know (S3 and Azure keys, SFTP and server passwords, a
/// PostgreSQL URL's password, an API token): saved, changed, tested; none of them in the table,
/// on the page or in the API's answer.
async fn no_secret_is_ever_recorded(backend: Backend) {
    let f = fixture(backend).await;
    let app = &f.app;
    crate::database_grants::grant_test_postgres(app).await;
    let m = moto();
    let a = azurite();
    let s = sftp();
    let scram =
        std::env::var("DEVPILOT_TEST_PG_SCRAM").expect("DEVPILOT_TEST_PG_SCRAM: run the tests with scripts/test");
    let pg_password = url::Url::parse(&scram).expect("url").password().expect("password").to_owned();

    assert_eq!(
        app.create_destination("S3", "s3", &m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket)).await.status,
        303
    );
    let s3 = app.destination("S3").await.id;
    let wrong = m.fields(&m.access_key_id, "wrongsecretwrongsecret", &m.bucket);
    let mut edit: Vec<(String, String)> = vec![("name".into(), "S3".into()), ("type".into(), "s3".into())];
    edit.extend(wrong.iter().map(|(k, v)| (format!("config.{k}"), (*v).to_owned())));
    let edit: Vec<(&str, &str)> = edit.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(app.post(&format!("/destinations/{s3}"), &edit).await.status, 303);
    let azure = [
        ("account_name", a.account.as_str()),
        ("container", a.container.as_str()),
        ("account_key", a.key.as_str()),
        ("endpoint", a.endpoint.as_str()),
    ];
    assert_eq!(app.create_destination("Azure", "azure_blob", &azure).await.status, 303);
    let port = s.port();
    let sftp_login = [
        ("host", s.host.as_str()),
        ("port", port.as_str()),
        ("directory", s.directory.as_str()),
        ("username", s.username.as_str()),
        ("password", s.password.as_str()),
    ];
    assert_eq!(app.create_destination("SFTP", "sftp", &sftp_login).await.status, 303);
    let server = [
        ("name", "Box"),
        ("config.host", s.host.as_str()),
        ("config.port", port.as_str()),
        ("config.username", s.username.as_str()),
        ("config.password", s.password.as_str()),
    ];
    assert_eq!(app.post("/servers", &server).await.status, 303);
    let saved = f.save_plan("/plans", "Database", &[("source_kind", "postgres"), ("source_url", &scram)]).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let db_plan = plan(app, "Database").await.id;
    let kept = f
        .save_plan(
            &format!("/plans/{db_plan}"),
            "Database",
            &[("source_kind", "postgres"), ("source_url", &scram), ("retention", "5")],
        )
        .await;
    assert_eq!(kept.status, 303, "{}", kept.body);
    assert_eq!(app.post("/destinations/test-all", &[]).await.status, 303);
    let token = mint(app, "nightly", "admin", "30").await;
    let bot = Api::with_token(app, &token);
    let config: serde_json::Map<String, Value> = m
        .fields(&m.access_key_id, &m.secret_access_key, &m.bucket)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), if k == "path_style" { json!(true) } else { json!(v) }))
        .collect();
    let through_api = bot.put(&format!("/api/v1/backup-destinations/{s3}"), json!({"config": config})).await;
    assert_eq!(through_api.status, 200, "{through_api:?}");

    let log = entries(app).await;
    assert!(log.iter().any(|e| e.1 == "S3" && e.2 == "Changed: secret_access_key."), "{log:#?}");
    assert!(
        log.iter().any(|e| e.1 == "Database" && e.2 == "Changed: retention."),
        "a URL typed again unchanged is no change: {log:#?}"
    );
    let table = whole_table(app).await;
    let page = app.get("/audit").await.body;
    let api = bot.get("/api/v1/audit-events?per_page=100").await.json.to_string();
    let secrets = [
        ("the S3 secret key", m.secret_access_key.as_str()),
        ("the S3 access key ID", m.access_key_id.as_str()),
        ("the wrong S3 secret", "wrongsecretwrongsecret"),
        ("the Azure account key", a.key.as_str()),
        ("the SFTP password", s.password.as_str()),
        ("the PostgreSQL password", pg_password.as_str()),
        ("the API token", token.as_str()),
    ];
    for (what, secret) in secrets {
        for (place, text) in [("the table", &table), ("the page", &page), ("the API", &api)] {
            assert!(!text.contains(secret), "{what} is in {place}");
        }
    }
}

async fn only_owners_and_admins_read_it(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    assert_eq!(app.create_destination("Disk", "local", &[]).await.status, 303);
    let viewer = viewer(&app).await;
    let page = app.get_with(&viewer, "/audit").await;
    assert_eq!(page.status, 403);
    let destinations = app.get_with(&viewer, "/destinations").await.body;
    assert!(!destinations.contains("href=\"/audit\""), "no nav link for viewers");
    assert!(app.get("/destinations").await.body.contains("href=\"/audit\""), "a nav link for admins");
    let reply = anonymous(&app)
        .post("/api/v1/auth/token", json!({"email": "viewer@example.com", "password": "viewer password 1"}))
        .await;
    let viewer_api = Api::with_token(&app, reply.json["access_token"].as_str().expect("token"));
    assert_eq!(viewer_api.get("/api/v1/audit-events").await.status, 403);
    assert_eq!(anonymous(&app).get("/api/v1/audit-events").await.status, 401);
    let nobody = new_client();
    assert_eq!(app.get_with(&nobody, "/audit").await.location.as_deref(), Some("/login"));

    // Another workspace's log is its own: none of ours in it.
    assert_eq!(app.post("/workspaces", &[("workspace", "Elsewhere")]).await.status, 303);
    let elsewhere = app.get("/audit").await;
    assert_eq!(elsewhere.status, 200);
    assert!(elsewhere.body.contains("Nothing recorded yet.") && !elsewhere.body.contains("Disk"), "{}", elsewhere.body);
    let api: Value = admin(&app).await.get("/api/v1/audit-events").await.json;
    assert!(api["data"].as_array().is_some_and(|d| !d.is_empty()), "the admin's JWT is for the first workspace: {api}");
}

/// The entry is written in the change's transaction: when it cannot be written, the change is
/// rolled back too (and the answer is an error, not a silent success); a refused change leaves
/// no entry.
async fn a_change_is_never_unrecorded(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    assert_eq!(app.create_destination("Disk", "local", &[]).await.status, 303);
    let before = entries(&app).await.len();
    assert_eq!(app.create_destination("DISK", "local", &[]).await.status, 422, "a duplicate name");
    assert_eq!(entries(&app).await.len(), before, "a refused change leaves no entry");

    let id = app.destination("Disk").await.id;
    app.db()
        .run(|c| {
            use diesel::RunQueryDsl;
            diesel::sql_query("ALTER TABLE audit_events RENAME TO audit_events_away").execute(c)
        })
        .await
        .expect("rename");
    assert_eq!(app.post(&format!("/destinations/{id}/disable"), &[]).await.status, 500);
    assert_eq!(app.post("/plans", &[("name", "x")]).await.status, 422, "validation still answers");
    let row = app.destination("Disk").await;
    assert_eq!(row.status, "active", "the change was rolled back with its entry");
}
