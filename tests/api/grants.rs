//! The operator's grant page: only operators see it and change grants (an owner of a workspace of
//! their own gets 403, nobody signed in goes to sign-in); a folder is resolved when granted and
//! must exist and be a folder; Devpilot's data folder, key and database, and anything inside the
//! data folder, are never granted; a read-and-write grant never contains them (a read grant may);
//! database servers as host:port or a socket folder; grants and revocations are in the workspace's
//! audit log.

use crate::fingerprint;
use crate::helpers::{Backend, Page, TestApp, new_client, spawn_app};
use crate::on_both_backends;
use std::path::Path;

on_both_backends!(only_operators_grant, grants_are_checked_and_recorded);

/// An owner of a workspace of their own who is not an operator.
async fn owner(app: &TestApp) -> reqwest::Client {
    crate::admin_area::tenant_owner(app, "Olive", "olive@example.com", "owner password 1", "Olive's").await
}

async fn grant(app: &TestApp, workspace: &str, fields: &[(&str, &str)]) -> Page {
    let mut form = vec![("workspace_id", workspace)];
    form.extend_from_slice(fields);
    app.post("/admin/grants", &form).await
}

fn shown(page: &Page) -> String {
    crate::hostile_paths::text(page)
}

async fn only_operators_grant(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let folder = tempfile::tempdir().expect("folder");
    app.grant_folder(folder.path(), "read").await;
    let id = grant_ids(&app).await.remove(0);
    let olive = owner(&app).await;
    let theirs = app.workspace_id("Olive's").await;
    let before = fingerprint::state(&app).await;
    assert_eq!(app.get_with(&olive, "/admin/grants").await.status, 403);
    let path = folder.path().to_string_lossy().into_owned();
    let form =
        [("kind", "folder"), ("workspace_id", theirs.as_str()), ("path", path.as_str()), ("access", "read_write")];
    assert_eq!(app.post_with(&olive, "/admin/grants", &form).await.status, 403);
    assert_eq!(app.post_with(&olive, &format!("/admin/grants/{id}/revoke"), &[]).await.status, 403);
    let nobody = new_client();
    let page = app.get_with(&nobody, "/admin/grants").await;
    assert_eq!((page.status, page.location.as_deref()), (303, Some("/login")));
    assert_eq!(fingerprint::state(&app).await, before, "nothing changed");
}

async fn grant_ids(app: &TestApp) -> Vec<String> {
    app.db()
        .run(|c| {
            use devpilot::db::schema::host_grants::dsl::*;
            use diesel::prelude::*;
            host_grants.order(created_at.asc()).select(id).load::<String>(c)
        })
        .await
        .expect("grants")
}

async fn grants_are_checked_and_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let acme = app.workspace_id("Acme").await;
    let data = app.data_dir.path();
    let folder = tempfile::tempdir().expect("folder");
    std::fs::write(folder.path().join("a-file"), b"x").expect("write");
    let at = |p: &Path| p.to_string_lossy().into_owned();
    let before = fingerprint::state(&app).await;
    let refusals: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![("path", at(data))], "is in Devpilot's data folder; it can never be granted"),
        (vec![("path", at(&data.join("backups")))], "is in Devpilot's data folder"),
        (vec![("path", at(&data.join("master.key")))], "is in Devpilot's data folder"),
        (vec![("path", at(&folder.path().join("missing")))], "No such file or directory"),
        (vec![("path", at(&folder.path().join("a-file")))], "is not a folder"),
        (vec![("path", "relative/folder".into())], "is not an absolute path"),
        (
            vec![("path", at(data.parent().expect("parent"))), ("access", "read_write".into())],
            "can be granted for reading only",
        ),
        (vec![("path", at(folder.path())), ("note", "evil\u{202e}txt".into())], "invisible formatting"),
    ];
    for (fields, words) in &refusals {
        let mut form: Vec<(&str, &str)> = vec![("kind", "folder"), ("access", "read")];
        form.retain(|(k, _)| !fields.iter().any(|(f, _)| f == k));
        form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
        let page = grant(&app, &acme, &form).await;
        assert_eq!(page.status, 422, "{fields:?}: {}", page.body);
        assert!(shown(&page).contains(words), "{fields:?}: expected {words:?} in {}", shown(&page));
    }
    for (server, words) in [("db:0", "is not a port"), ("bad host:5432", "is not a host name"), ("", "Enter host:port")]
    {
        let page = grant(&app, &acme, &[("kind", "database"), ("server", server)]).await;
        assert_eq!(page.status, 422, "{server}");
        assert!(shown(&page).contains(words), "{server}: {}", shown(&page));
    }
    let page =
        grant(&app, "no-such-workspace", &[("kind", "folder"), ("path", &at(folder.path())), ("access", "read")]).await;
    assert!(shown(&page).contains("Choose a workspace."), "{}", shown(&page));
    assert_eq!(fingerprint::state(&app).await, before, "refused grants change nothing");

    // Read grants may hold the data folder (sources skip it); the page says so.
    let parent = at(data.parent().expect("parent"));
    assert_eq!(grant(&app, &acme, &[("kind", "folder"), ("path", &parent), ("access", "read")]).await.status, 303);
    assert!(shown(&app.get("/admin/grants").await).contains("Contains Devpilot's data folder"));
    let linked = folder.path().join("link");
    std::os::unix::fs::symlink(folder.path(), &linked).expect("symlink");
    assert_eq!(
        grant(&app, &acme, &[("kind", "folder"), ("path", &at(&linked)), ("access", "read_write")]).await.status,
        303
    );
    let again = grant(&app, &acme, &[("kind", "folder"), ("path", &at(folder.path())), ("access", "read")]).await;
    assert!(shown(&again).contains("Already granted to this workspace"), "resolved when granted: {}", shown(&again));
    for server in ["127.0.0.1:5432", "/tmp"] {
        assert_eq!(grant(&app, &acme, &[("kind", "database"), ("server", server)]).await.status, 303, "{server}");
    }
    let list = shown(&app.get("/admin/grants").await);
    assert!(list.contains(&at(&std::fs::canonicalize(folder.path()).expect("resolved"))), "stored resolved");
    assert!(list.contains("127.0.0.1:5432") && list.contains("Read and write"));

    let ids = grant_ids(&app).await;
    assert_eq!(app.post(&format!("/admin/grants/{}/revoke", ids[1]), &[]).await.status, 303);
    assert_eq!(grant_ids(&app).await.len(), ids.len() - 1);
    let audit = shown(&app.get("/audit?type=grant").await);
    assert!(
        audit.contains("Granted read and write access to") && audit.contains("Revoked read and write access to"),
        "{audit}"
    );
    assert!(audit.contains("Granted the database server 127.0.0.1:5432"), "{audit}");
}
