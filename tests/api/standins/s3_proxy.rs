//! An S3-compatible service that lacks one optional feature, as some real ones do: a proxy in
//! front of a real S3 server (s3s-fs, which checks SigV4) that refuses what the service it
//! stands for refuses, in the words such services use, and forwards the rest unchanged (the
//! Host header too, so the client's signature still holds):
//! - `Checksums`: any `x-amz-checksum-*` header, `x-amz-sdk-checksum-algorithm`, or a trailing
//!   checksum (`aws-chunked`) → 501 `NotImplemented` (Ceph and MinIO before 2025, Garage);
//! - `Conditional`: `If-None-Match` or `If-Match` on a write → 501 `NotImplemented` (B2 until 2024);
//! - `CapParts(n)`: a part number above `n` → 400 `InvalidArgument` (as S3 answers above 10,000).
//!
//! - `Nothing`: forwards everything (to see which optional headers Devpilot sends).
//!
//! Writes can be held (`hold_writes`): they get no answer until released, and then a 503
//! `SlowDown` without reaching the server (a destination that hangs, then recovers). Or paused
//! (`pause_writes`): their bodies are not read until released, and then they are forwarded (a
//! slow destination, so a run can be watched part-way).
//!
//! It counts what it refused, the highest part number it forwarded, and the checksum and
//! condition headers it let through.

use super::server::serve;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lacks {
    Nothing,
    Checksums,
    Conditional,
    CapParts(u32),
}

struct Proxy {
    upstream: String,
    lacks: Lacks,
    http: reqwest::Client,
    refused: AtomicUsize,
    highest_part: AtomicU32,
    checksummed: AtomicUsize,
    conditional: AtomicUsize,
    holding: AtomicBool,
    pausing: AtomicBool,
}

#[derive(Clone)]
pub struct S3Proxy {
    pub url: String,
    proxy: Arc<Proxy>,
}

impl S3Proxy {
    pub fn start(upstream: &str, lacks: Lacks) -> S3Proxy {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let proxy = Arc::new(Proxy {
            upstream: upstream.trim_end_matches('/').to_owned(),
            lacks,
            http,
            refused: AtomicUsize::new(0),
            highest_part: AtomicU32::new(0),
            checksummed: AtomicUsize::new(0),
            conditional: AtomicUsize::new(0),
            holding: AtomicBool::new(false),
            pausing: AtomicBool::new(false),
        });
        let data = web::Data::from(proxy.clone());
        let url = serve(move |app| {
            app.app_data(data.clone()).default_service(web::to(handle));
        });
        S3Proxy { url, proxy }
    }

    /// Requests refused for the missing feature so far.
    pub fn refused(&self) -> usize {
        self.proxy.refused.load(Ordering::SeqCst)
    }

    /// The highest part number forwarded so far.
    pub fn highest_part(&self) -> u32 {
        self.proxy.highest_part.load(Ordering::SeqCst)
    }

    /// Writes forwarded with an `x-amz-checksum-*` header, and with `If-None-Match`.
    pub fn checksummed(&self) -> usize {
        self.proxy.checksummed.load(Ordering::SeqCst)
    }

    pub fn conditional(&self) -> usize {
        self.proxy.conditional.load(Ordering::SeqCst)
    }

    /// Holds every write from now on (`true`), or lets writes through again (`false`).
    pub fn hold_writes(&self, hold: bool) {
        self.proxy.holding.store(hold, Ordering::SeqCst);
    }

    /// Leaves every write's body unread from now on (`true`), then forwards them (`false`).
    pub fn pause_writes(&self, pause: bool) {
        self.proxy.pausing.store(pause, Ordering::SeqCst);
    }

    pub fn reset_counts(&self) {
        for counter in [&self.proxy.refused, &self.proxy.checksummed, &self.proxy.conditional] {
            counter.store(0, Ordering::SeqCst);
        }
        self.proxy.highest_part.store(0, Ordering::SeqCst);
    }
}

fn refusal(lacks: Lacks, req: &HttpRequest) -> Option<HttpResponse> {
    let headers = req.headers();
    let has = |name: &str| headers.contains_key(name);
    let write = matches!(req.method().as_str(), "PUT" | "POST");
    match lacks {
        Lacks::Nothing => None,
        Lacks::Checksums => {
            let checksum = headers.keys().any(|k| k.as_str().starts_with("x-amz-checksum-"))
                || has("x-amz-sdk-checksum-algorithm")
                || has("x-amz-trailer")
                || headers.get("content-encoding").is_some_and(|v| v.as_bytes().starts_with(b"aws-chunked"));
            checksum.then(|| not_implemented("x-amz-checksum"))
        }
        Lacks::Conditional => {
            (write && (has("if-none-match") || has("if-match"))).then(|| not_implemented("If-None-Match"))
        }
        Lacks::CapParts(cap) => {
            let part = url::form_urlencoded::parse(req.query_string().as_bytes())
                .find(|(k, _)| k == "partNumber")
                .and_then(|(_, v)| v.parse::<u32>().ok())?;
            (part > cap).then(|| {
                error(400, "InvalidArgument", &format!("Part number must be an integer between 1 and {cap}, inclusive"))
            })
        }
    }
}

fn not_implemented(header: &str) -> HttpResponse {
    error(
        501,
        "NotImplemented",
        &format!("A header you provided implies functionality that is not implemented: {header}"),
    )
}

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).expect("status");
    HttpResponse::build(status).content_type("application/xml").body(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ))
}

async fn handle(proxy: web::Data<Proxy>, req: HttpRequest, mut payload: web::Payload) -> HttpResponse {
    while matches!(req.method().as_str(), "PUT" | "POST") && proxy.pausing.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(bytes) => body.extend_from_slice(&bytes),
            Err(_) => return HttpResponse::BadRequest().finish(),
        }
    }
    if matches!(req.method().as_str(), "PUT" | "POST") && proxy.holding.load(Ordering::SeqCst) {
        while proxy.holding.load(Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        return error(503, "SlowDown", "Please reduce your request rate.");
    }
    if let Some(refused) = refusal(proxy.lacks, &req) {
        proxy.refused.fetch_add(1, Ordering::SeqCst);
        return refused;
    }
    if req.headers().keys().any(|k| k.as_str().starts_with("x-amz-checksum-")) {
        proxy.checksummed.fetch_add(1, Ordering::SeqCst);
    }
    if req.headers().contains_key("if-none-match") {
        proxy.conditional.fetch_add(1, Ordering::SeqCst);
    }
    if let Some(part) = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "partNumber")
        .and_then(|(_, v)| v.parse::<u32>().ok())
    {
        proxy.highest_part.fetch_max(part, Ordering::SeqCst);
    }
    let url = format!("{}{}", proxy.upstream, req.uri().path_and_query().map_or("/", |p| p.as_str()));
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).expect("method");
    let mut forward = proxy.http.request(method, &url).body(body.freeze());
    for (name, value) in req.headers() {
        if name.as_str() != "content-length" {
            forward = forward.header(name.as_str(), value.as_bytes());
        }
    }
    let Ok(answer) = forward.send().await else { return HttpResponse::BadGateway().finish() };
    let mut reply =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(answer.status().as_u16()).expect("status"));
    for (name, value) in answer.headers() {
        if !matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
            reply.insert_header((name.as_str(), value.as_bytes()));
        }
    }
    reply.body(answer.bytes().await.unwrap_or_default())
}
