//! "New destination…" on the plan form: the destination form as a dialog (its own ids, posting
//! into the dialog), errors re-rendered inside it, a save answering with the plan's destination
//! options (the new one selected) and the event that closes the dialog, a failed test keeping
//! it open on the saved destination; viewers and requests without a CSRF token change nothing.

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::plans::fixture;
use crate::provider_sftp::viewer;

on_both_backends!(
    the_plan_form_opens_the_destination_form_in_a_dialog,
    a_bad_dialog_submission_stays_in_the_dialog,
    a_saved_destination_is_selected_in_the_plan_form,
    a_failed_test_keeps_the_dialog_open_on_the_saved_destination,
    viewers_and_forged_requests_cannot_create_from_the_dialog
);

/// An htmx request's answer, headers included.
struct Answer {
    status: u16,
    trigger: Option<String>,
    retarget: Option<String>,
    body: String,
}

/// POSTs `fields` (plus `dialog=1`) as htmx does from the dialog: CSRF in the header.
async fn dialog_post(app: &TestApp, client: &reqwest::Client, path: &str, fields: &[(&str, &str)]) -> Answer {
    let token = app.csrf(client).await;
    let mut form = fields.to_vec();
    form.push(("dialog", "1"));
    let request = client.post(app.url(path)).header("HX-Request", "true").header("X-CSRF-Token", token);
    answer(request.form(&form).send().await.expect("POST")).await
}

async fn answer(response: reqwest::Response) -> Answer {
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (trigger, retarget) = (header("hx-trigger"), header("hx-retarget"));
    let status = response.status().as_u16();
    Answer { status, trigger, retarget, body: response.text().await.unwrap_or_default() }
}

/// The text of the element with `id` up to its closing `</tag>` (first occurrence).
fn element<'a>(body: &'a str, tag: &str, id: &str) -> &'a str {
    let start = body.find(&format!("<{tag} id=\"{id}\"")).unwrap_or_else(|| panic!("no <{tag} id={id}> in {body}"));
    let end = body[start..].find(&format!("</{tag}>")).map_or(body.len(), |e| start + e);
    &body[start..end]
}

async fn the_plan_form_opens_the_destination_form_in_a_dialog(backend: Backend) {
    let f = fixture(backend).await;
    let page = f.app.get("/plans/new").await;
    assert_eq!(page.status, 200);
    let button = "hx-get=\"/destinations/new?dialog=1\" hx-target=\"#destination-dialog-body\"";
    assert!(page.body.contains(button), "a \"New destination…\" button loads the dialog: {}", page.body);
    let dialog = page.body.find("<dialog id=\"destination-dialog\"").expect("the plan form has the dialog");
    assert!(page.body[..dialog].contains("</form>"), "the dialog is outside the plan form (forms cannot nest)");
    assert!(page.body[dialog..].contains("aria-labelledby=\"destination-dialog-title\""));

    let form = f.app.get("/destinations/new?dialog=1").await;
    assert_eq!(form.status, 200);
    assert!(!form.body.contains("<html"), "a fragment, not a page: {}", form.body);
    assert!(form.body.contains("<h2 id=\"destination-dialog-title\">New destination</h2>"), "{}", form.body);
    for wanted in [
        "<form id=\"dialog-destination-form\"",
        "hx-post=\"/destinations\" hx-target=\"#destination-dialog-body\"",
        "<input type=\"hidden\" name=\"dialog\" value=\"1\">",
        "id=\"dialog-f-name\" name=\"name\"",
        "id=\"dialog-f-path\" name=\"config.path\"",
        "hx-include=\"#dialog-destination-form\" hx-target=\"#dialog-form-body\"",
        "hx-target=\"#dialog-test-result\"",
        "data-close-dialog",
    ] {
        assert!(form.body.contains(wanted), "the dialog's form has {wanted}: {}", form.body);
    }
    for clash in ["id=\"f-", "id=\"form-body\"", "id=\"destination-form\"", "id=\"test-result\""] {
        assert!(!form.body.contains(clash), "no id of the page form ({clash}) in the dialog");
    }
    // The page form keeps its own ids.
    let page_form = f.app.get("/destinations/new").await.body;
    assert!(
        page_form.contains("id=\"f-name\"")
            && !page_form.contains("dialog-f-")
            && !page_form.contains("data-close-dialog")
    );

    // The type picker re-renders the dialog's body, with the dialog's ids.
    let picked = f.app.htmx_post("/destinations/fields", &[("dialog", "1"), ("name", "Typed"), ("type", "s3")]).await;
    assert_eq!(picked.status, 200);
    assert!(picked.body.starts_with("<div id=\"dialog-form-body\">"), "{}", picked.body);
    assert!(picked.body.contains("id=\"dialog-f-bucket\"") && picked.body.contains("value=\"Typed\""));
    assert!(!picked.body.contains("id=\"f-"), "{}", picked.body);
}

async fn a_bad_dialog_submission_stays_in_the_dialog(backend: Backend) {
    let f = fixture(backend).await;
    let before = f.app.destination_rows().await.len();
    let secret = "typed-s3cr3t-value";
    let fields = [
        ("name", ""),
        ("type", "s3"),
        ("config.bucket", "typed-bucket"),
        ("config.access_key_id", "AKIATYPED"),
        ("config.secret_access_key", secret),
    ];
    let bad = dialog_post(&f.app, &f.app.client, "/destinations", &fields).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(!bad.body.contains("<html"), "the dialog's content, not a page: {}", bad.body);
    assert_eq!(bad.trigger, None, "nothing saved: the dialog stays open");
    assert!(bad.body.contains("id=\"dialog-f-name-error\">Name is required.</div>"), "{}", bad.body);
    assert!(bad.body.contains("hx-post=\"/destinations\" hx-target=\"#destination-dialog-body\""));
    assert!(bad.body.contains("id=\"dialog-f-bucket\" name=\"config.bucket\" type=\"text\" value=\"typed-bucket\""));
    assert!(!bad.body.contains(secret) && !bad.body.contains("AKIATYPED"), "secrets are never echoed back");
    assert!(!bad.body.contains("f-destination_id"), "the plan's select is left alone");
    assert_eq!(f.app.destination_rows().await.len(), before, "nothing was stored");

    // "Test credentials" with errors swaps the dialog's form body, not the page's.
    let tested = dialog_post(&f.app, &f.app.client, "/destinations/test-credentials", &fields).await;
    assert_eq!(tested.status, 422);
    assert_eq!(tested.retarget.as_deref(), Some("#dialog-form-body"));
    assert!(tested.body.starts_with("<div id=\"dialog-form-body\">") && !tested.body.contains(secret));
}

async fn a_saved_destination_is_selected_in_the_plan_form(backend: Backend) {
    let f = fixture(backend).await;
    let folder = tempfile::tempdir().expect("folder");
    f.app.grant_folder(folder.path(), "read_write").await;
    let path = folder.path().to_string_lossy().into_owned();
    let fields = [("name", "Archive"), ("type", "local"), ("config.path", path.as_str())];
    let saved = dialog_post(&f.app, &f.app.client, "/destinations", &fields).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(saved.trigger.as_deref(), Some("destination-saved"), "the event that closes the dialog");
    let archive = f.app.destination("Archive").await;
    assert_eq!(archive.status, "active", "saved and tested");

    let select = element(&saved.body, "select", "f-destination_id");
    assert!(select.starts_with("<select id=\"f-destination_id\" hx-swap-oob=\"innerHTML\">"), "{select}");
    let new_option = format!("<option value=\"{}\" selected>Archive</option>", archive.id);
    assert!(select.contains(&new_option), "the new destination is selected: {select}");
    let old_option = format!("<option value=\"{}\">Disk (default)</option>", f.destination_id);
    assert!(select.contains(&old_option), "the others stay, not selected: {select}");
    assert_eq!(select.matches(" selected").count(), 1, "{select}");
    assert!(saved.body.contains("<div id=\"f-destination_id-help\" hx-swap-oob=\"innerHTML\"></div>"));
    let notice = element(&saved.body, "div", "notice");
    assert!(notice.contains("notice-ok") && notice.contains("Saved “Archive”. Connection test passed."), "{notice}");
    assert!(!saved.body.contains("<form"), "the dialog is emptied: {}", saved.body);

    // No flash is left for the next page: the outcome was shown in place.
    assert!(!f.app.get("/destinations").await.body.contains("Saved “Archive”"));
    // The option it selected is one the plan form accepts.
    let plan = f.save_plan("/plans", "Nightly", &[("destination_id", &archive.id)]).await;
    assert_eq!(plan.status, 303, "{}", plan.body);
    let row = crate::plans::plan(&f.app, "Nightly").await;
    assert_eq!(row.destination_id.as_deref(), Some(archive.id.as_str()));
}

async fn a_failed_test_keeps_the_dialog_open_on_the_saved_destination(backend: Backend) {
    let f = fixture(backend).await;
    let parent = tempfile::tempdir().expect("parent");
    f.app.grant_folder(parent.path(), "read_write").await;
    let folder = parent.path().join("not-yet");
    let path = folder.to_string_lossy().into_owned();
    let fields = [("name", "Later"), ("type", "local"), ("config.path", path.as_str())];
    let failed = dialog_post(&f.app, &f.app.client, "/destinations", &fields).await;
    assert_eq!(failed.status, 200, "{}", failed.body);
    assert_eq!(failed.trigger, None, "the dialog stays open");
    let later = f.app.destination("Later").await;
    assert_eq!(later.status, "failed", "saved as Failed, as on the destination pages");

    assert!(failed.body.contains("<h2 id=\"destination-dialog-title\">Fix “Later”</h2>"), "{}", failed.body);
    assert!(
        failed.body.contains("role=\"alert\">Saved “Later” and chose it for this plan, but its connection test failed")
    );
    assert!(failed.body.contains("<strong>Test failed.</strong>") && failed.body.contains("does not exist"));
    let update = format!("hx-post=\"/destinations/{}\" hx-target=\"#destination-dialog-body\"", later.id);
    assert!(failed.body.contains(&update), "saving again updates it: {}", failed.body);
    assert!(failed.body.contains(&format!("name=\"id\" value=\"{}\"", later.id)));
    let select = element(&failed.body, "select", "f-destination_id");
    let option = format!("<option value=\"{}\" selected>Later — failed</option>", later.id);
    assert!(select.contains(&option), "chosen for the plan, marked failed: {select}");
    assert!(element(&failed.body, "div", "notice").contains("notice-error"));

    // Fixed and saved again: the same destination, now Active, and the dialog closes.
    std::fs::create_dir(&folder).expect("mkdir");
    let fixed = dialog_post(&f.app, &f.app.client, &format!("/destinations/{}", later.id), &fields).await;
    assert_eq!(fixed.status, 200, "{}", fixed.body);
    assert_eq!(fixed.trigger.as_deref(), Some("destination-saved"));
    let option = format!("<option value=\"{}\" selected>Later</option>", later.id);
    assert!(element(&fixed.body, "select", "f-destination_id").contains(&option), "{}", fixed.body);
    let rows = f.app.destination_rows().await;
    assert_eq!(rows.iter().filter(|d| d.name == "Later").count(), 1, "updated, not added twice");
    assert_eq!(f.app.destination("Later").await.status, "active");
}

async fn viewers_and_forged_requests_cannot_create_from_the_dialog(backend: Backend) {
    let f = fixture(backend).await;
    let before = f.app.destination_rows().await.len();
    let fields = [("name", "Sneaky"), ("type", "local")];

    let viewer = viewer(&f.app).await;
    assert_eq!(f.app.get_with(&viewer, "/destinations/new?dialog=1").await.status, 403);
    let refused = dialog_post(&f.app, &viewer, "/destinations", &fields).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.trigger, None);
    let picked = dialog_post(&f.app, &viewer, "/destinations/fields", &[("type", "s3")]).await;
    assert_eq!(picked.status, 403);

    // htmx without the X-CSRF-Token header (and no form token): refused before any handler.
    let mut form = fields.to_vec();
    form.push(("dialog", "1"));
    let request = f.app.client.post(f.app.url("/destinations")).header("HX-Request", "true").form(&form);
    let missing = answer(request.send().await.expect("POST")).await;
    assert_eq!(missing.status, 403);
    assert!(missing.body.contains("security token") && missing.trigger.is_none());
    let forged = f.app.client.post(f.app.url("/destinations")).header("X-CSRF-Token", "forged").form(&form);
    assert_eq!(forged.send().await.expect("POST").status().as_u16(), 403);

    let rows = f.app.destination_rows().await;
    assert_eq!(rows.len(), before, "nothing was stored");
    assert!(rows.iter().all(|d| d.name != "Sneaky"));
}
