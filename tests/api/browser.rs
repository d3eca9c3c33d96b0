//! The destination pages in a real headless Chromium, driven over WebDriver by the chromedriver
//! that `scripts/test` starts: first-run setup, an S3 destination on moto picked, filled, tested
//! and saved through the htmx form, a local one next to it, and a screenshot of the list
//! (`target/screenshots/`; with `DEVPILOT_UPDATE_SCREENSHOT=1`, the README's `docs/destinations.png`).
//!
//! The WebDriver client is the few W3C commands this test needs, over reqwest: fantoccini with
//! its TLS features off needs a hyper-util connector, and hyper-util is not a dependency here.
//! `plan_dialog` drives the plan form's "New destination…" dialog with it.

mod database_pages;
mod overview_page;
mod plan_dialog;
mod quiet_pages;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, moto, spawn_app};
use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const S3_NAME: &str = "Moto S3 bucket";
const LOCAL_NAME: &str = "Local archive";
// Generous: in CI the browser shares two cores with four test threads and the servers they use,
// and a wait ends as soon as what it waits for is there.
pub(crate) const WAIT: Duration = Duration::from_secs(30);
pub(crate) const TEST_WAIT: Duration = Duration::from_secs(60);

type Result<T> = std::result::Result<T, String>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_destinations_in_a_real_browser() {
    let webdriver = std::env::var("DEVPILOT_TEST_WEBDRIVER")
        .expect("DEVPILOT_TEST_WEBDRIVER is not set: run scripts/test, which starts chromedriver");
    let chromium = std::env::var("DEVPILOT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let moto = moto();
    let app = spawn_app(Backend::Sqlite).await;
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let browser = Browser::start(&webdriver, &chromium, profile.path()).await.unwrap_or_else(|e| panic!("{e}"));

    let flow = Flow { browser: &browser, base: &app.address, moto: &moto };
    let outcome = flow.run().await;
    // Close the session before any assertion can fail, so no Chromium outlives the test.
    let finished = browser.finish().await;
    let seen = outcome.unwrap_or_else(|e| panic!("{e}"));
    finished.unwrap_or_else(|e| panic!("{e}"));

    assert!(seen.setup_url.ends_with("/setup"), "/ should redirect to /setup on first run, got {}", seen.setup_url);
    assert!(seen.empty_state.contains("No destinations yet"), "empty state after setup: {}", seen.empty_state);
    assert!(seen.test_result.contains("Connection OK."), "test credentials answered: {}", seen.test_result);
    assert!(seen.policy.contains("\"s3:ListBucket\"") && !seen.policy.contains("BUCKET"), "{}", seen.policy);
    assert!(["Copied", "Select and copy it by hand"].contains(&seen.copy_label.as_str()), "{}", seen.copy_label);
    assert_eq!(seen.s3.status_attr, "active", "S3 row: {:?}", seen.s3);
    assert_eq!(seen.s3.badge, "Active", "S3 row: {:?}", seen.s3);
    assert!(seen.s3.is_default, "the first destination is the workspace default: {:?}", seen.s3);
    assert_eq!(seen.local.badge, "Active", "local row: {:?}", seen.local);
    assert!(!seen.local.is_default, "only one default per workspace: {:?}", seen.local);
    assert!(seen.row_actions.tested_row_swapped, "Test put a new row in place: {:?}", seen.row_actions);
    assert!(seen.row_actions.only_that_row, "Test left the other rows alone: {:?}", seen.row_actions);
    assert!(seen.row_actions.page_kept, "the row buttons work without reloading the page: {:?}", seen.row_actions);
    assert_eq!(seen.row_actions.disabled_badge, "Disabled", "{:?}", seen.row_actions);
    assert_eq!(seen.row_actions.enabled_badge, "Active", "{:?}", seen.row_actions);
    assert!(seen.screenshot_bytes > 1000, "screenshot of {} bytes", seen.screenshot_bytes);
}

/// What the browser showed, checked once the session is closed.
struct Seen {
    setup_url: String,
    empty_state: String,
    test_result: String,
    /// The least-privilege policy as shown once the bucket was typed, and the Copy button's answer.
    policy: String,
    copy_label: String,
    s3: RowView,
    local: RowView,
    row_actions: RowActions,
    screenshot_bytes: usize,
}

/// The row buttons, which all submit the table's one shared form through htmx.
#[derive(Debug)]
struct RowActions {
    /// "Test" on the S3 row replaced that row, only that row, and the page never reloaded.
    tested_row_swapped: bool,
    only_that_row: bool,
    page_kept: bool,
    /// "Disable", then "Enable", on the local row.
    disabled_badge: String,
    enabled_badge: String,
}

#[derive(Debug)]
struct RowView {
    status_attr: String,
    badge: String,
    is_default: bool,
}

struct Flow<'a> {
    browser: &'a Browser,
    base: &'a str,
    moto: &'a crate::helpers::Moto,
}

impl Flow<'_> {
    async fn run(&self) -> Result<Seen> {
        let b = self.browser;
        b.goto(&format!("{}/", self.base)).await?;
        b.wait_for("the setup form (#workspace)", WAIT, || b.find("#workspace")).await?;
        let setup_url = b.current_url().await?;
        for (id, value) in
            [("#workspace", "Acme"), ("#name", "Ada Admin"), ("#email", ADMIN_EMAIL), ("#password", ADMIN_PASSWORD)]
        {
            b.type_into(id, value).await?;
        }
        b.click(&b.must_find("main form button[type=submit]").await?).await?;

        let empty = b.wait_for("the empty destination list", WAIT, || b.find("#destination-table .empty")).await?;
        let empty_state = b.text(&empty).await?;
        b.click(&b.must_find_xpath("//a[normalize-space()='New destination']").await?).await?;

        self.open_form().await?;
        self.pick("#f-type", "s3", "#f-bucket").await?;
        self.pick("#f-provider", "custom", "#f-endpoint").await?;
        b.type_into("#f-name", S3_NAME).await?;
        b.type_into("#f-endpoint", &self.moto.endpoint).await?;
        b.type_into("#f-region", &self.moto.region).await?;
        b.type_into("#f-bucket", &self.moto.bucket).await?;
        // The least-privilege panel follows what is typed, and its Copy button answers.
        let bucket_arn = format!("arn:aws:s3:::{}", self.moto.bucket);
        let policy = b
            .wait_for("the policy to name the bucket typed", WAIT, || async {
                let text = match b.find("#policy-text").await? {
                    Some(el) => b.text(&el).await?,
                    None => return Ok(None),
                };
                Ok(text.contains(&bucket_arn).then_some(text))
            })
            .await?;
        b.click(&b.must_find("[data-copy='policy-text']").await?).await?;
        let copy_label = b
            .wait_for("the Copy button to answer", WAIT, || async {
                let label = b.text(&b.must_find("[data-copy='policy-text']").await?).await?;
                Ok((label != "Copy").then_some(label))
            })
            .await?;
        let path_style = b.must_find("#f-path_style").await?;
        if !b.is_selected(&path_style).await? {
            b.click(&path_style).await?;
        }
        b.type_into("#f-access_key_id", &self.moto.access_key_id).await?;
        b.type_into("#f-secret_access_key", &self.moto.secret_access_key).await?;

        b.click(&b.must_find_xpath("//button[normalize-space()='Test credentials']").await?).await?;
        let test_result = b
            .wait_for("#test-result to answer \"Connection OK.\"", TEST_WAIT, || async {
                let text = match b.find("#test-result").await? {
                    Some(el) => b.text(&el).await?,
                    None => return Ok(None),
                };
                if text.contains("Test failed.") {
                    return Err(format!("Test credentials failed: {text}"));
                }
                Ok(text.contains("Connection OK.").then_some(text))
            })
            .await?;
        self.save(S3_NAME).await?;

        b.click(&b.must_find_xpath("//a[normalize-space()='New destination']").await?).await?;
        self.open_form().await?;
        // Local disk is the form's first type; pick it anyway so the test does not depend on that.
        self.pick("#f-type", "local", "#f-path").await?;
        b.type_into("#f-name", LOCAL_NAME).await?;
        self.save(LOCAL_NAME).await?;

        let row_actions = self.row_actions().await?;
        let s3 = self.row(S3_NAME).await?;
        let local = self.row(LOCAL_NAME).await?;
        let png = b.full_page_screenshot().await?;
        // The README's copy changes only on request; every run leaves its own under target/.
        let folder =
            if std::env::var_os("DEVPILOT_UPDATE_SCREENSHOT").is_some() { "docs" } else { "target/screenshots" };
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(folder).join("destinations.png");
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).map_err(|e| format!("{folder}/: {e}"))?;
        std::fs::write(&path, &png).map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(Seen {
            setup_url,
            empty_state,
            test_result,
            policy,
            copy_label,
            s3,
            local,
            row_actions,
            screenshot_bytes: png.len(),
        })
    }

    /// Waits for the new-destination form with htmx loaded (it wires the type picker).
    async fn open_form(&self) -> Result<()> {
        let b = self.browser;
        b.wait_for("the destination form with htmx loaded", WAIT, || async {
            let ready = b.execute("return !!document.querySelector('#f-type') && !!window.htmx", json!([])).await?;
            Ok(ready.as_bool().unwrap_or(false).then_some(()))
        })
        .await
    }

    /// Chooses an option of a select that re-renders `#form-body` through htmx, and waits for the
    /// new body (the old one is marked first, so a field that was already there does not count).
    async fn pick(&self, select: &str, value: &str, then_field: &str) -> Result<()> {
        let b = self.browser;
        let current = b.execute(&format!("return document.querySelector(\"{select}\").value"), json!([])).await?;
        if current.as_str() == Some(value) && b.find(then_field).await?.is_some() {
            // Already chosen: picking it again fires no change, so no swap would come.
            return Ok(());
        }
        b.execute("document.getElementById('form-body').dataset.old = '1'", json!([])).await?;
        b.click(&b.must_find(&format!("{select} option[value='{value}']")).await?).await?;
        let fresh = format!("#form-body:not([data-old]) {then_field}");
        b.wait_for(&format!("{then_field} after picking {value} in {select}"), WAIT, || b.find(&fresh)).await?;
        Ok(())
    }

    async fn save(&self, name: &str) -> Result<()> {
        let b = self.browser;
        b.click(&b.must_find_xpath("//button[normalize-space()='Save destination']").await?).await?;
        let what = format!("the destination list with a row named {name:?}");
        b.wait_for(&what, TEST_WAIT, || async {
            if !b.current_url().await?.ends_with("/destinations") {
                return Ok(None);
            }
            b.find_xpath(&row_xpath(name)).await
        })
        .await?;
        Ok(())
    }

    /// Clicks row buttons: "Test" swaps its row (a mark set on the old row is gone, one set on the
    /// page stays), "Disable" and "Enable" swap the table.
    async fn row_actions(&self) -> Result<RowActions> {
        let b = self.browser;
        let mark = "arguments[0].dataset.mark = 'old'; window.devpilotMark = 'kept'; return true;";
        for name in [S3_NAME, LOCAL_NAME] {
            let row = b.must_find_xpath(&row_xpath(name)).await?;
            b.execute(mark, json!([row.reference()])).await?;
        }
        let test = b.must_find_xpath(&format!("{}//button[normalize-space()='Test']", row_xpath(S3_NAME))).await?;
        b.click(&test).await?;
        let tested_row_swapped = b
            .wait_for("the S3 row replaced after its test", TEST_WAIT, || async {
                let row = b.find_xpath(&row_xpath(S3_NAME)).await?;
                Ok(match row {
                    Some(row) if b.attr(&row, "data-mark").await?.is_none() => {
                        Some(b.attr(&row, "data-status").await?.as_deref() == Some("active"))
                    }
                    _ => None,
                })
            })
            .await?;
        let local = b.must_find_xpath(&row_xpath(LOCAL_NAME)).await?;
        let only_that_row = b.attr(&local, "data-mark").await?.as_deref() == Some("old");
        let page_kept = b.execute("return window.devpilotMark === 'kept';", json!([])).await?.as_bool() == Some(true);
        let badge_after = |button: &'static str, badge: &'static str| async move {
            let xpath = format!("{}//button[normalize-space()='{button}']", row_xpath(LOCAL_NAME));
            b.click(&b.must_find_xpath(&xpath).await?).await?;
            b.wait_for(&format!("the local row's {badge} badge after {button}"), WAIT, || async {
                let Some(row) = b.find_xpath(&row_xpath(LOCAL_NAME)).await? else { return Ok(None) };
                match b.find_in(&row, &format!(".badge.{badge}")).await? {
                    Some(el) => Ok(Some(b.text(&el).await?)),
                    None => Ok(None),
                }
            })
            .await
        };
        let disabled_badge = badge_after("Disable", "disabled").await?;
        let enabled_badge = badge_after("Enable", "active").await?;
        Ok(RowActions { tested_row_swapped, only_that_row, page_kept, disabled_badge, enabled_badge })
    }

    async fn row(&self, name: &str) -> Result<RowView> {
        let b = self.browser;
        let row = b.must_find_xpath(&row_xpath(name)).await?;
        let status_attr = b.attr(&row, "data-status").await?.unwrap_or_default();
        let badge = match b.find_in(&row, ".badge.active").await? {
            Some(el) => b.text(&el).await?,
            None => {
                let status = b.find_in(&row, "td:nth-child(2)").await?;
                let shown = match status {
                    Some(el) => b.text(&el).await?,
                    None => String::new(),
                };
                return Err(format!("row {name:?} has no .badge.active; its status cell reads {shown:?}"));
            }
        };
        let is_default = b.find_in(&row, ".badge.default").await?.is_some();
        Ok(RowView { status_attr, badge, is_default })
    }
}

fn row_xpath(name: &str) -> String {
    format!("//tr[starts-with(@id, 'dest-')][.//strong[contains(@class, 'dest-name') and normalize-space()='{name}']]")
}

/// A W3C WebDriver element reference.
pub(crate) struct Element(String);

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Element {
    /// The element as a script argument.
    pub(crate) fn reference(&self) -> Value {
        json!({ ELEMENT_KEY: self.0 })
    }
}

/// One WebDriver session.
pub(crate) struct Browser {
    http: reqwest::Client,
    /// `{webdriver}/session/{id}`
    session: String,
}

impl Browser {
    pub(crate) async fn start(webdriver: &str, chromium: &str, profile: &Path) -> Result<Browser> {
        // Loopback only: never through a proxy from the environment.
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("WebDriver HTTP client: {e}"))?;
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": chromium, "args": args },
                    // The console (errors, CSP violations, failed loads) kept for `finish`.
                    "goog:loggingPrefs": { "browser": "ALL" },
                }
            }
        });
        let webdriver = webdriver.trim_end_matches('/');
        let response = http
            .post(format!("{webdriver}/session"))
            .json(&capabilities)
            .send()
            .await
            .map_err(|e| format!("chromedriver at {webdriver} does not answer ({e}); run scripts/test"))?;
        let value = answer(response).await.map_err(|e| format!("starting Chromium {chromium}: {e}"))?;
        let id = value["sessionId"].as_str().ok_or_else(|| format!("no sessionId in {value}"))?;
        Ok(Browser { http, session: format!("{webdriver}/session/{id}") })
    }

    pub(crate) async fn command(&self, method: Method, path: &str, body: Value) -> Result<Value> {
        let request = self.http.request(method.clone(), format!("{}{path}", self.session));
        let request = if method == Method::GET { request } else { request.json(&body) };
        let response = request.send().await.map_err(|e| format!("WebDriver {method} {path}: {e}"))?;
        answer(response).await.map_err(|e| format!("WebDriver {method} {path}: {e}"))
    }

    /// Ends the session; an error if any page it visited logged a problem to the console (see
    /// [`console_problems`](Self::console_problems)), or if the session did not end.
    pub(crate) async fn finish(&self) -> Result<()> {
        let problems = self.console_problems().await;
        self.command(Method::DELETE, "", json!({})).await.map_err(|e| format!("closing the WebDriver session: {e}"))?;
        match problems? {
            problems if problems.is_empty() => Ok(()),
            problems => Err(format!("the pages logged problems to the console:\n  {}", problems.join("\n  "))),
        }
    }

    /// Errors and warnings the console logged since the session began (chromedriver keeps them
    /// across pages): script errors, Content-Security-Policy violations, failed loads such as a
    /// missing `/favicon.ico`. A 422 is not one: it is how a form with errors answers htmx.
    pub(crate) async fn console_problems(&self) -> Result<Vec<String>> {
        let entries = self.command(Method::POST, "/se/log", json!({ "type": "browser" })).await?;
        Ok(entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| matches!(e["level"].as_str(), Some("SEVERE" | "WARNING")))
            .map(|e| format!("{} ({})", e["message"].as_str().unwrap_or_default(), e["source"].as_str().unwrap_or("?")))
            .filter(|m| !m.contains("the server responded with a status of 422 (Unprocessable Entity)"))
            .collect())
    }

    pub(crate) async fn goto(&self, url: &str) -> Result<()> {
        self.command(Method::POST, "/url", json!({ "url": url })).await.map(drop)
    }

    pub(crate) async fn current_url(&self) -> Result<String> {
        Ok(self.command(Method::GET, "/url", Value::Null).await?.as_str().unwrap_or_default().to_owned())
    }

    pub(crate) async fn execute(&self, script: &str, args: Value) -> Result<Value> {
        self.command(Method::POST, "/execute/sync", json!({ "script": script, "args": args })).await
    }

    pub(crate) async fn locate(&self, from: &str, using: &str, value: &str) -> Result<Option<Element>> {
        match self.command(Method::POST, from, json!({ "using": using, "value": value })).await {
            Ok(found) => found[ELEMENT_KEY]
                .as_str()
                .map(|id| Some(Element(id.to_owned())))
                .ok_or_else(|| format!("no element reference in {found}")),
            Err(e) if e.contains("no such element") => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn find(&self, css: &str) -> Result<Option<Element>> {
        self.locate("/element", "css selector", css).await
    }

    pub(crate) async fn find_xpath(&self, xpath: &str) -> Result<Option<Element>> {
        self.locate("/element", "xpath", xpath).await
    }

    pub(crate) async fn find_in(&self, parent: &Element, css: &str) -> Result<Option<Element>> {
        self.locate(&format!("/element/{}/element", parent.0), "css selector", css).await
    }

    pub(crate) async fn must_find(&self, css: &str) -> Result<Element> {
        match self.find(css).await? {
            Some(el) => Ok(el),
            None => Err(self.describe(&format!("no element matches {css}")).await),
        }
    }

    pub(crate) async fn must_find_xpath(&self, xpath: &str) -> Result<Element> {
        match self.find_xpath(xpath).await? {
            Some(el) => Ok(el),
            None => Err(self.describe(&format!("no element matches {xpath}")).await),
        }
    }

    pub(crate) async fn click(&self, el: &Element) -> Result<()> {
        self.command(Method::POST, &format!("/element/{}/click", el.0), json!({})).await.map(drop)
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let el = self.must_find(css).await?;
        self.command(Method::POST, &format!("/element/{}/clear", el.0), json!({})).await?;
        self.command(Method::POST, &format!("/element/{}/value", el.0), json!({ "text": text })).await.map(drop)
    }

    pub(crate) async fn text(&self, el: &Element) -> Result<String> {
        Ok(self
            .command(Method::GET, &format!("/element/{}/text", el.0), Value::Null)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub(crate) async fn attr(&self, el: &Element, name: &str) -> Result<Option<String>> {
        let value = self.command(Method::GET, &format!("/element/{}/attribute/{name}", el.0), Value::Null).await?;
        Ok(value.as_str().map(str::to_owned))
    }

    pub(crate) async fn is_selected(&self, el: &Element) -> Result<bool> {
        Ok(self
            .command(Method::GET, &format!("/element/{}/selected", el.0), Value::Null)
            .await?
            .as_bool()
            .unwrap_or(false))
    }

    /// The whole page: the window is grown to the document's height first (WebDriver screenshots
    /// show only the viewport).
    pub(crate) async fn full_page_screenshot(&self) -> Result<Vec<u8>> {
        let size = self
            .execute(
                "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]",
                json!([]),
            )
            .await?;
        let content = size[0].as_u64().unwrap_or(900);
        let chrome = size[1].as_u64().unwrap_or(0);
        let height = (content + chrome).max(900);
        self.command(Method::POST, "/window/rect", json!({ "width": 1280, "height": height })).await?;
        let encoded = self.command(Method::GET, "/screenshot", Value::Null).await?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .map_err(|e| format!("screenshot is not base64: {e}"))
    }

    /// Polls `ready` until it yields a value; the error names what was awaited and where the page
    /// was. Errors of `ready` are retried (an element may go stale under an htmx swap) and shown
    /// if time runs out, except those it returns deliberately about the page's answer.
    pub(crate) async fn wait_for<T, F, Fut>(&self, what: &str, timeout: Duration, mut ready: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        let deadline = Instant::now() + timeout;
        let mut last_error = None;
        loop {
            match ready().await {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => {}
                Err(e) if e.starts_with("WebDriver ") => last_error = Some(e),
                Err(e) => return Err(self.describe(&e).await),
            }
            if Instant::now() >= deadline {
                let last = last_error.map(|e| format!(" (last error: {e})")).unwrap_or_default();
                return Err(self.describe(&format!("timed out after {timeout:?} waiting for {what}{last}")).await);
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// `problem`, with the page's URL and the start of its text.
    pub(crate) async fn describe(&self, problem: &str) -> String {
        let url = self.current_url().await.unwrap_or_else(|e| format!("(unknown: {e})"));
        let text = self
            .execute("return document.body ? document.body.innerText : ''", json!([]))
            .await
            .map(|v| v.as_str().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|e| format!("(unreadable: {e})"));
        let snippet: String = text.chars().take(600).collect();
        format!("{problem}\n  page: {url}\n  text: {snippet}")
    }
}

/// The `value` of a WebDriver answer, or its error and message.
async fn answer(response: reqwest::Response) -> Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| format!("HTTP {status}, unreadable answer: {e}"))?;
    let value = body.get("value").cloned().unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    let error = value["error"].as_str().unwrap_or("unknown error");
    let message = value["message"].as_str().unwrap_or_default();
    let message = message.lines().next().unwrap_or_default();
    Err(format!("{error}: {message}"))
}
