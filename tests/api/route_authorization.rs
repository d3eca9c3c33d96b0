//! Every route against three callers who must not get in: nobody signed in, a viewer of the
//! workspace, and the admin of another workspace. Each gets the right refusal (a sign-in redirect
//! or 401, 403, 404) and nothing in the database changes. The JSON API's routes come from its
//! OpenAPI document, so a new endpoint is covered without editing this list.

use crate::api_client::{Api, anonymous};
use crate::helpers::{Backend, TestApp, new_client, spawn_app};
use crate::on_both_backends;
use crate::provider_sftp::viewer;
use crate::runs::{fill, run_rows, settled};
use serde_json::json;

on_both_backends!(no_route_lets_the_wrong_caller_in);

/// GET pages a viewer may read, then every route that changes something (and the forms for them).
const READS: &[&str] = &[
    "/overview",
    "/destinations",
    "/destinations/{destination}",
    "/plans",
    "/plans/{plan}",
    "/databases",
    "/databases/table",
    "/databases/{database}",
    "/databases/{database}/live",
    "/runs",
    "/runs/{run}/progress",
    "/runs/{run}/download",
    "/runs/{run}/files",
    "/plans/{plan}/drills",
    "/servers",
    "/members",
    "/workspaces",
    "/api",
    "/notifications",
    "/notifications/heartbeats",
    "/notifications/{channel}/deliveries",
];
/// Pages only owners and admins may read (a viewer gets 403, like the write forms).
const ADMIN_READS: &[&str] = &["/audit", "/workspace/recovery-key"];
/// API operations only owners and admins may call, reads included.
const ADMIN_ONLY_API: &[&str] = &["/api/v1/audit-events"];
const WRITE_FORMS: &[&str] = &[
    "/destinations/new",
    "/destinations/{destination}/edit",
    "/destinations/{destination}/delete",
    "/destinations/{destination}/folders",
    "/destinations/{destination}/folders/choose",
    "/plans/new",
    "/plans/{plan}/edit",
    "/plans/{plan}/delete",
    "/databases/new",
    "/databases/{database}/edit",
    "/databases/{database}/delete",
    "/database-clones/{clone}/stop",
    "/database-clones/{clone}/delete",
    "/databases/{database}/restore",
    "/database-clones/{clone}/switch",
    "/runs/{run}/restore",
    "/runs/{run}/files/restore",
    "/servers/new",
    "/servers/{server}/edit",
    "/servers/{server}/delete",
    "/settings/api",
    "/notifications/new",
    "/notifications/{channel}/edit",
    "/notifications/{channel}/delete",
];
const WRITES: &[&str] = &[
    "/destinations",
    "/destinations/fields",
    "/destinations/test-credentials",
    "/destinations/policy",
    "/destinations/{destination}",
    "/destinations/{destination}/test",
    "/destinations/{destination}/default",
    "/destinations/{destination}/disable",
    "/destinations/{destination}/enable",
    "/destinations/{destination}/delete",
    "/destinations/{destination}/host-key",
    "/destinations/{destination}/oauth",
    "/destinations/{destination}/folders",
    "/plans",
    "/plans/{plan}",
    "/plans/{plan}/enable",
    "/plans/{plan}/disable",
    "/plans/{plan}/delete",
    "/plans/{plan}/run",
    "/plans/{plan}/drill",
    "/plans/{plan}/drill-schedule",
    "/databases",
    "/databases/check",
    "/databases/{database}",
    "/databases/{database}/backup",
    "/databases/{database}/pause",
    "/databases/{database}/resume",
    "/databases/{database}/pitr-clone",
    "/databases/{database}/pitr",
    "/databases/{database}/restore",
    "/databases/{database}/import",
    "/databases/{database}/restore-from-path",
    "/databases/{database}/delete",
    "/database-clones/{clone}/start",
    "/database-clones/{clone}/stop",
    "/database-clones/{clone}/delete",
    "/database-clones/{clone}/switch",
    "/runs/{run}/restore",
    "/runs/{run}/files/restore",
    "/servers",
    "/servers/{server}",
    "/servers/{server}/test",
    "/servers/{server}/delete",
    "/servers/{server}/host-key",
    "/settings/api/tokens",
    "/settings/api/tokens/{token}/revoke",
    "/members/invitations",
    "/members/invitations/{invitation}/revoke",
    "/members/{member}/role",
    "/members/{member}/remove",
    "/notifications",
    "/notifications/{channel}",
    "/notifications/{channel}/test",
    "/notifications/{channel}/delete",
    "/notifications/heartbeats/{plan}",
    "/workspace/recovery-key",
];
/// The operator's admin area: everyone else gets 403 (a sign-in redirect when signed out), the
/// workspace's own owners and admins included.
const OPERATOR_READS: &[&str] = &[
    "/admin",
    "/admin/accounts",
    "/admin/workspaces",
    "/admin/workspaces/{workspace}/delete",
    "/admin/settings",
    "/admin/metrics",
    "/admin/backup",
];
const OPERATOR_WRITES: &[&str] = &[
    "/admin/accounts",
    "/admin/accounts/{account}/disable",
    "/admin/accounts/{account}/enable",
    "/admin/accounts/{account}/make-operator",
    "/admin/accounts/{account}/unmake-operator",
    "/admin/accounts/{account}/password",
    "/admin/workspaces",
    "/admin/workspaces/{workspace}/rename",
    "/admin/workspaces/{workspace}/delete",
    "/admin/metrics/token",
    "/admin/metrics/token/revoke",
    "/admin/backup",
    "/admin/backup/run",
];
/// One's own account: anyone signed in, for themselves only (another's session is not found).
const OWN_READS: &[&str] = &["/account", "/account/sessions"];
const OWN_WRITES: &[&str] =
    &["/account/name", "/account/password", "/account/sessions/end-others", "/account/sessions/{session}/end"];

/// A form that would pass every admin action's validation, so only authorization refuses it.
const OPERATOR_FORM: &[(&str, &str)] = &[
    ("name", "Intruder"),
    ("email", "intruder@example.com"),
    ("password", "intruder password 1"),
    ("operator", "on"),
    ("workspace", "Acme"),
    ("owner", "olga@example.com"),
    ("confirm", "Acme"),
];

/// Routes whose ids belong to the workspace (another workspace's admin must get 404 there).
fn names_an_object(path: &str) -> bool {
    path.contains('{')
}

struct Ids {
    /// The viewer's account: a member of the workspace, and an account for the admin area.
    account: String,
    invitation: String,
    workspace: String,
    destination: String,
    plan: String,
    run: String,
    server: String,
    token: String,
    database: String,
    clone: String,
    channel: String,
}

impl Ids {
    fn fill(&self, path: &str) -> String {
        path.replace("{destination}", &self.destination)
            .replace("{plan}", &self.plan)
            .replace("{run}", &self.run)
            .replace("{database}", &self.database)
            .replace("{clone}", &self.clone)
            .replace("{server}", &self.server)
            .replace("{token}", &self.token)
            .replace("{account}", &self.account)
            .replace("{member}", &self.account)
            .replace("{invitation}", &self.invitation)
            .replace("{workspace}", &self.workspace)
            .replace("{channel}", &self.channel)
            .replace("{id}", &self.destination)
    }
}

/// Everything a route could touch, as text: equal before and after means nothing changed.
async fn snapshot(app: &TestApp) -> String {
    app.db()
        .run(|c| {
            use devpilot::db::schema::*;
            use diesel::prelude::*;
            let d: Vec<(String, String, String, bool, String)> = destinations::table
                .select((
                    destinations::id,
                    destinations::name,
                    destinations::status,
                    destinations::is_default,
                    destinations::settings,
                ))
                .order(destinations::id)
                .load(c)?;
            let p: Vec<(String, String, bool, String)> = plans::table
                .select((plans::id, plans::name, plans::enabled, plans::schedule))
                .order(plans::id)
                .load(c)?;
            let r: Vec<(String, String)> = runs::table.select((runs::id, runs::status)).order(runs::id).load(c)?;
            let s: Vec<(String, String)> =
                servers::table.select((servers::id, servers::name)).order(servers::id).load(c)?;
            let t: Vec<(String, Option<chrono::NaiveDateTime>)> =
                api_tokens::table.select((api_tokens::id, api_tokens::revoked_at)).order(api_tokens::id).load(c)?;
            let m: Vec<(String, String, String)> = memberships::table
                .select((memberships::workspace_id, memberships::user_id, memberships::role))
                .order((memberships::workspace_id, memberships::user_id))
                .load(c)?;
            let w: Vec<(String, String)> =
                workspaces::table.select((workspaces::id, workspaces::name)).order(workspaces::id).load(c)?;
            let u: Vec<(String, String, bool, Option<chrono::NaiveDateTime>, String)> = users::table
                .select((users::id, users::email, users::is_operator, users::disabled_at, users::password_hash))
                .order(users::id)
                .load(c)?;
            let a: i64 = audit_events::table.count().get_result(c)?;
            let db: Vec<(String, String, bool, String)> = databases::table
                .select((databases::id, databases::name, databases::archiving, databases::status))
                .order(databases::id)
                .load(c)?;
            let cl: Vec<(String, String)> = database_clones::table
                .select((database_clones::id, database_clones::status))
                .order(database_clones::id)
                .load(c)?;
            let i: Vec<(String, String, Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>)> =
                invitations::table
                    .select((invitations::id, invitations::email, invitations::accepted_at, invitations::revoked_at))
                    .order(invitations::id)
                    .load(c)?;
            let nc: Vec<(String, String, bool, String, String)> = notification_channels::table
                .select((
                    notification_channels::id,
                    notification_channels::name,
                    notification_channels::enabled,
                    notification_channels::events,
                    notification_channels::settings,
                ))
                .order(notification_channels::id)
                .load(c)?;
            let pp: i64 = plan_pings::table.count().get_result(c)?;
            let nd: i64 = notification_deliveries::table.count().get_result(c)?;
            Ok(format!(
                "{d:?}\n{p:?}\n{r:?}\n{s:?}\n{t:?}\n{m:?}\n{w:?}\n{u:?}\n{a}\n{i:?}\n{db:?}\n{cl:?}\n{nc:?}\n{pp}\n{nd}"
            ))
        })
        .await
        .expect("snapshot")
}

async fn no_route_lets_the_wrong_caller_in(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let mut ids = objects(&app).await;
    let viewer = viewer(&app).await;
    let outsider = outsider(&app).await;
    ids.account = crate::admin_area::user_id(&app, "viewer@example.com").await;
    let before = snapshot(&app).await;
    let nobody = new_client();
    let nobody_csrf = app.csrf(&nobody).await;

    for path in READS.iter().chain(ADMIN_READS).chain(WRITE_FORMS) {
        let url = ids.fill(path);
        let page = app.get_with(&nobody, &url).await;
        assert_eq!((page.status, page.location.as_deref()), (303, Some("/login")), "anonymous GET {url}");
        if names_an_object(path) {
            assert_eq!(app.get_with(&outsider, &url).await.status, 404, "outsider GET {url}");
        }
    }
    for path in ADMIN_READS.iter().chain(WRITE_FORMS) {
        let url = ids.fill(path);
        assert_eq!(app.get_with(&viewer, &url).await.status, 403, "viewer GET {url}");
    }
    for path in WRITES {
        let url = ids.fill(path);
        let form = [("csrf_token", nobody_csrf.as_str()), ("name", "Intruder"), ("target", "/tmp/x")];
        let response = nobody.post(app.url(&url)).form(&form).send().await.expect("POST");
        let location = response.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
        assert_eq!((response.status().as_u16(), location.as_deref()), (303, Some("/login")), "anonymous POST {url}");
        assert_eq!(app.post_with(&viewer, &url, &[("name", "Intruder")]).await.status, 403, "viewer POST {url}");
        if names_an_object(path) {
            assert_eq!(
                app.post_with(&outsider, &url, &[("name", "Intruder")]).await.status,
                404,
                "outsider POST {url}"
            );
        }
    }

    // The admin's own session, which no one else can end.
    let session = app
        .db()
        .run(|c| {
            use devpilot::db::schema::sessions::dsl::*;
            use diesel::prelude::*;
            sessions.order(created_at.asc()).select(id).first::<String>(c)
        })
        .await
        .expect("session");
    for path in OWN_READS {
        let page = app.get_with(&nobody, path).await;
        assert_eq!((page.status, page.location.as_deref()), (303, Some("/login")), "anonymous GET {path}");
    }
    for path in OWN_WRITES {
        let url = path.replace("{session}", &session);
        let form = [("csrf_token", nobody_csrf.as_str()), ("name", "Intruder")];
        let response = nobody.post(app.url(&url)).form(&form).send().await.expect("POST");
        assert_eq!(response.status().as_u16(), 303, "anonymous POST {url}");
    }
    let url = format!("/account/sessions/{session}/end");
    assert_eq!(app.post_with(&viewer, &url, &[]).await.status, 404, "another's session");
    assert_eq!(app.post_with(&outsider, &url, &[]).await.status, 404, "another's session");
    assert_eq!(app.get("/account").await.status, 200, "the admin's session lives on");

    for path in OPERATOR_READS {
        let url = ids.fill(path);
        let page = app.get_with(&nobody, &url).await;
        assert_eq!((page.status, page.location.as_deref()), (303, Some("/login")), "anonymous GET {url}");
        assert_eq!(app.get_with(&viewer, &url).await.status, 403, "viewer GET {url}");
        assert_eq!(app.get_with(&outsider, &url).await.status, 403, "another workspace's owner GET {url}");
        assert_eq!(app.get(&url).await.status, if *path == "/admin" { 303 } else { 200 }, "the operator GET {url}");
    }
    for path in OPERATOR_WRITES {
        let url = ids.fill(path);
        let mut form = OPERATOR_FORM.to_vec();
        form.push(("csrf_token", nobody_csrf.as_str()));
        let response = nobody.post(app.url(&url)).form(&form).send().await.expect("POST");
        assert_eq!(response.status().as_u16(), 303, "anonymous POST {url}");
        assert_eq!(app.post_with(&viewer, &url, OPERATOR_FORM).await.status, 403, "viewer POST {url}");
        assert_eq!(app.post_with(&outsider, &url, OPERATOR_FORM).await.status, 403, "owner elsewhere POST {url}");
    }

    // The JSON API, every operation of its document.
    let doc = anonymous(&app).get("/api/v1/openapi.json").await.json;
    let viewer_api = api_for(&app, "viewer@example.com", "viewer password 1").await;
    let outsider_api = api_for(&app, "olga@example.com", "outsider password 1").await;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let url = ids.fill(
            &path
                .replace("/backup-schedules/{id}", "/backup-schedules/{plan}")
                .replace("/backup-runs/{id}", "/backup-runs/{run}")
                .replace("/backups/database/{id}", "/backups/database/{run}")
                .replace("/backups/volume/{id}", "/backups/volume/{run}")
                .replace("/backups/bucket/{id}", "/backups/bucket/{run}")
                .replace("/databases/{id}", "/databases/{database}")
                .replace("/database-clones/{id}", "/database-clones/{clone}")
                .replace("/notification-channels/{id}", "/notification-channels/{channel}"),
        );
        for method in ["get", "post", "put", "delete"] {
            let Some(operation) = item[method].as_object() else { continue };
            let public = operation.get("security").and_then(|s| s.as_array()).is_some_and(|s| s.is_empty());
            let call = |api: &Api<'_>| {
                let request =
                    api.raw(method.to_uppercase().parse().expect("method"), &url).json(&json!({"name": "Intruder"}));
                let request = if api.token.is_empty() { request } else { request.bearer_auth(&api.token) };
                async move { request.send().await.expect("API call").status().as_u16() }
            };
            if !public {
                assert_eq!(call(&anonymous(&app)).await, 401, "anonymous {method} {url}");
            }
            if (method != "get" || ADMIN_ONLY_API.contains(&path.as_str())) && !public {
                assert_eq!(call(&viewer_api).await, 403, "viewer {method} {url}");
            }
            if names_an_object(path) {
                assert_eq!(call(&outsider_api).await, 404, "outsider {method} {url}");
            }
        }
    }
    assert_eq!(snapshot(&app).await, before, "a refused request changed something");
}

/// A destination, a server, a plan with a succeeded run, and an API token, in the admin's workspace.
async fn objects(app: &TestApp) -> Ids {
    let store = tempfile::tempdir().expect("store").keep();
    let source = tempfile::tempdir().expect("source").keep();
    fill(&source);
    app.grant_folder(&store, "read_write").await;
    app.grant_folder(&source, "read").await;
    let (store, source) = (store.to_string_lossy().into_owned(), source.to_string_lossy().into_owned());
    assert_eq!(app.create_destination("Disk", "local", &[("path", &store)]).await.status, 303);
    let destination = app.destination("Disk").await.id;
    let server = [
        ("name", "Box"),
        ("config.host", "127.0.0.1"),
        ("config.port", "1"),
        ("config.username", "u"),
        ("config.password", "pw"),
    ];
    assert_eq!(app.post("/servers", &server).await.status, 303);
    let server = app
        .db()
        .run(|c| {
            use devpilot::db::schema::servers::dsl::*;
            use diesel::prelude::*;
            servers.select(id).first::<String>(c)
        })
        .await
        .expect("server");
    let plan = [
        ("name", "Files"),
        ("source_kind", "directory"),
        ("source_path", source.as_str()),
        ("destination_id", destination.as_str()),
        ("schedule", "0 2 * * *"),
        ("retention", "3"),
        ("enabled", "on"),
    ];
    assert_eq!(app.post("/plans", &plan).await.status, 303);
    let plan = crate::plans::plan(app, "Files").await.id;
    assert_eq!(app.post(&format!("/plans/{plan}/run"), &[]).await.status, 303);
    let run = settled(app, 1).await.remove(0).id;
    crate::api_tokens::mint(app, "script", "admin", "30").await;
    let token = app
        .db()
        .run(|c| {
            use devpilot::db::schema::api_tokens::dsl::*;
            use diesel::prelude::*;
            api_tokens.select(id).first::<String>(c)
        })
        .await
        .expect("token");
    assert_eq!(run_rows(app).await.len(), 1);
    let workspace = app
        .db()
        .run(|c| {
            use devpilot::db::schema::workspaces::dsl::*;
            use diesel::prelude::*;
            workspaces.filter(name.eq("Acme")).select(id).first::<String>(c)
        })
        .await
        .expect("workspace");
    app.invite("pending@example.com", "viewer").await;
    let invitation = app
        .db()
        .run(|c| {
            use devpilot::db::schema::invitations::dsl::*;
            use diesel::prelude::*;
            invitations.select(id).first::<String>(c)
        })
        .await
        .expect("invitation");
    let (database, clone) = database_and_clone(app, &workspace, &destination).await;
    let slack = [
        ("kind", "slack"),
        ("name", "Ops"),
        ("config.webhook_url", "http://127.0.0.1:9/services/T/B/x"),
        ("enabled", "on"),
    ];
    assert_eq!(app.post("/notifications", &slack).await.status, 303);
    let channel = app
        .db()
        .run(|c| {
            use devpilot::db::schema::notification_channels::dsl::*;
            use diesel::prelude::*;
            notification_channels.select(id).first::<String>(c)
        })
        .await
        .expect("channel");
    Ids {
        account: String::new(),
        invitation,
        workspace,
        destination,
        plan,
        run,
        server,
        token,
        database,
        clone,
        channel,
    }
}

/// A protected database (archiving paused, so nothing connects to it) and a stopped clone of it,
/// written straight into the database: saving one through the form needs a PostgreSQL server
/// ready for point-in-time recovery, which `databases_pages` has.
async fn database_and_clone(app: &TestApp, workspace: &str, destination: &str) -> (String, String) {
    use devpilot::databases::archive_store::{CloneRow, insert_clone};
    use devpilot::databases::store::{DatabaseRow, insert};
    let now = chrono::Utc::now().naive_utc();
    let database = DatabaseRow {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: workspace.to_owned(),
        name: "Shop".into(),
        slug: "shop".into(),
        url_secret: vec![0; 40],
        destination_id: Some(destination.to_owned()),
        base_schedule: "0 3 * * *".into(),
        next_base_at: None,
        window_days: 7,
        min_base_backups: 2,
        encrypt: false,
        archiving: false,
        archive_prefix: "databases/shop/x".into(),
        seg_size: 16 << 20,
        server_version: 160_000,
        system_identifier: "7".into(),
        status: "stopped".into(),
        status_message: None,
        receiver_instance: None,
        receiver_beat_at: None,
        last_received_at: None,
        received_lsn: None,
        lag_bytes: None,
        slot_wal_status: None,
        replaced_by: None,
        created_at: now,
        updated_at: now,
    };
    let clone = CloneRow {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: workspace.to_owned(),
        database_id: database.id.clone(),
        name: "Shop then".into(),
        port: 1,
        target_time: None,
        timeline: Some(1),
        status: "stopped".into(),
        error: None,
        instance_id: None,
        fetch_token_hash: None,
        created_at: now,
    };
    let ids = (database.id.clone(), clone.id.clone());
    app.db()
        .run(move |c| {
            insert(c, &database)?;
            insert_clone(c, &clone)
        })
        .await
        .expect("a database and its clone");
    ids
}

/// The owner of another workspace, signed in there, not a member of ours.
async fn outsider(app: &TestApp) -> reqwest::Client {
    assert_eq!(app.post("/workspaces", &[("workspace", "Elsewhere")]).await.status, 303);
    app.add_member("Olga Outsider", "olga@example.com", "outsider password 1", "owner").await;
    // Back to the first workspace for the admin.
    let home = app
        .db()
        .run(|c| {
            use devpilot::db::schema::workspaces::dsl::*;
            use diesel::prelude::*;
            workspaces.filter(name.eq("Acme")).select(id).first::<String>(c)
        })
        .await
        .expect("home");
    assert_eq!(app.post(&format!("/workspaces/{home}/switch"), &[]).await.status, 303);
    let client = new_client();
    let login =
        app.post_with(&client, "/login", &[("email", "olga@example.com"), ("password", "outsider password 1")]).await;
    assert_eq!(login.status, 303);
    client
}

async fn api_for<'a>(app: &'a TestApp, email: &str, password: &str) -> Api<'a> {
    let reply = anonymous(app).post("/api/v1/auth/token", json!({"email": email, "password": password})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    Api::with_token(app, reply.json["access_token"].as_str().expect("token"))
}
