//! Notification channels for real: a failed run reaches every kind of channel (a real SMTP
//! server, stand-ins for Slack, Discord, Teams, Telegram, Gotify and a ping endpoint, a webhook
//! receiver that checks signatures), each in the body its provider documents; Telegram's 429 is
//! waited out; the heartbeat pings /start then /fail; secrets never leave; channel URLs meet the
//! outbound policy; another workspace's channel is not found.

use crate::api_client::admin;
use crate::helpers::{Backend, captured_logs};
use crate::notifications_support::{create_channel, create_plan, fixture_with, run_now, settled_outbox};
use crate::on_both_backends;
use crate::runs::settled;
use crate::standins::notify::{self, WebhookReceiver};
use devpilot::providers::outbound::AddressPolicy;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

on_both_backends!(
    a_failed_run_reaches_every_kind_of_channel,
    secrets_never_leave_and_channels_are_edited_in_place,
    another_workspaces_channel_is_not_found
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_urls_at_refused_addresses_are_refused() {
    refused_addresses().await
}

#[derive(serde::Deserialize)]
struct SmtpServer {
    host: String,
    port: u16,
    folder: PathBuf,
}

fn smtp() -> SmtpServer {
    let path =
        std::env::var("DEVPILOT_TEST_SMTP").expect("DEVPILOT_TEST_SMTP: run scripts/test, which starts aiosmtpd");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("smtp.json")).expect("smtp.json parses")
}

/// The mail aiosmtpd received for `to`: (subject, body, raw data).
async fn mail_to(to: &str) -> (String, String, String) {
    let folder = smtp().folder;
    for _ in 0..300 {
        for entry in std::fs::read_dir(&folder).expect("mail folder").flatten() {
            if entry.path().extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
            if json["rcpt_tos"].as_array().is_some_and(|r| r.iter().any(|r| r == to)) {
                let field = |k: &str| json[k].as_str().unwrap_or_default().to_owned();
                return (field("subject"), field("body"), field("data"));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no mail to {to} arrived");
}

fn unique(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

async fn a_failed_run_reaches_every_kind_of_channel(backend: Backend) {
    let bot = format!("123456:{}", unique("AAbot"));
    let (telegram, telegram_log) = notify::telegram(&bot, 1, 1);
    let f = fixture_with(backend, |s| s.notifications.telegram_api = telegram.clone()).await;
    let api = admin(&f.app).await;

    let slack_token = unique("slacktoken");
    let (slack, slack_log) = notify::slack(&slack_token);
    let discord_token = unique("discordtoken");
    let (discord, discord_log) = notify::discord(&discord_token);
    let teams_sig = unique("teamssig");
    let (teams, teams_log) = notify::teams(&teams_sig);
    let gotify_token = unique("gotifytoken");
    let (gotify, gotify_log) = notify::gotify(&gotify_token);
    let webhook = WebhookReceiver::start(vec![]);
    let check = uuid::Uuid::new_v4().to_string();
    let (pings, ping_log) = notify::pings(&check);
    let server = smtp();
    let to = format!("{}@example.com", unique("ops"));

    let channels = [
        json!({"name": "Slack", "kind": "slack", "config": {"webhook_url": format!("{slack}/services/T1/B1/{slack_token}")}}),
        json!({"name": "Discord", "kind": "discord", "config": {"webhook_url": format!("{discord}/api/webhooks/42/{discord_token}")}}),
        json!({"name": "Teams", "kind": "teams", "config": {"webhook_url": format!("{teams}/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig={teams_sig}")}}),
        json!({"name": "Telegram", "kind": "telegram", "config": {"bot_token": bot, "chat_id": "-100123"}}),
        json!({"name": "Gotify", "kind": "gotify", "config": {"server_url": gotify, "app_token": gotify_token, "priority": 7}}),
        json!({"name": "Mail", "kind": "email", "config": {"host": server.host, "port": server.port, "security": "none", "from": "Devpilot <devpilot@example.com>", "to": to}}),
    ];
    let mut ids = Vec::new();
    for body in channels {
        ids.push(create_channel(&api, body).await["data"]["id"].as_str().expect("id").to_owned());
    }
    let created =
        create_channel(&api, json!({"name": "Hook", "kind": "webhook", "config": {"url": webhook.url}})).await;
    let secret = created["signing_secret"].as_str().expect("a webhook's secret is shown once");
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    webhook.set_secret(secret);
    let hook_id = created["data"]["id"].as_str().expect("id").to_owned();
    assert_eq!(created["data"]["events"].as_array().map(Vec::len), Some(10), "all but run.succeeded by default");

    let plan = create_plan(&f, "Nightly Files").await;
    let ping = api
        .put(&format!("/api/v1/backup-schedules/{plan}/heartbeat"), json!({"url": format!("{pings}/ping/{check}")}))
        .await;
    assert_eq!((ping.status, ping.json["host"].as_str()), (200, Some("127.0.0.1")), "{ping:?}");
    assert!(!ping.json.to_string().contains(&check), "only the host is shown: {ping:?}");

    std::fs::remove_dir_all(f.source.path()).expect("remove the source");
    run_now(&f.app, &plan).await;
    let run = settled(&f.app, 1).await.remove(0);
    assert_eq!(run.status, "failed");
    let error = run.error.clone().expect("an error");

    let said = |text: &str, what: &str| {
        assert!(text.contains("Nightly Files"), "{what} names the plan: {text}");
        assert!(text.contains("No such file"), "{what} carries the error: {text}");
    };
    said(&slack_log.wait_accepted(1).await[0].json()["text"].to_string(), "Slack");
    let discord_body = discord_log.wait_accepted(1).await[0].json();
    said(&discord_body["embeds"][0]["description"].to_string(), "Discord");
    let card = teams_log.wait_accepted(1).await[0].json();
    said(&card["attachments"][0]["content"].to_string(), "Teams");
    let gotify_body = gotify_log.wait_accepted(1).await[0].json();
    said(&gotify_body["message"].to_string(), "Gotify");
    assert_eq!(gotify_body["priority"], 7);
    let hook = webhook.log.wait_accepted(1).await.remove(0);
    assert!(hook.signed);
    let payload = hook.json();
    assert_eq!(
        (payload["type"].as_str(), payload["plan"]["name"].as_str()),
        (Some("run.failed"), Some("Nightly Files"))
    );
    assert_eq!(
        (payload["run"]["id"].as_str(), payload["run"]["status"].as_str()),
        (Some(run.id.as_str()), Some("failed"))
    );
    assert_eq!(payload["run"]["error"].as_str(), Some(error.as_str()));
    assert_eq!(payload["workspace"]["name"], "Acme");

    // Telegram said 429, retry after 1 s: the second try waited for it.
    let accepted = telegram_log.wait_accepted(1).await;
    said(&accepted[0].json()["text"].to_string(), "Telegram");
    let all = telegram_log.all();
    assert_eq!(all[0].status, 429, "{all:?}");
    assert!(accepted[0].at.duration_since(all[0].at) >= Duration::from_secs(1), "retry_after is honoured");
    let log = api.get(&format!("/api/v1/notification-channels/{}/deliveries", ids[3])).await;
    let outcomes: Vec<&str> =
        log.json["data"].as_array().expect("log").iter().filter_map(|d| d["outcome"].as_str()).collect();
    assert_eq!(outcomes, ["HTTP 200", "HTTP 429"], "{log:?}");
    assert!(!log.json.to_string().contains(&bot), "the bot token is never in the log");

    let (subject, body, data) = mail_to(&to).await;
    assert_eq!(subject, "[Devpilot] Backup failed: Nightly Files");
    said(&body, "the mail");
    assert!(body.contains("Workspace: Acme"), "{body}");
    for leaked in [&slack_token, &discord_token, &teams_sig, &gotify_token, &bot, &secret.to_owned()] {
        assert!(!data.contains(leaked.as_str()), "no secret in the mail");
    }

    // The heartbeat: /start when the upload began, /fail with the reason.
    let pinged = ping_log.wait_accepted(2).await;
    assert_eq!(pinged[0].path, format!("/ping/{check}/start"));
    assert_eq!(pinged[1].path, format!("/ping/{check}/fail"));
    assert_eq!(pinged[1].body, error);

    let rows = settled_outbox(&f.app).await;
    assert!(rows.iter().all(|r| r.status == "delivered"), "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r.event == "run.failed").count(), 7, "one per channel: {rows:?}");
    let event_ids: std::collections::HashSet<&str> =
        rows.iter().filter(|r| r.event == "run.failed").map(|r| r.event_id.as_str()).collect();
    assert_eq!(event_ids.len(), 1, "one event, the same id everywhere");
    let list = f.app.get("/notifications").await;
    assert!(list.body.contains("hooks") || list.body.contains("127.0.0.1"), "targets are shown by host");
    let log_page = f.app.get(&format!("/notifications/{hook_id}/deliveries")).await;
    assert!(log_page.body.contains("run.failed") && log_page.body.contains("HTTP 200"), "{}", log_page.body);
}

async fn secrets_never_leave_and_channels_are_edited_in_place(backend: Backend) {
    let f = fixture_with(backend, |_| {}).await;
    let slack_token = unique("SLACKSECRET");
    let (slack, slack_log) = notify::slack(&slack_token);
    let bot = format!("777:{}", unique("TGSECRET"));
    let password = unique("SMTPPASSWORD");
    let server = smtp();

    // Through the page, as a person would.
    let form = f.app.get("/notifications/new?kind=slack").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"event.run.failed\" type=\"checkbox\" value=\"on\" checked"), "{}", form.body);
    assert!(!form.body.contains("name=\"event.run.succeeded\" type=\"checkbox\" value=\"on\" checked"));
    let url = format!("{slack}/services/T1/B1/{slack_token}");
    let bad = f
        .app
        .post(
            "/notifications",
            &[("kind", "slack"), ("name", "Ops"), ("config.webhook_url", "not a url"), ("enabled", "on")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Webhook URL is not a valid URL"), "{}", bad.body);
    let saved = f
        .app
        .post(
            "/notifications",
            &[
                ("kind", "slack"),
                ("name", "Ops"),
                ("config.webhook_url", &url),
                ("event.run.failed", "on"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!((saved.status, saved.location.as_deref()), (303, Some("/notifications")), "{}", saved.body);
    let api = admin(&f.app).await;
    let list = api.get("/api/v1/notification-channels").await;
    let id = list.json["data"][0]["id"].as_str().expect("id").to_owned();
    assert_eq!(list.json["data"][0]["stored_secrets"], json!(["webhook_url"]));
    assert_eq!(list.json["data"][0]["events"], json!(["run.failed"]));

    let telegram = create_channel(
        &api,
        json!({"name": "TG", "kind": "telegram", "config": {"bot_token": bot, "chat_id": "@devpilot_ops"}}),
    )
    .await;
    let telegram_id = telegram["data"]["id"].as_str().expect("id").to_owned();
    let mail = create_channel(
        &api,
        json!({"name": "Mail", "kind": "email", "config": {"host": server.host, "port": server.port, "security": "none",
            "username": "devpilot", "password": password, "from": "dp@example.com", "to": "ops@example.com"}}),
    )
    .await;
    let mail_id = mail["data"]["id"].as_str().expect("id").to_owned();

    // "Send test": the answer inline; the SMTP sink takes no login, so its refusal is logged without the password.
    let tested = f.app.htmx_post(&format!("/notifications/{id}/test"), &[]).await;
    assert_eq!(tested.status, 200);
    assert!(tested.body.contains("Sent.") && tested.body.contains("HTTP 200"), "{}", tested.body);
    assert_eq!(slack_log.accepted().len(), 1);
    let mail_test = api.post(&format!("/api/v1/notification-channels/{mail_id}/test"), json!({})).await;
    assert_eq!(mail_test.json["ok"], false, "{mail_test:?}");
    let tg_test = api.post(&format!("/api/v1/notification-channels/{telegram_id}/test"), json!({})).await;
    assert_eq!(tg_test.json["ok"], false, "the real Telegram is not reachable from the tests: {tg_test:?}");

    // Edited with the secret left blank: kept.
    let edit = f.app.get(&format!("/notifications/{id}/edit")).await;
    assert!(edit.body.contains("A value is stored"), "{}", edit.body);
    let renamed = f
        .app
        .post(
            &format!("/notifications/{id}"),
            &[("name", "Ops channel"), ("event.plan.stale", "on"), ("enabled", "on")],
        )
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.body);
    assert_eq!(f.app.htmx_post(&format!("/notifications/{id}/test"), &[]).await.status, 200);
    assert_eq!(slack_log.accepted().len(), 2, "the stored URL was kept");
    let changed = api.get(&format!("/api/v1/notification-channels/{id}")).await;
    assert_eq!(
        (changed.json["data"]["name"].as_str(), &changed.json["data"]["events"]),
        (Some("Ops channel"), &json!(["plan.stale"]))
    );
    let kind_change = api
        .put(
            &format!("/api/v1/notification-channels/{id}"),
            json!({"name": "Ops channel", "kind": "discord", "config": {}}),
        )
        .await;
    assert_eq!(kind_change.status, 422, "{kind_change:?}");

    let secrets = [slack_token.as_str(), bot.as_str(), password.as_str()];
    let mut seen = Vec::new();
    for path in [
        "/notifications".to_owned(),
        format!("/notifications/{id}/edit"),
        format!("/notifications/{id}/deliveries"),
        format!("/notifications/{mail_id}/deliveries"),
        format!("/notifications/{telegram_id}/edit"),
        format!("/notifications/{telegram_id}/deliveries"),
    ] {
        seen.push(f.app.get(&path).await.body);
    }
    for path in [
        "/api/v1/notification-channels".to_owned(),
        format!("/api/v1/notification-channels/{mail_id}/deliveries"),
        format!("/api/v1/notification-channels/{telegram_id}/deliveries"),
        "/api/v1/openapi.json".to_owned(),
    ] {
        seen.push(api.get(&path).await.json.to_string());
    }
    seen.push(mail_test.json.to_string());
    seen.push(tg_test.json.to_string());
    seen.push(captured_logs());
    for text in &seen {
        for secret in secrets {
            assert!(!text.contains(secret), "a secret leaked: {}", &text[..text.len().min(500)]);
        }
    }
    let mail_log = api.get(&format!("/api/v1/notification-channels/{mail_id}/deliveries")).await;
    assert!(mail_log.json["data"][0]["outcome"].as_str().unwrap_or_default().starts_with("SMTP"), "{mail_log:?}");

    // Nothing in a plaintext column.
    let dump = f
        .app
        .db()
        .run(|c| {
            use devpilot::db::schema::{notification_channels as ch, notification_deliveries as dl};
            use diesel::prelude::*;
            let channels: Vec<(String, String, String)> =
                ch::table.select((ch::name, ch::settings, ch::events)).load(c)?;
            let log: Vec<(String, String)> = dl::table.select((dl::outcome, dl::answer)).load(c)?;
            Ok(format!("{channels:?} {log:?}"))
        })
        .await
        .expect("dump");
    for secret in secrets {
        assert!(!dump.contains(secret), "a secret in a plaintext column: {dump}");
    }

    let deleted = f.app.post(&format!("/notifications/{id}/delete"), &[]).await;
    assert_eq!(deleted.status, 303);
    assert_eq!(api.get(&format!("/api/v1/notification-channels/{id}")).await.status, 404);

    // Every change is in the audit log, by whom and through which door, with no secret.
    let audit = api.get(&format!("/api/v1/audit-events?subject_type=channel&subject_id={id}")).await;
    let entries: Vec<(&str, &str)> = audit.json["data"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| (e["action"].as_str().unwrap_or_default(), e["actor"]["channel"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(entries, [("deleted", "web"), ("updated", "web"), ("created", "web")], "{audit:?}");
    let created = api.get(&format!("/api/v1/audit-events?subject_type=channel&subject_id={telegram_id}")).await;
    assert_eq!(created.json["data"][0]["action"], "created", "{created:?}");
    assert_eq!(created.json["data"][0]["actor"]["channel"], "api", "{created:?}");
    let page = f.app.get("/audit").await.body;
    assert!(page.contains("Notification channel"), "the audit page names the kind");
    for text in [audit.json.to_string(), created.json.to_string(), page] {
        for secret in secrets {
            assert!(!text.contains(secret), "a secret in the audit log: {text}");
        }
    }
}

async fn another_workspaces_channel_is_not_found(backend: Backend) {
    let f = fixture_with(backend, |_| {}).await;
    let (slack, _) = notify::slack("tok");
    let api = admin(&f.app).await;
    let created = create_channel(
        &api,
        json!({"name": "Ours", "kind": "slack", "config": {"webhook_url": format!("{slack}/services/T/B/tok")}}),
    )
    .await;
    let id = created["data"]["id"].as_str().expect("id").to_owned();
    let plan = create_plan(&f, "Acme plan").await;
    assert_eq!(f.app.post("/workspaces", &[("workspace", "Second team")]).await.status, 303);
    for path in [
        format!("/notifications/{id}/edit"),
        format!("/notifications/{id}/deliveries"),
        format!("/notifications/{id}/delete"),
    ] {
        assert_eq!(f.app.get(&path).await.status, 404, "{path}");
    }
    for path in
        [format!("/notifications/{id}/test"), format!("/notifications/{id}"), format!("/notifications/{id}/delete")]
    {
        assert_eq!(f.app.post(&path, &[("name", "Theirs")]).await.status, 404, "{path}");
    }
    assert!(!f.app.get("/notifications").await.body.contains("Ours"));
    // Another workspace's plan gets no heartbeat from here either.
    let ping =
        f.app.post(&format!("/notifications/heartbeats/{plan}"), &[("ping_url", "http://127.0.0.1:1/ping")]).await;
    assert_eq!(ping.status, 404);
    assert!(!f.app.get("/notifications/heartbeats").await.body.contains("Acme plan"));
    let missing = api.get(&format!("/api/v1/notification-channels/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(missing.status, 404);
}

async fn refused_addresses() {
    let f = fixture_with(Backend::Sqlite, |s| s.provider.outbound = AddressPolicy::default()).await;
    let api = admin(&f.app).await;
    let cases = [
        (
            json!({"kind": "slack", "config": {"webhook_url": "http://169.254.169.254/latest/meta-data/"}}),
            "config.webhook_url",
            "never connects there",
        ),
        (
            json!({"kind": "webhook", "config": {"url": "http://[::ffff:169.254.169.254]/hook"}}),
            "config.url",
            "never connects there",
        ),
        (
            json!({"kind": "discord", "config": {"webhook_url": "http://127.0.0.1:9/api/webhooks/1/x"}}),
            "config.webhook_url",
            "DEVPILOT_ALLOW_LOOPBACK_DESTINATIONS",
        ),
        (
            json!({"kind": "gotify", "config": {"server_url": "http://localhost:9", "app_token": "abc"}}),
            "config.server_url",
            "DEVPILOT_ALLOW_LOOPBACK_DESTINATIONS",
        ),
        (
            json!({"kind": "email", "config": {"host": "127.0.0.1", "from": "a@example.com", "to": "b@example.com"}}),
            "config.host",
            "DEVPILOT_ALLOW_LOOPBACK_DESTINATIONS",
        ),
        (
            json!({"kind": "teams", "config": {"webhook_url": "http://0xa9fea9fe/workflows/x"}}),
            "config.webhook_url",
            "never connects there",
        ),
    ];
    for (mut body, field, message) in cases {
        body["name"] = json!(unique("refused"));
        let reply = api.post("/api/v1/notification-channels", body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {reply:?}");
        let said = reply.json["fields"][field].as_str().unwrap_or_default();
        assert!(said.contains(message), "{body}: {reply:?}");
    }
    let page = f
        .app
        .post(
            "/notifications",
            &[("kind", "slack"), ("name", "Meta"), ("config.webhook_url", "http://169.254.169.254/x")],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("never connects there"), "{}", page.body);
    let plan = create_plan(&f, "Pinged").await;
    let ping = api
        .put(&format!("/api/v1/backup-schedules/{plan}/heartbeat"), json!({"url": "http://169.254.169.254/ping"}))
        .await;
    assert_eq!(ping.status, 422, "{ping:?}");
    assert!(ping.json["fields"]["url"].as_str().unwrap_or_default().contains("never connects there"));
    let none = api.get("/api/v1/notification-channels").await;
    assert_eq!(none.json["data"], json!([]), "nothing refused was saved");
}
