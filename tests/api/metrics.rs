//! `GET /metrics` (issue 18): the Prometheus text is parsed by the Python `prometheus_client`
//! parser and its values checked against the runs made (two successes and a failure of a plan:
//! those counts, the bytes of the artifacts written, the last success's time, the durations'
//! histogram), destinations' status, names with quotes and backslashes read back whole, and no
//! secret anywhere in it. Who may read it: nobody without a token (401), not a workspace's own
//! admin (403, by token or session), an operator (by token or session), and the metrics token an
//! operator makes in the admin area, which stops working once rotated or revoked.

use crate::api_client::{Api, admin, anonymous};
use crate::api_runs::{finished, start};
use crate::api_schedules::{create, directory_schedule};
use crate::helpers::{ADMIN_PASSWORD, Backend, TestApp, new_client};
use crate::on_both_backends;
use crate::plans::fixture;
use crate::provider_s3::moto_open;
use crate::runs::fill;
use serde_json::{Value, json};
use std::collections::HashMap;

on_both_backends!(metrics_count_the_runs_made, only_operators_and_the_metrics_token_read_metrics);

const S3_SECRET: &str = "metrics-must-never-show-this-secret-9f3c";

/// One sample as the Python parser read it.
#[derive(Debug, Clone)]
pub struct Sample {
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// The venv's Python, with `prometheus_client` (see scripts/test-servers.sh).
fn python() -> std::path::PathBuf {
    match std::env::var("DEVPILOT_TEST_PYTHON") {
        Ok(path) => path.into(),
        // Servers started before the variable existed: the venv beside their other files.
        Err(_) => {
            let smtp =
                std::env::var("DEVPILOT_TEST_SMTP").expect("DEVPILOT_TEST_SMTP: run the tests with scripts/test");
            std::path::Path::new(&smtp).parent().expect("the servers' folder").join("venv/bin/python")
        }
    }
}

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(out))
"#;

/// The text parsed by `prometheus_client.parser.text_string_to_metric_families` (which fails on
/// anything that is not the Prometheus text format).
pub fn parse(text: &str) -> (Vec<Sample>, HashMap<String, String>) {
    use std::io::Write;
    let mut child = std::process::Command::new(python())
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("python");
    assert!(out.status.success(), "the parser refused the text: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    let parsed: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    let types = parsed
        .iter()
        .map(|s| (s["family"].as_str().unwrap_or("").to_owned(), s["type"].as_str().unwrap_or("").to_owned()))
        .collect();
    let samples = parsed
        .into_iter()
        .map(|s| Sample {
            name: s["name"].as_str().expect("name").to_owned(),
            labels: serde_json::from_value(s["labels"].clone()).expect("labels"),
            value: s["value"].as_f64().expect("value"),
        })
        .collect();
    (samples, types)
}

/// The value of the one sample named `name` whose labels include `labels`.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .collect();
    assert_eq!(found.len(), 1, "one {name} {labels:?}, found {found:?}");
    found[0].value
}

pub async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String, String) {
    let request = reqwest::Client::new().get(app.url("/metrics"));
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = request.send().await.expect("GET /metrics");
    let status = response.status().as_u16();
    let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (status, kind, response.text().await.expect("body"))
}

async fn ended(api: &Api<'_>, schedule: &str) -> Value {
    let id = start(api, schedule).await["id"].as_str().expect("id").to_owned();
    finished(api, &id).await
}

async fn metrics_count_the_runs_made(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let api = admin(&f.app).await;
    let workspace = f.app.workspace_id("Acme").await;
    let schedule = create(&api, directory_schedule(&f, "Nightly \"files\" \\ all")).await;
    let idle = create(&api, directory_schedule(&f, "Never run")).await;
    let endpoint = moto_open();
    let s3 = [
        ("provider", "custom"),
        ("endpoint", endpoint.as_str()),
        ("region", "us-east-1"),
        ("bucket", "devpilot-open"),
        ("prefix", "metrics"),
        ("path_style", "true"),
        ("access_key_id", "METRICSTESTKEY7"),
        ("secret_access_key", S3_SECRET),
    ];
    let created = f.app.create_destination("Off-site", "s3", &s3).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let off_site = f.app.destination("Off-site").await;

    let mut successes = Vec::new();
    for _ in 0..2 {
        let run = ended(&api, &schedule).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        successes.push(run);
    }
    let moved = f.source.path().with_extension("moved");
    std::fs::rename(f.source.path(), &moved).expect("move the source away");
    let failed = ended(&api, &schedule).await;
    std::fs::rename(&moved, f.source.path()).expect("move it back");
    assert_eq!(failed["status"], "failed", "{failed}");

    let (status, kind, text) = scrape(&f.app, Some(&api.token)).await;
    assert_eq!(status, 200, "{text}");
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let (samples, types) = parse(&text);
    let plan = [("workspace", workspace.as_str()), ("plan", schedule.as_str())];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut labels = plan.to_vec();
        labels.extend_from_slice(extra);
        labels
    };
    assert_eq!(types.get("devpilot_runs").map(String::as_str), Some("counter"));
    assert_eq!(value(&samples, "devpilot_runs_total", &with(&[("status", "succeeded")])), 2.0);
    assert_eq!(value(&samples, "devpilot_runs_total", &with(&[("status", "failed")])), 1.0);
    assert_eq!(value(&samples, "devpilot_runs_total", &with(&[("status", "skipped")])), 0.0);
    assert_eq!(value(&samples, "devpilot_runs_in_progress", &plan), 0.0);
    let idle_plan = [("workspace", workspace.as_str()), ("plan", idle.as_str()), ("status", "succeeded")];
    assert_eq!(value(&samples, "devpilot_runs_total", &idle_plan), 0.0, "a plan without runs has its series");

    // Bytes written: the artifacts' sizes as stored.
    let stored: u64 = successes
        .iter()
        .map(|r| {
            std::fs::metadata(f.target_path().join(r["object_key"].as_str().expect("key"))).expect("artifact").len()
        })
        .sum();
    let recorded: i64 = successes.iter().map(|r| r["bytes"].as_i64().expect("bytes")).sum();
    assert_eq!(stored, recorded as u64);
    assert_eq!(value(&samples, "devpilot_backup_written_bytes_total", &plan), stored as f64);

    let last = chrono::DateTime::parse_from_rfc3339(successes[1]["finished_at"].as_str().expect("finished_at"))
        .expect("time")
        .timestamp_millis() as f64
        / 1000.0;
    let shown = value(&samples, "devpilot_plan_last_success_timestamp_seconds", &plan);
    assert!((shown - last).abs() < 0.002, "{shown} vs {last}");

    assert_eq!(types.get("devpilot_run_duration_seconds").map(String::as_str), Some("histogram"));
    assert_eq!(value(&samples, "devpilot_run_duration_seconds_count", &with(&[("status", "succeeded")])), 2.0);
    assert_eq!(value(&samples, "devpilot_run_duration_seconds_count", &with(&[("status", "failed")])), 1.0);
    assert_eq!(
        value(&samples, "devpilot_run_duration_seconds_bucket", &with(&[("status", "succeeded"), ("le", "+Inf")])),
        2.0
    );
    let durations: f64 = successes
        .iter()
        .map(|r| {
            let at = |k: &str| chrono::DateTime::parse_from_rfc3339(r[k].as_str().expect("time")).expect("time");
            (at("finished_at") - at("started_at")).num_microseconds().expect("µs") as f64 / 1e6
        })
        .sum();
    let sum = value(&samples, "devpilot_run_duration_seconds_sum", &with(&[("status", "succeeded")]));
    assert!((sum - durations).abs() < 0.01, "{sum} vs {durations}");
    let within_an_hour =
        value(&samples, "devpilot_run_duration_seconds_bucket", &with(&[("status", "succeeded"), ("le", "3600")]));
    assert_eq!(within_an_hour, 2.0);

    assert_eq!(
        value(&samples, "devpilot_plan_info", &[("plan", &schedule), ("name", "Nightly \"files\" \\ all")]),
        1.0
    );
    assert_eq!(value(&samples, "devpilot_workspace_info", &[("workspace", &workspace), ("name", "Acme")]), 1.0);
    for destination in [f.destination_id.as_str(), off_site.id.as_str()] {
        let labels = |status| [("workspace", workspace.as_str()), ("destination", destination), ("status", status)];
        assert_eq!(value(&samples, "devpilot_destination_status", &labels("active")), 1.0);
        assert_eq!(value(&samples, "devpilot_destination_status", &labels("failed")), 0.0);
    }
    assert_eq!(
        value(&samples, "devpilot_destination_info", &[("destination", &off_site.id), ("name", "Off-site")]),
        1.0
    );
    // Off-site was tested when it was saved: its test history is the test-duration histogram.
    let tests = api.get(&format!("/api/v1/backup-destinations/{}/tests", off_site.id)).await;
    let kept = tests.json["meta"]["total"].as_f64().expect("the test history's total");
    let tested = |name, extra: &[(&'static str, &'static str)]| {
        let mut labels = vec![("destination", off_site.id.as_str()), ("status", "passed")];
        labels.extend_from_slice(extra);
        value(&samples, name, &labels)
    };
    assert!(kept >= 1.0, "{tests:?}");
    assert_eq!(tested("devpilot_destination_test_duration_seconds_count", &[]), kept);
    assert_eq!(tested("devpilot_destination_test_duration_seconds_bucket", &[("le", "+Inf")]), kept);

    for secret in [S3_SECRET, ADMIN_PASSWORD, api.token.as_str(), "METRICSTESTKEY7"] {
        assert!(!text.contains(secret), "a secret in the metrics: {secret}");
    }
    assert!(!text.contains(&f.source_path()), "no host path in the metrics");
    dashboard_uses_these_names(&text);
}

/// Every metric docs/grafana-dashboard.json queries is one `/metrics` has (those of protected
/// databases and notification deliveries, which this test has none of, are checked against the
/// README's table).
fn dashboard_uses_these_names(text: &str) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dashboard = std::fs::read_to_string(root.join("docs/grafana-dashboard.json")).expect("dashboard");
    let parsed: Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert!(parsed["panels"].as_array().is_some_and(|p| p.len() >= 8), "panels");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let names: std::collections::BTreeSet<&str> = dashboard
        .match_indices("devpilot_")
        .map(|(at, _)| {
            let rest = &dashboard[at..];
            &rest[..rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len())]
        })
        .filter(|name| *name != "devpilot_")
        .collect();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        let family = name.trim_end_matches("_bucket");
        if family.starts_with("devpilot_database_") || family.starts_with("devpilot_notification_") {
            assert!(readme.contains(&format!("`{family}`")), "{family} is not in the README's table");
        } else {
            assert!(
                text.contains(&format!("\n{name}{{")),
                "the dashboard queries {name}, which /metrics does not have"
            );
        }
    }
}

/// Creates or rotates the metrics token in the admin area (as the signed-in operator); returns it.
async fn rotate(app: &TestApp) -> String {
    let page = app.post("/admin/metrics/token", &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let marker = "id=\"minted-token\" type=\"text\" readonly value=\"";
    let at = page.body.find(marker).expect("the token is shown once") + marker.len();
    let token = page.body[at..].split('"').next().expect("token").to_owned();
    assert!(token.starts_with("dpm_") && token.len() > 40, "{token}");
    token
}

async fn only_operators_and_the_metrics_token_read_metrics(backend: Backend) {
    let f = fixture(backend).await;
    let app = &f.app;
    let api = admin(app).await;

    let (status, _, body) = scrape(app, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("devpilot_"), "{body}");
    assert_eq!(scrape(app, Some("dpm_not-a-real-token")).await.0, 401);
    assert_eq!(scrape(app, Some("not even a token")).await.0, 401);

    // A workspace's own admin (not an operator): by API token and signed in, refused.
    let ada = app.add_member("Ada", "ada@example.com", "ada password 12345", "admin").await;
    let reply = anonymous(app)
        .post("/api/v1/auth/token", json!({"email": "ada@example.com", "password": "ada password 12345"}))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let ada_token = reply.json["access_token"].as_str().expect("token").to_owned();
    let (status, _, body) = scrape(app, Some(&ada_token)).await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("devpilot_"), "{body}");
    let page = app.get_with(&ada, "/metrics").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(!page.body.contains("devpilot_"), "{}", page.body);
    assert_eq!(app.get_with(&ada, "/admin/metrics").await.status, 403);
    assert_eq!(app.post_with(&ada, "/admin/metrics/token", &[]).await.status, 403);
    // A session cookie of nobody: 401.
    assert_eq!(app.get_with(&new_client(), "/metrics").await.status, 401);

    // An operator: signed in, or with their token.
    let page = app.get("/metrics").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("devpilot_workspace_info{"), "{}", page.body);
    assert_eq!(scrape(app, Some(&api.token)).await.0, 200);

    let page = app.get("/admin/metrics").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No metrics token yet"), "{}", page.body);
    let first = rotate(app).await;
    let (status, _, body) = scrape(app, Some(&first)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("devpilot_destination_status"), "{body}");
    let page = app.get("/admin/metrics").await;
    assert!(page.body.contains(&first[..12]) && !page.body.contains(&first), "only its prefix is shown again");

    let second = rotate(app).await;
    assert_ne!(first, second);
    assert_eq!(scrape(app, Some(&first)).await.0, 401, "the rotated token stops working");
    assert_eq!(scrape(app, Some(&second)).await.0, 200);
    let stored = stored_tokens(app).await;
    assert_eq!(stored.len(), 1, "one token at a time");
    assert!(
        stored.iter().all(|(prefix, hash)| !hash.contains(&second[4..]) && second.starts_with(prefix)),
        "{stored:?}"
    );

    let revoked = app.post("/admin/metrics/token/revoke", &[]).await;
    assert_eq!(revoked.status, 303);
    assert_eq!(scrape(app, Some(&second)).await.0, 401, "a revoked token stops working");
    assert!(stored_tokens(app).await.is_empty());
}

async fn stored_tokens(app: &TestApp) -> Vec<(String, String)> {
    app.db()
        .run(|c| {
            use devpilot::db::schema::metrics_tokens::dsl::*;
            use diesel::prelude::*;
            metrics_tokens.select((prefix, token_hash)).load::<(String, String)>(c)
        })
        .await
        .expect("tokens")
}
