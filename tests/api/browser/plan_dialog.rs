//! "New destination…" on the plan form in a real Chromium: the plan's fields are typed first, the
//! dialog opens on the destination form, its type picker works inside it, a submission with an
//! error stays in the dialog, a good one closes it with the new destination selected, and the plan
//! (with everything typed before) is saved with that destination.

use super::{Browser, Result, TEST_WAIT, WAIT};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend};
use crate::plans::{fixture, plan};
use serde_json::json;

const PLAN_NAME: &str = "Nightly docs";
const SCHEDULE: &str = "15 3 * * *";
const RETENTION: &str = "5";
const DESTINATION: &str = "Inline archive";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_a_destination_from_the_plan_form() {
    let webdriver = std::env::var("DEVPILOT_TEST_WEBDRIVER")
        .expect("DEVPILOT_TEST_WEBDRIVER is not set: run scripts/test, which starts chromedriver");
    let chromium = std::env::var("DEVPILOT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    // An admin and a local destination "Disk", the default the plan form pre-selects.
    let f = fixture(Backend::Sqlite).await;
    let folder = tempfile::tempdir().expect("the new destination's folder");
    f.app.grant_folder(folder.path(), "read_write").await;
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let browser = Browser::start(&webdriver, &chromium, profile.path()).await.unwrap_or_else(|e| panic!("{e}"));

    let typed = Typed { source: f.source_path(), folder: folder.path().to_string_lossy().into_owned() };
    let outcome = run(&browser, &f.app.address, &typed).await;
    // Close the session before any assertion can fail, so no Chromium outlives the test.
    let finished = browser.finish().await;
    let seen = outcome.unwrap_or_else(|e| panic!("{e}"));
    finished.unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(seen.focus_on_open, "dialog-f-name", "the dialog opens with the focus on its first field");
    assert!(seen.form_after_redraw, "the policy panel redrew itself inside the dialog's form, not over it");
    assert!(seen.error.contains("absolute path"), "the error is shown in the dialog: {:?}", seen.error);
    assert!(seen.open_after_error, "a submission with errors leaves the dialog open");
    assert_eq!(seen.kept_after_error, [DESTINATION, "relative/folder"], "typed values stay in the dialog");
    assert_eq!(seen.focus_after_error, "dialog-f-path", "the focus moves to the field with the error");
    assert!(!seen.open_after_save, "the dialog closed");
    assert_eq!(seen.selected, DESTINATION, "the new destination is selected in the plan form");
    assert_eq!(
        seen.plan_fields,
        [PLAN_NAME, typed.source.as_str(), SCHEDULE, RETENTION],
        "the plan form kept its input"
    );
    assert!(seen.notice.contains(&format!("Saved “{DESTINATION}”")), "notice: {:?}", seen.notice);

    let destination = f.app.destination(DESTINATION).await;
    assert_eq!(destination.status, "active");
    let saved = plan(&f.app, PLAN_NAME).await;
    assert_eq!(saved.destination_id.as_deref(), Some(destination.id.as_str()), "the plan uses the new destination");
    assert_eq!((saved.schedule.as_str(), saved.retention), (SCHEDULE, 5));
}

struct Typed {
    source: String,
    folder: String,
}

/// What the browser showed, checked once the session is closed.
struct Seen {
    focus_on_open: String,
    form_after_redraw: bool,
    error: String,
    open_after_error: bool,
    kept_after_error: Vec<String>,
    focus_after_error: String,
    open_after_save: bool,
    selected: String,
    plan_fields: Vec<String>,
    notice: String,
}

async fn run(b: &Browser, base: &str, typed: &Typed) -> Result<Seen> {
    b.goto(&format!("{base}/login")).await?;
    b.type_into("#email", ADMIN_EMAIL).await?;
    b.type_into("#password", ADMIN_PASSWORD).await?;
    b.click(&b.must_find("main form button[type=submit]").await?).await?;
    b.wait_for("the overview after signing in", WAIT, || async {
        Ok(b.current_url().await?.ends_with("/overview").then_some(()))
    })
    .await?;

    b.goto(&format!("{base}/plans/new")).await?;
    b.wait_for("the plan form with htmx loaded", WAIT, || async {
        let ready = b.execute("return !!document.querySelector('#f-name') && !!window.htmx", json!([])).await?;
        Ok(ready.as_bool().unwrap_or(false).then_some(()))
    })
    .await?;
    b.type_into("#f-name", PLAN_NAME).await?;
    b.type_into("#f-source_path", &typed.source).await?;
    b.type_into("#f-schedule", SCHEDULE).await?;
    b.type_into("#f-retention", RETENTION).await?;

    b.click(&b.must_find_xpath("//button[normalize-space()='New destination…']").await?).await?;
    b.wait_for("the open dialog", WAIT, || b.find("dialog#destination-dialog[open] #dialog-f-name")).await?;
    let focus_on_open = active_id(b).await?;
    // The type picker re-renders the dialog's form body.
    pick(b, "s3", "#dialog-f-bucket").await?;
    pick(b, "local", "#dialog-f-path").await?;

    // Typing redraws the least-privilege panel's content (after 400 ms); the form around it must
    // stay, and so must the panel (the delay before its next redraw waits on it).
    b.execute("document.getElementById('dialog-policy').dataset.panel = 'kept'", json!([])).await?;
    b.execute("document.getElementById('dialog-policy-text').dataset.old = '1'", json!([])).await?;
    b.type_into("#dialog-f-name", DESTINATION).await?;
    b.type_into("#dialog-f-path", "relative/folder").await?;
    b.wait_for("the redrawn policy panel", WAIT, || {
        b.find("#dialog-policy[data-panel] #dialog-policy-text:not([data-old])")
    })
    .await?;
    let form_after_redraw = b.find("dialog #dialog-destination-form #dialog-policy").await?.is_some();
    save_destination(b).await?;
    let error = b.wait_for("the error next to the folder", WAIT, || b.find("#dialog-f-path-error")).await?;
    let error = b.text(&error).await?;
    let open_after_error = dialog_open(b).await?;
    let kept_after_error = vec![value(b, "#dialog-f-name").await?, value(b, "#dialog-f-path").await?];
    let focus_after_error = active_id(b).await?;

    b.type_into("#dialog-f-path", &typed.folder).await?;
    save_destination(b).await?;
    b.wait_for("the dialog to close", TEST_WAIT, || async { Ok((!dialog_open(b).await?).then_some(())) }).await?;
    let selected = b
        .execute(
            "var s = document.getElementById('f-destination_id'); return s.options[s.selectedIndex].text",
            json!([]),
        )
        .await?
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut plan_fields = Vec::new();
    for id in ["#f-name", "#f-source_path", "#f-schedule", "#f-retention"] {
        plan_fields.push(value(b, id).await?);
    }
    let notice = b.text(&b.must_find("#notice").await?).await?;

    b.click(&b.must_find_xpath("//button[normalize-space()='Save plan']").await?).await?;
    let listed = format!("//main//*[contains(normalize-space(), '{PLAN_NAME}')]");
    b.wait_for("the plan list with the new plan", WAIT, || async {
        if !b.current_url().await?.ends_with("/plans") {
            return Ok(None);
        }
        b.find_xpath(&listed).await
    })
    .await?;
    Ok(Seen {
        focus_on_open,
        form_after_redraw,
        error,
        open_after_error,
        kept_after_error,
        focus_after_error,
        open_after_save: dialog_open(b).await.unwrap_or(false),
        selected,
        plan_fields,
        notice,
    })
}

/// Chooses a type in the dialog and waits for its re-rendered body (the old one is marked first).
async fn pick(b: &Browser, kind: &str, then_field: &str) -> Result<()> {
    b.execute("document.getElementById('dialog-form-body').dataset.old = '1'", json!([])).await?;
    b.click(&b.must_find(&format!("#dialog-f-type option[value='{kind}']")).await?).await?;
    let fresh = format!("#dialog-form-body:not([data-old]) {then_field}");
    b.wait_for(&format!("{then_field} after picking {kind}"), WAIT, || b.find(&fresh)).await?;
    Ok(())
}

async fn save_destination(b: &Browser) -> Result<()> {
    b.click(&b.must_find_xpath("//dialog//button[normalize-space()='Save destination']").await?).await
}

async fn dialog_open(b: &Browser) -> Result<bool> {
    let open = b.execute("return document.getElementById('destination-dialog').open", json!([])).await?;
    Ok(open.as_bool().unwrap_or(false))
}

async fn value(b: &Browser, css: &str) -> Result<String> {
    let v = b.execute("return document.querySelector(arguments[0]).value", json!([css])).await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

async fn active_id(b: &Browser) -> Result<String> {
    let id = b.execute("return document.activeElement ? document.activeElement.id : ''", json!([])).await?;
    Ok(id.as_str().unwrap_or_default().to_owned())
}
