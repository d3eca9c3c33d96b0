//! The overview, the landing page: each plan with its last run (status, when, size, duration) and
//! its next one, a stale plan marked, destinations failing first with their error, what each
//! destination holds (matching the artifacts on disk) and its growth, the last failures linking
//! to their run, and nothing of another workspace.

use crate::admin_area::tenant_owner;
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::plans::{fixture, plan};
use crate::runs::{fill, settled};
use chrono::{Duration, NaiveDateTime, Utc};
use devpilot::runs::store::RunRow;

on_both_backends!(
    every_plan_shows_its_last_and_next_run,
    a_plan_without_a_recent_success_is_marked_stale,
    a_destination_whose_test_failed_comes_first_with_its_error,
    storage_is_the_sum_of_the_artifacts_held,
    another_workspace_never_appears,
    signing_in_lands_on_the_overview,
    with_more_than_fifty_plans_those_in_need_come_first
);

const MIB: i64 = 1024 * 1024;

/// A run as a plan's history would have recorded it.
struct Run<'a> {
    plan: &'a str,
    destination: &'a str,
    status: &'a str,
    bytes: i64,
    /// When it started, and how long it took (None: still running).
    started: NaiveDateTime,
    took: Option<Duration>,
    error: Option<&'a str>,
    pruned: Option<NaiveDateTime>,
}

impl Run<'_> {
    async fn insert(&self, app: &TestApp, workspace: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let row = RunRow {
            id: id.clone(),
            workspace_id: workspace.to_owned(),
            plan_id: self.plan.to_owned(),
            destination_id: Some(self.destination.to_owned()),
            status: self.status.to_owned(),
            trigger: "schedule".into(),
            started_at: Some(self.started),
            finished_at: self.took.map(|t| self.started + t),
            bytes: self.bytes,
            sha256: None,
            object_key: (self.status == "succeeded").then(|| format!("plans/{}/{id}.tar.zst", self.plan)),
            error: self.error.map(str::to_owned),
            pruned_at: self.pruned,
            expected_bytes: None,
            read_bytes: None,
            created_at: self.started,
            source_kind: Some("directory".into()),
            encrypted: false,
            owner_id: None,
            notes: None,
        };
        app.db().run(move |c| devpilot::runs::store::insert(c, &row)).await.expect("insert a run");
        id
    }
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// Makes a plan look created `days` ago (a plan is stale counting from its creation).
async fn created_days_ago(app: &TestApp, plan: &str, days: i64) {
    let (plan, at) = (plan.to_owned(), now() - Duration::days(days));
    app.db()
        .run(move |c| {
            use devpilot::db::schema::plans::dsl;
            use diesel::prelude::*;
            diesel::update(dsl::plans.filter(dsl::id.eq(plan))).set(dsl::created_at.eq(at)).execute(c)
        })
        .await
        .expect("backdate the plan");
}

/// The id of the plan named `name` in the workspace `workspace`.
async fn plan_in(app: &TestApp, workspace: &str, name: &str) -> String {
    let (ws, name) = (workspace.to_owned(), name.to_owned());
    app.db()
        .run(move |c| {
            use devpilot::db::schema::plans::dsl;
            use diesel::prelude::*;
            dsl::plans.filter(dsl::workspace_id.eq(ws)).filter(dsl::name.eq(name)).select(dsl::id).first(c)
        })
        .await
        .expect("the plan")
}

/// The HTML of the element whose id is `id`, up to its closing `tag`.
fn element<'a>(body: &'a str, id: &str, tag: &str) -> &'a str {
    let start = body.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {body}"));
    let end = body[start..].find(&format!("</{tag}>")).map_or(body.len(), |e| start + e);
    &body[start..end]
}

async fn every_plan_shows_its_last_and_next_run(backend: Backend) {
    let f = fixture(backend).await;
    let ws = f.app.workspace_id("Acme").await;
    let dest = f.destination_id.as_str();
    for name in ["Good", "Broken", "Cut off", "Busy", "Fresh"] {
        assert_eq!(f.save_plan("/plans", name, &[]).await.status, 303);
    }
    let (good, broken, cut, busy, fresh) = (
        plan(&f.app, "Good").await.id,
        plan(&f.app, "Broken").await.id,
        plan(&f.app, "Cut off").await.id,
        plan(&f.app, "Busy").await.id,
        plan(&f.app, "Fresh").await.id,
    );
    let two_hours_ago = now() - Duration::hours(2);
    let run = |plan, status, bytes, took, error| Run {
        plan,
        destination: dest,
        status,
        bytes,
        started: two_hours_ago,
        took,
        error,
        pruned: None,
    };
    // An older failure of "Good": its newest run is what counts.
    let old_run = Run {
        started: two_hours_ago - Duration::days(1),
        ..run(&good, "failed", 0, Some(Duration::seconds(2)), Some("an older failure"))
    }
    .insert(&f.app, &ws)
    .await;
    let good_run = run(&good, "succeeded", 3 * MIB, Some(Duration::seconds(65)), None).insert(&f.app, &ws).await;
    let broken_run =
        run(&broken, "failed", 0, Some(Duration::milliseconds(4200)), Some("the source folder is gone: boom"))
            .insert(&f.app, &ws)
            .await;
    let cut_run =
        run(&cut, "interrupted", 0, Some(Duration::seconds(9)), Some(devpilot::runs::store::INTERRUPTED_MESSAGE))
            .insert(&f.app, &ws)
            .await;
    let busy_run = run(&busy, "running", 512 * 1024, None, None).insert(&f.app, &ws).await;

    let page = f.app.get("/overview").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("href=\"/overview\" class=\"active\""), "the nav marks the overview");

    let row = element(&page.body, &format!("plan-{good}"), "tr");
    assert!(row.contains("Succeeded") && row.contains("2 hours ago"), "{row}");
    assert!(row.contains("3.0 MiB") && row.contains("1 min 5 s"), "{row}");
    assert!(row.contains(&format!("href=\"/plans/{good}#run-{good_run}\"")), "links the run: {row}");
    assert!(row.contains("data-stale=\"false\"") && !row.contains("an older failure"), "{row}");
    let next = row.split("class=\"next-run\"").nth(1).expect("a next-run cell");
    assert!(next.contains(">in "), "an enabled daily plan is due soon: {next}");

    let row = element(&page.body, &format!("plan-{broken}"), "tr");
    assert!(
        row.contains("Failed") && row.contains("the source folder is gone: boom") && row.contains("4.2 s"),
        "{row}"
    );
    let row = element(&page.body, &format!("plan-{cut}"), "tr");
    assert!(row.contains("Interrupted") && row.contains("9.0 s"), "{row}");
    let row = element(&page.body, &format!("plan-{busy}"), "tr");
    assert!(row.contains(&format!("hx-get=\"/runs/{busy_run}/progress\"")), "a running run shows its progress: {row}");
    assert!(row.contains("512.0 KiB"), "bytes so far: {row}");
    let row = element(&page.body, &format!("plan-{fresh}"), "tr");
    assert!(row.contains("never run") && row.contains("data-stale=\"false\""), "{row}");

    // The last failures: newest first, each linking to its run, the success and the running run absent.
    let failures = element(&page.body, "overview-failures", "section");
    let at = |run: &str| failures.find(&format!("failure-{run}")).unwrap_or_else(|| panic!("{run} in {failures}"));
    assert!(at(&broken_run) < at(&old_run) && at(&cut_run) < at(&old_run), "newest first: {failures}");
    assert!(failures.contains(&format!("href=\"/plans/{broken}#run-{broken_run}\"")), "{failures}");
    assert!(failures.contains("the source folder is gone: boom") && failures.contains("an older failure"));
    assert!(!failures.contains(&good_run) && !failures.contains(&busy_run), "{failures}");
}

async fn a_plan_without_a_recent_success_is_marked_stale(backend: Backend) {
    let f = fixture(backend).await;
    let ws = f.app.workspace_id("Acme").await;
    for name in ["Daily stale", "Daily fine", "Never succeeded", "Disabled old"] {
        assert_eq!(f.save_plan("/plans", name, &[]).await.status, 303);
    }
    let path = format!("/plans/{}", plan(&f.app, "Disabled old").await.id);
    assert_eq!(f.save_plan(&path, "Disabled old", &[("enabled", "")]).await.status, 303);
    let (stale, fine, never, off) = (
        plan(&f.app, "Daily stale").await.id,
        plan(&f.app, "Daily fine").await.id,
        plan(&f.app, "Never succeeded").await.id,
        plan(&f.app, "Disabled old").await.id,
    );
    for id in [&stale, &fine, &never, &off] {
        created_days_ago(&f.app, id, 20).await;
    }
    let success = |plan, days_ago: i64| Run {
        plan,
        destination: f.destination_id.as_str(),
        status: "succeeded",
        bytes: MIB,
        started: now() - Duration::days(days_ago),
        took: Some(Duration::seconds(3)),
        error: None,
        pruned: None,
    };
    success(&stale, 5).insert(&f.app, &ws).await;
    // A failure since does not make it fresh again.
    Run { status: "failed", error: Some("nope"), ..success(&stale, 1) }.insert(&f.app, &ws).await;
    success(&fine, 0).insert(&f.app, &ws).await;

    let page = f.app.get("/overview").await;
    let row = element(&page.body, &format!("plan-{stale}"), "tr");
    assert!(row.contains("data-stale=\"true\"") && row.contains("stale-mark"), "five days without a success: {row}");
    assert!(row.contains("No successful backup since"), "{row}");
    let row = element(&page.body, &format!("plan-{never}"), "tr");
    assert!(row.contains("data-stale=\"true\"") && row.contains("Never backed up successfully"), "{row}");
    let row = element(&page.body, &format!("plan-{fine}"), "tr");
    assert!(row.contains("data-stale=\"false\""), "{row}");
    let row = element(&page.body, &format!("plan-{off}"), "tr");
    assert!(row.contains("data-stale=\"false\"") && row.contains("disabled"), "a disabled plan is not expected: {row}");
    assert!(page.body.contains("2 stale"), "the summary counts them");

    // The JSON twin says the same.
    let reply = crate::api_client::admin(&f.app).await.get("/api/v1/overview").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let schedules = reply.json["data"]["schedules"].as_array().expect("schedules").clone();
    let stale_of = |id: &str| {
        let s = schedules.iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("{id} in {schedules:?}"));
        (s["stale"].as_bool().expect("stale"), s["last_run"]["status"].as_str().map(str::to_owned))
    };
    assert_eq!(stale_of(&stale), (true, Some("failed".into())));
    assert_eq!(stale_of(&never), (true, None));
    assert_eq!(stale_of(&fine), (false, Some("succeeded".into())));
    assert_eq!(stale_of(&off), (false, None));
    assert_eq!(crate::api_client::anonymous(&f.app).get("/api/v1/overview").await.status, 401);
}

async fn a_destination_whose_test_failed_comes_first_with_its_error(backend: Backend) {
    let f = fixture(backend).await;
    let folder = f.target_path().join("zulu");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let path = folder.to_string_lossy().into_owned();
    assert_eq!(f.app.create_destination("Zulu", "local", &[("path", &path)]).await.status, 303);
    let zulu = f.app.destination("Zulu").await.id;
    // The folder becomes a file: the next test fails.
    std::fs::remove_dir_all(&folder).expect("rmdir");
    std::fs::write(&folder, b"not a folder").expect("write");
    f.app.post(&format!("/destinations/{zulu}/test"), &[]).await;
    let tested = f.app.destination("Zulu").await;
    assert_eq!(tested.status, "failed", "{tested:?}");
    assert!(!tested.message.is_empty());

    let page = f.app.get("/overview").await;
    let zulu_at = page.body.find(&format!("id=\"overview-dest-{zulu}\"")).expect("Zulu listed");
    let disk_at = page.body.find(&format!("id=\"overview-dest-{}\"", f.destination_id)).expect("Disk listed");
    assert!(zulu_at < disk_at, "the failing destination comes first, though Disk sorts before it by name");
    let card = element(&page.body, &format!("overview-dest-{zulu}"), "li");
    assert!(card.contains("data-status=\"failed\"") && card.contains("dest-error"), "{card}");
    let escaped = tested.message.replace('&', "&#38;").replace('"', "&#34;").replace('\'', "&#39;");
    let first_words: String = tested.message.chars().take(20).collect();
    assert!(card.contains(&tested.message) || card.contains(&escaped) || card.contains(&first_words), "{card}");
    assert!(page.body.contains("1 failing"), "the summary counts it");
    let disk = element(&page.body, &format!("overview-dest-{}", f.destination_id), "li");
    assert!(!disk.contains("dest-error"), "a healthy destination shows no error: {disk}");
}

async fn storage_is_the_sum_of_the_artifacts_held(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    assert_eq!(f.save_plan("/plans", "Files", &[("retention", "2")]).await.status, 303);
    let files = plan(&f.app, "Files").await.id;
    for n in 1..=3 {
        assert_eq!(f.app.post(&format!("/plans/{files}/run"), &[]).await.status, 303);
        let runs = settled(&f.app, n).await;
        assert!(runs.iter().all(|r| r.status == "succeeded"), "{runs:?}");
    }
    // What retention kept on disk, byte for byte.
    let on_disk: u64 = walk(f.target_path()).iter().map(|p| std::fs::metadata(p).expect("stat").len()).sum();
    let kept: Vec<_> = settled(&f.app, 3).await.into_iter().filter(|r| !r.pruned).collect();
    assert_eq!(kept.len(), 2, "retention kept 2");
    let recorded: i64 = kept.iter().map(|r| r.bytes).sum();
    assert_eq!(on_disk, recorded as u64, "the runs recorded what the destination holds");

    let page = f.app.get("/overview").await;
    let card = element(&page.body, &format!("overview-dest-{}", f.destination_id), "li");
    let shown = devpilot::web::format::human_bytes(on_disk);
    assert!(card.contains(&format!("<strong class=\"stored\">{shown}</strong> in 2 backups")), "{shown}: {card}");
    assert!(card.contains(&format!("+{shown} in 30 days")), "it held nothing before today: {card}");
    assert!(card.contains("<svg class=\"storage-chart chart\""), "the growth chart: {card}");
    assert!(card.contains("<title>"), "points have tooltips");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

async fn another_workspace_never_appears(backend: Backend) {
    let f = fixture(backend).await;
    let acme = f.app.workspace_id("Acme").await;
    assert_eq!(f.save_plan("/plans", "Acme nightly", &[]).await.status, 303);
    let acme_plan = plan(&f.app, "Acme nightly").await.id;
    Run {
        plan: &acme_plan,
        destination: &f.destination_id,
        status: "failed",
        bytes: 0,
        started: now() - Duration::hours(2),
        took: Some(Duration::seconds(1)),
        error: Some("acme-only failure"),
        pruned: None,
    }
    .insert(&f.app, &acme)
    .await;

    let mallory = tenant_owner(&f.app, "Mallory", "mallory@example.com", "mallory password 1", "Mallory").await;
    let theirs = tempfile::tempdir().expect("dir");
    f.app.grant_folder_to("Mallory", theirs.path(), "read_write").await;
    let path = theirs.path().to_string_lossy().into_owned();
    let form = [("name", "Mallory disk"), ("type", "local"), ("config.path", path.as_str())];
    assert_eq!(f.app.post_with(&mallory, "/destinations", &form).await.status, 303);
    let mallory_ws = f.app.workspace_id("Mallory").await;
    let mallory_dest = f.app.destination_rows().await.into_iter().find(|d| d.name == "Mallory disk").expect("hers").id;
    let source = tempfile::tempdir().expect("dir");
    f.app.grant_folder_to("Mallory", source.path(), "read").await;
    let source_path = source.path().to_string_lossy().into_owned();
    let plan_form = [
        ("name", "Mallory nightly"),
        ("source_kind", "directory"),
        ("source_path", source_path.as_str()),
        ("destination_id", mallory_dest.as_str()),
        ("schedule", "0 3 * * *"),
        ("retention", "3"),
        ("enabled", "on"),
    ];
    assert_eq!(f.app.post_with(&mallory, "/plans", &plan_form).await.status, 303);
    let mallory_plan = plan_in(&f.app, &mallory_ws, "Mallory nightly").await;
    for (status, error) in [("succeeded", None), ("failed", Some("mallory-only failure"))] {
        Run {
            plan: &mallory_plan,
            destination: &mallory_dest,
            status,
            bytes: 7 * MIB,
            started: now() - Duration::hours(3),
            took: Some(Duration::seconds(1)),
            error,
            pruned: None,
        }
        .insert(&f.app, &mallory_ws)
        .await;
    }

    let ours = f.app.get("/overview").await.body;
    for theirs in ["Mallory disk", "Mallory nightly", "mallory-only failure", &mallory_plan, &mallory_dest, "7.0 MiB"] {
        assert!(!ours.contains(theirs), "Acme's overview shows {theirs}");
    }
    assert!(ours.contains("Acme nightly") && ours.contains("acme-only failure"));
    let hers = f.app.get_with(&mallory, "/overview").await.body;
    for ours in ["Acme nightly", "acme-only failure", "Disk", &acme_plan, &f.destination_id] {
        assert!(!hers.contains(ours), "Mallory's overview shows {ours}");
    }
    assert!(hers.contains("Mallory nightly") && hers.contains("mallory-only failure") && hers.contains("7.0 MiB"));
}

async fn signing_in_lands_on_the_overview(backend: Backend) {
    let f = fixture(backend).await;
    assert_eq!(f.app.get("/").await.location.as_deref(), Some("/overview"));
    let empty = crate::helpers::new_client();
    assert_eq!(f.app.get_with(&empty, "/overview").await.location.as_deref(), Some("/login"));
    let page = f.app.get("/overview").await;
    assert!(page.body.contains("No plans yet") && page.body.contains("No failed or interrupted runs"), "{}", page.body);
    assert!(page.body.contains("id=\"theme-choice\""), "the theme switch is in the layout");
}

/// A workspace of many plans gets the fifty that most need attention (stale, then failed), the
/// counts over all of them, and the way to the full list.
async fn with_more_than_fifty_plans_those_in_need_come_first(backend: Backend) {
    let f = fixture(backend).await;
    let ws = f.app.workspace_id("Acme").await;
    for n in 0..55 {
        assert_eq!(f.save_plan("/plans", &format!("Plan {n:02}"), &[]).await.status, 303, "plan {n}");
    }
    let (stale, failed) = (plan(&f.app, "Plan 53").await.id, plan(&f.app, "Plan 54").await.id);
    created_days_ago(&f.app, &stale, 20).await;
    Run {
        plan: &failed,
        destination: f.destination_id.as_str(),
        status: "failed",
        bytes: 0,
        started: now() - Duration::minutes(5),
        took: Some(Duration::seconds(1)),
        error: Some("boom"),
        pruned: None,
    }
    .insert(&f.app, &ws)
    .await;

    let page = f.app.get("/overview").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let rows: Vec<&str> = page.body.split("<tr id=\"plan-").skip(1).map(|r| &r[..r.find('"').unwrap_or(0)]).collect();
    assert_eq!(rows.len(), 50, "fifty rows, not 55");
    assert_eq!(rows[..2], [stale.as_str(), failed.as_str()], "the stale plan, then the failed one");
    let first_fine = plan(&f.app, "Plan 00").await.id;
    assert_eq!(rows[2], first_fine, "then the rest by name");
    assert!(page.body.contains("55 plans, <strong class=\"stale-count\">1 stale"), "counts over all: {}", page.body);
    assert!(page.body.contains("The 50 of 55 plans that most need attention"), "{}", page.body);
    assert!(page.body.contains("<a href=\"/plans\">All plans</a>"));
    // The JSON twin lists every schedule, each with its newest run.
    let reply = crate::api_client::admin(&f.app).await.get("/api/v1/overview").await;
    let schedules = reply.json["data"]["schedules"].as_array().expect("schedules").clone();
    assert_eq!(schedules.len(), 55);
    let of_failed = schedules.iter().find(|s| s["id"] == failed.as_str()).expect("the failed plan");
    assert_eq!(of_failed["last_run"]["status"], "failed");
}
