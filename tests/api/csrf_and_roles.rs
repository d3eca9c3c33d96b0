//! CSRF tokens, the viewer role, and isolation between workspaces: each refused request
//! changes nothing.

use crate::helpers::{Backend, new_client, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    state_changes_without_a_csrf_token_are_refused,
    viewers_see_but_cannot_change,
    another_workspace_is_not_found
);

async fn state_changes_without_a_csrf_token_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let form = [("name", "No token"), ("type", "local")];

    let missing = app.client.post(app.url("/destinations")).form(&form).send().await.expect("post");
    assert_eq!(missing.status().as_u16(), 403);
    assert!(missing.text().await.unwrap_or_default().contains("security token"));

    let mut wrong = form.to_vec();
    wrong.push(("csrf_token", "forged"));
    let forged = app.client.post(app.url("/destinations")).form(&wrong).send().await.expect("post");
    assert_eq!(forged.status().as_u16(), 403);

    let header = app
        .client
        .post(app.url("/destinations"))
        .header("X-CSRF-Token", "forged")
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(header.status().as_u16(), 403);

    // A token from another session does not work either.
    let other = new_client();
    let other_token = app.csrf(&other).await;
    let mut stolen = form.to_vec();
    stolen.push(("csrf_token", &other_token));
    let response = app.client.post(app.url("/destinations")).form(&stolen).send().await.expect("post");
    assert_eq!(response.status().as_u16(), 403);

    // Sign-out needs the token too (a forged link cannot sign people out).
    let logout = app.client.post(app.url("/logout")).send().await.expect("post");
    assert_eq!(logout.status().as_u16(), 403);

    assert!(app.destination_rows().await.is_empty(), "nothing was stored");
    // And the real token works.
    let ok = app.create_destination("With token", "local", &[]).await;
    assert_eq!(ok.status, 303);
    assert_eq!(app.destination_rows().await.len(), 1);
}

async fn viewers_see_but_cannot_change(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    assert_eq!(app.create_destination("Disk", "local", &[]).await.status, 303);
    app.add_member("Vic Viewer", "viewer@example.com", "viewer password 1", "viewer").await;
    let before = app.destination("Disk").await;

    let viewer = new_client();
    let login =
        app.post_with(&viewer, "/login", &[("email", "viewer@example.com"), ("password", "viewer password 1")]).await;
    assert_eq!(login.location.as_deref(), Some("/overview"));
    let list = app.get_with(&viewer, "/destinations").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("Disk"));
    assert!(list.body.contains("View only"));
    assert!(!list.body.contains("New destination"));

    let id = before.id.clone();
    for (path, form) in [
        ("/destinations".to_owned(), vec![("name", "Viewer's"), ("type", "local")]),
        (format!("/destinations/{id}/test"), vec![]),
        (format!("/destinations/{id}/disable"), vec![]),
        (format!("/destinations/{id}/default"), vec![]),
        (format!("/destinations/{id}/delete"), vec![]),
        (format!("/destinations/{id}"), vec![("name", "Renamed"), ("type", "local")]),
        ("/members/invitations".to_owned(), vec![("email", "x@example.com"), ("role", "admin")]),
    ] {
        let page = app.post_with(&viewer, &path, &form).await;
        assert_eq!(page.status, 403, "{path}");
    }
    assert_eq!(app.get_with(&viewer, "/destinations/new").await.status, 403);
    let after = app.destination_rows().await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].name, "Disk");
    assert_eq!(after[0].status, before.status);
}

async fn another_workspace_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    assert_eq!(app.create_destination("Ours", "local", &[]).await.status, 303);
    let ours = app.destination("Ours").await;

    // The admin opens a second workspace: the first one's destination is now someone else's.
    assert_eq!(app.post("/workspaces", &[("workspace", "Other")]).await.status, 303);
    let id = ours.id.clone();
    assert_eq!(app.get(&format!("/destinations/{id}/edit")).await.status, 404);
    assert_eq!(app.get(&format!("/destinations/{id}/delete")).await.status, 404);
    for path in [
        format!("/destinations/{id}/test"),
        format!("/destinations/{id}/default"),
        format!("/destinations/{id}/disable"),
        format!("/destinations/{id}/enable"),
        format!("/destinations/{id}/delete"),
    ] {
        let page = app.post(&path, &[]).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.body.contains("Ours"), "no data from the other workspace");
    }
    let update = app.post(&format!("/destinations/{id}"), &[("name", "Stolen"), ("type", "local")]).await;
    assert_eq!(update.status, 404);
    assert!(!app.get("/destinations").await.body.contains("Ours"));

    let after = app.destination("Ours").await;
    assert_eq!((after.name, after.status, after.workspace_id), (ours.name, ours.status, ours.workspace_id));
}
