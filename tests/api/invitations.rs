//! Members by invitation: the same answer whether or not the email has an account, a single-use
//! link that expires and can be withdrawn, mailed through a real SMTP server (aiosmtpd), accepted
//! with a new account or while signed in as the invited email; owners change roles and remove
//! members, and a removed member loses every session, JWT and API token on the next request.

use crate::admin_area::{create_account, signed_in};
use crate::api_client::Api;
use crate::helpers::{ADMIN_EMAIL, Backend, TestApp, new_client, spawn_app, spawn_with, test_settings};
use crate::members::invitation_link;
use crate::on_both_backends;
use crate::sessions::{SavedCookie, jwt};
use devpilot::mail::MailSettings;
use std::path::PathBuf;
use std::time::Duration;

on_both_backends!(
    a_new_person_joins_through_a_mailed_link,
    the_answer_is_the_same_whether_or_not_an_account_exists,
    an_existing_account_accepts_while_signed_in_as_the_invited_email,
    an_expired_link_is_refused,
    withdrawn_and_replaced_links_are_refused,
    a_mail_server_that_fails_does_not_lose_the_invitation,
    owners_change_roles_and_remove_members,
    a_removed_member_loses_every_session_and_token
);

#[derive(serde::Deserialize)]
struct SmtpServer {
    host: String,
    port: u16,
    folder: PathBuf,
}

fn smtp() -> SmtpServer {
    let path =
        std::env::var("DEVPILOT_TEST_SMTP").expect("DEVPILOT_TEST_SMTP: run scripts/test, which starts aiosmtpd");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("smtp.json")).expect("smtp.json parses")
}

async fn with_mail(backend: Backend) -> TestApp {
    let server = smtp();
    let (mut settings, dir, pg) = test_settings(backend);
    let url = format!("smtp://{}:{}?tls=none", server.host, server.port);
    settings.mail = Some(MailSettings::parse(&url, "Devpilot <devpilot@example.com>").expect("mail settings"));
    let app = spawn_with(settings, dir, pg).await;
    app.setup_admin().await;
    app
}

/// An address no other test uses (they all share the SMTP server's folder).
fn unique(name: &str) -> String {
    format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple())
}

struct Received {
    mail_from: String,
    subject: String,
    /// Decoded (the mail itself is quoted-printable).
    body: String,
}

/// The message aiosmtpd received for `to` (waits a little for it).
async fn mail_to(to: &str) -> Received {
    let folder = smtp().folder;
    for _ in 0..100 {
        for entry in std::fs::read_dir(&folder).expect("mail folder").flatten() {
            if entry.path().extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
            if json["rcpt_tos"].as_array().is_some_and(|r| r.iter().any(|r| r == to)) {
                let field = |k: &str| json[k].as_str().unwrap_or_default().to_owned();
                return Received { mail_from: field("mail_from"), subject: field("subject"), body: field("body") };
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail to {to} arrived");
}

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).expect("a token").to_owned()
}

async fn a_new_person_joins_through_a_mailed_link(backend: Backend) {
    let app = with_mail(backend).await;
    let email = unique("newcomer");
    let page = app.post("/members/invitations", &[("email", &email), ("role", "admin")]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!("It was mailed to {email}.")), "{}", page.body);
    let link = invitation_link(&page.body);
    assert!(link.starts_with(&format!("{}/invitation?token=", app.address)), "{link}");
    assert!(page.body.contains(&email) && page.body.contains("Open invitations"), "listed as open");

    let mail = mail_to(&email).await;
    assert_eq!(mail.mail_from, "devpilot@example.com");
    assert_eq!(mail.subject, "You are invited to Acme on Devpilot Backups");
    assert!(mail.body.lines().any(|l| l.trim() == link), "the mail carries the link, whole: {}", mail.body);
    assert!(mail.body.contains("Ada Admin invited you to the workspace “Acme” on Devpilot Backups, as admin."));

    let path = link.trim_start_matches(&app.address).to_owned();
    let newcomer = new_client();
    let opened = app.get_with(&newcomer, &path).await;
    assert_eq!(opened.status, 200);
    assert!(opened.body.contains("workspace <strong>Acme</strong> as admin"), "{}", opened.body);
    let token = token_of(&link);
    let weak =
        app.post_with(&newcomer, "/invitation", &[("token", &token), ("name", "Nia"), ("password", "short")]).await;
    assert_eq!(weak.status, 422);
    assert!(weak.body.contains("Password must be at least 10 characters") && weak.body.contains("value=\"Nia\""));
    let joined = app
        .post_with(&newcomer, "/invitation", &[("token", &token), ("name", "Nia"), ("password", "nia password 1")])
        .await;
    assert_eq!(joined.location.as_deref(), Some("/destinations"));
    let list = app.get_with(&newcomer, "/destinations").await;
    assert!(list.status == 200 && list.body.contains("Acme · Nia"), "signed in, in the workspace");
    assert!(list.body.contains("New destination"), "as an admin");

    // Used: the link works no more, for anyone.
    let again = app.get_with(&new_client(), &path).await;
    assert_eq!(again.status, 410);
    assert!(again.body.contains("This invitation was already used."));
    let stranger = new_client();
    let csrf = app.csrf(&stranger).await;
    let reuse = stranger
        .post(app.url("/invitation"))
        .form(&[("token", token.as_str()), ("name", "Eve"), ("password", "eve password 1"), ("csrf_token", &csrf)])
        .send()
        .await
        .expect("reuse");
    assert_eq!(reuse.status().as_u16(), 410);
    assert!(!app.get("/members").await.body.contains("Eve"));
    assert_eq!(app.get_with(&new_client(), "/invitation?token=made-up").await.status, 404);
}

/// What the page after inviting says about the invitation, with the email and link taken out.
fn answer(page: &str, email: &str) -> String {
    let start = page.find("<div class=\"panel minted-token\" id=\"invited\">").expect("the invitation panel");
    let end = start + page[start..].find("</div>\n</div>").expect("its end");
    page[start..end].replace(&invitation_link(page), "LINK").replace(email, "EMAIL")
}

async fn the_answer_is_the_same_whether_or_not_an_account_exists(backend: Backend) {
    let app = with_mail(backend).await;
    let existing = unique("existing");
    create_account(&app, "Ernest Existing", &existing, "ernest password 1").await;
    let new = unique("new");
    let a = app.post("/members/invitations", &[("email", &existing), ("role", "viewer")]).await;
    let b = app.post("/members/invitations", &[("email", &new), ("role", "viewer")]).await;
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(answer(&a.body, &existing), answer(&b.body, &new), "the same answer");
    assert!(answer(&a.body, &existing).contains("It was mailed to EMAIL."));
    assert!(!a.body.contains("Ernest") && !b.body.contains("Ernest"), "no name is shown");
    // Both are listed as open invitations alike (the account is not a member until it accepts).
    for email in [&existing, &new] {
        assert!(b.body.contains(&format!("<td>{email}</td><td>viewer</td><td>Ada Admin</td>")), "{}", b.body);
    }
    let (mail_a, mail_b) = (mail_to(&existing).await, mail_to(&new).await);
    assert_eq!(mail_a.subject, mail_b.subject, "the same mail");
    let link = |m: &Received, page: &str| m.body.replace(&invitation_link(page), "LINK");
    assert_eq!(link(&mail_a, &a.body), link(&mail_b, &b.body), "word for word");
}

async fn an_existing_account_accepts_while_signed_in_as_the_invited_email(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    create_account(&app, "Ernest", "ernest@example.com", "ernest password 1").await;
    let link = app.invite("ernest@example.com", "viewer").await;
    let token = token_of(&link);

    // Not signed in: "create the account" does not take over the existing one.
    let visitor = new_client();
    let page = app.get_with(&visitor, &link).await;
    assert!(page.body.contains("Sign in") && page.body.contains("Create account and join"), "{}", page.body);
    let taken = app
        .post_with(&visitor, "/invitation", &[("token", &token), ("name", "Mallory"), ("password", "mallory pass 1")])
        .await;
    assert_eq!(taken.status, 409);
    assert!(taken.body.contains("An account with this email exists already"));

    // Signed in as someone else: a clear refusal, and the link stays usable.
    let other = new_client();
    app.add_member_with(&other, "Olive", "olive@example.com", "olive password 1").await;
    let wrong = app.get_with(&other, &link).await;
    assert!(wrong.body.contains("You are signed in as olive@example.com, but this invitation is for another email"));
    let refused = app.post_with(&other, "/invitation", &[("token", &token)]).await;
    assert_eq!(refused.status, 403);

    // Signed in as the invited email (through "Sign in", which comes back here): one click.
    let ernest = new_client();
    let next = format!("/invitation?token={token}");
    let login_page = app.get_with(&ernest, &format!("/login?next={}", urlencode(&next))).await;
    assert!(login_page.body.contains(&format!("name=\"next\" value=\"{next}\"")), "{}", login_page.body);
    let back = app
        .post_with(
            &ernest,
            "/login",
            &[("email", "ernest@example.com"), ("password", "ernest password 1"), ("next", &next)],
        )
        .await;
    assert_eq!(back.location.as_deref(), Some(next.as_str()));
    assert!(app.get_with(&ernest, &link).await.body.contains("Join Acme"));
    let joined = app.post_with(&ernest, "/invitation", &[("token", &token)]).await;
    assert_eq!(joined.location.as_deref(), Some("/destinations"));
    assert!(app.get_with(&ernest, "/destinations").await.body.contains("Acme · Ernest"));
    assert!(app.get("/members").await.body.contains("ernest@example.com"));
    // Ernest kept his password: nothing about the account changed but its membership.
    signed_in(&app, "ernest@example.com", "ernest password 1").await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn an_expired_link_is_refused(backend: Backend) {
    let (mut settings, dir, pg) = test_settings(backend);
    settings.identity.invitation_lifetime = Duration::from_secs(1);
    let app = spawn_with(settings, dir, pg).await;
    app.setup_admin().await;
    let link = app.invite("late@example.com", "viewer").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let expired = app.get_with(&new_client(), &link).await;
    assert_eq!(expired.status, 410);
    assert!(expired.body.contains("This invitation expired on"), "{}", expired.body);
    let late = new_client();
    let tried = app
        .post_with(
            &late,
            "/invitation",
            &[("token", &token_of(&link)), ("name", "Late"), ("password", "late password 1")],
        )
        .await;
    assert_eq!(tried.status, 410);
    assert!(!app.get("/admin/accounts").await.body.contains("late@example.com"), "no account was made");
}

async fn withdrawn(app: &TestApp, email: &str) -> String {
    let link = app.invite(email, "viewer").await;
    let id = app
        .db()
        .run(|c| {
            use devpilot::db::schema::invitations::dsl::*;
            use diesel::prelude::*;
            invitations.order(created_at.desc()).select(id).first::<String>(c)
        })
        .await
        .expect("id");
    assert_eq!(app.post(&format!("/members/invitations/{id}/revoke"), &[]).await.status, 303);
    link
}

async fn withdrawn_and_replaced_links_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let gone = withdrawn(&app, "w@example.com").await;
    let page = app.get_with(&new_client(), &gone).await;
    assert!(page.status == 410 && page.body.contains("This invitation was withdrawn."));
    let first = app.invite("twice@example.com", "viewer").await;
    let second = app.invite("twice@example.com", "admin").await;
    assert_eq!(app.get_with(&new_client(), &first).await.status, 410, "a new invitation replaces the old");
    assert_eq!(app.get_with(&new_client(), &second).await.status, 200);
    assert_eq!(app.get("/members").await.body.matches("twice@example.com").count(), 1, "listed once");
}

async fn a_mail_server_that_fails_does_not_lose_the_invitation(backend: Backend) {
    let port = crate::helpers::refused_port();
    let (mut settings, dir, pg) = test_settings(backend);
    let url = format!("smtp://127.0.0.1:{port}?tls=none");
    settings.mail = Some(MailSettings::parse(&url, "devpilot@example.com").expect("mail"));
    let app = spawn_with(settings, dir, pg).await;
    app.setup_admin().await;
    let page = app.post("/members/invitations", &[("email", "someone@example.com"), ("role", "viewer")]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("It could not be mailed"), "{}", page.body);
    let link = invitation_link(&page.body);
    assert_eq!(app.get_with(&new_client(), link.trim_start_matches(&app.address)).await.status, 200);
}

async fn owners_change_roles_and_remove_members(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let admin = app.add_member("Adam", "adam@example.com", "adam password 1", "admin").await;
    let adam = crate::admin_area::user_id(&app, "adam@example.com").await;
    let me = crate::admin_area::user_id(&app, ADMIN_EMAIL).await;
    // An admin is not an owner: members are the owners' to manage.
    assert_eq!(
        app.post_with(&admin, "/members/invitations", &[("email", "x@example.com"), ("role", "viewer")]).await.status,
        403
    );
    assert_eq!(app.post_with(&admin, &format!("/members/{me}/role"), &[("role", "viewer")]).await.status, 403);
    assert!(!app.get_with(&admin, "/members").await.body.contains("Invite someone"));

    // The last owner cannot step down or leave.
    app.post(&format!("/members/{me}/role"), &[("role", "admin")]).await;
    assert!(app.get("/members").await.body.contains("A workspace needs an owner"));
    app.post(&format!("/members/{me}/remove"), &[]).await;
    assert!(app.get("/members").await.body.contains("A workspace needs an owner"));

    assert_eq!(app.post(&format!("/members/{adam}/role"), &[("role", "owner")]).await.status, 303);
    assert!(app.get_with(&admin, "/members").await.body.contains("Invite someone"), "an owner at once");
    assert_eq!(
        app.post(&format!("/members/{me}/role"), &[("role", "viewer")]).await.status,
        303,
        "another owner remains"
    );
    assert_eq!(app.get("/destinations/new").await.status, 403, "a viewer now");
    assert_eq!(app.post_with(&admin, "/members/not-a-member/remove", &[]).await.status, 404);
    assert_eq!(app.post_with(&admin, &format!("/members/{me}/role"), &[("role", "boss")]).await.status, 303);
    assert!(app.get_with(&admin, "/members").await.body.contains("Choose a role"));
}

impl TestApp {
    /// Like `add_member`, on a given client.
    async fn add_member_with(&self, client: &reqwest::Client, name: &str, email: &str, password: &str) {
        let link = self.invite(email, "viewer").await;
        let token = token_of(&link);
        let joined =
            self.post_with(client, "/invitation", &[("token", &token), ("name", name), ("password", password)]).await;
        assert_eq!(joined.status, 303, "{}", joined.body);
    }
}

async fn a_removed_member_loses_every_session_and_token(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let bob_client = app.add_member("Bob", "bob@example.com", "bob password 1", "admin").await;
    let bob = crate::admin_area::user_id(&app, "bob@example.com").await;
    let browser = SavedCookie::sign_in(&app, "bob@example.com", "bob password 1").await;
    let api = jwt(&app, "bob@example.com", "bob password 1").await;
    let long_lived = crate::sessions::mint_as(&app, &bob_client).await;
    let script = Api::with_token(&app, &long_lived);
    const SOME_API: &str = "/api/v1/backup-destinations";
    assert_eq!(browser.get(&app, "/destinations").await.0, 200);
    assert_eq!((api.get(SOME_API).await.status, script.get(SOME_API).await.status), (200, 200));

    assert_eq!(app.post(&format!("/members/{bob}/remove"), &[]).await.status, 303);
    assert_eq!(
        browser.get(&app, "/destinations").await,
        (303, Some("/workspaces".into())),
        "the workspace is gone for him"
    );
    assert_eq!(app.get_with(&bob_client, "/destinations").await.location.as_deref(), Some("/workspaces"));
    assert_eq!(api.get(SOME_API).await.status, 401, "the JWT is refused");
    assert_eq!(script.get(SOME_API).await.status, 401, "the API token is refused");
    let revoked = app
        .db()
        .run(|c| {
            use devpilot::db::schema::api_tokens::dsl::*;
            use diesel::prelude::*;
            api_tokens.select(revoked_at.is_not_null()).load::<bool>(c)
        })
        .await
        .expect("tokens");
    assert_eq!(revoked, vec![true], "and revoked, so a new invitation does not bring it back");
}
