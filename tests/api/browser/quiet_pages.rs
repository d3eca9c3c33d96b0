//! Every page an operator reaches from the navigation, and the destination form with each type,
//! in a real Chromium: none logs a problem to the console (a script error, a Content-Security-
//! Policy violation, a failed load such as a missing favicon; checked by `Browser::finish`), and
//! no hint breaks a word that fits on its line, in a wide window and in a narrow one.

use super::{Browser, Result, WAIT};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend};
use crate::plans::fixture;
use serde_json::json;

/// The pages of the navigation and the admin area (`{dest}`: a destination's id).
const PAGES: &[&str] = &[
    "/overview",
    "/destinations",
    "/destinations/{dest}",
    "/destinations/{dest}/edit",
    "/plans",
    "/plans/new",
    "/databases",
    "/databases/new",
    "/runs",
    "/servers",
    "/servers/new",
    "/members",
    "/workspaces",
    "/settings/api",
    "/api",
    "/audit",
    "/account",
    "/admin/accounts",
    "/admin/workspaces",
    "/admin/grants",
    "/admin/settings",
];

/// Text that reads as hints and notes: a word of it that fits on a line must not be split.
const HINTS: &str = ".sub, .help, .muted, .test-result, .lead, td";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_quiet_and_breaks_words_whole() {
    let webdriver = std::env::var("DEVPILOT_TEST_WEBDRIVER")
        .expect("DEVPILOT_TEST_WEBDRIVER is not set: run scripts/test, which starts chromedriver");
    let chromium = std::env::var("DEVPILOT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    // An operator's workspace with a local destination in a granted folder and one in its own.
    let f = fixture(Backend::Sqlite).await;
    assert_eq!(f.app.create_destination("Workspace folder archive", "local", &[]).await.status, 303);
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let browser = Browser::start(&webdriver, &chromium, profile.path()).await.unwrap_or_else(|e| panic!("{e}"));

    let outcome = visit(&browser, &f.app.address, &f.destination_id).await;
    let finished = browser.finish().await;
    let broken = outcome.unwrap_or_else(|e| panic!("{e}"));
    finished.unwrap_or_else(|e| panic!("{e}"));
    assert!(broken.is_empty(), "words split across lines: {broken:#?}");
}

/// Visits every page at two widths; returns the words split across lines, with where.
async fn visit(b: &Browser, base: &str, destination: &str) -> Result<Vec<String>> {
    b.goto(&format!("{base}/login")).await?;
    b.type_into("#email", ADMIN_EMAIL).await?;
    b.type_into("#password", ADMIN_PASSWORD).await?;
    b.click(&b.must_find("main form button[type=submit]").await?).await?;
    b.wait_for("the overview after signing in", WAIT, || async {
        Ok(b.current_url().await?.ends_with("/overview").then_some(()))
    })
    .await?;

    let mut broken = Vec::new();
    for width in [1280, 760] {
        b.command(reqwest::Method::POST, "/window/rect", json!({ "width": width, "height": 900 })).await?;
        for page in PAGES {
            let path = page.replace("{dest}", destination);
            open(b, &format!("{base}{path}")).await?;
            broken.extend(split_words(b).await?.into_iter().map(|w| format!("{path} at {width}px: {w}")));
        }
    }
    every_destination_type(b, base).await?;
    Ok(broken)
}

/// Loads a page and waits for its scripts.
pub(super) async fn open(b: &Browser, url: &str) -> Result<()> {
    b.goto(url).await?;
    b.wait_for(&format!("{url} with htmx loaded"), WAIT, || async {
        let ready = b.execute("return document.readyState === 'complete' && !!window.htmx", json!([])).await?;
        Ok(ready.as_bool().unwrap_or(false).then_some(()))
    })
    .await
}

/// Picks each type on the new-destination form (its fields, help and least-privilege panel).
async fn every_destination_type(b: &Browser, base: &str) -> Result<()> {
    open(b, &format!("{base}/destinations/new")).await?;
    let kinds =
        b.execute("return [...document.querySelectorAll('#f-type option')].map(o => o.value)", json!([])).await?;
    // The first is already chosen: picking it again fires no change.
    for kind in kinds.as_array().into_iter().flatten().skip(1).filter_map(|k| k.as_str()) {
        b.execute("document.getElementById('form-body').dataset.old = '1'", json!([])).await?;
        b.click(&b.must_find(&format!("#f-type option[value='{kind}']")).await?).await?;
        let fresh = format!("#form-body:not([data-old]) #f-type option[value='{kind}']:checked");
        b.wait_for(&format!("the {kind} fields"), WAIT, || b.find(&fresh)).await?;
    }
    Ok(())
}

/// Words of the hints that fit on a line yet are drawn on two.
pub(super) async fn split_words(b: &Browser) -> Result<Vec<String>> {
    let script = r#"
        const split = [];
        for (const el of document.querySelectorAll(arguments[0])) {
            const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
                const node = walker.currentNode;
                // A hyphen is a place to break a line like a space (X-Forwarded-, For).
                for (const m of node.data.matchAll(/[^\s-]+-?/g)) {
                    const range = document.createRange();
                    range.setStart(node, m.index);
                    range.setEnd(node, m.index + m[0].length);
                    const rects = [...range.getClientRects()].filter(r => r.width > 0);
                    const lines = new Set(rects.map(r => Math.round(r.top)));
                    const width = rects.reduce((sum, r) => sum + r.width, 0);
                    if (lines.size > 1 && width <= el.clientWidth) split.push(m[0]);
                }
            }
        }
        return [...new Set(split)];
    "#;
    let words = b.execute(script, json!([HINTS])).await?;
    Ok(words.as_array().into_iter().flatten().filter_map(|w| w.as_str().map(str::to_owned)).collect())
}
