//! Security headers on every response: a Content-Security-Policy that allows only our own
//! scripts and styles (no inline script anywhere; htmx runs with eval off), no framing, no
//! sniffing, a same-origin referrer, and HSTS when the server is reached over https.

use actix_web::middleware::DefaultHeaders;

/// `form_action_extra`: origins a form may lead to besides ours (the OAuth consent page, which
/// "Connect Google Drive" redirects to after a POST).
pub fn security_headers(https: bool, form_action_extra: &[String]) -> DefaultHeaders {
    let mut form_action = vec!["'self'".to_owned()];
    form_action.extend(form_action_extra.iter().cloned());
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action {}; frame-ancestors 'none'",
        form_action.join(" ")
    );
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", policy))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=()"));
    if https { headers.add(("Strict-Transport-Security", "max-age=31536000; includeSubDomains")) } else { headers }
}

/// The origin (scheme://host[:port]) of a URL, for the policy.
pub fn origin(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    Some(parsed.origin().ascii_serialization()).filter(|o| o != "null")
}
