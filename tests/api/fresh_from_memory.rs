//! The destination list (page and API) and who is signed in are answered from memory while the
//! database is unchanged (src/db/version.rs). These tests change the database in every way the
//! caches must notice: through the pages (at once), behind the server's back through another
//! connection as psql or another instance would (within moments), and — on PostgreSQL — with the
//! change notifications cut off (caching stops until they are back).

use crate::api_client::admin;
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_backends;
use std::time::{Duration, Instant};

on_both_backends!(
    a_change_through_the_pages_shows_on_the_very_next_page,
    a_change_behind_the_servers_back_shows_within_moments,
    a_member_removed_in_the_database_loses_access,
);

/// Long enough for a loaded test machine; the watcher looks every few milliseconds.
const MOMENTS: Duration = Duration::from_secs(5);

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + MOMENTS;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} within {MOMENTS:?}");
}

fn default_name(html: &str) -> Option<String> {
    let badge = html.find("<span class=\"badge default\">")?;
    let before = &html[..badge];
    let start = before.rfind("<strong class=\"dest-name\">")? + "<strong class=\"dest-name\">".len();
    Some(before[start..].trim_end_matches("</strong>").to_owned())
}

async fn a_change_through_the_pages_shows_on_the_very_next_page(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    for name in ["A", "B"] {
        assert_eq!(app.create_destination(name, "local", &[]).await.status, 303);
    }
    let (a, b) = (app.destination("A").await.id, app.destination("B").await.id);
    let api = admin(&app).await;
    for round in 0..10 {
        let (id, name) = if round % 2 == 0 { (&b, "B") } else { (&a, "A") };
        assert_eq!(app.post(&format!("/destinations/{id}/default"), &[("page", "1")]).await.status, 303);
        let page = app.get("/destinations").await;
        assert_eq!(default_name(&page.body).as_deref(), Some(name), "round {round}: the page after the change");
        let listed = api.get("/api/v1/backup-destinations").await;
        let default = listed.json["data"].as_array().and_then(|d| d.iter().find(|d| d["is_default"] == true)).cloned();
        assert_eq!(default.map(|d| d["name"].clone()), Some(serde_json::json!(name)), "round {round}: the API");
    }
}

async fn rename_behind_the_servers_back(app: &TestApp, from: &str, to: &str) {
    let (from, to) = (from.to_owned(), to.to_owned());
    app.db()
        .run(move |c| {
            use devpilot::db::schema::destinations::dsl::*;
            use diesel::prelude::*;
            diesel::update(destinations.filter(name.eq(from))).set(name.eq(to)).execute(c)
        })
        .await
        .expect("rename through another connection");
}

async fn a_change_behind_the_servers_back_shows_within_moments(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    assert_eq!(app.create_destination("Before", "local", &[]).await.status, 303);
    let api = admin(&app).await;
    // Both caches filled, and the same answer twice (from memory).
    for _ in 0..2 {
        assert!(app.get("/destinations").await.body.contains(">Before</strong>"));
        assert_eq!(api.get("/api/v1/backup-destinations").await.json["data"][0]["name"], "Before");
    }
    rename_behind_the_servers_back(&app, "Before", "After").await;
    eventually("the page shows the new name", async || app.get("/destinations").await.body.contains(">After</strong>"))
        .await;
    eventually("the API shows the new name", async || {
        api.get("/api/v1/backup-destinations").await.json["data"][0]["name"] == "After"
    })
    .await;
}

async fn a_member_removed_in_the_database_loses_access(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let viewer = crate::provider_sftp::viewer(&app).await;
    for _ in 0..2 {
        assert_eq!(app.get_with(&viewer, "/destinations").await.status, 200);
    }
    app.db()
        .run(|c| {
            use devpilot::db::schema::{memberships, users};
            use diesel::prelude::*;
            let vic: String = users::table.filter(users::email.eq("viewer@example.com")).select(users::id).first(c)?;
            diesel::delete(memberships::table.filter(memberships::user_id.eq(vic))).execute(c)
        })
        .await
        .expect("remove the membership through another connection");
    // Still signed in (the account is theirs), but in no workspace: sent to the workspaces page.
    eventually("the removed member loses the workspace", async || {
        app.get_with(&viewer, "/destinations").await.location.as_deref() == Some("/workspaces")
    })
    .await;
}

/// PostgreSQL only: the notifications are what make another instance's change visible, so
/// while they are cut off nothing may come from memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_change_notifications_nothing_comes_from_memory() {
    let app = spawn_app(Backend::Postgres).await;
    app.setup_admin().await;
    assert_eq!(app.create_destination("Before", "local", &[]).await.status, 303);
    assert!(app.get("/destinations").await.body.contains(">Before</strong>"));
    // Cut the listener's connection, as a PostgreSQL restart or a network cut would.
    let cut = app
        .db()
        .run(|c| {
            use diesel::RunQueryDsl;
            #[derive(diesel::QueryableByName)]
            struct Cut {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            diesel::sql_query(
                "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN devpilot_changes%'",
            )
            .get_result::<Cut>(c)
            .map(|r| r.n)
        })
        .await
        .expect("terminate the listener");
    assert_eq!(cut, 1, "one listener per server");
    rename_behind_the_servers_back(&app, "Before", "After").await;
    eventually("the page shows the new name", async || app.get("/destinations").await.body.contains(">After</strong>"))
        .await;
    // And once it listens again, a later change still arrives.
    rename_behind_the_servers_back(&app, "After", "Later").await;
    eventually("the page shows the later name", async || {
        app.get("/destinations").await.body.contains(">Later</strong>")
    })
    .await;
}
