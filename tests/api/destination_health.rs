//! Destination health over time: every test kept with its steps and what ran it; the list's strip
//! of the last 30; the history visible to its workspace only; deleting a destination deletes its
//! history; scheduled re-validation finds a key revoked on moto (trigger "schedule", status
//! flipped); two instances on one PostgreSQL test each due destination once; no secret in the
//! history's page or JSON.

use crate::api_client::{Api, admin};
use crate::api_destinations::other_workspace_api;
use crate::api_tokens::mint;
use crate::helpers::{Backend, TestApp, moto, spawn_app, spawn_with, test_settings};
use crate::notifications_delivery::webhook_channel;
use crate::on_both_backends;
use crate::s3_probe::{iam, xml_field};
use crate::standins::notify::WebhookReceiver;
use devpilot::startup::Application;
use serde_json::Value;
use std::time::Duration;

on_both_backends!(
    each_test_is_kept_with_its_steps_and_trigger,
    the_strip_shows_the_last_30,
    the_history_is_its_workspace_s_only,
    revalidation_finds_a_revoked_key
);

const BASE: &str = "/api/v1/backup-destinations";

/// Every test of a destination, newest first, through the API.
async fn history(api: &Api<'_>, id: &str) -> Vec<Value> {
    let reply = api.get(&format!("{BASE}/{id}/tests?per_page=100")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json["data"].as_array().expect("data").clone()
}

fn triggers(tests: &[Value]) -> Vec<&str> {
    tests.iter().map(|t| t["trigger"]["kind"].as_str().expect("kind")).collect()
}

fn step<'a>(test: &'a Value, name: &str) -> &'a Value {
    test["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("{name}: {test}"))
}

async fn history_rows(app: &TestApp) -> i64 {
    app.db()
        .run(|c| {
            use devpilot::db::schema::destination_tests::dsl::*;
            use diesel::prelude::*;
            destination_tests.count().get_result(c)
        })
        .await
        .expect("count")
}

async fn each_test_is_kept_with_its_steps_and_trigger(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    assert_eq!(app.create_destination("Disk", "local", &[]).await.status, 303);
    let id = app.destination("Disk").await.id;
    let api = admin(&app).await;

    // Through the API with a minted token, a deep test on the page, then "Test all".
    let token = mint(&app, "nightly", "admin", "30").await;
    let scripted = Api::with_token(&app, &token);
    assert_eq!(scripted.post(&format!("{BASE}/{id}/test"), Value::Null).await.status, 200);
    assert_eq!(app.post(&format!("/destinations/{id}/test"), &[("deep", "true")]).await.status, 303);
    assert_eq!(app.post("/destinations/test-all", &[]).await.status, 303);

    let tests = history(&api, &id).await;
    assert_eq!(triggers(&tests), ["test-all", "manual", "manual", "save"], "{tests:#?}");
    let user = tests[3]["trigger"]["user_id"].as_str().expect("the save names its user").to_owned();
    for t in &tests {
        assert_eq!(t["status"], "passed", "{t}");
        assert_eq!(t["trigger"]["user_id"], user.as_str(), "{t}");
        assert_eq!(t["status_after"], "active", "{t}");
        assert!(t["duration_ms"].as_i64().expect("duration") >= 0, "{t}");
        assert!(!t["steps"].as_array().expect("steps").is_empty(), "{t}");
        assert!(t["steps"].as_array().expect("steps").iter().all(|s| s["state"] == "passed"), "{t}");
    }
    let (deep, api_test) = (&tests[1], &tests[2]);
    assert_eq!(deep["deep"], true);
    for probe in ["write probe", "read back", "delete probe"] {
        assert!(step(deep, probe)["duration_ms"].is_u64(), "{probe} is timed: {deep}");
    }
    assert!(api_test["trigger"]["token"].as_str().expect("the token").starts_with("nightly ("), "{api_test}");
    assert_eq!(tests[3]["status_before"], "failed", "a new destination starts unproven");
    assert_eq!(tests[2]["status_before"], "active");

    // The shorter path answers the same.
    let short = api.get(&format!("/api/v1/destinations/{id}/tests")).await;
    assert_eq!(short.status, 200, "{short:?}");
    assert_eq!(short.json["meta"]["total"], 4);

    // The page shows each test with its steps' latency.
    let page = app.get(&format!("/destinations/{id}")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("<tr class=\"test passed\">").count(), 4, "{}", page.body);
    assert!(page.body.contains("Deep test") && page.body.contains("Test all") && page.body.contains("After saving"));
    assert!(page.body.contains("API token nightly ("), "{}", page.body);
    assert!(page.body.contains("class=\"latency-chart\""));

    // A failed test: the provider's error, its class and step; no secret in the page or JSON.
    let m = moto();
    let secret = "WrongSecretThatMustNeverShow0123456789abc";
    assert_eq!(
        app.create_destination("Bucket", "s3", &m.fields(&m.access_key_id, secret, &m.bucket)).await.status,
        303
    );
    let bucket = app.destination("Bucket").await;
    assert_eq!(bucket.status, "failed", "{}", bucket.message);
    let failed = history(&api, &bucket.id).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let f = &failed[0];
    assert_eq!((f["status"].as_str(), f["trigger"]["kind"].as_str()), (Some("failed"), Some("save")), "{f}");
    assert_eq!(f["error_class"], "authentication", "{f}");
    assert!(f["error_message"].as_str().expect("message").contains("SignatureDoesNotMatch"), "{f}");
    assert_eq!(step(f, "authenticate")["state"], "failed", "{f}");
    assert_eq!(f["status_after"], "failed");
    let json = api.get(&format!("{BASE}/{}/tests", bucket.id)).await.json.to_string();
    let html = app.get(&format!("/destinations/{}", bucket.id)).await.body;
    let list = app.get("/destinations").await.body;
    for shown in [&json, &html, &list] {
        assert!(!shown.contains(secret), "the secret is shown");
    }
    assert!(html.contains("SignatureDoesNotMatch") && html.contains("authentication"), "{html}");

    // Deleting a destination deletes its history.
    assert_eq!(history_rows(&app).await, 5);
    assert_eq!(app.post(&format!("/destinations/{id}/delete"), &[]).await.status, 303);
    assert_eq!(history_rows(&app).await, 1, "the deleted destination's tests are gone");
    assert_eq!(api.get(&format!("{BASE}/{id}/tests")).await.status, 404);
}

async fn the_strip_shows_the_last_30(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    assert_eq!(app.create_destination("Disk", "local", &[]).await.status, 303);
    let id = app.destination("Disk").await.id;
    let api = admin(&app).await;
    // The save's test and 34 more: 35 in all.
    for _ in 0..34 {
        assert_eq!(api.post(&format!("{BASE}/{id}/test"), Value::Null).await.status, 200);
    }

    let list = app.get("/destinations").await;
    assert_eq!(list.status, 200);
    let row = &list.body[list.body.find(&format!("id=\"dest-{id}\"")).expect("the row")..];
    let row = &row[..row.find("</tr>").expect("row end")];
    let strip = &row[row.find("class=\"health-strip\"").expect("a strip")..];
    assert_eq!(strip.matches("<span class=\"cell passed\"").count(), 30, "{strip}");
    assert!(strip.contains("Last 30 tests: 30 passed, 0 failed"), "{strip}");
    assert!(!strip.contains("After saving"), "the oldest tests are not in the strip");
    assert!(strip.contains(" UTC · passed · ") && strip.contains("Test connection"), "{strip}");

    // The row an htmx test swaps in carries the strip too.
    let swapped = app.htmx_post(&format!("/destinations/{id}/test"), &[]).await;
    assert_eq!(swapped.status, 200);
    assert_eq!(swapped.body.matches("<span class=\"cell passed\"").count(), 30, "{}", swapped.body);

    // The API pages through all 36, as other lists do.
    let page = api.get(&format!("{BASE}/{id}/tests?per_page=10&page=4")).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.json["meta"]["total"], 36);
    assert_eq!(page.json["meta"]["last_page"], 4);
    assert_eq!(page.json["data"].as_array().expect("data").len(), 6);
    assert_eq!(page.json["data"][5]["trigger"]["kind"], "save", "the oldest is last");
    assert_eq!(api.get(&format!("{BASE}/{id}/tests?per_page=101")).await.status, 422);

    // The page shows them all (50 a page).
    let page = app.get(&format!("/destinations/{id}")).await;
    assert_eq!(page.body.matches("<tr class=\"test passed\">").count(), 36);

    // The history is bounded: with 200 older tests stored, the next test prunes to the newest 200.
    let (ws, dest) = (app.destination("Disk").await.workspace_id, id.clone());
    app.db()
        .run(move |c| {
            use devpilot::db::schema::destination_tests::dsl::*;
            use diesel::prelude::*;
            let long_ago = chrono::Utc::now().naive_utc() - chrono::Duration::days(30);
            for n in 0..200 {
                let at = long_ago + chrono::Duration::seconds(n);
                diesel::insert_into(destination_tests)
                    .values((
                        id.eq(uuid::Uuid::new_v4().to_string()),
                        workspace_id.eq(&ws),
                        destination_id.eq(&dest),
                        started_at.eq(at),
                        finished_at.eq(at),
                        duration_ms.eq(5),
                        status.eq("passed"),
                        deep.eq(false),
                        steps.eq("[]"),
                        trigger_kind.eq("old"),
                        status_before.eq("active"),
                        status_after.eq("active"),
                    ))
                    .execute(c)?;
            }
            Ok(())
        })
        .await
        .expect("old tests");
    assert_eq!(api.post(&format!("{BASE}/{id}/test"), Value::Null).await.status, 200);
    let page = api.get(&format!("{BASE}/{id}/tests?per_page=100&page=2")).await;
    assert_eq!(page.json["meta"]["total"], 200, "{page:?}");
    let kept = history_rows(&app).await;
    assert_eq!(kept, 200, "the oldest 37 are pruned");
}

async fn the_history_is_its_workspace_s_only(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    assert_eq!(app.create_destination("Ours", "local", &[]).await.status, 303);
    let id = app.destination("Ours").await.id;
    let ours = admin(&app).await;
    assert_eq!(history(&ours, &id).await.len(), 1);

    // The admin acting in another workspace: the destination, its page and history are not found.
    let other = other_workspace_api(&app).await;
    let reply = other.get(&format!("{BASE}/{id}/tests")).await;
    assert_eq!(reply.status, 404, "{reply:?}");
    assert!(!reply.json.to_string().contains("Ours"));
    let page = app.get(&format!("/destinations/{id}")).await;
    assert_eq!(page.status, 404);
    assert!(!page.body.contains("After saving"));
    assert!(!app.get("/destinations").await.body.contains("health-strip"));
    assert_eq!(other.get(&format!("{BASE}/not-a-uuid/tests")).await.status, 404);
}

/// A user of moto's IAM allowed everything in S3, and a key of theirs: (user, key id, secret).
async fn iam_user_with_key() -> (String, String, String) {
    let user = format!("health-{}", uuid::Uuid::new_v4().simple());
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    iam(&[("Action", "CreateUser"), ("UserName", &user)]).await;
    iam(&[("Action", "PutUserPolicy"), ("UserName", &user), ("PolicyName", "s3"), ("PolicyDocument", policy)]).await;
    let key = iam(&[("Action", "CreateAccessKey"), ("UserName", &user)]).await;
    (user, xml_field(&key, "AccessKeyId"), xml_field(&key, "SecretAccessKey"))
}

async fn revalidation_finds_a_revoked_key(backend: Backend) {
    let (mut settings, data_dir, pg) = test_settings(backend);
    settings.revalidate_every = Duration::from_secs(2);
    settings.scheduler_tick = Duration::from_secs(1);
    let app = spawn_with(settings, data_dir, pg).await;
    app.setup_admin().await;
    let m = moto();
    let (user, key_id, secret) = iam_user_with_key().await;
    assert_eq!(app.create_destination("Bucket", "s3", &m.fields(&key_id, &secret, &m.bucket)).await.status, 303);
    let bucket = app.destination("Bucket").await;
    assert_eq!(bucket.status, "active", "{}", bucket.message);

    let receiver = WebhookReceiver::start(vec![200]);
    let events = serde_json::json!(["destination.revalidation_failed", "destination.test_failed"]);
    webhook_channel(&admin(&app).await, &receiver, events).await;

    // The key is revoked; nobody tests the destination, the schedule does.
    iam(&[("Action", "DeleteAccessKey"), ("UserName", &user), ("AccessKeyId", &key_id)]).await;
    let mut status = String::new();
    for _ in 0..300 {
        status = app.destination("Bucket").await.status;
        if status == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "failed", "re-validation flipped the destination");
    // Announced once, as a re-validation: the next scheduled failures are not news.
    let told = receiver.log.wait_accepted(1).await;
    assert_eq!(told[0].json()["type"], "destination.revalidation_failed", "{:?}", told[0].json());
    assert!(told[0].json()["message"].as_str().unwrap_or_default().contains("InvalidAccessKeyId"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(receiver.log.accepted().len(), 1, "one message for a key that stays revoked");

    let api = admin(&app).await;
    let tests = history(&api, &bucket.id).await;
    // The oldest failure (the history is newest first): the one that flipped the status.
    let flipped = tests.iter().rev().find(|t| t["status"] == "failed").expect("a failed test");
    assert_eq!(flipped["trigger"]["kind"], "schedule", "{flipped}");
    assert_eq!(flipped["trigger"]["user_id"], Value::Null);
    assert_eq!((flipped["status_before"].as_str(), flipped["status_after"].as_str()), (Some("active"), Some("failed")));
    assert!(flipped["error_message"].as_str().expect("message").contains("InvalidAccessKeyId"), "{flipped}");
    assert_eq!(flipped["error_class"], "authentication");
    assert_eq!(tests.last().expect("the save")["trigger"]["kind"], "save");
    let page = app.get(&format!("/destinations/{}", bucket.id)).await.body;
    assert!(page.contains("Scheduled re-validation") && page.contains("Active → Failed"), "{page}");
    for shown in [page, tests.iter().map(Value::to_string).collect()] {
        assert!(!shown.contains(&secret), "the secret is shown");
    }
}

/// Two instances on one PostgreSQL: each due re-validation runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_revalidate_each_due_destination_once() {
    let (mut settings, data_dir, pg) = test_settings(Backend::Postgres);
    settings.revalidate_every = Duration::from_secs(3600);
    settings.scheduler_tick = Duration::from_secs(1);
    let first = spawn_with(settings.clone(), data_dir, pg).await;
    let second = Application::build(settings).await.expect("a second instance");
    tokio::spawn(second.run_until_stopped());
    first.setup_admin().await;
    let names: Vec<String> = (0..12).map(|n| format!("Disk {n}")).collect();
    for name in &names {
        assert_eq!(first.create_destination(name, "local", &[]).await.status, 303);
    }

    // Every destination due now (a new one's first time is at least a tenth of the interval on).
    let due = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1);
    first
        .db()
        .run(move |c| {
            use devpilot::db::schema::destinations::dsl::*;
            use diesel::prelude::*;
            diesel::update(destinations).set(next_revalidation_at.eq(due)).execute(c)
        })
        .await
        .expect("make every destination due");
    let scheduled = || async {
        first
            .db()
            .run(|c| {
                use devpilot::db::schema::destination_tests::dsl::*;
                use diesel::prelude::*;
                destination_tests.filter(trigger_kind.eq("schedule")).select(destination_id).load::<String>(c)
            })
            .await
            .expect("scheduled tests")
    };
    for _ in 0..300 {
        if scheduled().await.len() >= names.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both instances tick every second: a few more ticks, then nothing may have run twice.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut ran = scheduled().await;
    assert_eq!(ran.len(), names.len(), "each due destination was tested once: {ran:?}");
    ran.sort_unstable();
    ran.dedup();
    assert_eq!(ran.len(), names.len(), "no destination twice");
    for d in first.destination_rows().await {
        assert_eq!(d.status, "active", "{}", d.message);
    }
}
