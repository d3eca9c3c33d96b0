//! A hostile tenant against PostgreSQL sources and restore targets, over HTTP against the real
//! binary, with Devpilot's own database on SQLite and on PostgreSQL. Every URL below is refused
//! with a message next to its field (HTML) or a field error (API), nothing of Devpilot changes
//! (every table and data-folder file compared before and after) and no listener it names is
//! reached. Then the way it should work: a granted loopback database backed up and restored into
//! a new database, and into an existing one only with its name typed.

mod traps;

use crate::api_client::admin;
use crate::artifacts::{ScratchDb, rows};
use crate::database_grants::{grant_database, workspace_ids};
use crate::fingerprint;
use crate::helpers::{Backend, TestApp, test_settings};
use crate::on_both_backends;
use crate::runs::settled;
use crate::server_process::ServerProcess;
use devpilot::grants::DatabaseServer;
use diesel::RunQueryDsl;
use serde_json::json;
use traps::{NotPostgres, Trap, socket_dir};

on_both_backends!(database_sources_are_hostile_input, restore_targets_are_hostile_input);

pub struct Tenant {
    pub app: TestApp,
    pub server: ServerProcess,
    pub workspace: String,
    /// Devpilot's own database on PostgreSQL.
    pub own_database: Option<String>,
    destination: String,
    _disk: tempfile::TempDir,
}

pub async fn tenant(backend: Backend) -> Tenant {
    let (settings, data_dir, own_database) = test_settings(backend);
    let server = ServerProcess::start(&settings, &[]).await;
    let app = TestApp::attach(server.address.clone(), &settings, data_dir, own_database.clone());
    app.setup_admin().await;
    let disk = tempfile::tempdir().expect("disk");
    let path = disk.path().to_string_lossy().into_owned();
    app.grant_folder(disk.path(), "read_write").await;
    assert_eq!(app.create_destination("Disk", "local", &[("path", &path)]).await.status, 303);
    let destination = app.destination("Disk").await.id;
    let workspace = workspace_ids(&app).await.remove(0);
    Tenant { app, server, workspace, own_database, destination, _disk: disk }
}

impl Tenant {
    pub async fn grant(&self, host: &str, port: u16) {
        grant_database(&self.app, &self.workspace, DatabaseServer::Tcp { host: host.into(), port }).await;
    }

    pub async fn save_plan(&self, name: &str, url: &str) -> crate::helpers::Page {
        let form = [
            ("name", name),
            ("source_kind", "postgres"),
            ("source_url", url),
            ("destination_id", self.destination.as_str()),
            ("schedule", "0 2 * * *"),
            ("retention", "3"),
        ];
        self.app.post("/plans", &form).await
    }
}

/// The message in the field's error element.
pub fn error_next_to(body: &str, field: &str) -> String {
    let marker = format!("id=\"f-{field}-error\">");
    let at = body.find(&marker).unwrap_or_else(|| panic!("no error next to {field}: {body}"));
    body[at + marker.len()..].split("</div>").next().unwrap_or_default().to_owned()
}

/// Saves `url` as a plan source through the page and the API: refused at the field, with
/// nothing changed and no trap reached.
async fn refused_as_source(t: &Tenant, url: &str, says: &str, traps: &[&Trap]) {
    let before = fingerprint::state(&t.app).await;
    let page = t.save_plan("Hostile", url).await;
    assert_eq!(page.status, 422, "{url}: {}", page.body);
    let shown = error_next_to(&page.body, "source_url");
    assert!(shown.contains(says), "{url}: expected “{says}” in “{shown}”");
    let api = admin(&t.app).await;
    let body = json!({"name": "Hostile", "cron_expression": "0 4 * * *", "retention_count": 3,
                      "destination_id": t.destination, "source": {"type": "postgres", "url": url}});
    let reply = api.post("/api/v1/backup-schedules", body).await;
    assert_eq!(reply.status, 422, "{url}: {reply:?}");
    let field = reply.json["fields"]["source.url"].as_str().unwrap_or_default();
    assert!(field.contains(says), "{url}: expected “{says}” in the API's “{field}”");
    assert_eq!(fingerprint::state(&t.app).await, before, "{url}: Devpilot's state changed");
    for trap in traps {
        assert_eq!(trap.hits(), 0, "{url} reached the listener on port {}", trap.port);
    }
}

/// URLs refused whatever is granted, or because nothing is: each with what the refusal says.
pub fn ungranted_attacks(trap: &Trap, socket: &std::path::Path) -> Vec<(String, &'static str)> {
    let t = trap.port;
    vec![
        ("postgres://postgres@127.0.0.1:5432/postgres".into(), "not granted to this workspace"),
        (format!("postgres://postgres@127.0.0.1:{t}/postgres"), "not granted to this workspace"),
        ("postgres://postgres@/postgres?host=/var/run/postgresql".into(), "not granted to this workspace"),
        (format!("postgres://postgres@/postgres?host={}", socket.display()), "not granted to this workspace"),
        (format!("postgres://postgres@localhost:{t}/postgres"), "localhost resolves to"),
        (format!("postgres://postgres@[::ffff:127.0.0.1]:{t}/postgres"), "not granted to this workspace"),
        (format!("postgres://postgres@0.0.0.0:{t}/postgres"), "not granted to this workspace"),
        (format!("postgres://postgres@127.0.0.1:{t}/postgres?hostaddr=169.254.169.254"), "hostaddr= is not accepted"),
        ("postgres://postgres@169.254.169.254:5432/postgres".into(), "never connects there"),
        ("postgres://postgres@[::ffff:a9fe:a9fe]:5432/postgres".into(), "never connects there"),
        ("postgres://postgres@[fd00:ec2::254]:5432/postgres".into(), "never connects there"),
        (format!("postgres://postgres@127.0.0.1:{t},127.0.0.1:5432/postgres"), "several hosts"),
        (format!("postgres://postgres@/postgres?host=127.0.0.1:{t},127.0.0.1"), "several hosts"),
        (format!("postgres://postgres@127.0.0.1:{t}/postgres?service=devpilot"), "service= is not accepted"),
        (format!("postgres://postgres@127.0.0.1:{t}/postgres?passfile=/root/.pgpass"), "passfile= is not accepted"),
        (format!("postgres://postgres@127.0.0.1:{t}/postgres?sslkey=/etc/ssl/private/x.key"), "names a file"),
        (format!("postgres://postgres@127.0.0.1:{t}/postgres?options=-c%20x%3Dy"), "options= is not accepted"),
    ]
}

/// A database that holds Devpilot's tables: a real Devpilot database (migrations run on it).
pub fn devpilot_copy() -> ScratchDb {
    let copy = ScratchDb::new();
    drop(devpilot::db::Db::connect(&copy.url(), 1).expect("Devpilot's migrations on the copy"));
    copy
}

/// The same tables hidden in a schema of their own.
pub fn hidden_devpilot_tables() -> ScratchDb {
    let hidden = ScratchDb::new();
    let mut connection = hidden.connect();
    for statement in [
        "CREATE SCHEMA tucked",
        "CREATE TABLE tucked.__diesel_schema_migrations (version text PRIMARY KEY)",
        "CREATE TABLE tucked.memberships (workspace_id text, user_id text, role text)",
    ] {
        diesel::sql_query(statement).execute(&mut connection).expect(statement);
    }
    hidden
}

async fn database_sources_are_hostile_input(backend: Backend) {
    let t = tenant(backend).await;
    let trap = Trap::tcp().await;
    let (_socket_folder, socket) = socket_dir();
    let unix_trap = Trap::unix(&socket);
    for (url, says) in ungranted_attacks(&trap, &socket) {
        refused_as_source(&t, &url, says, &[&trap, &unix_trap]).await;
    }

    // Granted servers: still never Devpilot's own database, nor one that holds its tables.
    t.grant("127.0.0.1", 5432).await;
    t.grant("localhost", 5432).await;
    let copy = devpilot_copy();
    let hidden = hidden_devpilot_tables();
    for db in [&copy, &hidden] {
        refused_as_source(&t, &db.url(), "own tables", &[]).await;
    }
    if let Some(own) = &t.own_database {
        for host in ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"] {
            refused_as_source(&t, &format!("postgres://postgres@{host}:5432/{own}"), "own database", &[]).await;
        }
    }

    // A granted port where something else answers: named as such, its reply never repeated.
    let http = NotPostgres::start().await;
    t.grant("127.0.0.1", http.port).await;
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", http.port);
    refused_as_source(&t, &url, "is not a PostgreSQL server", &[]).await;
    assert!(http.trap.hits() > 0, "the check did reach the granted port");
    let page = t.save_plan("Hostile", &url).await.body;
    assert!(!page.contains(&http.body) && !page.contains("HTTP/1.1"), "the reply was echoed: {page}");
    assert!(!t.server.log().contains(&http.body), "the reply reached the log");

    // Granted and ordinary: accepted.
    let ours = ScratchDb::new();
    assert_eq!(t.save_plan("Ours", &ours.url()).await.status, 303);
    assert_eq!(trap.hits() + unix_trap.hits(), 0, "no trap was ever reached");
}

async fn restore_targets_are_hostile_input(backend: Backend) {
    let t = tenant(backend).await;
    t.grant("127.0.0.1", 5432).await;
    let source = ScratchDb::new();
    let mut connection = source.connect();
    for statement in [
        "CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL)",
        "INSERT INTO orders (customer) SELECT 'customer ' || i FROM generate_series(1, 50) i",
    ] {
        diesel::sql_query(statement).execute(&mut connection).expect(statement);
    }
    assert_eq!(t.save_plan("Orders", &source.url()).await.status, 303);
    let plan = crate::plans::plan(&t.app, "Orders").await.id;
    assert_eq!(t.app.post(&format!("/plans/{plan}/run"), &[]).await.status, 303);
    let run = settled(&t.app, 1).await.remove(0);
    assert_eq!(run.status, "succeeded", "{run:?}");
    let restore = format!("/runs/{}/restore", run.id);
    let original = rows(&mut connection, "orders");

    // Before any database grant (the one above withdrawn): every host resource is refused.
    let grants = t.app.db().run(devpilot::grants::store::all).await.expect("grants");
    for grant in grants.into_iter().filter(|g| g.kind == "database") {
        t.app.db().run(move |c| devpilot::grants::store::delete(c, &grant.id)).await.expect("withdraw");
    }
    let trap = Trap::tcp().await;
    let (_socket_folder, socket) = socket_dir();
    let unix_trap = Trap::unix(&socket);
    for (url, says) in ungranted_attacks(&trap, &socket) {
        for into in [&[("into", "new")][..], &[("into", "existing"), ("confirm", "postgres")]] {
            let mut form = vec![("target", url.as_str())];
            form.extend_from_slice(into);
            refused_as_target(&t, &restore, &form, "target", says, &[&trap, &unix_trap]).await;
        }
    }

    t.grant("127.0.0.1", 5432).await;
    t.grant("localhost", 5432).await;
    let copy = devpilot_copy();
    let hidden = hidden_devpilot_tables();
    for db in [&copy, &hidden] {
        let form = [("target", db.url()), ("into", "existing".into()), ("confirm", db.name().to_owned())];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        refused_as_target(&t, &restore, &form, "target", "own tables", &[]).await;
    }
    if let Some(own) = &t.own_database {
        for host in ["127.0.0.1", "localhost", "[::1]"] {
            let url = format!("postgres://postgres@{host}:5432/{own}");
            for into in [&[("into", "new")][..], &[("into", "existing"), ("confirm", own.as_str())]] {
                let mut form = vec![("target", url.as_str())];
                form.extend_from_slice(into);
                refused_as_target(&t, &restore, &form, "target", "own database", &[]).await;
            }
        }
    }
    let http = NotPostgres::start().await;
    t.grant("127.0.0.1", http.port).await;
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", http.port);
    let form = [("target", url.as_str()), ("into", "new")];
    refused_as_target(&t, &restore, &form, "target", "is not a PostgreSQL server", &[]).await;

    // An existing database: only with its name typed; a new one: only a name that is free.
    let existing = ScratchDb::new();
    let url = existing.url();
    let careless = [("target", url.as_str()), ("into", "existing"), ("confirm", "yes")];
    refused_as_target(&t, &restore, &careless, "confirm", "to confirm", &[]).await;
    let taken = [("target", url.as_str()), ("into", "new")];
    refused_as_target(&t, &restore, &taken, "target", "already exists", &[]).await;
    assert!(rows_or_none(&existing, "orders").is_none(), "nothing was restored into it");

    let fresh = format!("devpilot_restored_{}", uuid::Uuid::new_v4().simple());
    let fresh_url = format!("{}/{fresh}", crate::helpers::postgres_base_url());
    let created = t.app.post(&restore, &[("target", &fresh_url), ("into", "new")]).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body.contains(&format!("Restored into the new database “{fresh}”")), "{}", created.body);
    let restored = ScratchDb::adopt(&fresh);
    assert_eq!(rows(&mut restored.connect(), "orders"), original);

    diesel::sql_query("DELETE FROM orders WHERE id > 10").execute(&mut existing.connect()).ok();
    let replaced = t.app.post(&restore, &[("target", &url), ("into", "existing"), ("confirm", existing.name())]).await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(rows(&mut existing.connect(), "orders"), original);
    assert_eq!(trap.hits() + unix_trap.hits(), 0, "no trap was ever reached");
}

fn rows_or_none(db: &ScratchDb, table: &str) -> Option<usize> {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    let query = format!("SELECT to_regclass('{table}') IS NOT NULL AS found");
    let found: Vec<Found> = diesel::sql_query(query).load(&mut db.connect()).expect("look");
    found.first().filter(|f| f.found).map(|_| 1)
}

/// Posts the restore form: refused at `field`, nothing changed, no trap reached.
async fn refused_as_target(t: &Tenant, restore: &str, form: &[(&str, &str)], field: &str, says: &str, traps: &[&Trap]) {
    let before = fingerprint::state(&t.app).await;
    let page = t.app.post(restore, form).await;
    assert_eq!(page.status, 422, "{form:?}: {}", page.body);
    let shown = error_next_to(&page.body, field);
    assert!(shown.contains(says), "{form:?}: expected “{says}” in “{shown}”");
    assert_eq!(fingerprint::state(&t.app).await, before, "{form:?}: Devpilot's state changed");
    for trap in traps {
        assert_eq!(trap.hits(), 0, "{form:?} reached the listener on port {}", trap.port);
    }
}
