//! The Databases pages in a real Chromium, on a throwaway cluster saved and backed up through the
//! pages: the list, the form (its "Check" answered in place), the database's page with its window
//! bar, and the edit form log nothing to the console (no script error, no Content-Security-Policy
//! violation) at a desktop width and at a phone's 390 px, where the bar and the times at its ends
//! still fit; "Back up now" shows the new base backup finish without a reload (the page polls).

use super::quiet_pages::{open, split_words};
use super::{Browser, Result, TEST_WAIT, WAIT};
use crate::databases_pages::{back_up_and_draw_the_window, protect};
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
    back_up_and_draw_the_window(&f.app, &id).await;
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let browser = Browser::start(&webdriver, &chromium, profile.path()).await.unwrap_or_else(|e| panic!("{e}"));

    let outcome = visit(&browser, &f.app.address, &id, &cluster.url()).await;
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
}

struct Seen {
    broken: Vec<String>,
    /// The steps "Check" put beside the URL.
    checked: String,
    /// For each window width drawn (`innerWidth`): the bar and both times at its ends are inside it.
    bar_fits: Vec<(u64, bool)>,
}

async fn visit(b: &Browser, base: &str, id: &str, url: &str) -> Result<Seen> {
    b.goto(&format!("{base}/login")).await?;
    b.type_into("#email", ADMIN_EMAIL).await?;
    b.type_into("#password", ADMIN_PASSWORD).await?;
    b.click(&b.must_find("main form button[type=submit]").await?).await?;
    b.wait_for("signed in", WAIT, || async { Ok(b.current_url().await?.ends_with("/destinations").then_some(())) })
        .await?;

    let mut broken = Vec::new();
    let mut bar_fits = Vec::new();
    for width in [1280, 390] {
        b.command(reqwest::Method::POST, "/window/rect", json!({ "width": width, "height": 900 })).await?;
        for path in [
            "/databases".to_owned(),
            "/databases/new".to_owned(),
            format!("/databases/{id}/edit"),
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
    Ok(Seen { broken, checked, bar_fits })
}
