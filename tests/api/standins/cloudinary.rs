//! Cloudinary's documented APIs for raw assets of one cloud: the Admin API (`ping`, resource
//! listing by prefix, resource details) with HTTP basic auth `api_key:api_secret`; the upload
//! API (`raw/upload`, multipart) and `raw/destroy`, both signed: every parameter but `file`,
//! `api_key`, `resource_type` and `signature`, sorted, `key=value` joined by `&`, the secret
//! appended, SHA-1 hex; timestamps older than an hour are stale. Chunked uploads send
//! `X-Unique-Upload-Id` and `Content-Range` (total `-1` until the last chunk; chunks other than
//! the last at least 5 MB) and the asset exists once the last chunk is in. Empty files are
//! refused, as Cloudinary does. Delivery URLs (`/{cloud}/raw/upload/v{version}/{public_id}`)
//! serve the bytes without credentials.

use super::server::serve;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

const MIN_CHUNK: usize = 5 * 1024 * 1024;

struct Asset {
    content: Vec<u8>,
    version: i64,
    created_at: chrono::DateTime<chrono::Utc>,
    context: BTreeMap<String, String>,
}

struct State {
    base: String,
    cloud: String,
    api_key: String,
    api_secret: String,
    assets: BTreeMap<String, Asset>,
    /// X-Unique-Upload-Id → bytes so far
    partial: HashMap<String, Vec<u8>>,
    chunk_requests: usize,
    /// Delivery URL downloads served so far.
    deliveries: usize,
    /// From this delivery on (1 = the first), serve other bytes than were uploaded: a hostile
    /// destination that answers differently the second time.
    tamper_from: Option<usize>,
}

#[derive(Clone)]
pub struct Cloudinary {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Cloudinary {
    pub fn start(cloud: &str, api_key: &str, api_secret: &str) -> Cloudinary {
        let state = Arc::new(Mutex::new(State {
            base: String::new(),
            cloud: cloud.into(),
            api_key: api_key.into(),
            api_secret: api_secret.into(),
            assets: BTreeMap::new(),
            partial: HashMap::new(),
            chunk_requests: 0,
            deliveries: 0,
            tamper_from: None,
        }));
        let data = web::Data::from(state.clone());
        let url = serve(move |cfg| {
            cfg.app_data(data.clone())
                .route("/v1_1/{cloud}/ping", web::get().to(ping))
                .route("/v1_1/{cloud}/resources/raw/upload", web::get().to(list))
                .route("/v1_1/{cloud}/resources/raw/upload/{public_id:.*}", web::get().to(details))
                .route("/v1_1/{cloud}/raw/upload", web::post().to(upload))
                .route("/v1_1/{cloud}/raw/destroy", web::post().to(destroy))
                .route("/{cloud}/raw/upload/v{version}/{public_id:.*}", web::get().to(deliver));
        });
        state.lock().unwrap_or_else(|e| e.into_inner()).base = url.clone();
        Cloudinary { url, state }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn api(&self) -> String {
        format!("{}/v1_1", self.url)
    }

    /// (public_id, size) of every asset, as the server holds them.
    pub fn assets(&self) -> Vec<(String, usize)> {
        self.lock().assets.iter().map(|(id, a)| (id.clone(), a.content.len())).collect()
    }

    pub fn chunk_requests(&self) -> usize {
        self.lock().chunk_requests
    }

    /// Delivery URL downloads served so far.
    pub fn deliveries(&self) -> usize {
        self.lock().deliveries
    }

    /// Serves other bytes (the uploaded ones with one flipped) from the `n`-th delivery on,
    /// counting from now (1: the next one).
    pub fn tamper_from(&self, n: usize) {
        let mut s = self.lock();
        s.tamper_from = Some(s.deliveries + n);
    }

    /// The signature Cloudinary expects for these parameters.
    pub fn signature(params: &[(&str, &str)], secret: &str) -> String {
        let sorted: BTreeMap<&str, &str> = params.iter().copied().collect();
        let to_sign: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
        hex::encode(Sha1::digest(format!("{}{secret}", to_sign.join("&")).as_bytes()))
    }
}

type Shared = web::Data<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).expect("status")).json(json!({ "error": { "message": message } }))
}

/// The Admin API's basic auth; `Some(refusal)` when it fails.
fn admin_refusal(s: &State, req: &HttpRequest, cloud: &str) -> Option<HttpResponse> {
    if cloud != s.cloud {
        return Some(error(401, &format!("Invalid cloud_name {cloud}")));
    }
    let credentials = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let Some((key, secret)) = credentials.as_deref().and_then(|c| c.split_once(':')) else {
        return Some(error(401, "Must supply api_key"));
    };
    if key != s.api_key {
        return Some(error(401, &format!("Invalid api_key {key}")));
    }
    if secret != s.api_secret {
        return Some(error(401, "api_secret mismatch"));
    }
    None
}

/// Checks a signed request's key, timestamp and signature; `Some(refusal)` when one fails.
fn signature_refusal(s: &State, cloud: &str, params: &BTreeMap<String, String>) -> Option<HttpResponse> {
    if cloud != s.cloud {
        return Some(error(401, &format!("Invalid cloud_name {cloud}")));
    }
    let key = params.get("api_key").map_or("", String::as_str);
    if key.is_empty() {
        return Some(error(401, "Must supply api_key"));
    }
    if key != s.api_key {
        return Some(error(401, &format!("Unknown API key {key}")));
    }
    let timestamp: i64 = params.get("timestamp").and_then(|t| t.parse().ok()).unwrap_or(0);
    if chrono::Utc::now().timestamp() - timestamp > 3600 {
        return Some(error(
            400,
            &format!("Stale request - reported time is {timestamp} which is more than 1 hour ago"),
        ));
    }
    let signed: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, v)| !matches!(k.as_str(), "file" | "api_key" | "resource_type" | "signature") && !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let expected = Cloudinary::signature(&signed, &s.api_secret);
    let given = params.get("signature").map_or("", String::as_str);
    if given != expected {
        let to_sign: Vec<String> = signed.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return Some(error(401, &format!("Invalid Signature {given}. String to sign - '{}'.", to_sign.join("&"))));
    }
    None
}

fn resource(s: &State, public_id: &str, a: &Asset, with_context: bool) -> Value {
    let url = format!("{}/{}/raw/upload/v{}/{public_id}", s.base, s.cloud, a.version);
    let mut r = json!({
        "public_id": public_id, "version": a.version, "resource_type": "raw", "type": "upload",
        "bytes": a.content.len(), "created_at": a.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "url": url, "secure_url": url,
    });
    if with_context && !a.context.is_empty() {
        r["context"] = json!({ "custom": a.context });
    }
    r
}

async fn ping(state: Shared, req: HttpRequest, cloud: web::Path<String>) -> HttpResponse {
    match admin_refusal(&lock(&state), &req, &cloud) {
        Some(refused) => refused,
        None => HttpResponse::Ok().json(json!({ "status": "ok" })),
    }
}

async fn list(state: Shared, req: HttpRequest, cloud: web::Path<String>) -> HttpResponse {
    let s = lock(&state);
    if let Some(refused) = admin_refusal(&s, &req, &cloud) {
        return refused;
    }
    let q: HashMap<String, String> = url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    let prefix = q.get("prefix").map_or("", String::as_str);
    let max: usize = q.get("max_results").and_then(|m| m.parse().ok()).unwrap_or(10);
    if !(1..=500).contains(&max) {
        return error(400, "max_results must be between 1 and 500");
    }
    let skip: usize = q.get("next_cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let context = q.get("context").map(String::as_str) == Some("true");
    let matching: Vec<(&String, &Asset)> = s.assets.iter().filter(|(id, _)| id.starts_with(prefix)).collect();
    let page: Vec<Value> = matching.iter().skip(skip).take(max).map(|(id, a)| resource(&s, id, a, context)).collect();
    let mut answer = json!({ "resources": page });
    if skip + max < matching.len() {
        answer["next_cursor"] = json!((skip + max).to_string());
    }
    HttpResponse::Ok().json(answer)
}

async fn details(state: Shared, req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let s = lock(&state);
    let (cloud, public_id) = path.into_inner();
    if let Some(refused) = admin_refusal(&s, &req, &cloud) {
        return refused;
    }
    match s.assets.get(&public_id) {
        Some(a) => HttpResponse::Ok().json(resource(&s, &public_id, a, true)),
        None => error(404, &format!("Resource not found - {public_id}")),
    }
}

async fn deliver(state: Shared, path: web::Path<(String, String, String)>) -> HttpResponse {
    let mut s = lock(&state);
    s.deliveries += 1;
    let tampered = s.tamper_from.is_some_and(|from| s.deliveries >= from);
    let (cloud, version, public_id) = path.into_inner();
    match s.assets.get(&public_id) {
        Some(a) if cloud == s.cloud && version == a.version.to_string() => {
            let mut content = a.content.clone();
            if let Some(byte) = content.get_mut(a.content.len() / 2).filter(|_| tampered) {
                *byte ^= 0x5a;
            }
            HttpResponse::Ok().content_type("application/octet-stream").body(content)
        }
        _ => HttpResponse::NotFound().finish(),
    }
}

/// `bytes a-b/T` with T a number or `-1` (not known yet).
fn content_range(req: &HttpRequest) -> Option<(usize, usize, Option<usize>)> {
    let value = req.headers().get(header::CONTENT_RANGE)?.to_str().ok()?.strip_prefix("bytes ")?;
    let (range, total) = value.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let total = if total == "-1" { None } else { Some(total.parse().ok()?) };
    Some((a.parse().ok()?, b.parse().ok()?, total))
}

async fn upload(state: Shared, req: HttpRequest, cloud: web::Path<String>, body: web::Bytes) -> HttpResponse {
    let Some((mut params, file)) = parse_multipart(&req, &body) else {
        return error(400, "Invalid multipart request");
    };
    let mut s = lock(&state);
    if let Some(refused) = signature_refusal(&s, &cloud, &params) {
        return refused;
    }
    let Some(public_id) = params.remove("public_id").filter(|p| !p.is_empty()) else {
        return error(400, "Missing public_id");
    };
    let upload_id = req.headers().get("X-Unique-Upload-Id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let content = match (upload_id, content_range(&req)) {
        (Some(id), Some((a, b, total))) => {
            s.chunk_requests += 1;
            let sofar = s.partial.entry(id.clone()).or_default();
            if a != sofar.len() || b + 1 - a != file.len() {
                return error(400, "Chunk does not follow the bytes already uploaded");
            }
            let last = total == Some(b + 1);
            if !last && file.len() < MIN_CHUNK {
                return error(400, "Chunk size must be at least 5 MB, except for the last chunk");
            }
            sofar.extend_from_slice(&file);
            if !last {
                return HttpResponse::Ok().json(json!({ "done": false, "bytes": b + 1 }));
            }
            s.partial.remove(&id).unwrap_or_default()
        }
        (None, None) => file,
        _ => return error(400, "A chunked upload needs both X-Unique-Upload-Id and Content-Range"),
    };
    if content.is_empty() {
        return error(400, "Empty file");
    }
    if s.assets.contains_key(&public_id) && params.get("overwrite").map(String::as_str) == Some("false") {
        return error(400, &format!("Resource already exists - {public_id}"));
    }
    let context: BTreeMap<String, String> = params
        .get("context")
        .map(|c| c.split('|').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect())
        .unwrap_or_default();
    let asset =
        Asset { content, version: chrono::Utc::now().timestamp_micros(), created_at: chrono::Utc::now(), context };
    let answer = resource(&s, &public_id, &asset, true);
    s.assets.insert(public_id, asset);
    HttpResponse::Ok().json(answer)
}

async fn destroy(state: Shared, cloud: web::Path<String>, form: web::Form<Vec<(String, String)>>) -> HttpResponse {
    let params: BTreeMap<String, String> = form.into_inner().into_iter().collect();
    let mut s = lock(&state);
    if let Some(refused) = signature_refusal(&s, &cloud, &params) {
        return refused;
    }
    let public_id = params.get("public_id").cloned().unwrap_or_default();
    let result = if s.assets.remove(&public_id).is_some() { "ok" } else { "not found" };
    HttpResponse::Ok().json(json!({ "result": result }))
}

/// A multipart/form-data body: its text fields, and the bytes of its `file` part.
fn parse_multipart(req: &HttpRequest, body: &[u8]) -> Option<(BTreeMap<String, String>, Vec<u8>)> {
    let content_type = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    // Prepending CRLF makes the first delimiter look like the others.
    let mut data = b"\r\n".to_vec();
    data.extend_from_slice(body);
    let mut fields = BTreeMap::new();
    let mut file = Vec::new();
    let mut at = find(&data, &delimiter, 0)? + delimiter.len();
    loop {
        if data.get(at..at + 2) == Some(b"--") {
            return Some((fields, file));
        }
        let headers_end = find(&data, b"\r\n\r\n", at)?;
        let headers = String::from_utf8_lossy(&data[at..headers_end]).into_owned();
        let content_start = headers_end + 4;
        let content_end = find(&data, &delimiter, content_start)?;
        let name = headers.split("name=\"").nth(1)?.split('"').next()?.to_owned();
        let content = &data[content_start..content_end];
        if name == "file" {
            file = content.to_vec();
        } else {
            fields.insert(name, String::from_utf8_lossy(content).into_owned());
        }
        at = content_end + delimiter.len();
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= haystack.len() {
        match haystack[i..].iter().position(|b| *b == first) {
            Some(p) => i += p,
            None => return None,
        }
        if haystack.get(i..i + needle.len()) == Some(needle) {
            return Some(i);
        }
        i += 1;
    }
    None
}
