//! The Databases pages in a real Chromium, on a throwaway cluster saved and backed up through the
//! pages: the list, the form (its "Check" answered in place), the database's page with its window
//! bar and its restore and dump forms, a base backup's "Restore as a clone" form, and the edit
//! form log nothing to the console (no script error, no Content-Security-Policy violation) at a
//! desktop width and at a phone's 390 px, where the bar, the times at its ends and the forms still
//! fit; a dump uploaded with "Upload and load" is loaded and its outcome shown in place (htmx sends
//! the file as a form, with the CSRF token as the header); "Back up now" shows the new base backup
//! finish without a reload (the page polls).

use super::quiet_pages::{open, split_words};
use super::{Browser, Result, TEST_WAIT, WAIT};
use crate::databases_pages::{back_up_and_draw_the_window, protect, text_after};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend};
use crate::pitr_clusters::{Cluster, ClusterOptions};
use crate::plans::fixture;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_pages_are_quiet_and_fit_a_phone() {
    let webdriver = std::env::var("DEVPILOT_TEST_WEBDRIVER")
        .expect("DEVPILOT_TEST_WEBDRIVER is not set: run scripts/test, which starts chromedriver");
    let chromium = std::env::var("DEVPILOT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let f = fixture(Backend::Sqlite).await;
    let cluster = Cluster::start(ClusterOptions::default());
    let id = protect(&f, &cluster).await;
    let page = back_up_and_draw_the_window(&f.app, &id).await;
    let backup = text_after(&page, "<tr id=\"base-").split('"').next().unwrap_or_default().to_owned();
    let folder = tempfile::tempdir().expect("folder");
    let dump = folder.path().join("fruit.sql");
    std::fs::write(&dump, "CREATE TABLE fruit (name text);\nINSERT INTO fruit VALUES ('apple'), ('pear');\n")
        .expect("dump");
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let browser = Browser::start(&webdriver, &chromium, profile.path()).await.unwrap_or_else(|e| panic!("{e}"));

    let outcome = visit(&browser, &f.app.address, &id, &backup, &cluster.url(), &dump.to_string_lossy()).await;
    let finished = browser.finish().await;
    let seen = outcome.unwrap_or_else(|e| panic!("{e}"));
    finished.unwrap_or_else(|e| panic!("{e}"));
    assert!(seen.broken.is_empty(), "words split across lines: {:#?}", seen.broken);
    assert!(
        seen.checked.contains("wal_level") && seen.checked.contains("Ready for point-in-time recovery"),
        "{}",
        seen.checked
    );
    let widths: Vec<u64> = seen.bar_fits.iter().map(|(width, _)| *width).collect();
    assert!(
        widths.len() == 2 && widths[0] > 1000 && widths[1] <= 400,
        "drawn at a desktop's and a phone's width: {widths:?}"
    );
    for (width, fits) in &seen.bar_fits {
        assert!(fits, "the window bar or its times overflow a {width} px window");
    }
    for (width, overflowing) in &seen.forms_overflow {
        assert!(overflowing.is_empty(), "at {width} px these overflow the window: {overflowing:?}");
    }
    assert!(
        seen.uploaded.contains("“fruit.sql”: Loaded a SQL dump (psql) into the new database “from_browser”."),
        "{}",
        seen.uploaded
    );
    assert_eq!(cluster.psql_in("from_browser", "SELECT count(*) FROM fruit"), "2");
}

struct Seen {
    broken: Vec<String>,
    /// The steps "Check" put beside the URL.
    checked: String,
    /// For each window width drawn (`innerWidth`): the bar and both times at its ends are inside it.
    bar_fits: Vec<(u64, bool)>,
    /// For each width: the restore and dump panels and fields that reach past the window.
    forms_overflow: Vec<(u64, Vec<String>)>,
    /// What "Upload and load" showed.
    uploaded: String,
}

/// The page's forms and their fields that reach past the window's right edge.
const FORMS_OVERFLOW: &str = "const parts = ['#restore', '#in-place', '#dumps', '#restore form input', \
    '#in-place form input', '#dumps form input', '#dumps form button', '#in-place form button']; \
    return [window.innerWidth, parts.flatMap(s => [...document.querySelectorAll(s)].map((el, i) => [s + ' ' + i, el])) \
      .filter(([, el]) => el.type !== 'hidden' && el.getBoundingClientRect().right > window.innerWidth) \
      .map(([name]) => name)];";

async fn visit(b: &Browser, base: &str, id: &str, backup: &str, url: &str, dump: &str) -> Result<Seen> {
    b.goto(&format!("{base}/login")).await?;
    b.type_into("#email", ADMIN_EMAIL).await?;
    b.type_into("#password", ADMIN_PASSWORD).await?;
    b.click(&b.must_find("main form button[type=submit]").await?).await?;
    b.wait_for("signed in", WAIT, || async { Ok(b.current_url().await?.ends_with("/overview").then_some(())) }).await?;

    let mut broken = Vec::new();
    let mut bar_fits = Vec::new();
    let mut forms_overflow = Vec::new();
    for width in [1280, 390] {
        b.command(reqwest::Method::POST, "/window/rect", json!({ "width": width, "height": 900 })).await?;
        for path in [
            "/databases".to_owned(),
            "/databases/new".to_owned(),
            format!("/databases/{id}/edit"),
            format!("/databases/{id}/restore?backup={backup}"),
            format!("/databases/{id}"),
        ] {
            open(b, &format!("{base}{path}")).await?;
            broken.extend(split_words(b).await?.into_iter().map(|w| format!("{path} at {width}px: {w}")));
        }
        let fits = b
            .execute(
                "const inside = el => el && el.getBoundingClientRect().width > 0 && \
                   el.getBoundingClientRect().left >= 0 && el.getBoundingClientRect().right <= window.innerWidth; \
                 return [window.innerWidth, \
                   ['.window-bar', '.window-start', '.window-end'].every(s => inside(document.querySelector(s)))];",
                json!([]),
            )
            .await?;
        bar_fits.push((fits[0].as_u64().unwrap_or(0), fits[1].as_bool().unwrap_or(false)));
        let overflow = b.execute(FORMS_OVERFLOW, json!([])).await?;
        let names = overflow[1].as_array().into_iter().flatten().filter_map(|n| n.as_str().map(str::to_owned));
        forms_overflow.push((overflow[0].as_u64().unwrap_or(0), names.collect()));
    }

    // "Check" answers beside the URL, in place, without saving.
    b.command(reqwest::Method::POST, "/window/rect", json!({ "width": 1280, "height": 900 })).await?;
    open(b, &format!("{base}/databases/new")).await?;
    b.type_into("#f-url", url).await?;
    b.click(&b.must_find_xpath("//button[normalize-space()='Check']").await?).await?;
    let checked = b
        .wait_for("the steps beside the URL", TEST_WAIT, || async {
            match b.find("#f-url-checks .pitr-step").await? {
                Some(_) => Ok(Some(b.text(&b.must_find("#f-url-checks").await?).await?)),
                None => Ok(None),
            }
        })
        .await?;

    // "Upload and load": the file goes as a form and the section answers in place.
    open(b, &format!("{base}/databases/{id}")).await?;
    let file = b.must_find("#f-upload-file").await?;
    b.command(reqwest::Method::POST, &format!("/element/{}/value", file.0), json!({ "text": dump })).await?;
    b.type_into("#f-upload-database", "from_browser").await?;
    b.click(&b.must_find_xpath("//button[normalize-space()='Upload and load']").await?).await?;
    let uploaded = b
        .wait_for("the upload's outcome", TEST_WAIT, || async {
            match b.find("#upload-outcome").await? {
                Some(outcome) => Ok(Some(b.text(&outcome).await?)),
                None => Ok(None),
            }
        })
        .await?;

    // "Back up now": the page follows the base backup until it has finished, without a reload.
    open(b, &format!("{base}/databases/{id}")).await?;
    b.click(&b.must_find_xpath("//button[normalize-space()='Back up now']").await?).await?;
    b.wait_for("the page after Back up now", WAIT, || async {
        Ok(b.find("#database-live[hx-trigger]").await?.map(|_| ()))
    })
    .await?;
    b.execute("document.body.dataset.before = 'reload'", json!([])).await?;
    b.wait_for("two finished base backups", Duration::from_secs(120), || async {
        let done = b
            .execute(
                "return document.body.dataset.before === 'reload' && \
                 [...document.querySelectorAll('.base-status')].filter(s => s.textContent === 'succeeded').length",
                json!([]),
            )
            .await?;
        Ok((done.as_u64() == Some(2)).then_some(()))
    })
    .await?;
    Ok(Seen { broken, checked, bar_fits, forms_overflow, uploaded })
}
