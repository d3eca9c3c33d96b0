//! What the notification tests share: fast settings (short back-off, quick ticks), creating
//! channels through the API, and reading the outbox and the delivery log.

use crate::api_client::Api;
use crate::helpers::{Backend, TestApp, spawn_with, test_settings};
use crate::plans::Fixture;
use devpilot::config::{NotificationSettings, Settings};
use std::time::Duration;

/// Every test app delivers within a tick of 100 ms and retries after 100 ms, 200 ms, …: no test
/// sleeps through a real back-off.
pub fn fast_settings() -> NotificationSettings {
    NotificationSettings {
        tick: Duration::from_millis(100),
        retry_base: Duration::from_millis(100),
        request_timeout: Duration::from_secs(3),
        watch_every: Duration::from_millis(300),
        // Never the real Telegram: a closed loopback port unless a test points it at its stand-in.
        telegram_api: "http://127.0.0.1:9".into(),
        ..NotificationSettings::default()
    }
}

/// The same settings for a child process (`ServerProcess::start`).
pub fn fast_env() -> Vec<(&'static str, String)> {
    vec![
        ("DEVPILOT_NOTIFY_TICK_MS", "100".into()),
        ("DEVPILOT_NOTIFY_RETRY_BASE_MS", "100".into()),
        ("DEVPILOT_NOTIFY_TIMEOUT_SECS", "3".into()),
        ("DEVPILOT_TELEGRAM_API_URL", "http://127.0.0.1:9".into()),
    ]
}

/// An outbox row as the tests look at it.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub event: String,
    pub event_id: String,
    pub status: String,
    pub attempts: i64,
}

pub async fn outbox(app: &TestApp) -> Vec<OutboxRow> {
    app.db()
        .run(|c| {
            use devpilot::db::schema::notification_outbox::dsl::*;
            use diesel::prelude::*;
            notification_outbox.order(created_at.asc()).select((event, event_id, status, attempts)).load::<(
                String,
                String,
                String,
                i64,
            )>(c)
        })
        .await
        .expect("outbox")
        .into_iter()
        .map(|(event, event_id, status, attempts)| OutboxRow { event, event_id, status, attempts })
        .collect()
}

/// Waits until no outbox row is pending; returns them all.
pub async fn settled_outbox(app: &TestApp) -> Vec<OutboxRow> {
    for _ in 0..300 {
        let rows = outbox(app).await;
        if !rows.is_empty() && rows.iter().all(|r| r.status != "pending") {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("notifications still pending: {:?}", outbox(app).await);
}

/// Creates a channel through the API; returns its JSON answer (`data`, a webhook's `signing_secret`).
pub async fn create_channel(api: &Api<'_>, body: serde_json::Value) -> serde_json::Value {
    let reply = api.post("/api/v1/notification-channels", body).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.json
}

/// A plans fixture (local destination, a granted source folder) on an app whose settings
/// `adjust` changes first (a stand-in's Telegram API, another address policy).
pub async fn fixture_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Fixture {
    let (mut settings, dir, pg) = test_settings(backend);
    adjust(&mut settings);
    let app = spawn_with(settings, dir, pg).await;
    app.setup_admin().await;
    let source = tempfile::tempdir().expect("source");
    let target = tempfile::tempdir().expect("target");
    app.grant_folder(source.path(), "read").await;
    app.grant_folder(target.path(), "read_write").await;
    let path = target.path().to_string_lossy().into_owned();
    assert_eq!(app.create_destination("Disk", "local", &[("path", &path)]).await.status, 303);
    let destination_id = app.destination("Disk").await.id;
    std::fs::write(source.path().join("data.txt"), "some data\n").expect("write");
    Fixture { app, source, target, destination_id }
}

/// Creates a plan of the fixture's source; returns its id.
pub async fn create_plan(f: &Fixture, name: &str) -> String {
    let page = f.save_plan("/plans", name, &[]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    crate::plans::plan(&f.app, name).await.id
}

pub async fn run_now(app: &TestApp, plan_id: &str) {
    let page = app.post(&format!("/plans/{plan_id}/run"), &[]).await;
    assert_eq!(page.status, 303, "{}", page.body);
}
