//! Every response carries the security headers; the policy allows no inline script or style, and
//! no page of ours uses any (the browser tests run under it in Chromium).

use crate::helpers::{Backend, spawn_app};
use crate::on_both_backends;

on_both_backends!(pages_and_the_api_carry_security_headers);

async fn pages_and_the_api_carry_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    for path in [
        "/login",
        "/destinations",
        "/plans/new",
        "/databases",
        "/databases/new",
        "/members",
        "/workspaces",
        "/api/v1/openapi.json",
        "/nope",
    ] {
        let response = app.client.get(app.url(path)).send().await.expect("GET");
        let header =
            |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let policy = header("content-security-policy");
        assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{path}: {policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{path}: {policy}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
        assert_eq!(header("strict-transport-security"), "", "{path}: no HSTS over plain http");
        let body = response.text().await.expect("body");
        assert!(!body.contains(" style=\"") && !body.contains("<script>"), "{path}: inline style or script");
    }
    // Tools and browsers that do not read the page's icon link still find one.
    let icon = app.client.get(app.url("/favicon.ico")).send().await.expect("GET /favicon.ico");
    assert_eq!(icon.status(), 200);
    let kind = icon.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(kind, "image/svg+xml");
    assert!(icon.text().await.expect("icon").contains("<svg"), "the icon is the SVG the pages link");
}
