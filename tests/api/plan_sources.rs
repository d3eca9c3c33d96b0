//! PostgreSQL sources and restores through the pages: the connection URL is checked when the plan
//! is saved (with the server's own reason next to the field), never shown again, never in a log
//! or a plaintext column; a blank URL on an edit keeps the stored one; restores are for writers of
//! the workspace only and refuse unsafe targets before anything is read or written.

use crate::helpers::{Backend, captured_logs};
use crate::on_both_backends;
use crate::plans::{fixture, plan, plan_rows};
use crate::provider_sftp::viewer;
use crate::runs::{fill, settled};

on_both_backends!(a_postgres_source_is_checked_and_its_url_kept_secret, restores_are_guarded);

/// The password-checking PostgreSQL that scripts/test starts, with a password of its own.
fn scram() -> (String, String) {
    let url = std::env::var("DEVPILOT_TEST_PG_SCRAM").expect("DEVPILOT_TEST_PG_SCRAM: run the tests with scripts/test");
    let password = url::Url::parse(&url).expect("url").password().expect("password").to_owned();
    (url, password)
}

fn error_next_to(body: &str, field: &str) -> String {
    let marker = format!("id=\"f-{field}-error\">");
    let at = body.find(&marker).unwrap_or_else(|| panic!("no error next to {field}: {body}"));
    body[at + marker.len()..].split("</div>").next().unwrap_or_default().to_owned()
}

async fn a_postgres_source_is_checked_and_its_url_kept_secret(backend: Backend) {
    let f = fixture(backend).await;
    crate::database_grants::grant_test_postgres(&f.app).await;
    let (good, password) = scram();
    let closed_port = crate::helpers::refused_port();
    let nowhere = format!("postgres://app:pw@127.0.0.1:{closed_port}/db");
    let workspace = crate::database_grants::workspace_ids(&f.app).await.remove(0);
    let server = devpilot::grants::DatabaseServer::Tcp { host: "127.0.0.1".into(), port: closed_port };
    crate::database_grants::grant_database(&f.app, &workspace, server).await;
    let wrong_password = good.replacen(&password, "not-the-password", 1);
    let cases = [
        ("", "Connection URL is required"),
        ("mysql://app@db/shop", "must start with postgres://"),
        (nowhere.as_str(), "could not connect"),
        (wrong_password.as_str(), "authentication failed"),
    ];
    for (url, expected) in cases {
        let page = f.save_plan("/plans", "Database", &[("source_kind", "postgres"), ("source_url", url)]).await;
        assert_eq!(page.status, 422, "{url}: {}", page.body);
        let shown = error_next_to(&page.body, "source_url");
        assert!(shown.contains(expected), "{url}: {shown}");
        assert!(!page.body.contains("not-the-password") && !page.body.contains(&password), "a password was echoed");
    }
    assert!(plan_rows(&f.app).await.is_empty(), "nothing stored");

    let saved = f.save_plan("/plans", "Database", &[("source_kind", "postgres"), ("source_url", &good)]).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let id = plan(&f.app, "Database").await.id;
    let edit = f.app.get(&format!("/plans/{id}/edit")).await.body;
    assert!(edit.contains("A connection URL is stored (postgres://postgres@127.0.0.1:"), "{edit}");
    assert!(!edit.contains(&password), "the edit form shows the password");
    // A blank URL keeps the stored one (which is checked again); another value replaces it.
    let kept =
        f.save_plan(&format!("/plans/{id}"), "Database", &[("source_kind", "postgres"), ("source_url", "")]).await;
    assert_eq!(kept.status, 303, "{}", kept.body);
    let replaced = f
        .save_plan(&format!("/plans/{id}"), "Database", &[("source_kind", "postgres"), ("source_url", &wrong_password)])
        .await;
    assert_eq!(replaced.status, 422, "a bad replacement is refused and the stored URL stays");
    let list = f.app.get("/plans").await.body;
    assert!(list.contains("postgres://postgres@127.0.0.1:") && !list.contains(&password), "{list}");

    let (location, sealed) = f
        .app
        .db()
        .run(move |c| {
            use devpilot::db::schema::plans::dsl::*;
            use diesel::prelude::*;
            plans.filter(id.eq(&id)).select((source_path, source_secret)).first::<(String, Option<Vec<u8>>)>(c)
        })
        .await
        .expect("plan row");
    assert!(!location.contains(&password), "the password is in a plaintext column: {location}");
    let sealed = sealed.expect("the URL is sealed");
    assert!(!sealed.windows(password.len()).any(|w| w == password.as_bytes()), "the sealed URL shows the password");
    assert!(!captured_logs().contains(&password), "the password reached the logs");
}

async fn restores_are_guarded(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    assert_eq!(f.save_plan("/plans", "Files", &[]).await.status, 303);
    let plan_id = plan(&f.app, "Files").await.id;
    assert_eq!(f.app.post(&format!("/plans/{plan_id}/run"), &[]).await.status, 303);
    let run = settled(&f.app, 1).await.remove(0);
    assert_eq!(run.status, "succeeded", "{run:?}");
    let restore = format!("/runs/{}/restore", run.id);
    let form = f.app.get(&restore).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("Folder to restore into") && form.body.contains(&run.sha256.clone().expect("sha")));
    assert!(f.app.get(&format!("/plans/{plan_id}")).await.body.contains(&format!("href=\"{restore}\"")));

    let place = tempfile::tempdir().expect("place");
    f.app.grant_folder(place.path(), "read_write").await;
    let inner = place.path().join("inner");
    std::fs::create_dir(&inner).expect("mkdir");
    std::fs::write(inner.join("already-here"), b"keep me").expect("write");
    let full = inner.to_string_lossy().into_owned();
    let file = inner.join("already-here").to_string_lossy().into_owned();
    let granted = place.path().to_string_lossy().into_owned();
    let no_parent = place.path().join("no/such").to_string_lossy().into_owned();
    for (target, expected) in [
        ("", "Enter the absolute path"),
        ("relative/folder", "is not an absolute path"),
        (full.as_str(), "is not empty"),
        (file.as_str(), "is a file"),
        (granted.as_str(), "is a granted folder itself"),
        (no_parent.as_str(), "does not exist"),
        ("/no/such/parent/folder", "not granted to this workspace"),
    ] {
        let page = f.app.post(&restore, &[("target", target)]).await;
        assert_eq!(page.status, 422, "{target}: {}", page.body);
        let shown = error_next_to(&page.body, "target");
        assert!(shown.contains(expected), "{target}: {shown}");
    }
    assert_eq!(std::fs::read(inner.join("already-here")).expect("kept"), b"keep me");
    assert_eq!(std::fs::read_dir(place.path()).expect("place").count(), 1, "nothing was written");

    let viewer = viewer(&f.app).await;
    assert_eq!(f.app.get_with(&viewer, &restore).await.status, 403);
    let into = place.path().join("by-viewer").to_string_lossy().into_owned();
    assert_eq!(f.app.post_with(&viewer, &restore, &[("target", &into)]).await.status, 403);
    assert!(!f.app.get_with(&viewer, &format!("/plans/{plan_id}")).await.body.contains(&restore));
    assert!(!place.path().join("by-viewer").exists());

    assert_eq!(f.app.post("/workspaces", &[("workspace", "Other")]).await.status, 303);
    assert_eq!(f.app.get(&restore).await.status, 404, "another workspace's run");
    assert_eq!(f.app.post(&restore, &[("target", &into)]).await.status, 404);
    assert!(!place.path().join("by-viewer").exists());
}
