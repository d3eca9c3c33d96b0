//! Plans through the pages: the form reports each bad field next to it, the default destination
//! is pre-selected, enable/disable moves the next due time, viewers only look, another
//! workspace's plan is not found.

use crate::helpers::{Backend, Page, TestApp, spawn_app};
use crate::on_both_backends;
use crate::provider_sftp::viewer;

on_both_backends!(
    a_plan_is_created_edited_and_deleted,
    the_plan_form_reports_each_bad_field,
    plan_names_are_unique_per_workspace,
    viewers_cannot_change_plans,
    another_workspace_plan_is_not_found,
    the_plans_page_shows_fifty_at_a_time
);

/// A workspace with a local destination "Disk" (the default) and a folder to back up, both
/// granted to it.
pub struct Fixture {
    pub app: TestApp,
    pub source: tempfile::TempDir,
    /// The local destination's folder.
    pub target: tempfile::TempDir,
    pub destination_id: String,
}

pub async fn fixture(backend: Backend) -> Fixture {
    fixture_of(spawn_app(backend).await).await
}

/// As [`fixture`], on an app already spawned (with settings of its own).
pub async fn fixture_of(app: TestApp) -> Fixture {
    app.setup_admin().await;
    let source = tempfile::tempdir().expect("source");
    let target = tempfile::tempdir().expect("target");
    app.grant_folder(source.path(), "read").await;
    app.grant_folder(target.path(), "read_write").await;
    let path = target.path().to_string_lossy().into_owned();
    assert_eq!(app.create_destination("Disk", "local", &[("path", &path)]).await.status, 303);
    let destination_id = app.destination("Disk").await.id;
    Fixture { app, source, target, destination_id }
}

impl Fixture {
    pub fn target_path(&self) -> &std::path::Path {
        self.target.path()
    }

    pub fn source_path(&self) -> String {
        self.source.path().to_string_lossy().into_owned()
    }

    pub async fn save_plan(&self, path: &str, name: &str, overrides: &[(&str, &str)]) -> Page {
        let source = self.source_path();
        let mut form: Vec<(&str, &str)> = vec![
            ("name", name),
            ("source_kind", "directory"),
            ("source_path", &source),
            ("destination_id", &self.destination_id),
            ("schedule", "0 2 * * *"),
            ("retention", "3"),
            ("enabled", "on"),
        ];
        for (k, v) in overrides {
            form.retain(|(key, _)| key != k);
            if !v.is_empty() || *k != "enabled" {
                form.push((k, v));
            }
        }
        self.app.post(path, &form).await
    }
}

#[derive(Debug)]
pub struct PlanRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub destination_id: Option<String>,
    pub schedule: String,
    pub retention: i64,
    pub enabled: bool,
    pub next_run_at: Option<chrono::NaiveDateTime>,
}

pub async fn plan_rows(app: &TestApp) -> Vec<PlanRow> {
    app.db()
        .run(|c| {
            use devpilot::db::schema::plans::dsl::*;
            use diesel::prelude::*;
            plans
                .order(created_at.asc())
                .select((id, workspace_id, name, destination_id, schedule, retention, enabled, next_run_at))
                .load::<(String, String, String, Option<String>, String, i64, bool, Option<chrono::NaiveDateTime>)>(c)
        })
        .await
        .expect("query plans")
        .into_iter()
        .map(|(id, workspace_id, name, destination_id, schedule, retention, enabled, next_run_at)| PlanRow {
            id,
            workspace_id,
            name,
            destination_id,
            schedule,
            retention,
            enabled,
            next_run_at,
        })
        .collect()
}

pub async fn plan(app: &TestApp, name: &str) -> PlanRow {
    plan_rows(app).await.into_iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no plan {name}"))
}

async fn a_plan_is_created_edited_and_deleted(backend: Backend) {
    let f = fixture(backend).await;
    let form = f.app.get("/plans/new").await;
    assert_eq!(form.status, 200);
    let selected = format!("<option value=\"{}\" selected>Disk (default)</option>", f.destination_id);
    assert!(form.body.contains(&selected), "the default destination is pre-selected: {}", form.body);
    assert!(f.app.get("/plans").await.body.contains("href=\"/plans\" class=\"active\""), "nav link");

    let created = f.save_plan("/plans", "Nightly", &[]).await;
    assert_eq!((created.status, created.location.as_deref()), (303, Some("/plans")), "{}", created.body);
    let row = plan(&f.app, "Nightly").await;
    assert_eq!((row.schedule.as_str(), row.retention, row.enabled), ("0 2 * * *", 3, true));
    assert_eq!(row.destination_id.as_deref(), Some(f.destination_id.as_str()));
    let next = row.next_run_at.expect("an enabled plan is due at some time");
    assert_eq!(next.format("%H:%M").to_string(), "02:00");
    let list = f.app.get("/plans").await.body;
    assert!(list.contains("every day at 02:00 UTC") && list.contains("Disk"), "{list}");

    let edit = f.app.get(&format!("/plans/{}/edit", row.id)).await;
    assert!(edit.body.contains("value=\"0 2 * * *\"") && edit.body.contains("Runs every day at 02:00 UTC."));
    let path = format!("/plans/{}", row.id);
    let saved = f.save_plan(&path, "Weekly", &[("schedule", "30 3 * * 1"), ("retention", "12"), ("enabled", "")]).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let row = plan(&f.app, "Weekly").await;
    assert_eq!((row.schedule.as_str(), row.retention, row.enabled, row.next_run_at), ("30 3 * * 1", 12, false, None));
    assert!(f.app.get("/plans").await.body.contains("every Monday at 03:30 UTC"));

    assert_eq!(f.app.post(&format!("/plans/{}/enable", row.id), &[]).await.status, 303);
    let enabled = plan(&f.app, "Weekly").await;
    assert!(enabled.enabled);
    assert_eq!(enabled.next_run_at.expect("due").format("%H:%M").to_string(), "03:30");
    assert_eq!(f.app.post(&format!("/plans/{}/disable", row.id), &[]).await.status, 303);
    assert_eq!(plan(&f.app, "Weekly").await.next_run_at, None, "a disabled plan is never due");

    assert_eq!(f.app.get(&format!("/plans/{}/delete", row.id)).await.status, 200);
    assert_eq!(f.app.post(&format!("/plans/{}/delete", row.id), &[]).await.status, 303);
    assert!(plan_rows(&f.app).await.is_empty());
}

async fn the_plan_form_reports_each_bad_field(backend: Backend) {
    let f = fixture(backend).await;
    let file = f.source.path().join("a-file");
    std::fs::write(&file, b"x").expect("file");
    let file = file.to_string_lossy().into_owned();
    let missing = format!("{}/no-such-folder", f.source_path());
    let cases: [(&str, &str, &str, &str); 10] = [
        ("name", "", "name", "Name is required."),
        ("schedule", "0 2 * *", "schedule", "5 fields"),
        ("schedule", "61 * * * *", "schedule", "Minute must be between 0 and 59"),
        ("schedule", "0 0 31 2 *", "schedule", "never comes due"),
        ("retention", "0", "retention", "Keep between 1 and 365 backups."),
        // Outside the workspace's grants: not looked at, so not even "does not exist".
        ("source_path", "/no/such/folder", "source_path", "“/no/such/folder” is not granted to this workspace."),
        ("source_path", &missing, "source_path", "does not exist on the server."),
        ("source_path", &file, "source_path", "is a file, not a directory."),
        ("destination_id", "", "destination_id", "Choose a destination."),
        ("destination_id", "not-a-destination", "destination_id", "does not exist in this workspace"),
    ];
    for (field, value, error_field, message) in cases {
        let page = f.save_plan("/plans", "Bad", &[(field, value)]).await;
        assert_eq!(page.status, 422, "{field}={value}: {}", page.body);
        let marker = format!("id=\"f-{error_field}-error\">");
        let at = page.body.find(&marker).unwrap_or_else(|| panic!("{field}={value}: no error next to {error_field}"));
        let shown = &page.body[at + marker.len()..];
        let shown = shown.split("</div>").next().unwrap_or_default();
        let shown = shown.replace("&#8220;", "“").replace("&#8221;", "”").replace("&#34;", "\"");
        assert!(shown.contains(message), "{field}={value}: {shown}");
        if field != "name" {
            assert!(page.body.contains("value=\"Bad\""), "what was typed stays in the form");
        }
    }
    assert!(plan_rows(&f.app).await.is_empty());
    assert_eq!(std::fs::read_dir(f.target_path()).expect("target").count(), 0, "nothing was written");
}

async fn plan_names_are_unique_per_workspace(backend: Backend) {
    let f = fixture(backend).await;
    assert_eq!(f.save_plan("/plans", "Nightly", &[]).await.status, 303);
    let again = f.save_plan("/plans", "nightly", &[]).await;
    assert_eq!(again.status, 422);
    assert!(again.body.contains("id=\"f-name-error\">A plan named &#34;nightly&#34; already exists"), "{}", again.body);
    assert_eq!(f.save_plan("/plans", "Other", &[]).await.status, 303);
    let id = plan(&f.app, "Other").await.id;
    let renamed = f.save_plan(&format!("/plans/{id}"), "NIGHTLY", &[]).await;
    assert_eq!(renamed.status, 422);
    assert_eq!(plan_rows(&f.app).await.len(), 2);
}

async fn viewers_cannot_change_plans(backend: Backend) {
    let f = fixture(backend).await;
    assert_eq!(f.save_plan("/plans", "Nightly", &[]).await.status, 303);
    let id = plan(&f.app, "Nightly").await.id;
    let viewer = viewer(&f.app).await;
    let list = f.app.get_with(&viewer, "/plans").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("Nightly") && !list.body.contains("/plans/new"), "viewers see plans, no buttons");
    for path in ["/plans/new".to_owned(), format!("/plans/{id}/edit"), format!("/plans/{id}/delete")] {
        assert_eq!(f.app.get_with(&viewer, &path).await.status, 403, "{path}");
    }
    for path in
        ["/plans".to_owned(), format!("/plans/{id}"), format!("/plans/{id}/disable"), format!("/plans/{id}/delete")]
    {
        let page = f.app.post_with(&viewer, &path, &[("name", "Mine"), ("retention", "1")]).await;
        assert_eq!(page.status, 403, "{path}");
    }
    let row = plan(&f.app, "Nightly").await;
    assert!(row.enabled);
    assert_eq!(plan_rows(&f.app).await.len(), 1);
}

async fn another_workspace_plan_is_not_found(backend: Backend) {
    let f = fixture(backend).await;
    assert_eq!(f.save_plan("/plans", "Ours", &[]).await.status, 303);
    let ours = plan(&f.app, "Ours").await;
    assert_eq!(f.app.post("/workspaces", &[("workspace", "Other")]).await.status, 303);
    let id = &ours.id;
    for path in [format!("/plans/{id}/edit"), format!("/plans/{id}/delete")] {
        assert_eq!(f.app.get(&path).await.status, 404, "{path}");
    }
    for path in [format!("/plans/{id}/disable"), format!("/plans/{id}/delete")] {
        let page = f.app.post(&path, &[]).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.body.contains("Ours"));
    }
    assert_eq!(f.save_plan(&format!("/plans/{id}"), "Stolen", &[]).await.status, 404);
    assert!(!f.app.get("/plans").await.body.contains("Ours"));
    // A plan here cannot point at the other workspace's destination.
    let borrowed = f.save_plan("/plans", "Borrowed", &[]).await;
    assert_eq!(borrowed.status, 422);
    assert!(borrowed.body.contains("does not exist in this workspace"));
    let after = plan(&f.app, "Ours").await;
    assert_eq!((after.name, after.workspace_id, after.enabled), (ours.name, ours.workspace_id, true));
}

/// A workspace may hold thousands of plans: the page and the API read one page of them at a time,
/// in name order.
async fn the_plans_page_shows_fifty_at_a_time(backend: Backend) {
    let f = fixture(backend).await;
    for n in 0..55 {
        assert_eq!(f.save_plan("/plans", &format!("Plan {n:02}"), &[]).await.status, 303, "plan {n}");
    }
    let names = |page: &Page| -> Vec<String> {
        page.body
            .split("<strong class=\"plan-name\">")
            .skip(1)
            .map(|rest| rest[..rest.find('<').unwrap_or(0)].to_owned())
            .collect()
    };
    let first = f.app.get("/plans").await;
    assert_eq!(first.status, 200);
    let want: Vec<String> = (0..50).map(|n| format!("Plan {n:02}")).collect();
    assert_eq!(names(&first), want, "the first fifty by name");
    assert!(first.body.contains("55 plans · page 1 of 2"), "{}", first.body);
    assert!(first.body.contains("href=\"/plans?page=2\">Next"), "{}", first.body);
    let second = f.app.get("/plans?page=2").await;
    assert_eq!(names(&second), ["Plan 50", "Plan 51", "Plan 52", "Plan 53", "Plan 54"]);
    assert!(second.body.contains("href=\"/plans?page=1\">Previous"), "{}", second.body);
    // Past the end: an empty page with the way back, not "No plans yet".
    let beyond = f.app.get("/plans?page=9").await;
    assert_eq!((beyond.status, names(&beyond).len()), (200, 0));
    assert!(!beyond.body.contains("No plans yet") && beyond.body.contains("page 9 of 2"), "{}", beyond.body);

    let api = crate::api_client::admin(&f.app).await;
    let page = api.get("/api/v1/backup-schedules?per_page=20&page=3").await;
    assert_eq!(page.status, 200, "{page:?}");
    let listed: Vec<&str> =
        page.json["data"].as_array().expect("data").iter().filter_map(|p| p["name"].as_str()).collect();
    let want: Vec<String> = (40..55).map(|n| format!("Plan {n:02}")).collect();
    assert_eq!(listed, want, "{page:?}");
    assert_eq!(page.json["meta"]["total"], 55);
    assert_eq!(page.json["meta"]["last_page"], 3);
}
