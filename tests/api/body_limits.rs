//! Request bodies are read up to 256 KiB: a larger form answers 413 with a page that says so, a
//! larger JSON body 413 in the API's error shape, whether its length is announced or it comes
//! chunked, on every route (also those that take no body), and the client gets that answer (no
//! dropped connection). A service-account key is refused long before that, with its own message.

use crate::api_client::admin;
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(
    oversized_forms_answer_413_with_a_page,
    oversized_json_answers_413_in_the_error_shape,
    a_service_account_key_has_a_sane_size
);

const LIMIT: usize = 256 * 1024;

/// Page routes that take a form, and some that take none.
const FORM_ROUTES: &[&str] = &[
    "/destinations",
    "/destinations/fields",
    "/destinations/test-credentials",
    "/destinations/{id}",
    "/destinations/{id}/test",
    "/destinations/{id}/default",
    "/destinations/{id}/delete",
    "/plans",
    "/servers",
    "/members/invitations",
    "/invitation",
    "/account/password",
    "/admin/accounts",
    "/workspaces",
    "/settings/api/tokens",
    "/login",
];

/// A form body of `size` bytes that carries the session's CSRF token first.
fn big_form(csrf: &str, size: usize) -> String {
    let head = format!("csrf_token={csrf}&name=Big&config.note=");
    format!("{head}{}", "x".repeat(size.saturating_sub(head.len())))
}

fn chunked(body: String) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.into_bytes().chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures::stream::iter(chunks))
}

async fn destination_count(app: &TestApp) -> usize {
    app.destination_rows().await.len()
}

async fn oversized_forms_answer_413_with_a_page(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    assert_eq!(app.create_destination("Disk", "local", &[]).await.status, 303);
    let id = app.destination("Disk").await.id;
    let csrf = app.csrf(&app.client).await;
    for route in FORM_ROUTES {
        let url = app.url(&route.replace("{id}", &id));
        for (how, body) in [
            ("with a length", reqwest::Body::from(big_form(&csrf, 2 * LIMIT))),
            ("chunked", chunked(big_form(&csrf, 2 * LIMIT))),
        ] {
            let response = app
                .client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{route} {how}: the connection was dropped: {e}"));
            assert_eq!(response.status().as_u16(), 413, "{route} {how}");
            let text = response.text().await.expect("body");
            assert!(text.contains("larger than 256 KiB, the most this server accepts"), "{route} {how}: {text}");
            assert!(text.contains("<html"), "{route} {how}: a page");
        }
        // htmx sends the token in a header: then the handler's form extractor is what refuses.
        let response = app
            .client
            .post(&url)
            .header("HX-Request", "true")
            .header("X-CSRF-Token", &csrf)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big_form("", 2 * LIMIT))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{route} (htmx): the connection was dropped: {e}"));
        assert_eq!(response.status().as_u16(), 413, "{route} (htmx)");
        assert!(response.text().await.expect("body").contains("error-message"), "{route}: the notice's text");
    }
    // Just under the limit is an ordinary form (here: one whose name is far too long).
    let fits = format!("csrf_token={csrf}&type=local&name={}", "n".repeat(LIMIT - 1024));
    let response = app
        .client
        .post(app.url("/destinations"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(fits)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(destination_count(&app).await, 1, "nothing was created");
    let form = app.client.post(app.url("/destinations")).header("content-type", "text/plain").body("x");
    let response = form.header("X-CSRF-Token", &csrf).send().await.expect("POST");
    assert_eq!(response.status().as_u16(), 400, "not a form: a 400 page");
    assert!(response.text().await.expect("body").contains("takes a form"));
}

async fn oversized_json_answers_413_in_the_error_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let big = json!({"name": "Big", "destinationType": "local", "config": {"path": "x".repeat(2 * LIMIT)}});
    let text = big.to_string();
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/backup-destinations"),
        (reqwest::Method::POST, "/api/v1/backup-destinations/test"),
        (reqwest::Method::PUT, "/api/v1/backup-destinations/00000000-0000-4000-8000-000000000000"),
        (reqwest::Method::POST, "/api/v1/backup-schedules"),
        (reqwest::Method::POST, "/api/v1/backup-destinations/00000000-0000-4000-8000-000000000000/default"),
        (reqwest::Method::POST, "/api/v1/auth/token"),
    ] {
        for (how, body) in [("with a length", reqwest::Body::from(text.clone())), ("chunked", chunked(text.clone()))] {
            let response = api
                .raw(method.clone(), path)
                .bearer_auth(&api.token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {path} {how}: the connection was dropped: {e}"));
            let status = response.status().as_u16();
            let reply: serde_json::Value = response.json().await.expect("a JSON error");
            assert_eq!(status, 413, "{method} {path} {how}: {reply}");
            assert_eq!(reply["error"], "Payload Too Large", "{path}: {reply}");
            assert!(reply["message"].as_str().unwrap_or_default().contains("256 KiB"), "{path}: {reply}");
        }
    }
    assert_eq!(destination_count(&app).await, 0);
}

/// A key of the right shape but hundreds of KB: refused next to the field (form) or under its
/// JSON name (API), with the sizes, before anything is parsed or stored.
async fn a_service_account_key_has_a_sane_size(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let padding = "A".repeat(100 * 1024);
    let key = json!({"type": "service_account", "client_email": "sa@project.iam.gserviceaccount.com",
        "private_key": format!("-----BEGIN PRIVATE KEY-----\n{padding}\n-----END PRIVATE KEY-----\n")})
    .to_string();
    let page = app
        .create_destination("Big key", "gcs", &[("bucket", "my-bucket"), ("service_account_key", key.as_str())])
        .await;
    assert_eq!(page.status, 422);
    let marker = "id=\"f-service_account_key-error\">";
    let at = page.body.find(marker).expect("an error next to the key") + marker.len();
    let message = &page.body[at..at + page.body[at..].find("</div>").expect("end")];
    assert!(message.starts_with("The pasted key is 100.") && message.contains("at most 16 KB"), "{message}");
    assert!(!page.body.contains(&padding), "the key is not echoed back");

    let api = admin(&app).await;
    let body = json!({"name": "Big key", "destinationType": "gcs",
        "config": {"bucket": "my-bucket", "service_account_key": serde_json::from_str::<serde_json::Value>(&key).expect("json")}});
    let reply = api.post("/api/v1/backup-destinations", body).await;
    assert_eq!(reply.status, 422, "{reply:?}");
    let message = reply.json["fields"]["config.service_account_key"].as_str().unwrap_or_default();
    assert!(message.starts_with("The pasted key is 100."), "{reply:?}");
    assert_eq!(destination_count(&app).await, 0);
}
