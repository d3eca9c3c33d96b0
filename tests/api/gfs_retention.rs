//! GFS retention end to end: a synthetic history of backups (run rows finished in the past, their
//! files on a local destination) and a real run with the server's clock fixed → exactly the
//! expected backups stay on the destination and in the history; the form's preview says the same
//! beforehand; a backup under a recorded Object Lock is kept with the date; bad tier values and a
//! lock on a destination that cannot lock are field errors (form and API).

use crate::api_client;
use crate::helpers::{Backend, TestApp, spawn_with, test_settings};
use crate::on_both_backends;
use crate::runs::{fill, settled};
use chrono::{NaiveDate, NaiveDateTime};
use devpilot::config::clock::Clock;
use diesel::prelude::*;
use serde_json::json;

on_both_backends!(
    a_synthetic_history_is_thinned_exactly,
    the_copy_that_passed_the_last_drill_stays,
    bad_tiers_and_impossible_locks_are_field_errors,
    a_copy_keeps_backups_by_its_own_retention
);

/// The server's clock in these tests: Wednesday 2026-12-09 12:00 UTC.
fn now() -> NaiveDateTime {
    at(12, 9, 12)
}

fn at(month: u32, day: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, month, day).and_then(|d| d.and_hms_opt(hour, 0, 0)).expect("a time")
}

struct Gfs {
    app: TestApp,
    source: tempfile::TempDir,
    target: tempfile::TempDir,
    destination: String,
    plan: String,
}

/// An app whose clock says [`now`], a local destination, and a plan "Gfs" of a folder with
/// the newest 2, 3 daily, 2 weekly and 2 monthly.
async fn gfs(backend: Backend) -> Gfs {
    let (mut settings, data_dir, pg) = test_settings(backend);
    settings.clock = Clock::fixed(now());
    let app = spawn_with(settings, data_dir, pg).await;
    app.setup_admin().await;
    let (source, target) = (tempfile::tempdir().expect("source"), tempfile::tempdir().expect("target"));
    app.grant_folder(source.path(), "read").await;
    app.grant_folder(target.path(), "read_write").await;
    let path = target.path().to_string_lossy().into_owned();
    assert_eq!(app.create_destination("Disk", "local", &[("path", &path)]).await.status, 303);
    let destination = app.destination("Disk").await.id;
    fill(source.path());
    let source_path = source.path().to_string_lossy().into_owned();
    let form = plan_form(&destination, &source_path, &[]);
    let saved = app.post("/plans", &form).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let plan = crate::plans::plan(&app, "Gfs").await.id;
    Gfs { app, source, target, destination, plan }
}

fn plan_form<'a>(destination: &'a str, source: &'a str, overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("name", "Gfs"),
        ("source_kind", "directory"),
        ("source_path", source),
        ("destination_id", destination),
        ("schedule", "0 2 * * *"),
        ("retention", "2"),
        ("keep_hourly", "0"),
        ("keep_daily", "3"),
        ("keep_weekly", "2"),
        ("keep_monthly", "2"),
        ("keep_yearly", "0"),
        ("lock_mode", ""),
        ("lock_days", ""),
    ];
    for (name, value) in overrides {
        form.retain(|(k, _)| k != name);
        form.push((name, value));
    }
    form
}

/// The synthetic history, by name: when each backup finished.
fn history() -> Vec<(&'static str, NaiveDateTime)> {
    vec![
        ("dec08-22h", at(12, 8, 22)),
        ("dec08-03h", at(12, 8, 3)),
        ("dec07", at(12, 7, 2)),
        ("dec05", at(12, 5, 2)),
        ("dec01", at(12, 1, 2)),
        ("nov29", at(11, 29, 2)),
        ("nov15", at(11, 15, 2)),
        ("oct31", at(10, 31, 2)),
        ("oct01", at(10, 1, 2)),
        ("sep30", at(9, 30, 2)),
    ]
}

impl Gfs {
    fn key(name: &str) -> String {
        format!("old/{name}.tar.zst")
    }

    /// Inserts a succeeded run per backup of the history (its id is its name), and its primary's
    /// copy with its file.
    async fn insert_history(&self) {
        let workspace = self.app.workspace_id("Acme").await;
        for (name, finished) in history() {
            let (ws, plan, dest, key) =
                (workspace.clone(), self.plan.clone(), self.destination.clone(), Self::key(name));
            self.app
                .db()
                .run(move |c| {
                    use devpilot::db::schema::runs::dsl::*;
                    diesel::insert_into(runs)
                        .values((
                            id.eq(name),
                            workspace_id.eq(&ws),
                            plan_id.eq(&plan),
                            destination_id.eq(&dest),
                            status.eq("succeeded"),
                            trigger.eq("schedule"),
                            started_at.eq(finished - chrono::Duration::minutes(5)),
                            finished_at.eq(finished),
                            bytes.eq(name.len() as i64),
                            object_key.eq(&key),
                            created_at.eq(finished - chrono::Duration::minutes(5)),
                            encrypted.eq(false),
                        ))
                        .execute(c)
                })
                .await
                .expect("insert a run");
        }
        self.insert_copy_history(0, &self.destination, self.target.path()).await;
    }

    /// Gives every backup of the history a copy at `position` on `destination`, its file in
    /// `folder`, as a run with copies records it.
    async fn insert_copy_history(&self, position: i64, destination: &str, folder: &std::path::Path) {
        let workspace = self.app.workspace_id("Acme").await;
        for (name, finished) in history() {
            let file = folder.join(Self::key(name));
            std::fs::create_dir_all(file.parent().expect("folder")).expect("mkdir");
            std::fs::write(&file, name.as_bytes()).expect("write");
            let (ws, dest, key) = (workspace.clone(), destination.to_owned(), Self::key(name));
            self.app
                .db()
                .run(move |c| {
                    use devpilot::db::schema::run_copies::dsl as copies;
                    diesel::insert_into(copies::run_copies)
                        .values((
                            copies::run_id.eq(name),
                            copies::workspace_id.eq(&ws),
                            copies::position.eq(position),
                            copies::destination_id.eq(&dest),
                            copies::status.eq("succeeded"),
                            copies::bytes.eq(name.len() as i64),
                            copies::object_key.eq(&key),
                            copies::started_at.eq(finished - chrono::Duration::minutes(5)),
                            copies::finished_at.eq(finished),
                        ))
                        .execute(c)
                })
                .await
                .expect("insert a copy");
        }
    }

    /// Records an Object Lock on a backup of the history, as a locked upload would have.
    async fn lock(&self, run: &str, until: NaiveDateTime) {
        let workspace = self.app.workspace_id("Acme").await;
        let run = run.to_owned();
        self.app
            .db()
            .run(move |c| {
                use devpilot::db::schema::artifact_locks::dsl::*;
                diesel::insert_into(artifact_locks)
                    .values((
                        run_id.eq(&run),
                        workspace_id.eq(&workspace),
                        copy_position.eq(0i64),
                        mode.eq("governance"),
                        retain_until.eq(until),
                    ))
                    .execute(c)
            })
            .await
            .expect("insert a lock");
    }

    /// The preview's rows for these values: (run id, verdict, why), newest first.
    async fn preview(&self, values: &[(&str, &str)]) -> Vec<(String, String, String)> {
        let page = self.app.post(&format!("/plans/{}/retention-preview", self.plan), values).await;
        assert_eq!(page.status, 200, "{}", page.body);
        rows_of(&page.body)
    }

    /// The files left on the destination in the history's folder.
    fn on_disk(&self) -> Vec<String> {
        files_of(self.target.path())
    }
}

/// The history's files left in `folder`.
fn files_of(folder: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder.join("old"))
        .expect("folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().trim_end_matches(".tar.zst").to_owned())
        .collect();
    names.sort();
    names
}

/// (data-run, verdict, why) of each row of the preview table.
fn rows_of(html: &str) -> Vec<(String, String, String)> {
    html.split("<tr class=\"")
        .skip(1)
        .map(|row| {
            let run = row.split("data-run=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default();
            let cells: Vec<&str> =
                row.split("<td>").skip(1).map(|c| c.split("</td>").next().unwrap_or_default().trim()).collect();
            (
                run.to_owned(),
                cells.get(1).copied().unwrap_or_default().to_owned(),
                cells.get(2).copied().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

const TIERS: [(&str, &str); 7] = [
    ("retention", "2"),
    ("keep_hourly", "0"),
    ("keep_daily", "3"),
    ("keep_weekly", "2"),
    ("keep_monthly", "2"),
    ("keep_yearly", "0"),
    ("lock_mode", ""),
];

async fn a_synthetic_history_is_thinned_exactly(backend: Backend) {
    let f = gfs(backend).await;
    f.insert_history().await;
    // October 1st is locked until after "now": kept whatever the tiers say.
    f.lock("oct01", at(12, 20, 0)).await;

    // Before the run, at 12:00 on the 9th: the newest 2 are both of the 8th; daily 8th, 7th,
    // 5th; weekly 2026-W50 (the 8th) and W49 (the 5th); monthly December and November.
    let preview = f.preview(&TIERS).await;
    let kept: Vec<(&str, &str)> =
        preview.iter().filter(|r| r.1 == "keep").map(|r| (r.0.as_str(), r.2.as_str())).collect();
    assert_eq!(
        kept,
        [
            ("dec08-22h", "newest 2, daily 2026-12-08, weekly 2026-W50, monthly 2026-12"),
            ("dec08-03h", "newest 2"),
            ("dec07", "daily 2026-12-07"),
            ("dec05", "daily 2026-12-05, weekly 2026-W49"),
            ("nov29", "monthly 2026-11"),
            ("oct01", "locked until 2026-12-20 00:00 UTC"),
        ],
        "{preview:?}"
    );
    assert_eq!(preview.len(), 10, "every backup held is listed: {preview:?}");
    // The values being typed, not the saved ones: daily 7 keeps the 1st too.
    let typed = f.preview(&[("retention", "2"), ("keep_daily", "7")]).await;
    assert!(typed.iter().any(|r| r.0 == "dec01" && r.1 == "keep" && r.2 == "daily 2026-12-01"), "{typed:?}");
    assert!(typed.iter().any(|r| r.0 == "sep30" && r.1 == "remove"), "{typed:?}");

    // A real run at the fixed clock: it is the newest (the 9th, W50, December), and takes the
    // newest-2 slot of the 8th's early backup and the dailies of the 5th.
    assert_eq!(f.app.post(&format!("/plans/{}/run", f.plan), &[]).await.status, 303);
    let runs = settled(&f.app, 11).await;
    let current = runs.iter().find(|r| r.trigger == "manual").expect("the run");
    assert_eq!(current.status, "succeeded", "{current:?}");
    assert!(current.error.is_none(), "{current:?}");
    let expected_kept = ["dec05", "dec07", "dec08-22h", "nov29", "oct01"];
    let mut pruned: Vec<&str> = runs.iter().filter(|r| r.pruned).map(|r| r.id.as_str()).collect();
    pruned.sort_unstable();
    assert_eq!(pruned, ["dec01", "dec08-03h", "nov15", "oct31", "sep30"], "{runs:?}");
    assert_eq!(f.on_disk(), expected_kept, "exactly the kept backups stay on the destination");
    let key = current.object_key.clone().expect("the run's key");
    assert!(f.target.path().join(&key).is_file(), "the new backup stays");
    let note = run_notes(&f.app, &current.id).await;
    assert!(note.contains("old/oct01.tar.zst") && note.contains("locked until 2026-12-20 00:00 UTC"), "{note}");

    // The preview afterwards: the run and the five left, all kept.
    let after = f.preview(&TIERS).await;
    assert_eq!(after.len(), 6, "{after:?}");
    assert!(after.iter().all(|r| r.1 == "keep"), "{after:?}");
    assert_eq!(after[0].0, current.id, "the run is the newest");
    // The plan page shows the history without the pruned ones' downloads; the source is intact.
    assert!(f.source.path().join("readme.txt").is_file());
    assert_eq!(f.app.get("/runs/dec01/download").await.status, 404, "pruned");
}

/// Records a finished drill of the plan's primary copy of `run`.
async fn drilled(f: &Gfs, run: &str, outcome: &str, at: NaiveDateTime) {
    let (workspace, plan, run, outcome) =
        (f.app.workspace_id("Acme").await, f.plan.clone(), run.to_owned(), outcome.to_owned());
    let drill = uuid::Uuid::new_v4().to_string();
    f.app
        .db()
        .run(move |c| {
            use devpilot::db::schema::drills::dsl::*;
            diesel::insert_into(drills)
                .values((
                    id.eq(&drill),
                    workspace_id.eq(&workspace),
                    plan_id.eq(&plan),
                    run_id.eq(&run),
                    copy_position.eq(0i64),
                    status.eq(&outcome),
                    trigger_kind.eq("manual"),
                    started_at.eq(at),
                    finished_at.eq(at),
                    bytes_read.eq(1i64),
                ))
                .execute(c)
        })
        .await
        .expect("insert a drill");
}

async fn the_copy_that_passed_the_last_drill_stays(backend: Backend) {
    let f = gfs(backend).await;
    f.insert_history().await;
    // September 30th passed a drill; a later drill of November 15th failed, so the 30th is the
    // copy that passed the last drill that passed.
    drilled(&f, "sep30", "passed", at(12, 1, 0)).await;
    drilled(&f, "nov15", "failed", at(12, 2, 0)).await;

    let preview = f.preview(&TIERS).await;
    let sep30 = preview.iter().find(|r| r.0 == "sep30").expect("sep30 listed");
    assert_eq!((sep30.1.as_str(), sep30.2.as_str()), ("keep", "passed the last restore drill"), "{preview:?}");
    let nov15 = preview.iter().find(|r| r.0 == "nov15").expect("nov15 listed");
    assert_eq!(nov15.1, "remove", "a failed drill protects nothing: {preview:?}");

    assert_eq!(f.app.post(&format!("/plans/{}/run", f.plan), &[]).await.status, 303);
    let runs = settled(&f.app, 11).await;
    let sep30 = runs.iter().find(|r| r.id == "sep30").expect("sep30");
    assert!(!sep30.pruned, "retention kept the drilled copy: {runs:?}");
    assert!(runs.iter().find(|r| r.id == "nov15").expect("nov15").pruned, "{runs:?}");
    assert!(f.on_disk().iter().any(|n| n == "sep30"), "the drilled backup stays on the destination");
}

async fn run_notes(app: &TestApp, run: &str) -> String {
    let run = run.to_owned();
    app.db()
        .run(move |c| {
            use devpilot::db::schema::runs::dsl::*;
            runs.filter(id.eq(&run)).select(notes).first::<Option<String>>(c)
        })
        .await
        .expect("notes")
        .unwrap_or_default()
}

async fn bad_tiers_and_impossible_locks_are_field_errors(backend: Backend) {
    let f = gfs(backend).await;
    let source = f.source.path().to_string_lossy().into_owned();
    let bad = plan_form(
        &f.destination,
        &source,
        &[("keep_daily", "-1"), ("keep_weekly", "many"), ("keep_yearly", "101"), ("lock_mode", "forever")],
    );
    let page = f.app.post(&format!("/plans/{}", f.plan), &bad).await;
    assert_eq!(page.status, 422, "{}", page.body);
    for field in ["keep_daily", "keep_weekly", "keep_yearly", "lock_mode"] {
        assert!(page.body.contains(&format!("id=\"f-{field}-error\"")), "{field}: {}", page.body);
    }
    let days = plan_form(&f.destination, &source, &[("lock_mode", "governance"), ("lock_days", "3651")]);
    let page = f.app.post(&format!("/plans/{}", f.plan), &days).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("id=\"f-lock_days-error\""), "{}", page.body);
    // A local folder cannot lock: said next to the mode.
    let local = plan_form(&f.destination, &source, &[("lock_mode", "governance"), ("lock_days", "30")]);
    let page = f.app.post(&format!("/plans/{}", f.plan), &local).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("id=\"f-lock_mode-error\"") && page.body.contains("cannot lock"), "{}", page.body);
    // The preview says what is wrong instead of a table.
    let preview =
        f.app.post(&format!("/plans/{}/retention-preview", f.plan), &[("retention", "2"), ("keep_daily", "x")]).await;
    assert_eq!(preview.status, 200);
    assert!(preview.body.contains("Daily: a whole number"), "{}", preview.body);

    // The API: field errors named in the retention object; nothing changed.
    let api = api_client::admin(&f.app).await;
    let path = format!("/api/v1/backup-schedules/{}", f.plan);
    let reply = api
        .put(&path, json!({"retention": {"keep_last": 0, "keep_daily": -1, "lock_mode": "legal-hold", "lock_days": 0}}))
        .await;
    assert_eq!(reply.status, 422, "{reply:?}");
    let fields = &reply.json["fields"];
    for name in ["retention.keep_last", "retention.keep_daily", "retention.lock_mode"] {
        assert!(fields[name].is_string(), "{name}: {reply:?}");
    }
    let reply = api.put(&path, json!({"retention": {"lock_mode": "compliance", "lock_days": 30}})).await;
    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(
        reply.json["fields"]["retention.lock_mode"].as_str().is_some_and(|m| m.contains("cannot lock")),
        "{reply:?}"
    );
    let shown = api.get(&path).await;
    assert_eq!(
        shown.json["data"]["retention"],
        json!({"keep_last": 2, "keep_hourly": 0, "keep_daily": 3, "keep_weekly": 2, "keep_monthly": 2,
               "keep_yearly": 0, "lock_mode": null, "lock_days": null}),
        "{shown:?}"
    );
    assert_eq!(shown.json["data"]["retention_count"], 2, "the old field still answers");
    // A good change through the object; the old integer still sets the newest N.
    let reply = api.put(&path, json!({"retention_count": 5, "retention": {"keep_yearly": 4}})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json["data"]["retention"]["keep_last"], 5);
    assert_eq!(reply.json["data"]["retention"]["keep_yearly"], 4);
    assert_eq!(reply.json["data"]["retention"]["keep_daily"], 3, "left out: kept");
}

/// A copy with its own retention (the newest 1 and the 2 newest months) thins its own backups by
/// it while the primary keeps the plan's; the form and the API show and take it, with errors
/// named by the copy's fields; a copy's lock is checked against the copy's destination.
async fn a_copy_keeps_backups_by_its_own_retention(backend: Backend) {
    let f = gfs(backend).await;
    let archive = tempfile::tempdir().expect("archive");
    f.app.grant_folder(archive.path(), "read_write").await;
    let path = archive.path().to_string_lossy().into_owned();
    assert_eq!(f.app.create_destination("Archive", "local", &[("path", &path)]).await.status, 303);
    let archive_id = f.app.destination("Archive").await.id;
    let source = f.source.path().to_string_lossy().into_owned();
    let own = [
        ("copy_1", archive_id.as_str()),
        ("copy_1_own", "1"),
        ("copy_1_retention", "1"),
        ("copy_1_keep_daily", "0"),
        ("copy_1_keep_weekly", "0"),
        ("copy_1_keep_monthly", "2"),
        ("copy_1_keep_yearly", "0"),
    ];
    let saved = f.app.post(&format!("/plans/{}", f.plan), &plan_form(&f.destination, &source, &own)).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let edit = f.app.get(&format!("/plans/{}/edit", f.plan)).await;
    assert!(edit.body.contains("name=\"copy_1_own\" value=\"1\" checked"), "the box stays ticked");
    assert!(edit.body.contains("name=\"copy_1_keep_monthly\" type=\"number\" min=\"0\" max=\"1200\" value=\"2\""));

    f.insert_history().await;
    f.insert_copy_history(1, &archive_id, archive.path()).await;
    // The copy's preview: its own typed values over what it holds (before the run: the newest is
    // the 8th's last, December's too; November's newest).
    let values = [
        ("copy", "1"),
        ("copy_1", archive_id.as_str()),
        ("copy_1_retention", "1"),
        ("copy_1_keep_monthly", "2"),
        ("retention", "9"),
    ];
    let page = f.app.post(&format!("/plans/{}/retention-preview", f.plan), &values).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let rows = rows_of(&page.body);
    let kept: Vec<&str> = rows.iter().filter(|r| r.1 == "keep").map(|r| r.0.as_str()).collect();
    assert_eq!((kept, rows.len()), (vec!["dec08-22h", "nov29"], 10), "{rows:?}");
    assert_eq!(f.app.post(&format!("/plans/{}/run", f.plan), &[]).await.status, 303);
    let runs = settled(&f.app, 11).await;
    let current = runs.iter().find(|r| r.trigger == "manual").expect("the run");
    assert_eq!(current.status, "succeeded", "{current:?}");
    // The primary by the plan's policy (as in the synthetic history test, without the lock);
    // the archive by its own: the run (December, the newest) and November's newest.
    assert_eq!(f.on_disk(), ["dec05", "dec07", "dec08-22h", "nov29"]);
    assert_eq!(files_of(archive.path()), ["nov29"]);
    let key = current.object_key.clone().expect("key");
    assert!(archive.path().join(&key).is_file(), "the archive keeps the run");
    let pruned: Vec<&str> = runs.iter().filter(|r| r.pruned).map(|r| r.id.as_str()).collect();
    assert!(!pruned.contains(&"dec05") && pruned.contains(&"oct01"), "a run goes when no copy holds it: {pruned:?}");

    // The API shows the copy's own retention and takes changes, named by the copy's fields.
    let api = api_client::admin(&f.app).await;
    let path = format!("/api/v1/backup-schedules/{}", f.plan);
    let shown = api.get(&path).await;
    let copy = &shown.json["data"]["copies"][0];
    assert_eq!(copy["destination_id"], archive_id.as_str());
    assert_eq!(
        (copy["retention"]["keep_last"].as_i64(), copy["retention"]["keep_monthly"].as_i64()),
        (Some(1), Some(2))
    );
    let reply = api
        .put(
            &path,
            json!({"copies": [{"destination_id": archive_id, "retention": {"keep_daily": -1, "keep_last": 0}}]}),
        )
        .await;
    assert_eq!(reply.status, 422, "{reply:?}");
    for name in ["copies[0].retention.keep_daily", "copies[0].retention.keep_last"] {
        assert!(reply.json["fields"][name].is_string(), "{name}: {reply:?}");
    }
    let reply =
        api.put(&path, json!({"copies": [{"destination_id": archive_id, "retention": {"keep_yearly": 5}}]})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let copy = &reply.json["data"]["copies"][0];
    assert_eq!(copy["retention"]["keep_yearly"], 5);
    assert_eq!(copy["retention"]["keep_daily"], 3, "the fields left out come from the schedule's retention");
    let reply = api.put(&path, json!({"copies": [{"destination_id": archive_id}]})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.json["data"]["copies"][0]["retention"].is_null(), "without one the copy follows the plan's");

    // The form: a bad tier of the copy and a lock on a local copy, each next to its field.
    let bad = [
        ("copy_1", archive_id.as_str()),
        ("copy_1_own", "1"),
        ("copy_1_retention", "1"),
        ("copy_1_keep_weekly", "many"),
    ];
    let page = f.app.post(&format!("/plans/{}", f.plan), &plan_form(&f.destination, &source, &bad)).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("id=\"f-copy_1_keep_weekly-error\""), "{}", page.body);
    let locked = [
        ("copy_1", archive_id.as_str()),
        ("copy_1_own", "1"),
        ("copy_1_retention", "3"),
        ("copy_1_lock_mode", "governance"),
        ("copy_1_lock_days", "30"),
    ];
    let page = f.app.post(&format!("/plans/{}", f.plan), &plan_form(&f.destination, &source, &locked)).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains("id=\"f-copy_1_lock_mode-error\"") && page.body.contains("cannot lock"),
        "{}",
        page.body
    );
}
