//! A front door to fake-gcs-server that checks what fake-gcs-server does not, the way GCS does:
//! - every request needs a live bearer token issued by the token stand-in with a storage scope,
//!   else GCS's 401 (XML API: `AuthenticationRequired`; JSON API: `authError`);
//! - upload session URIs (`upload_id=…`) authorise themselves, as GCS documents;
//! - V4 signed URLs (`X-Goog-Signature`) are verified with the service account's public key and
//!   their expiry checked, else GCS's `SignatureDoesNotMatch` (403) or `ExpiredToken` (400).
//!
//! What passes is forwarded to fake-gcs-server unchanged, and its answer returned. It counts
//! single-request uploads (`uploadType=media`) and, on request ([`GcsGate::stall_uploads`]),
//! takes an upload's first bytes and then stops reading, as a server that hangs would.

use super::google_token::{GoogleTokenStandIn, Refused};
use super::server::serve;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDateTime, Utc};
use futures::StreamExt;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Gate {
    upstream: String,
    tokens: GoogleTokenStandIn,
    http: reqwest::Client,
    media_uploads: AtomicUsize,
    signed_gets: AtomicUsize,
    stall: AtomicBool,
}

#[derive(Clone)]
pub struct GcsGate {
    /// Base URL, as the `gcs_api` setting takes it.
    pub url: String,
    gate: Arc<Gate>,
}

impl GcsGate {
    pub fn start(upstream: &str, tokens: GoogleTokenStandIn) -> GcsGate {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let gate = Arc::new(Gate {
            upstream: upstream.trim_end_matches('/').to_owned(),
            tokens,
            http,
            media_uploads: AtomicUsize::new(0),
            signed_gets: AtomicUsize::new(0),
            stall: AtomicBool::new(false),
        });
        let data = web::Data::from(gate.clone());
        let url = serve(move |app| {
            app.app_data(data.clone()).default_service(web::to(handle));
        });
        GcsGate { url, gate }
    }

    /// Single-request uploads that passed the token check.
    pub fn media_uploads(&self) -> usize {
        self.gate.media_uploads.load(Ordering::SeqCst)
    }

    /// From now on, an upload's body is read a little and then not at all.
    pub fn stall_uploads(&self) {
        self.gate.stall.store(true, Ordering::SeqCst);
    }

    /// Signed-URL requests whose signature verified.
    pub fn signed_gets(&self) -> usize {
        self.gate.signed_gets.load(Ordering::SeqCst)
    }
}

async fn handle(gate: web::Data<Gate>, req: HttpRequest, mut payload: web::Payload) -> HttpResponse {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    let has = |name: &str| query.iter().any(|(k, _)| k == name);
    if has("X-Goog-Signature") {
        if let Err(e) = verify_signed_url(&gate, &req, &query) {
            return xml_error(e.status, e.code, e.message, &e.details);
        }
        gate.signed_gets.fetch_add(1, Ordering::SeqCst);
    } else {
        let authorization = req.headers().get("authorization").and_then(|v| v.to_str().ok());
        if let Err(refused) = gate.tokens.check(authorization, "https://www.googleapis.com/auth/devstorage.") {
            return refuse_token(req.path(), refused);
        }
    }
    let media = req.path().starts_with("/upload/") && query.iter().any(|(k, v)| k == "uploadType" && v == "media");
    if media {
        gate.media_uploads.fetch_add(1, Ordering::SeqCst);
        if gate.stall.load(Ordering::SeqCst) {
            let _ = payload.next().await;
            std::future::pending::<()>().await;
        }
    }
    // A body cut off on the way is not forwarded: GCS creates no object for it either.
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(bytes) => body.extend_from_slice(&bytes),
            Err(_) => return HttpResponse::BadRequest().finish(),
        }
    }
    forward(&gate, &req, body.freeze()).await
}

/// GCS's own answers to a missing, unknown or expired token, or one without a storage scope.
fn refuse_token(path: &str, refused: Refused) -> HttpResponse {
    let json_api = ["/storage/", "/upload/", "/download/"].iter().any(|p| path.starts_with(p));
    match (refused, json_api) {
        (Refused::Scope, true) => HttpResponse::Forbidden().json(json_error(
            403,
            "insufficientPermissions",
            "Provided scope(s) are not authorized",
        )),
        (Refused::Scope, false) => xml_error(403, "AccessDenied", "Access denied.", ""),
        (_, true) => HttpResponse::Unauthorized().json(json_error(401, "authError", "Invalid Credentials")),
        (_, false) => xml_error(401, "AuthenticationRequired", "Authentication required.", ""),
    }
}

fn json_error(code: u16, reason: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "error": { "code": code, "message": message,
        "errors": [{ "message": message, "domain": "global", "reason": reason }] } })
}

fn xml_error(status: u16, code: &str, message: &str, details: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).expect("status");
    HttpResponse::build(status).content_type("application/xml; charset=UTF-8").body(format!(
        "<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message>\
         <Details>{details}</Details></Error>"
    ))
}

/// An XML API error answer: status, code, message, details.
struct XmlError {
    status: u16,
    code: &'static str,
    message: &'static str,
    details: String,
}

fn invalid_argument(details: &str) -> XmlError {
    XmlError { status: 400, code: "InvalidArgument", message: "Invalid argument.", details: details.into() }
}

/// GCS's check of a V4 signed URL (GOOG4-RSA-SHA256), from the request as it arrived.
fn verify_signed_url(gate: &Gate, req: &HttpRequest, query: &[(String, String)]) -> Result<(), XmlError> {
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default();
    let mismatch = || XmlError {
        status: 403,
        code: "SignatureDoesNotMatch",
        message: "Access denied.",
        details: "The request signature we calculated does not match the signature you provided.".into(),
    };
    if param("X-Goog-Algorithm") != "GOOG4-RSA-SHA256" {
        return Err(invalid_argument("Unsupported algorithm."));
    }
    let date = param("X-Goog-Date");
    let signed_at = NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ").map_err(|_| mismatch())?.and_utc();
    let expires: i64 = param("X-Goog-Expires").parse().map_err(|_| mismatch())?;
    if !(1..=604_800).contains(&expires) {
        return Err(invalid_argument("X-Goog-Expires out of range."));
    }
    if signed_at + chrono::Duration::seconds(expires) < Utc::now() {
        let details = format!("Request has expired: {date}");
        return Err(XmlError { status: 400, code: "ExpiredToken", message: "Invalid argument.", details });
    }
    let (email, scope) = param("X-Goog-Credential").split_once('/').ok_or_else(mismatch)?;
    let public_key = gate.tokens.public_key(email).ok_or_else(mismatch)?;
    let mut canonical_query: Vec<String> =
        query.iter().filter(|(k, _)| k != "X-Goog-Signature").map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    canonical_query.sort();
    let signed_headers = param("X-Goog-SignedHeaders");
    let headers: Vec<String> = signed_headers
        .split(';')
        .map(|name| {
            let value = req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
            format!("{name}:{}", value.trim())
        })
        .collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n\n{signed_headers}\nUNSIGNED-PAYLOAD",
        req.method(),
        req.uri().path(),
        canonical_query.join("&"),
        headers.join("\n")
    );
    let string_to_sign =
        format!("GOOG4-RSA-SHA256\n{date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));
    let signature = hex::decode(param("X-Goog-Signature")).ok().and_then(|s| Signature::try_from(s.as_slice()).ok());
    let verifier = VerifyingKey::<Sha256>::new(public_key);
    match signature {
        Some(s) if verifier.verify(string_to_sign.as_bytes(), &s).is_ok() => Ok(()),
        _ => Err(mismatch()),
    }
}

/// RFC 3986: everything but the unreserved characters percent-encoded.
fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn forward(gate: &Gate, req: &HttpRequest, body: web::Bytes) -> HttpResponse {
    let target = format!("{}{}", gate.upstream, req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).expect("method");
    let mut request = gate.http.request(method, target).body(body);
    for (name, value) in req.headers() {
        if !matches!(name.as_str(), "host" | "content-length" | "transfer-encoding" | "connection") {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return HttpResponse::BadGateway().body(format!("fake-gcs-server: {e}")),
    };
    let status = actix_web::http::StatusCode::from_u16(response.status().as_u16()).expect("status");
    let mut answer = HttpResponse::build(status);
    for (name, value) in response.headers() {
        let value = value.to_str().unwrap_or_default();
        match name.as_str() {
            "content-length" | "transfer-encoding" | "connection" => {}
            // Session URIs must come back through the gate.
            "location" => {
                let own_url = format!("http://{}", req.connection_info().host());
                answer.insert_header((name.as_str(), value.replace(&gate.upstream, &own_url)));
            }
            _ => {
                answer.append_header((name.as_str(), value));
            }
        }
    }
    // Streamed through, with its length when it has one (object_store wants Content-Length).
    match response.content_length() {
        Some(len) => answer.body(actix_web::body::SizedStream::new(len, response.bytes_stream())),
        None => answer.streaming(response.bytes_stream()),
    }
}
