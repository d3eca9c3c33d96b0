//! The operator's admin area: accounts (create, disable, password, operator role — never none,
//! never oneself), workspaces (create for an owner, rename, delete with everything in it), the
//! settings page, and that only operators create workspaces unless the server allows everyone.

use crate::helpers::{ADMIN_EMAIL, Backend, TestApp, new_client, spawn_app, spawn_with, test_settings};
use crate::on_both_backends;
use diesel::prelude::*;

on_both_backends!(
    operators_manage_accounts,
    operators_never_leave_none,
    operators_manage_workspaces,
    deleting_a_workspace_takes_everything_in_it,
    only_operators_create_workspaces,
    everyone_creates_workspaces_when_the_server_allows,
    the_settings_page_shows_no_secret
);

/// Creates an account in the admin area (this client must be an operator's); returns its id.
pub async fn create_account(app: &TestApp, name: &str, email: &str, password: &str) -> String {
    let page = app.post("/admin/accounts", &[("name", name), ("email", email), ("password", password)]).await;
    assert_eq!((page.status, page.location.as_deref()), (303, Some("/admin/accounts")), "{}", page.body);
    user_id(app, email).await
}

pub async fn user_id(app: &TestApp, email: &str) -> String {
    let email = email.to_lowercase();
    app.db()
        .run(move |c| {
            use devpilot::db::schema::users::dsl;
            dsl::users.filter(dsl::email.eq(email)).select(dsl::id).first::<String>(c)
        })
        .await
        .expect("user id")
}

/// A new client signed in with these credentials.
pub async fn signed_in(app: &TestApp, email: &str, password: &str) -> reqwest::Client {
    let client = new_client();
    let login = app.post_with(&client, "/login", &[("email", email), ("password", password)]).await;
    assert_eq!(login.status, 303, "sign-in of {email}: {}", login.body);
    client
}

/// (is_operator, disabled) of an account.
async fn flags(app: &TestApp, id: &str) -> (bool, bool) {
    let id = id.to_owned();
    app.db()
        .run(move |c| {
            use devpilot::db::schema::users::dsl;
            dsl::users.find(id).select((dsl::is_operator, dsl::disabled_at.is_not_null())).first(c)
        })
        .await
        .expect("flags")
}

async fn operators_manage_accounts(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let me = user_id(&app, ADMIN_EMAIL).await;
    assert!(app.get("/destinations").await.body.contains("href=\"/admin\""), "operators see the Admin link");

    let bad = app.post("/admin/accounts", &[("name", ""), ("email", "nope"), ("password", "short")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Name is required") && bad.body.contains("Enter a valid email address"));
    assert!(bad.body.contains("Password must be at least 10 characters"));
    let bob = create_account(&app, "Bob", "Bob@Example.com", "bob password 1").await;
    let again =
        app.post("/admin/accounts", &[("name", "B"), ("email", "bob@example.com"), ("password", "0123456789")]).await;
    assert_eq!(again.status, 422);
    assert!(again.body.contains("An account with this email already exists."));

    // Bob is in no workspace yet: signed in, he is told so, and the admin area is not his.
    let bob_client = new_client();
    let login =
        app.post_with(&bob_client, "/login", &[("email", "bob@example.com"), ("password", "bob password 1")]).await;
    assert_eq!(login.location.as_deref(), Some("/workspaces"));
    let page = app.get_with(&bob_client, "/workspaces").await;
    assert!(page.body.contains("You are not a member of any workspace"), "{}", page.body);
    assert!(!page.body.contains("href=\"/admin\"") && !page.body.contains("New workspace"));
    assert_eq!(app.get_with(&bob_client, "/destinations").await.location.as_deref(), Some("/workspaces"));
    assert_eq!(app.get_with(&bob_client, "/admin/accounts").await.status, 403);

    // An operator cannot disable or unmake themselves.
    let own = app.post(&format!("/admin/accounts/{me}/disable"), &[]).await;
    assert_eq!(own.location.as_deref(), Some("/admin/accounts"));
    assert!(app.get("/admin/accounts").await.body.contains("You cannot disable your own account."));
    app.post(&format!("/admin/accounts/{me}/unmake-operator"), &[]).await;
    assert!(app.get("/admin/accounts").await.body.contains("You cannot remove your own operator role."));
    assert_eq!(flags(&app, &me).await, (true, false));

    // Make Bob an operator: the admin area is his now.
    app.post(&format!("/admin/accounts/{bob}/make-operator"), &[]).await;
    assert_eq!(flags(&app, &bob).await, (true, false));
    assert_eq!(app.get_with(&bob_client, "/admin/accounts").await.status, 200);
    app.post(&format!("/admin/accounts/{bob}/unmake-operator"), &[]).await;
    assert_eq!(app.get_with(&bob_client, "/admin/accounts").await.status, 403, "at once");

    // Disabled: Bob's session is refused on its next request, and he cannot sign in again.
    app.post(&format!("/admin/accounts/{bob}/disable"), &[]).await;
    assert_eq!(flags(&app, &bob).await, (false, true));
    assert_eq!(app.get_with(&bob_client, "/workspaces").await.location.as_deref(), Some("/login"));
    let refused =
        app.post_with(&new_client(), "/login", &[("email", "bob@example.com"), ("password", "bob password 1")]).await;
    assert_ne!(refused.status, 303, "a disabled account cannot sign in");
    app.post(&format!("/admin/accounts/{bob}/enable"), &[]).await;
    signed_in(&app, "bob@example.com", "bob password 1").await;

    // A new password from the operator replaces the old one.
    let weak = app.post(&format!("/admin/accounts/{bob}/password"), &[("password", "short")]).await;
    assert_eq!(weak.status, 303);
    assert!(app.get("/admin/accounts").await.body.contains("Password must be at least 10 characters"));
    app.post(&format!("/admin/accounts/{bob}/password"), &[("password", "a new password 2")]).await;
    let old =
        app.post_with(&new_client(), "/login", &[("email", "bob@example.com"), ("password", "bob password 1")]).await;
    assert_eq!(old.status, 401);
    signed_in(&app, "bob@example.com", "a new password 2").await;
    assert_eq!(app.post("/admin/accounts/not-an-account/disable", &[]).await.status, 404);
}

/// Two operators removing each other's role at the same moment: one of them stays an operator.
async fn operators_never_leave_none(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let me = user_id(&app, ADMIN_EMAIL).await;
    let bob = create_account(&app, "Bob", "bob@example.com", "bob password 1").await;
    let bob_client = signed_in(&app, "bob@example.com", "bob password 1").await;
    let (unmake_bob, unmake_me) =
        (format!("/admin/accounts/{bob}/unmake-operator"), format!("/admin/accounts/{me}/unmake-operator"));
    for _ in 0..5 {
        app.post(&format!("/admin/accounts/{bob}/make-operator"), &[]).await;
        let (a, b) = tokio::join!(app.post(&unmake_bob, &[]), app.post_with(&bob_client, &unmake_me, &[]));
        // The later of the two may find its author no longer an operator (403): never both done.
        assert!([a.status, b.status].iter().all(|s| [303, 403].contains(s)), "{} {}", a.status, b.status);
        let operators = [flags(&app, &me).await.0, flags(&app, &bob).await.0];
        assert_eq!(operators.iter().filter(|o| **o).count(), 1, "exactly one operator remains: {operators:?}");
        if !operators[0] {
            // Bob won this round: he gives the role back.
            app.post_with(&bob_client, &format!("/admin/accounts/{me}/make-operator"), &[]).await;
        }
    }
}

async fn workspace_id(app: &TestApp, name: &str) -> Option<String> {
    let name = name.to_owned();
    app.db()
        .run(move |c| {
            use devpilot::db::schema::workspaces::dsl;
            dsl::workspaces.filter(dsl::name.eq(name)).select(dsl::id).first::<String>(c).optional()
        })
        .await
        .expect("workspace")
}

async fn operators_manage_workspaces(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    create_account(&app, "Olga", "olga@example.com", "olga password 1").await;
    let unknown = app.post("/admin/workspaces", &[("workspace", "Team"), ("owner", "nobody@example.com")]).await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.body.contains("No account has this email"));
    let blank = app.post("/admin/workspaces", &[("workspace", " "), ("owner", "olga@example.com")]).await;
    assert!(blank.status == 422 && blank.body.contains("Workspace name is required"));
    assert_eq!(workspace_id(&app, "Team").await, None);

    let made = app.post("/admin/workspaces", &[("workspace", "Team"), ("owner", "OLGA@example.com")]).await;
    assert_eq!(made.location.as_deref(), Some("/admin/workspaces"), "{}", made.body);
    let team = workspace_id(&app, "Team").await.expect("created");
    let list = app.get("/admin/workspaces").await;
    assert!(list.body.contains("Team") && list.body.contains("olga@example.com"), "owners are listed");
    assert!(list.body.contains("Acme") && list.body.contains(ADMIN_EMAIL));

    // Olga owns it; the operator who made it is not a member.
    let olga = signed_in(&app, "olga@example.com", "olga password 1").await;
    let members = app.get_with(&olga, "/members").await;
    assert!(members.body.contains("Team · Olga") && members.body.contains("owner"), "{}", members.body);
    assert!(!app.get("/workspaces").await.body.contains("Team"));

    let renamed = app.post(&format!("/admin/workspaces/{team}/rename"), &[("workspace", "Team Two")]).await;
    assert_eq!(renamed.status, 303);
    assert!(app.get_with(&olga, "/members").await.body.contains("Team Two · Olga"), "the name changes at once");
    app.post(&format!("/admin/workspaces/{team}/rename"), &[("workspace", "")]).await;
    assert!(app.get("/admin/workspaces").await.body.contains("Workspace name is required"));
    assert_eq!(workspace_id(&app, "Team Two").await.as_deref(), Some(team.as_str()));
}

async fn count(app: &TestApp, table: &'static str, workspace: &str) -> i64 {
    let workspace = workspace.to_owned();
    app.db()
        .run(move |c| {
            #[derive(QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let q = format!("SELECT COUNT(*) AS n FROM {table} WHERE workspace_id = $1");
            let q = if matches!(c, devpilot::db::DbConn::Sqlite(_)) { q.replace("$1", "?") } else { q };
            diesel::sql_query(q).bind::<diesel::sql_types::Text, _>(workspace).get_result::<N>(c).map(|r| r.n)
        })
        .await
        .expect("count")
}

async fn deleting_a_workspace_takes_everything_in_it(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    assert_eq!(app.post("/workspaces", &[("workspace", "Doomed")]).await.status, 303);
    let doomed = workspace_id(&app, "Doomed").await.expect("made");
    assert_eq!(app.create_destination("Disk", "local", &[]).await.status, 303);
    crate::api_tokens::mint(&app, "script", "admin", "30").await;
    for table in ["memberships", "destinations", "api_tokens", "audit_events"] {
        assert!(count(&app, table, &doomed).await > 0, "{table} has rows to delete");
    }
    // Its local default folder, and a symlink in the backups folder that must not be followed.
    let backups = app.data_dir.path().join("backups");
    std::fs::create_dir_all(backups.join(&doomed)).expect("folder");
    std::fs::write(backups.join(&doomed).join("artifact.tar.zst"), b"x").expect("file");
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("keep"), b"keep").expect("keep");

    let confirm = app.get(&format!("/admin/workspaces/{doomed}/delete")).await;
    assert!(confirm.status == 200 && confirm.body.contains("Type the workspace"), "{}", confirm.body);
    let wrong = app.post(&format!("/admin/workspaces/{doomed}/delete"), &[("confirm", "doomed")]).await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("name, “Doomed”, to delete it."), "{}", wrong.body);
    assert_eq!(count(&app, "destinations", &doomed).await, 1, "nothing deleted");

    // Not while one of its backups runs.
    let run = insert_running_run(&app, &doomed).await;
    app.post(&format!("/admin/workspaces/{doomed}/delete"), &[("confirm", "Doomed")]).await;
    assert!(app.get("/admin/workspaces").await.body.contains("A backup of this workspace is running"));
    assert_eq!(count(&app, "destinations", &doomed).await, 1);
    finish_run(&app, &run).await;

    let deleted = app.post(&format!("/admin/workspaces/{doomed}/delete"), &[("confirm", "Doomed")]).await;
    assert_eq!(deleted.location.as_deref(), Some("/admin/workspaces"));
    assert!(app.get("/admin/workspaces").await.body.contains("Deleted the workspace “Doomed”"));
    assert_eq!(workspace_id(&app, "Doomed").await, None);
    for table in ["memberships", "destinations", "api_tokens", "audit_events", "plans", "runs"] {
        assert_eq!(count(&app, table, &doomed).await, 0, "{table} rows are gone");
    }
    assert!(!backups.join(&doomed).exists(), "the local folder is gone");
    assert!(workspace_id(&app, "Acme").await.is_some(), "other workspaces stay");
    // The admin's session was in the deleted workspace: it goes on in the one left.
    assert!(app.get("/destinations").await.body.contains("Acme · Ada Admin"));

    // A symlink where a workspace's folder would be is removed, not followed.
    assert_eq!(app.post("/workspaces", &[("workspace", "Linked")]).await.status, 303);
    let linked = workspace_id(&app, "Linked").await.expect("made");
    std::os::unix::fs::symlink(outside.path(), backups.join(&linked)).expect("symlink");
    app.post(&format!("/admin/workspaces/{linked}/delete"), &[("confirm", "Linked")]).await;
    assert!(std::fs::symlink_metadata(backups.join(&linked)).is_err(), "the link is gone");
    assert_eq!(std::fs::read(outside.path().join("keep")).expect("kept"), b"keep");
}

async fn insert_running_run(app: &TestApp, workspace: &str) -> String {
    let disk = app.destination("Disk").await.id;
    let source = tempfile::tempdir().expect("source");
    app.grant_folder_to("Doomed", source.path(), "read").await;
    let source = source.path().to_string_lossy().into_owned();
    let plan = [
        ("name", "P"),
        ("source_kind", "directory"),
        ("source_path", source.as_str()),
        ("destination_id", disk.as_str()),
        ("schedule", "0 2 * * *"),
        ("retention", "3"),
    ];
    let made = app.post("/plans", &plan).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let plan = crate::plans::plan(app, "P").await.id;
    let (ws, id) = (workspace.to_owned(), uuid::Uuid::new_v4().to_string());
    let run = id.clone();
    app.db()
        .run(move |c| {
            use devpilot::db::schema::runs::dsl;
            let now = chrono::Utc::now().naive_utc();
            diesel::insert_into(dsl::runs)
                .values((
                    dsl::id.eq(&run),
                    dsl::workspace_id.eq(&ws),
                    dsl::plan_id.eq(&plan),
                    dsl::status.eq("running"),
                    dsl::trigger.eq("manual"),
                    dsl::bytes.eq(0i64),
                    dsl::created_at.eq(now),
                    dsl::encrypted.eq(false),
                ))
                .execute(c)
        })
        .await
        .expect("run");
    id
}

async fn finish_run(app: &TestApp, id: &str) {
    let id = id.to_owned();
    app.db()
        .run(move |c| {
            use devpilot::db::schema::runs::dsl;
            diesel::update(dsl::runs.find(id)).set(dsl::status.eq("failed")).execute(c)
        })
        .await
        .expect("finish");
}

async fn only_operators_create_workspaces(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    create_account(&app, "Bob", "bob@example.com", "bob password 1").await;
    let bob = signed_in(&app, "bob@example.com", "bob password 1").await;
    assert!(!app.get_with(&bob, "/workspaces").await.body.contains("action=\"/workspaces\""), "no form");
    let refused = app.post_with(&bob, "/workspaces", &[("workspace", "Mine")]).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("Only an instance administrator can create workspaces"));
    assert_eq!(workspace_id(&app, "Mine").await, None);
    // The operator still can (and owns what they make).
    assert!(app.get("/workspaces").await.body.contains("action=\"/workspaces\""));
    assert_eq!(app.post("/workspaces", &[("workspace", "Ops")]).await.location.as_deref(), Some("/destinations"));
}

async fn everyone_creates_workspaces_when_the_server_allows(backend: Backend) {
    let (mut settings, dir, pg) = test_settings(backend);
    settings.identity.allow_workspace_creation = true;
    let app = spawn_with(settings, dir, pg).await;
    app.setup_admin().await;
    create_account(&app, "Bob", "bob@example.com", "bob password 1").await;
    let bob = signed_in(&app, "bob@example.com", "bob password 1").await;
    assert!(app.get_with(&bob, "/workspaces").await.body.contains("action=\"/workspaces\""));
    let made = app.post_with(&bob, "/workspaces", &[("workspace", "Mine")]).await;
    assert_eq!(made.location.as_deref(), Some("/destinations"));
    assert!(app.get_with(&bob, "/members").await.body.contains("Mine · Bob"));
    assert_eq!(app.get_with(&bob, "/admin/workspaces").await.status, 403, "still no admin area");
}

async fn the_settings_page_shows_no_secret(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let page = app.get("/admin/settings").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("from the environment (DEVPILOT_MASTER_KEY)"), "{}", page.body);
    assert!(!page.body.contains(&app.master_key), "the key itself is never shown");
    assert!(page.body.contains("DEVPILOT_ALLOW_WORKSPACE_CREATION"));
}

/// A tenant: an account the operator (this client) creates, owning a workspace of its own that
/// the operator creates for it. Returns the tenant's signed-in client.
pub async fn tenant_owner(app: &TestApp, name: &str, email: &str, password: &str, workspace: &str) -> reqwest::Client {
    create_account(app, name, email, password).await;
    let made = app.post("/admin/workspaces", &[("workspace", workspace), ("owner", email)]).await;
    assert_eq!((made.status, made.location.as_deref()), (303, Some("/admin/workspaces")), "{}", made.body);
    let client = new_client();
    let login = app.post_with(&client, "/login", &[("email", email), ("password", password)]).await;
    assert_eq!(login.location.as_deref(), Some("/overview"), "{email} signs in: {}", login.body);
    client
}
