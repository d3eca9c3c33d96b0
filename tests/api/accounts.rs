//! First-run setup, sign-in, sign-out, rate limiting, workspaces.

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, new_client, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    first_visit_goes_to_setup_then_login,
    setup_rejects_bad_input_and_keeps_values,
    sign_in_and_out,
    failed_sign_ins_are_rate_limited,
    a_user_can_create_and_switch_workspaces
);

async fn first_visit_goes_to_setup_then_login(backend: Backend) {
    let app = spawn_app(backend).await;
    let home = app.get("/").await;
    assert_eq!(home.location.as_deref(), Some("/setup"));
    assert!(app.get("/setup").await.body.contains("Create the first administrator"));
    assert_eq!(app.get("/login").await.location.as_deref(), Some("/setup"));

    app.setup_admin().await;
    assert_eq!(app.get("/").await.location.as_deref(), Some("/overview"));

    // Setup happens once: afterwards it sends everyone to sign in, and a second POST is refused.
    let stranger = new_client();
    assert_eq!(app.get_with(&stranger, "/setup").await.location.as_deref(), Some("/login"));
    assert_eq!(app.get_with(&stranger, "/").await.location.as_deref(), Some("/login"));
    let again = app
        .post_with(
            &stranger,
            "/setup",
            &[("workspace", "Evil"), ("name", "E"), ("email", "e@example.com"), ("password", "0123456789ab")],
        )
        .await;
    assert_eq!(again.location.as_deref(), Some("/login"));
    assert_eq!(app.get_with(&stranger, "/destinations").await.location.as_deref(), Some("/login"));
}

async fn setup_rejects_bad_input_and_keeps_values(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app
        .post("/setup", &[("workspace", ""), ("name", "Ada"), ("email", "not-an-email"), ("password", "short")])
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("Workspace name is required"), "{}", page.body);
    assert!(page.body.contains("Enter a valid email address"));
    assert!(page.body.contains("Password must be at least 10 characters"));
    assert!(page.body.contains("value=\"Ada\""), "typed values are kept");
    assert!(!page.body.contains("value=\"short\""), "passwords are not echoed");
    // Nothing was created: setup is still open.
    assert_eq!(app.get("/").await.location.as_deref(), Some("/setup"));
}

async fn sign_in_and_out(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let out = app.post("/logout", &[]).await;
    assert_eq!(out.location.as_deref(), Some("/login"));
    assert_eq!(app.get("/destinations").await.location.as_deref(), Some("/login"));

    let wrong = app.post("/login", &[("email", ADMIN_EMAIL), ("password", "wrong password!")]).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("The email or password is wrong."));
    let unknown = app.post("/login", &[("email", "nobody@example.com"), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(unknown.status, 401);

    // Emails match whatever their case.
    let ok = app.post("/login", &[("email", "ADMIN@Example.com"), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(ok.location.as_deref(), Some("/overview"));
    assert_eq!(app.get("/destinations").await.status, 200);
}

async fn failed_sign_ins_are_rate_limited(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    app.post("/logout", &[]).await;
    for _ in 0..5 {
        let page = app.post("/login", &[("email", ADMIN_EMAIL), ("password", "guess guess guess")]).await;
        assert_eq!(page.status, 401);
    }
    // Now even the right password is refused from this address until a delay has passed (see
    // sign_in_limits.rs for the delay, and the addresses it does not apply to).
    let page = app.post("/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(page.status, 429);
    assert!(page.body.contains("Too many failed sign-in attempts"));
    assert_eq!(app.get("/destinations").await.location.as_deref(), Some("/login"));
}

async fn a_user_can_create_and_switch_workspaces(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let bad = app.post("/workspaces", &[("workspace", " ")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Workspace name is required"));

    let created = app.post("/workspaces", &[("workspace", "Second team")]).await;
    assert_eq!(created.location.as_deref(), Some("/destinations"));
    let list = app.get("/destinations").await;
    assert!(list.body.contains("Second team · Ada Admin"), "switched to the new workspace");
    assert!(list.body.contains("No destinations yet"));

    let page = app.get("/workspaces").await;
    assert!(page.body.contains("Acme") && page.body.contains("Second team"));
    let switch = app.post("/workspaces/not-a-workspace/switch", &[]).await;
    assert_eq!(switch.status, 404);
}
