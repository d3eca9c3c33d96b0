//! Database-server grants for tests, written through the grants store (as an operator's grant
//! page does): PostgreSQL sources on loopback need one.

use crate::helpers::TestApp;
use devpilot::grants::store::{self, GrantRow};
use devpilot::grants::{DatabaseServer, GrantKind, HostGrant};
use diesel::prelude::*;

/// Grants `server` to `workspace`.
pub async fn grant_database(app: &TestApp, workspace: &str, server: DatabaseServer) {
    let grant = HostGrant {
        id: uuid::Uuid::new_v4().to_string(),
        workspace_id: workspace.to_owned(),
        kind: GrantKind::Database(server),
        note: "granted by a test".into(),
        created_by: "operator@example.com".into(),
        created_at: chrono::Utc::now().naive_utc(),
    };
    let row: GrantRow = grant.to_row();
    app.db().run(move |c| store::insert(c, &row)).await.expect("insert the grant");
}

/// Every workspace there is now.
pub async fn workspace_ids(app: &TestApp) -> Vec<String> {
    app.db()
        .run(|c| {
            use devpilot::db::schema::workspaces::dsl::*;
            workspaces.select(id).order(created_at.asc()).load::<String>(c)
        })
        .await
        .expect("workspaces")
}

/// The password-checking PostgreSQL of `scripts/test` (its URL and port).
pub fn scram_server() -> (String, u16) {
    let url = std::env::var("DEVPILOT_TEST_PG_SCRAM").expect("DEVPILOT_TEST_PG_SCRAM: run the tests with scripts/test");
    let port = url::Url::parse(&url).expect("url").port().expect("a port");
    (url, port)
}

/// Grants the loopback PostgreSQL servers `scripts/test` starts (127.0.0.1:5432 and the
/// password-checking one) to every workspace there is now.
pub async fn grant_test_postgres(app: &TestApp) {
    let (_, scram_port) = scram_server();
    for workspace in workspace_ids(app).await {
        for port in [5432, scram_port] {
            grant_database(app, &workspace, DatabaseServer::Tcp { host: "127.0.0.1".into(), port }).await;
        }
    }
}
