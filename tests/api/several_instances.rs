//! Three server processes' worth of instances on one PostgreSQL database: 50 plans due in the same
//! minute run exactly once each, a browser session made on one instance works on the others, and
//! a status change made on one is what the others show.

use crate::api_client::admin;
use crate::helpers::{Backend, TestApp, new_client, spawn_with, test_settings};
use crate::runs::run_rows;
use devpilot::startup::Application;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_share_one_database() {
    let (settings, data_dir, pg) = test_settings(Backend::Postgres);
    let first = spawn_with(settings.clone(), data_dir, pg).await;
    let mut others = Vec::new();
    for _ in 0..2 {
        let app = Application::build(settings.clone()).await.expect("another instance");
        others.push(format!("http://127.0.0.1:{}", app.port()));
        tokio::spawn(app.run_until_stopped());
    }
    first.setup_admin().await;

    // A session made on the first instance works on the others (same master key, cookie sessions).
    let cookie = first.client.get(first.url("/destinations")).send().await.expect("GET");
    assert_eq!(cookie.status(), 200);
    let session = session_cookie(&first).await;
    for other in &others {
        let page = new_client()
            .get(format!("{other}/destinations"))
            .header("cookie", &session)
            .send()
            .await
            .expect("GET on another instance");
        assert_eq!(page.status(), 200, "{other}: the session is not recognised");
    }

    // 50 plans due at the same minute.
    let api = admin(&first).await;
    let store = tempfile::tempdir().expect("store");
    let source = tempfile::tempdir().expect("source");
    std::fs::write(source.path().join("a.txt"), b"hello").expect("write");
    first.grant_folder(store.path(), "read_write").await;
    first.grant_folder(source.path(), "read").await;
    let destination = api
        .post(
            "/api/v1/backup-destinations",
            json!({"name": "Disk", "destinationType": "local", "config": {"path": store.path()}}),
        )
        .await;
    assert_eq!(destination.status, 201, "{destination:?}");
    let destination_id = destination.json["data"]["id"].as_str().expect("id").to_owned();
    for n in 0..50 {
        let plan = api
            .post(
                "/api/v1/backup-schedules",
                json!({
                    "name": format!("Plan {n}"),
                    "destination_id": destination_id,
                    "cron_expression": "0 3 * * *",
                    "retention_count": 3,
                    "source": {"type": "directory", "path": source.path()},
                }),
            )
            .await;
        assert_eq!(plan.status, 201, "{plan:?}");
    }
    let due = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(30);
    first
        .db()
        .run(move |c| {
            use devpilot::db::schema::plans::dsl::*;
            use diesel::prelude::*;
            diesel::update(plans).set(next_run_at.eq(due)).execute(c)
        })
        .await
        .expect("make every plan due");
    // Each instance's scheduler looks every 15 s; give them two rounds, then check nothing ran twice.
    for _ in 0..400 {
        let runs = run_rows(&first).await;
        if runs.len() >= 50 && runs.iter().all(|r| r.status == "succeeded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(16)).await;
    let runs = run_rows(&first).await;
    assert_eq!(runs.len(), 50, "every due plan ran exactly once: {} runs", runs.len());
    let mut plans: Vec<&str> = runs.iter().map(|r| r.plan_id.as_str()).collect();
    plans.sort_unstable();
    plans.dedup();
    assert_eq!(plans.len(), 50, "no plan ran twice");
    assert!(runs.iter().all(|r| r.status == "succeeded" && r.trigger == "schedule"), "{runs:?}");

    // A change made on one instance is what the others show.
    assert_eq!(first.post(&format!("/destinations/{destination_id}/disable"), &[]).await.status, 303);
    for other in &others {
        let reply = reqwest::Client::new()
            .get(format!("{other}/api/v1/backup-destinations/{destination_id}"))
            .bearer_auth(&api.token)
            .send()
            .await
            .expect("GET");
        let body: serde_json::Value = reply.json().await.expect("json");
        assert_eq!(body["data"]["status"], "disabled", "{other}: {body}");
    }
}

/// The session cookie the first instance's client holds, as a `Cookie` header value.
async fn session_cookie(app: &TestApp) -> String {
    let login = new_client();
    let page = app.get_with(&login, "/login").await;
    let token = crate::helpers::csrf_from(&page.body);
    let response = login
        .post(app.url("/login"))
        .form(&[
            ("email", crate::helpers::ADMIN_EMAIL),
            ("password", crate::helpers::ADMIN_PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .expect("sign in");
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|c| c.starts_with("devpilot_session="))
        .expect("a session cookie")
        .to_owned()
}
