//! "Not granted to this workspace" for a PostgreSQL server carries, to an operator, a link to the
//! grant page with the server filled in (plan form and restore page); a tenant gets the words only.

use crate::admin_area::tenant_owner;
use crate::database_grants::{grant_database, scram_server, workspace_ids};
use crate::every_destination::{plan_form, run_and_wait};
use crate::helpers::Backend;
use crate::on_both_backends;
use crate::plans::fixture;
use devpilot::grants::DatabaseServer;

on_both_backends!(an_operator_is_offered_the_grant);

const LOOPBACK: &str = "postgres://postgres@127.0.0.1:5432/postgres";

async fn an_operator_is_offered_the_grant(backend: Backend) {
    let f = fixture(backend).await;
    let app = &f.app;
    let workspace = workspace_ids(app).await.remove(0);
    let source = [("source_kind", "postgres"), ("source_url", LOOPBACK)];

    let refused = app.post("/plans", &plan_form("Database", &f.destination_id, &source)).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("not granted to this workspace"), "{}", refused.body);
    let link =
        format!("/admin/grants?workspace={workspace}&#38;kind=database&#38;server=127.0.0.1%3A5432#grant-database");
    assert!(refused.body.contains(&link), "the grant link for 127.0.0.1:5432: {}", refused.body);

    // The link opens the database form with the server filled in.
    let page = app.get(&link.replace("&#38;", "&")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"name="server" type="text" value="127.0.0.1:5432""#), "{}", page.body);

    // Granted, backed up; a restore onto another, ungranted server gets its own link.
    grant_database(app, &workspace, DatabaseServer::Tcp { host: "127.0.0.1".into(), port: 5432 }).await;
    let saved = app.post("/plans", &plan_form("Database", &f.destination_id, &source)).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let run = run_and_wait(app, "Database", 1).await;
    let (_, scram_port) = scram_server();
    let target = format!("postgres://postgres@127.0.0.1:{scram_port}/restored_here");
    let restore = app.post(&format!("/runs/{}/restore", run.id), &[("target", target.as_str())]).await;
    assert_eq!(restore.status, 422, "{}", restore.body);
    let link = format!("kind=database&#38;server=127.0.0.1%3A{scram_port}#grant-database");
    assert!(restore.body.contains(&link), "the grant link for the restore's server: {}", restore.body);

    // A workspace owner who is not an operator is told, and given no link.
    let owner = tenant_owner(app, "Mallory", "mallory@example.com", "a long tenant password", "Tenant").await;
    let made = app.post_with(&owner, "/destinations", &[("name", "Own"), ("type", "local"), ("config.path", "")]).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let tenant_destination = app.destination("Own").await.id;
    let refused = app.post_with(&owner, "/plans", &plan_form("Database", &tenant_destination, &source)).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("not granted to this workspace"), "{}", refused.body);
    assert!(!refused.body.contains("/admin/grants?"), "no grant link for a tenant: {}", refused.body);
}
