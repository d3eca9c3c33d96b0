//! Delivering notifications through the outbox: a webhook answering 500 is retried until it
//! takes the event (the same signed event each time); a request the remote refuses for good is
//! not retried; a hanging channel does not hold up a run; a server killed with notifications
//! still undelivered delivers them after its restart, once; three instances on one PostgreSQL
//! deliver each event once; a stale plan is announced once per episode; a failed destination
//! test is an event.

use crate::api_client::{Api, admin};
use crate::helpers::{Backend, TestApp, spawn_with, test_settings};
use crate::notifications_support::{
    create_channel, create_plan, fast_env, fixture_with, outbox, run_now, settled_outbox,
};
use crate::on_both_backends;
use crate::runs::settled;
use crate::server_process::ServerProcess;
use crate::standins::notify::{self, WebhookReceiver};
use devpilot::startup::Application;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

on_both_backends!(
    a_failing_webhook_is_retried_until_it_takes_the_event,
    a_refused_request_is_not_retried,
    a_hanging_channel_does_not_hold_up_a_run,
    a_stale_plan_is_announced_once,
    the_first_success_after_a_failure_is_a_recovery,
    a_failed_destination_test_is_an_event
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_undelivered_notifications_delivers_them_after_restart_once() {
    killed_and_restarted().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_deliver_each_event_once() {
    three_instances().await
}

/// A webhook channel at `receiver` for `events`; its secret handed to the receiver.
pub async fn webhook_channel(api: &Api<'_>, receiver: &WebhookReceiver, events: serde_json::Value) -> String {
    let created = create_channel(
        api,
        json!({"name": "Hook", "kind": "webhook", "events": events, "config": {"url": receiver.url}}),
    )
    .await;
    receiver.set_secret(created["signing_secret"].as_str().expect("secret"));
    created["data"]["id"].as_str().expect("id").to_owned()
}

async fn a_failing_webhook_is_retried_until_it_takes_the_event(backend: Backend) {
    let f = fixture_with(backend, |_| {}).await;
    let api = admin(&f.app).await;
    let receiver = WebhookReceiver::start(vec![500, 500, 200]);
    let id = webhook_channel(&api, &receiver, json!(["run.failed"])).await;
    let plan = create_plan(&f, "Flaky").await;
    std::fs::remove_dir_all(f.source.path()).expect("remove the source");
    run_now(&f.app, &plan).await;
    receiver.log.wait_accepted(1).await;
    let all = receiver.log.all();
    assert_eq!(all.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 500, 200], "{all:?}");
    assert!(all.iter().all(|r| r.signed), "every attempt is signed");
    let ids: Vec<String> = all.iter().map(|r| r.json()["id"].as_str().unwrap_or_default().to_owned()).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "the same event each time: {ids:?}");
    let rows = settled_outbox(&f.app).await;
    assert_eq!((rows.len(), rows[0].status.as_str(), rows[0].attempts), (1, "delivered", 3), "{rows:?}");
    let log = api.get(&format!("/api/v1/notification-channels/{id}/deliveries")).await;
    let seen: Vec<(i64, &str)> = log.json["data"]
        .as_array()
        .expect("log")
        .iter()
        .map(|d| (d["attempt"].as_i64().unwrap_or(0), d["outcome"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(seen, [(3, "HTTP 200"), (2, "HTTP 500"), (1, "HTTP 500")], "{log:?}");
    assert_eq!(log.json["data"][1]["answer"], "answered 500", "the remote's answer is kept");

    // The operator's metrics count the attempts by result.
    let (status, _, text) = crate::metrics::scrape(&f.app, Some(&api.token)).await;
    assert_eq!(status, 200, "{text}");
    let (samples, _) = crate::metrics::parse(&text);
    let attempts = |result| {
        crate::metrics::value(
            &samples,
            "devpilot_notification_deliveries_total",
            &[("channel", &id), ("result", result)],
        )
    };
    assert_eq!((attempts("delivered"), attempts("failed")), (1.0, 2.0), "{text}");
}

async fn a_refused_request_is_not_retried(backend: Backend) {
    let f = fixture_with(backend, |_| {}).await;
    let api = admin(&f.app).await;
    let (slack, slack_log) = notify::slack("the-right-token");
    let created = create_channel(
        &api,
        json!({"name": "Gone", "kind": "slack", "events": ["run.failed"], "config": {"webhook_url": format!("{slack}/services/T/B/a-revoked-token")}}),
    )
    .await;
    let id = created["data"]["id"].as_str().expect("id").to_owned();
    let plan = create_plan(&f, "Refused").await;
    std::fs::remove_dir_all(f.source.path()).expect("remove the source");
    run_now(&f.app, &plan).await;
    let rows = settled_outbox(&f.app).await;
    assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("failed", 1), "a 404 is given up at once: {rows:?}");
    assert_eq!(slack_log.all().len(), 1);
    let log = api.get(&format!("/api/v1/notification-channels/{id}/deliveries")).await;
    assert_eq!(
        (log.json["data"][0]["outcome"].as_str(), log.json["data"][0]["answer"].as_str()),
        (Some("HTTP 404"), Some("no_service"))
    );
    assert!(!log.json.to_string().contains("a-revoked-token"));
}

async fn a_hanging_channel_does_not_hold_up_a_run(backend: Backend) {
    let f = fixture_with(backend, |_| {}).await;
    let api = admin(&f.app).await;
    let hanging = notify::hanging();
    let created = create_channel(
        &api,
        json!({"name": "Hangs", "kind": "webhook", "events": ["run.succeeded"], "config": {"url": format!("{hanging}/hook")}}),
    )
    .await;
    let id = created["data"]["id"].as_str().expect("id").to_owned();
    let plan = create_plan(&f, "Quick").await;
    run_now(&f.app, &plan).await;
    let run = settled(&f.app, 1).await.remove(0);
    assert_eq!(run.status, "succeeded", "{run:?}");
    // The run ended while its notification had not been answered (it never will be).
    let log = api.get(&format!("/api/v1/notification-channels/{id}/deliveries")).await;
    assert!(log.json["data"].as_array().is_none_or(|d| d.iter().all(|d| d["ok"] == false)), "{log:?}");
    let rows = outbox(&f.app).await;
    assert_eq!((rows.len(), rows[0].status.as_str()), (1, "pending"), "{rows:?}");
    // The worker gives up on the request at its timeout and tries again later.
    for _ in 0..200 {
        let log = api.get(&format!("/api/v1/notification-channels/{id}/deliveries")).await;
        if let Some(first) = log.json["data"].as_array().and_then(|d| d.last()) {
            assert_eq!(first["outcome"], "timeout", "{log:?}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no attempt was logged");
}

async fn a_stale_plan_is_announced_once(backend: Backend) {
    let f = fixture_with(backend, |_| {}).await;
    let api = admin(&f.app).await;
    let receiver = WebhookReceiver::start(vec![]);
    webhook_channel(&api, &receiver, json!(["plan.stale"])).await;
    let plan = create_plan(&f, "Forgotten").await;
    // Created three days ago, daily at 02:00, never succeeded: stale.
    let pid = plan.clone();
    f.app
        .db()
        .run(move |c| {
            use devpilot::db::schema::plans::dsl::*;
            use diesel::prelude::*;
            let then = chrono::Utc::now().naive_utc() - chrono::Duration::days(3);
            diesel::update(plans.filter(id.eq(&pid))).set(created_at.eq(then)).execute(c)
        })
        .await
        .expect("age the plan");
    let got = receiver.log.wait_accepted(1).await;
    let payload = got[0].json();
    assert_eq!((payload["type"].as_str(), payload["plan"]["id"].as_str()), (Some("plan.stale"), Some(plan.as_str())));
    // Several watch ticks later, still one.
    let episodes = |app: &TestApp| {
        let db = app.db();
        async move {
            db.run(|c| {
                use devpilot::db::schema::notification_episodes::dsl::*;
                use diesel::prelude::*;
                notification_episodes.select(subject).load::<String>(c)
            })
            .await
            .expect("episodes")
        }
    };
    assert_eq!(episodes(&f.app).await, [format!("stale:{plan}")]);
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(outbox(&f.app).await.len(), 1, "announced once per episode");
    }
    // A success ends the episode.
    run_now(&f.app, &plan).await;
    settled(&f.app, 1).await;
    for _ in 0..100 {
        if episodes(&f.app).await.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the episode did not end after a success");
}

async fn the_first_success_after_a_failure_is_a_recovery(backend: Backend) {
    let f = fixture_with(backend, |_| {}).await;
    let api = admin(&f.app).await;
    let receiver = WebhookReceiver::start(vec![]);
    webhook_channel(&api, &receiver, json!(["run.failed", "run.recovered"])).await;
    let plan = create_plan(&f, "Wobbly").await;
    let moved = f.source.path().with_extension("away");
    std::fs::rename(f.source.path(), &moved).expect("hide the source");
    run_now(&f.app, &plan).await;
    settled(&f.app, 1).await;
    std::fs::rename(&moved, f.source.path()).expect("bring the source back");
    run_now(&f.app, &plan).await;
    settled(&f.app, 2).await;
    run_now(&f.app, &plan).await;
    let runs = settled(&f.app, 3).await;
    assert_eq!(runs.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(), ["failed", "succeeded", "succeeded"]);
    let got = receiver.log.wait_accepted(2).await;
    let mut types: Vec<String> = got.iter().map(|r| r.json()["type"].as_str().unwrap_or_default().to_owned()).collect();
    types.sort();
    assert_eq!(types, ["run.failed", "run.recovered"], "a second success is no recovery");
    let recovered = got.iter().map(|r| r.json()).find(|p| p["type"] == "run.recovered").expect("recovered");
    assert_eq!(recovered["run"]["id"].as_str(), Some(runs[1].id.as_str()));
    assert_eq!(settled_outbox(&f.app).await.len(), 2);
}

async fn a_failed_destination_test_is_an_event(backend: Backend) {
    let f = fixture_with(backend, |_| {}).await;
    let api = admin(&f.app).await;
    let receiver = WebhookReceiver::start(vec![]);
    webhook_channel(&api, &receiver, json!(["destination.test_failed"])).await;
    std::fs::remove_dir_all(f.target.path()).expect("remove the destination's folder");
    let tested = f.app.post(&format!("/destinations/{}/test", f.destination_id), &[]).await;
    assert!(tested.status < 500, "{}", tested.body);
    let got = receiver.log.wait_accepted(1).await;
    let payload = got[0].json();
    assert_eq!(payload["type"], "destination.test_failed");
    assert_eq!(payload["destination"]["name"], "Disk");
}

async fn killed_and_restarted() {
    let (settings, data_dir, pg) = test_settings(Backend::Sqlite);
    let mut server = ServerProcess::start(&settings, &fast_env()).await;
    let app = TestApp::attach(server.address.clone(), &settings, data_dir, pg);
    app.setup_admin().await;
    let api = admin(&app).await;
    let receiver = WebhookReceiver::start(vec![]);
    receiver.set_down(true);
    webhook_channel(&api, &receiver, json!(["run.failed"])).await;
    let source = tempfile::tempdir().expect("source");
    let target = tempfile::tempdir().expect("target");
    app.grant_folder(source.path(), "read").await;
    app.grant_folder(target.path(), "read_write").await;
    let path = target.path().to_string_lossy().into_owned();
    assert_eq!(app.create_destination("Disk", "local", &[("path", &path)]).await.status, 303);
    let f = crate::plans::Fixture { destination_id: app.destination("Disk").await.id, app, source, target };
    let plan = create_plan(&f, "Doomed").await;
    std::fs::remove_dir_all(f.source.path()).expect("remove the source");
    run_now(&f.app, &plan).await;
    settled(&f.app, 1).await;
    // Tried and refused at least once: undelivered, waiting for its next attempt.
    for _ in 0..300 {
        if outbox(&f.app).await.first().is_some_and(|r| r.attempts >= 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill();
    let rows = outbox(&f.app).await;
    assert_eq!((rows.len(), rows[0].status.as_str()), (1, "pending"), "{rows:?}");
    assert!(receiver.log.accepted().is_empty());

    receiver.set_down(false);
    let mut app = f.app;
    server = ServerProcess::start(&settings, &fast_env()).await;
    app.address = server.address.clone();
    let got = receiver.log.wait_accepted(1).await;
    let rows = settled_outbox(&app).await;
    assert_eq!(rows[0].status, "delivered", "{rows:?}");
    assert_eq!(got[0].json()["id"].as_str(), Some(rows[0].event_id.as_str()));
    // Settled means no instance holds it any more: nothing else arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.log.accepted().len(), 1, "delivered once: {:?}", receiver.log.all());
    drop(server);
}

async fn three_instances() {
    let (settings, data_dir, pg) = test_settings(Backend::Postgres);
    let first = spawn_with(settings.clone(), data_dir, pg).await;
    for _ in 0..2 {
        let other = Application::build(settings.clone()).await.expect("another instance");
        tokio::spawn(other.run_until_stopped());
    }
    first.setup_admin().await;
    let api = admin(&first).await;
    let receiver = WebhookReceiver::start(vec![]);
    webhook_channel(&api, &receiver, json!(["run.failed", "run.succeeded"])).await;
    let source = tempfile::tempdir().expect("source");
    let target = tempfile::tempdir().expect("target");
    first.grant_folder(source.path(), "read").await;
    first.grant_folder(target.path(), "read_write").await;
    std::fs::write(source.path().join("a.txt"), "a").expect("write");
    let path = target.path().to_string_lossy().into_owned();
    assert_eq!(first.create_destination("Disk", "local", &[("path", &path)]).await.status, 303);
    let f = crate::plans::Fixture { destination_id: first.destination("Disk").await.id, app: first, source, target };
    let mut plans = Vec::new();
    for i in 0..10 {
        plans.push(create_plan(&f, &format!("Plan {i}")).await);
    }
    for plan in &plans {
        run_now(&f.app, plan).await;
    }
    settled(&f.app, 10).await;
    let got = receiver.log.wait_accepted(10).await;
    let rows = settled_outbox(&f.app).await;
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|r| r.status == "delivered" && r.attempts == 1), "{rows:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for r in receiver.log.accepted() {
        *per_event.entry(r.json()["id"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
    }
    assert_eq!(per_event.len(), 10, "{got:?}");
    assert!(per_event.values().all(|n| *n == 1), "each event delivered once: {per_event:?}");
    // Claims were spread: the delivery log names the instances that delivered.
    let instances = f
        .app
        .db()
        .run(|c| {
            use devpilot::db::schema::notification_deliveries::dsl::*;
            use diesel::prelude::*;
            notification_deliveries.select(instance_id).load::<String>(c)
        })
        .await
        .expect("log");
    assert_eq!(instances.len(), 10, "one attempt each");
}
