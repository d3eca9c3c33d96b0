//! Sign-in limits that hold: parallel guesses are counted before any password is checked, the
//! delay applies to one account from one address (and one address as a whole), and only a trusted
//! proxy's X-Forwarded-For says which address a request comes from.

use crate::admin_area::create_account;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, new_client, spawn_app, spawn_with, test_settings};
use crate::on_both_backends;
use devpilot::config::TrustedProxies;
use serde_json::json;
use std::time::Duration;

on_both_backends!(
    thirty_parallel_wrong_passwords_check_at_most_five,
    a_delay_after_the_free_attempts_not_a_lock_out,
    a_guesser_at_one_address_does_not_stop_sign_ins_from_another,
    forwarded_for_is_ignored_unless_a_trusted_proxy_sent_it,
    a_password_change_is_limited_like_a_sign_in
);

/// A browser on the sign-in page, posting the form as often as asked.
struct SignInForm {
    client: reqwest::Client,
    csrf: String,
}

impl SignInForm {
    async fn new(app: &TestApp) -> SignInForm {
        let client = new_client();
        let csrf = app.csrf(&client).await;
        SignInForm { client, csrf }
    }

    /// (status, Location) of one sign-in, from `from` when given (as X-Forwarded-For).
    async fn try_sign_in(&self, app: &TestApp, email: &str, password: &str, from: Option<&str>) -> (u16, String) {
        let form = [("email", email), ("password", password), ("csrf_token", self.csrf.as_str())];
        let mut request = self.client.post(app.url("/login")).form(&form);
        if let Some(from) = from {
            request = request.header("X-Forwarded-For", from);
        }
        let response = request.send().await.expect("sign-in");
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned();
        (status, location)
    }
}

/// (outcome, ip) of every recorded attempt for an email.
async fn attempts(app: &TestApp, email: &str) -> Vec<(String, String)> {
    let email = email.to_owned();
    app.db()
        .run(move |c| {
            use devpilot::db::schema::sign_in_attempts::dsl;
            use diesel::prelude::*;
            dsl::sign_in_attempts.filter(dsl::email.eq(email)).select((dsl::outcome, dsl::ip)).load(c)
        })
        .await
        .expect("attempts")
}

fn count(rows: &[(String, String)], outcome: &str) -> usize {
    rows.iter().filter(|(o, _)| o == outcome).count()
}

async fn thirty_parallel_wrong_passwords_check_at_most_five(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    create_account(&app, "Bob", "bob@example.com", "bob password 1").await;

    // The sign-in page: 30 guesses at once.
    let form = SignInForm::new(&app).await;
    let guesses = (0..30).map(|i| {
        let (form, app) = (&form, &app);
        async move { form.try_sign_in(app, ADMIN_EMAIL, &format!("wrong guess {i}"), None).await.0 }
    });
    let statuses = futures::future::join_all(guesses).await;
    let rows = attempts(&app, ADMIN_EMAIL).await;
    assert!(count(&rows, "failed") <= 5, "at most five passwords were checked: {rows:?}");
    assert_eq!(count(&rows, "failed") + count(&rows, "refused"), 30, "every guess was recorded: {rows:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), count(&rows, "failed"), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), count(&rows, "refused"), "{statuses:?}");

    // The API's token exchange: the same limits, the same counting.
    let api = reqwest::Client::new();
    let guesses = (0..30).map(|i| {
        let (api, url) = (&api, app.url("/api/v1/auth/token"));
        async move {
            let body = json!({"email": "bob@example.com", "password": format!("wrong guess {i}")});
            api.post(url).json(&body).send().await.expect("token").status().as_u16()
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    let rows = attempts(&app, "bob@example.com").await;
    assert!(count(&rows, "failed") <= 5, "{rows:?}");
    assert_eq!(count(&rows, "failed") + count(&rows, "refused"), 30, "{rows:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), count(&rows, "refused"));
}

async fn a_delay_after_the_free_attempts_not_a_lock_out(backend: Backend) {
    let (mut settings, dir, pg) = test_settings(backend);
    settings.identity.sign_in_delay = Duration::from_secs(4);
    let app = spawn_with(settings, dir, pg).await;
    app.setup_admin().await;
    app.post("/logout", &[]).await;
    let form = SignInForm::new(&app).await;
    for _ in 0..5 {
        assert_eq!(form.try_sign_in(&app, ADMIN_EMAIL, "guess guess guess", None).await.0, 401);
    }
    // Right after the fifth failure, even the right password waits (unchecked)...
    let page = app.post("/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(page.status, 429);
    assert!(page.body.contains("Too many failed sign-in attempts. Try again in 4 seconds."), "{}", page.body);
    // ...and once the delay has passed since the last attempt, it is checked, and works.
    tokio::time::sleep(Duration::from_millis(4300)).await;
    let page = app.post("/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(page.location.as_deref(), Some("/overview"), "{}", page.body);
    assert_eq!(count(&attempts(&app, ADMIN_EMAIL).await, "failed"), 0, "a success forgives the failures");
}

async fn behind_a_proxy(backend: Backend) -> TestApp {
    let (mut settings, dir, pg) = test_settings(backend);
    settings.identity.trusted_proxies = TrustedProxies::parse("127.0.0.1").expect("proxies");
    let app = spawn_with(settings, dir, pg).await;
    app.setup_admin().await;
    app
}

const GUESSER: &str = "203.0.113.66";
const OWNER: &str = "198.51.100.7";

async fn a_guesser_at_one_address_does_not_stop_sign_ins_from_another(backend: Backend) {
    let app = behind_a_proxy(backend).await;
    let form = SignInForm::new(&app).await;
    for _ in 0..6 {
        form.try_sign_in(&app, ADMIN_EMAIL, "guess guess guess", Some(GUESSER)).await;
    }
    assert_eq!(form.try_sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD, Some(GUESSER)).await.0, 429);
    let owner = SignInForm::new(&app).await;
    assert_eq!(owner.try_sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD, Some(OWNER)).await, (303, "/overview".into()));
    let rows = attempts(&app, ADMIN_EMAIL).await;
    assert!(rows.iter().any(|(o, ip)| o == "refused" && ip == GUESSER), "{rows:?}");

    // The guesser now tries many accounts: the address as a whole slows down, other addresses not.
    for i in 0..21 {
        form.try_sign_in(&app, &format!("user{i}@example.com"), "guess guess guess", Some(GUESSER)).await;
    }
    assert_eq!(form.try_sign_in(&app, "other@example.com", "guess guess guess", Some(GUESSER)).await.0, 429);
    let owner = SignInForm::new(&app).await;
    assert_eq!(owner.try_sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD, Some(OWNER)).await.0, 303);
    let colleague = SignInForm::new(&app).await;
    assert_eq!(colleague.try_sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD, Some("198.51.100.8")).await.0, 303);
    // The session records the client's address, not the proxy's.
    assert!(app.get_with(&owner.client, "/account/sessions").await.body.contains(OWNER));
}

async fn forwarded_for_is_ignored_unless_a_trusted_proxy_sent_it(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let form = SignInForm::new(&app).await;
    for i in 0..6 {
        // A guesser rotating forged addresses gets nowhere: its socket's address is what counts.
        form.try_sign_in(&app, ADMIN_EMAIL, "guess guess guess", Some(&format!("198.51.100.{i}"))).await;
    }
    let rows = attempts(&app, ADMIN_EMAIL).await;
    assert!(rows.iter().all(|(_, ip)| ip == "127.0.0.1"), "{rows:?}");
    assert!(count(&rows, "refused") >= 1, "the sixth was refused: {rows:?}");
    let other = SignInForm::new(&app).await;
    assert_eq!(other.try_sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD, Some(OWNER)).await.0, 429);

    // A proxy list that does not name the peer changes nothing either.
    let (mut settings, dir, pg) = test_settings(backend);
    settings.identity.trusted_proxies = TrustedProxies::parse("10.0.0.0/8").expect("proxies");
    let app = spawn_with(settings, dir, pg).await;
    app.setup_admin().await;
    let form = SignInForm::new(&app).await;
    form.try_sign_in(&app, ADMIN_EMAIL, "guess guess guess", Some("10.1.2.3")).await;
    assert_eq!(attempts(&app, ADMIN_EMAIL).await, vec![("failed".to_owned(), "127.0.0.1".to_owned())]);
}

async fn a_password_change_is_limited_like_a_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    for _ in 0..5 {
        let page =
            app.post("/account/password", &[("current", "guess guess guess"), ("password", "a new password 1")]).await;
        assert!(page.status == 422 && page.body.contains("This is not your current password."));
    }
    let page = app.post("/account/password", &[("current", ADMIN_PASSWORD), ("password", "a new password 1")]).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("Too many failed sign-in attempts"), "{}", page.body);
    let login =
        app.post_with(&new_client(), "/login", &[("email", ADMIN_EMAIL), ("password", "a new password 1")]).await;
    assert_ne!(login.status, 303, "the password did not change");
}
