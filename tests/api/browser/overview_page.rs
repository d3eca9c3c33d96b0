//! The overview in a real Chromium: signing in lands there; at a desktop width and on a 390-pixel
//! phone, in the light and the dark theme chosen with the header's switch, nothing scrolls
//! sideways; the choice survives a reload and "System" follows the system setting; the charts
//! have a tooltip per point. Leaves a screenshot (`target/screenshots/overview.png`; with
//! `DEVPILOT_UPDATE_SCREENSHOT=1`, the README's `docs/overview.png`).

use super::quiet_pages::open;
use super::{Browser, Result, WAIT};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp};
use crate::plans::{Fixture, fixture, plan};
use chrono::{Duration, Utc};
use devpilot::runs::store::RunRow;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_fits_a_phone_and_a_desktop_in_both_themes() {
    let webdriver = std::env::var("DEVPILOT_TEST_WEBDRIVER")
        .expect("DEVPILOT_TEST_WEBDRIVER is not set: run scripts/test, which starts chromedriver");
    let chromium = std::env::var("DEVPILOT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let f = fixture(Backend::Sqlite).await;
    let stale_plan = workspace_with_history(&f).await;
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let browser = Browser::start(&webdriver, &chromium, profile.path()).await.unwrap_or_else(|e| panic!("{e}"));

    let outcome = visit(&browser, &f.app.address).await;
    let finished = browser.finish().await;
    let seen = outcome.unwrap_or_else(|e| panic!("{e}"));
    finished.unwrap_or_else(|e| panic!("{e}"));

    for view in &seen.views {
        assert!(view.scroll_width <= view.client_width, "scrolls sideways: {view:?}");
    }
    let phone = seen.views.iter().filter(|v| v.inner_width <= 390).count();
    assert_eq!(phone, 2, "two views at phone width: {:?}", seen.views);
    let themes: Vec<&str> = seen.views.iter().map(|v| v.theme.as_str()).collect();
    assert_eq!(themes, ["light", "light", "dark", "dark"], "{:?}", seen.views);
    let (light, dark) = (&seen.views[0].background, &seen.views[2].background);
    assert_ne!(light, dark, "the switch changes the colours");
    assert!(seen.views.iter().all(|v| v.stale_marks == 1), "the stale plan is marked: {:?}", seen.views);
    assert_eq!(seen.after_reload, "dark", "the choice survives a reload");
    assert_eq!(seen.system_dark_background, *dark, "System follows a dark system setting");
    assert!(seen.tooltips >= 10, "every point has a title: {}", seen.tooltips);
    assert!(seen.stale_plan_shown.contains(&stale_plan), "{}", seen.stale_plan_shown);
    assert!(seen.screenshot_bytes > 1000, "screenshot of {} bytes", seen.screenshot_bytes);
}

#[derive(Debug)]
struct View {
    theme: String,
    inner_width: u64,
    scroll_width: u64,
    client_width: u64,
    background: String,
    stale_marks: u64,
}

struct Seen {
    views: Vec<View>,
    after_reload: String,
    system_dark_background: String,
    tooltips: u64,
    stale_plan_shown: String,
    screenshot_bytes: usize,
}

/// Two weeks of nightly backups growing on "Disk", a plan gone stale, a failing destination with
/// a long error, a failed run: what a workspace looks like after a while. Returns the stale
/// plan's id.
async fn workspace_with_history(f: &Fixture) -> String {
    let app = &f.app;
    let ws = app.workspace_id("Acme").await;
    for name in ["Nightly files", "Customer database", "Reports archive (weekly)"] {
        let schedule = if name.contains("weekly") { "0 4 * * 0" } else { "0 2 * * *" };
        assert_eq!(f.save_plan("/plans", name, &[("schedule", schedule)]).await.status, 303);
    }
    let (nightly, database, reports) = (
        plan(app, "Nightly files").await.id,
        plan(app, "Customer database").await.id,
        plan(app, "Reports archive (weekly)").await.id,
    );
    let now = Utc::now().naive_utc();
    backdate(app, &database, now - Duration::days(20)).await;
    for day in (0..14).rev() {
        let at = now - Duration::days(day) - Duration::hours(2);
        let bytes = (180 + (13 - day) * 9) * 1024 * 1024;
        // Retention keeps a week: older backups were deleted a week after they were written.
        let pruned = (day >= 7).then(|| at + Duration::days(7));
        insert(app, &ws, &nightly, &f.destination_id, "succeeded", bytes, at, None, pruned).await;
    }
    let six_days_ago = now - Duration::days(6);
    insert(app, &ws, &database, &f.destination_id, "succeeded", 42 * 1024 * 1024, six_days_ago, None, None).await;
    let error = "pg_dump: error: connection to server at \"db.internal\" (10.0.0.12), port 5432 failed: FATAL: \
                 password authentication failed for user \"backup\"";
    insert(app, &ws, &database, &f.destination_id, "failed", 0, now - Duration::days(1), Some(error), None).await;
    insert(app, &ws, &reports, &f.destination_id, "succeeded", 1_300_000, now - Duration::days(2), None, None).await;

    let folder = f.target_path().join("offsite-mirror-with-a-rather-long-name");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let path = folder.to_string_lossy().into_owned();
    assert_eq!(app.create_destination("Offsite mirror", "local", &[("path", &path)]).await.status, 303);
    let offsite = app.destination("Offsite mirror").await.id;
    std::fs::remove_dir_all(&folder).expect("rmdir");
    std::fs::write(&folder, b"not a folder").expect("write");
    app.post(&format!("/destinations/{offsite}/test"), &[]).await;
    database
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    app: &TestApp,
    workspace: &str,
    plan: &str,
    destination: &str,
    status: &str,
    bytes: i64,
    at: chrono::NaiveDateTime,
    error: Option<&str>,
    pruned: Option<chrono::NaiveDateTime>,
) {
    let id = uuid::Uuid::new_v4().to_string();
    let row = RunRow {
        object_key: (status == "succeeded").then(|| format!("{plan}/{id}.tar.zst")),
        id,
        workspace_id: workspace.to_owned(),
        plan_id: plan.to_owned(),
        destination_id: Some(destination.to_owned()),
        status: status.to_owned(),
        trigger: "schedule".into(),
        started_at: Some(at),
        finished_at: Some(at + Duration::seconds(bytes / (40 * 1024 * 1024) + 3)),
        bytes,
        sha256: None,
        error: error.map(str::to_owned),
        pruned_at: pruned,
        expected_bytes: None,
        read_bytes: None,
        created_at: at,
        source_kind: Some("directory".into()),
        encrypted: false,
        owner_id: None,
        notes: None,
    };
    app.db().run(move |c| devpilot::runs::store::insert(c, &row)).await.expect("insert a run");
}

async fn backdate(app: &TestApp, plan: &str, at: chrono::NaiveDateTime) {
    let plan = plan.to_owned();
    app.db()
        .run(move |c| {
            use devpilot::db::schema::plans::dsl;
            use diesel::prelude::*;
            diesel::update(dsl::plans.filter(dsl::id.eq(plan))).set(dsl::created_at.eq(at)).execute(c)
        })
        .await
        .expect("backdate");
}

/// Writes a screenshot under `target/screenshots/`, or the README's copy in `docs/` when it is
/// the README's and `DEVPILOT_UPDATE_SCREENSHOT` is set.
fn save(name: &str, png: &[u8], for_readme: bool) -> Result<()> {
    let update = for_readme && std::env::var_os("DEVPILOT_UPDATE_SCREENSHOT").is_some();
    let folder = if update { "docs" } else { "target/screenshots" };
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(folder).join(name);
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).map_err(|e| format!("{folder}/: {e}"))?;
    std::fs::write(&path, png).map_err(|e| format!("writing {}: {e}", path.display()))
}

async fn cdp(b: &Browser, cmd: &str, params: Value) -> Result<Value> {
    b.command(Method::POST, "/goog/cdp/execute", json!({ "cmd": cmd, "params": params })).await
}

async fn choose_theme(b: &Browser, theme: &str) -> Result<()> {
    b.click(&b.must_find(&format!("#theme-choice option[value='{theme}']")).await?).await?;
    b.wait_for(&format!("the {theme} theme"), WAIT, || async {
        let set = b.execute("return document.documentElement.dataset.theme || 'system'", json!([])).await?;
        Ok((set.as_str() == Some(theme)).then_some(()))
    })
    .await
}

async fn view(b: &Browser) -> Result<View> {
    let v = b
        .execute(
            "const e = document.documentElement; return [document.documentElement.dataset.theme || 'system', \
             window.innerWidth, e.scrollWidth, e.clientWidth, getComputedStyle(document.body).backgroundColor, \
             document.querySelectorAll('tr.plan .stale-mark').length]",
            json!([]),
        )
        .await?;
    Ok(View {
        theme: v[0].as_str().unwrap_or_default().to_owned(),
        inner_width: v[1].as_u64().unwrap_or(0),
        scroll_width: v[2].as_u64().unwrap_or(u64::MAX),
        client_width: v[3].as_u64().unwrap_or(0),
        background: v[4].as_str().unwrap_or_default().to_owned(),
        stale_marks: v[5].as_u64().unwrap_or(0),
    })
}

async fn visit(b: &Browser, base: &str) -> Result<Seen> {
    b.goto(&format!("{base}/login")).await?;
    b.type_into("#email", ADMIN_EMAIL).await?;
    b.type_into("#password", ADMIN_PASSWORD).await?;
    b.click(&b.must_find("main form button[type=submit]").await?).await?;
    b.wait_for("the overview after signing in", WAIT, || async {
        Ok(b.current_url().await?.ends_with("/overview").then_some(()))
    })
    .await?;
    open(b, &format!("{base}/overview")).await?;
    cdp(b, "Emulation.setEmulatedMedia", json!({ "features": [{ "name": "prefers-color-scheme", "value": "light" }] }))
        .await?;

    let mut views = Vec::new();
    let mut screenshot = Vec::new();
    for theme in ["light", "dark"] {
        choose_theme(b, theme).await?;
        cdp(b, "Emulation.clearDeviceMetricsOverride", json!({})).await?;
        views.push(view(b).await?);
        if theme == "light" {
            screenshot = b.full_page_screenshot().await?;
        }
        let phone = json!({ "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true });
        cdp(b, "Emulation.setDeviceMetricsOverride", phone).await?;
        open(b, &format!("{base}/overview")).await?;
        views.push(view(b).await?);
        let shot = b.command(Method::GET, "/screenshot", Value::Null).await?;
        let png = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, shot.as_str().unwrap_or_default())
            .map_err(|e| format!("screenshot is not base64: {e}"))?;
        save(&format!("overview-phone-{theme}.png"), &png, false)?;
        cdp(b, "Emulation.clearDeviceMetricsOverride", json!({})).await?;
    }
    // Dark was chosen last: a reload keeps it (applied before the page is drawn).
    open(b, &format!("{base}/overview")).await?;
    let after_reload = b.execute("return document.documentElement.dataset.theme || 'system'", json!([])).await?;
    // Other pages in the dark theme, for a look (target/screenshots/ only): a plan's size chart
    // and the destination list.
    let plan_page = b.execute("return document.querySelector('tr.plan a').getAttribute('href')", json!([])).await?;
    for (path, name) in
        [(plan_page.as_str().unwrap_or("/plans"), "plan-dark.png"), ("/destinations", "destinations-dark.png")]
    {
        open(b, &format!("{base}{path}")).await?;
        save(name, &b.full_page_screenshot().await?, false)?;
    }
    open(b, &format!("{base}/overview")).await?;
    // "System" with a dark system setting looks like the dark choice.
    choose_theme(b, "system").await?;
    cdp(b, "Emulation.setEmulatedMedia", json!({ "features": [{ "name": "prefers-color-scheme", "value": "dark" }] }))
        .await?;
    let system_dark = b.execute("return getComputedStyle(document.body).backgroundColor", json!([])).await?;
    let tooltips = b.execute("return document.querySelectorAll('svg.chart .point > title').length", json!([])).await?;
    let stale = b
        .execute(
            "return [...document.querySelectorAll('tr.plan[data-stale=true]')].map(r => r.id).join(' ')",
            json!([]),
        )
        .await?;

    save("overview.png", &screenshot, true)?;
    Ok(Seen {
        views,
        after_reload: after_reload.as_str().unwrap_or_default().to_owned(),
        system_dark_background: system_dark.as_str().unwrap_or_default().to_owned(),
        tooltips: tooltips.as_u64().unwrap_or(0),
        stale_plan_shown: stale.as_str().unwrap_or_default().to_owned(),
        screenshot_bytes: screenshot.len(),
    })
}
