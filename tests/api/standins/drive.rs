//! The Drive v3 endpoints the provider uses, as Google documents them: file metadata and
//! `alt=media` downloads, `files.list` with the query language's `and` of simple terms,
//! `files.delete`, and resumable uploads (`uploadType=resumable` → a session URI → `PUT`s with
//! `Content-Range`, chunks in multiples of 256 KiB except the last, `308 Resume Incomplete` with
//! `Range`, `DELETE` cancels with 499). Every API call needs a bearer token the OAuth stand-in
//! issued and that has not expired; refusals carry Google's JSON error bodies.

use super::google_oauth::GoogleOAuth;
use super::server::{random_id, serve};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const FOLDER_MIME: &str = "application/vnd.google-apps.folder";
const CHUNK_UNIT: usize = 256 * 1024;

#[derive(Clone)]
struct File {
    name: String,
    mime_type: String,
    parents: Vec<String>,
    trashed: bool,
    can_add_children: bool,
    content: Vec<u8>,
    modified: chrono::DateTime<chrono::Utc>,
}

struct Session {
    /// The file an update replaces; none for a new file.
    target: Option<String>,
    metadata: Value,
    received: Vec<u8>,
}

struct State {
    oauth: GoogleOAuth,
    files: HashMap<String, File>,
    sessions: HashMap<String, Session>,
}

#[derive(Clone)]
pub struct Drive {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Drive {
    pub fn start(oauth: &GoogleOAuth) -> Drive {
        // "root" is My Drive's alias, as in Drive; new folders go there.
        let root = File {
            name: "My Drive".into(),
            mime_type: FOLDER_MIME.into(),
            parents: Vec::new(),
            trashed: false,
            can_add_children: true,
            content: Vec::new(),
            modified: chrono::Utc::now(),
        };
        let files = HashMap::from([("root".to_owned(), root)]);
        let state = Arc::new(Mutex::new(State { oauth: oauth.clone(), files, sessions: HashMap::new() }));
        let data = web::Data::from(state.clone());
        let url = serve(move |cfg| {
            cfg.app_data(data.clone())
                .route("/drive/v3/files", web::get().to(list))
                .route("/drive/v3/files", web::post().to(create_metadata))
                .route("/drive/v3/files/{id}", web::get().to(get))
                .route("/drive/v3/files/{id}", web::delete().to(delete))
                .route("/upload/drive/v3/files", web::post().to(create_session))
                .route("/upload/drive/v3/files/{id}", web::patch().to(update_session))
                .route("/upload/drive/v3/files", web::put().to(put_chunk))
                .route("/upload/drive/v3/files", web::delete().to(cancel));
        });
        Drive { url, state }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn api(&self) -> String {
        format!("{}/drive/v3", self.url)
    }

    pub fn upload(&self) -> String {
        format!("{}/upload/drive/v3", self.url)
    }

    pub fn add_folder(&self, name: &str, can_add_children: bool, trashed: bool) -> String {
        self.add(File {
            name: name.into(),
            mime_type: FOLDER_MIME.into(),
            parents: vec!["root".into()],
            trashed,
            can_add_children,
            content: Vec::new(),
            modified: chrono::Utc::now(),
        })
    }

    pub fn add_file(&self, name: &str, parent: &str, content: &[u8]) -> String {
        self.add(File {
            name: name.into(),
            mime_type: "application/octet-stream".into(),
            parents: vec![parent.into()],
            trashed: false,
            can_add_children: false,
            content: content.to_vec(),
            modified: chrono::Utc::now(),
        })
    }

    fn add(&self, file: File) -> String {
        let id = random_id(33);
        self.lock().files.insert(id.clone(), file);
        id
    }

    /// The folder's files as the server holds them: (name, size), sorted.
    pub fn files_in(&self, folder: &str) -> Vec<(String, usize)> {
        let mut files: Vec<(String, usize)> = self
            .lock()
            .files
            .values()
            .filter(|f| f.parents.iter().any(|p| p == folder))
            .map(|f| (f.name.clone(), f.content.len()))
            .collect();
        files.sort();
        files
    }

    /// The ID of the folder named `name` in `parent`, if there is one.
    pub fn folder_named(&self, parent: &str, name: &str) -> Option<String> {
        self.lock()
            .files
            .iter()
            .find(|(_, f)| f.mime_type == FOLDER_MIME && f.name == name && f.parents.iter().any(|p| p == parent))
            .map(|(id, _)| id.clone())
    }

    pub fn open_sessions(&self) -> usize {
        self.lock().sessions.len()
    }
}

type Shared = web::Data<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn google_error(status: u16, reason: &str, message: &str) -> HttpResponse {
    let status = StatusCode::from_u16(status).expect("status");
    HttpResponse::build(status).json(json!({
        "error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{ "message": message, "domain": "global", "reason": reason }],
        }
    }))
}

/// Google's answer to a missing, unknown or expired bearer token.
fn unauthenticated() -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({
        "error": {
            "code": 401,
            "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            "errors": [{
                "message": "Invalid Credentials", "domain": "global", "reason": "authError",
                "location": "Authorization", "locationType": "header",
            }],
            "status": "UNAUTHENTICATED",
        }
    }))
}

fn authorized(state: &State, req: &HttpRequest) -> bool {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| state.oauth.accepts(t))
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect()
}

fn resource(id: &str, f: &File) -> Value {
    json!({
        "kind": "drive#file",
        "id": id,
        "name": f.name,
        "mimeType": f.mime_type,
        "parents": f.parents,
        "trashed": f.trashed,
        "size": f.content.len().to_string(),
        "modifiedTime": f.modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "capabilities": { "canAddChildren": f.can_add_children },
    })
}

fn not_found(id: &str) -> HttpResponse {
    google_error(404, "notFound", &format!("File not found: {id}."))
}

async fn get(state: Shared, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let s = lock(&state);
    if !authorized(&s, &req) {
        return unauthenticated();
    }
    let Some(file) = s.files.get(path.as_str()) else { return not_found(&path) };
    if query(&req).get("alt").map(String::as_str) == Some("media") {
        return HttpResponse::Ok().content_type(file.mime_type.as_str()).body(file.content.clone());
    }
    HttpResponse::Ok().json(resource(&path, file))
}

/// One term of a `q`: `'id' in parents`, `trashed = false`, `name = '…'`, `mimeType (=|!=) '…'`.
fn matches(term: &str, file: &File) -> Result<bool, String> {
    let quoted = |rest: &str| -> Option<String> {
        let inner = rest.strip_prefix('\'')?.strip_suffix('\'')?;
        Some(inner.replace("\\'", "'").replace("\\\\", "\\"))
    };
    let term = term.trim();
    if let Some(parent) = term.strip_suffix(" in parents").and_then(quoted) {
        return Ok(file.parents.contains(&parent));
    }
    if let Some(value) = term.strip_prefix("trashed = ") {
        return Ok(file.trashed == (value == "true"));
    }
    if let Some(name) = term.strip_prefix("name = ").and_then(quoted) {
        return Ok(file.name == name);
    }
    if let Some(mime) = term.strip_prefix("mimeType != ").and_then(quoted) {
        return Ok(file.mime_type != mime);
    }
    if let Some(mime) = term.strip_prefix("mimeType = ").and_then(quoted) {
        return Ok(file.mime_type == mime);
    }
    Err(term.to_owned())
}

async fn list(state: Shared, req: HttpRequest) -> HttpResponse {
    let s = lock(&state);
    if !authorized(&s, &req) {
        return unauthenticated();
    }
    let q = query(&req);
    let page_size: usize = q.get("pageSize").and_then(|v| v.parse().ok()).unwrap_or(100);
    if !(1..=1000).contains(&page_size) {
        return google_error(400, "invalid", "Invalid value for pageSize");
    }
    let terms: Vec<&str> = q.get("q").map(|q| q.split(" and ").collect()).unwrap_or_default();
    let mut found = Vec::new();
    for (id, file) in &s.files {
        let mut keep = true;
        for term in &terms {
            match matches(term, file) {
                Ok(m) => keep &= m,
                Err(bad) => return google_error(400, "invalid", &format!("Invalid Value: {bad}")),
            }
        }
        if keep {
            found.push((id.clone(), file));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let skip: usize = q.get("pageToken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = found.iter().skip(skip).take(page_size).map(|(id, f)| resource(id, f)).collect();
    let mut answer = json!({ "kind": "drive#fileList", "files": page });
    if skip + page_size < found.len() {
        answer["nextPageToken"] = json!((skip + page_size).to_string());
    }
    HttpResponse::Ok().json(answer)
}

/// `files.create` without content (a folder): into parents the caller may add to.
async fn create_metadata(state: Shared, req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    let mut s = lock(&state);
    if !authorized(&s, &req) {
        return unauthenticated();
    }
    let parents: Vec<String> =
        body["parents"].as_array().into_iter().flatten().filter_map(|p| p.as_str().map(str::to_owned)).collect();
    for parent in &parents {
        match s.files.get(parent) {
            Some(f) if f.mime_type == FOLDER_MIME && f.can_add_children && !f.trashed => {}
            Some(_) => {
                return google_error(
                    403,
                    "insufficientFilePermissions",
                    "The user does not have sufficient permissions for this file.",
                );
            }
            None => return not_found(parent),
        }
    }
    let file = File {
        name: body["name"].as_str().unwrap_or("Untitled").to_owned(),
        mime_type: body["mimeType"].as_str().unwrap_or("application/octet-stream").to_owned(),
        parents,
        trashed: false,
        can_add_children: true,
        content: Vec::new(),
        modified: chrono::Utc::now(),
    };
    let id = random_id(33);
    let answer = resource(&id, &file);
    s.files.insert(id, file);
    HttpResponse::Ok().json(answer)
}

async fn delete(state: Shared, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let mut s = lock(&state);
    if !authorized(&s, &req) {
        return unauthenticated();
    }
    match s.files.remove(path.as_str()) {
        Some(_) => HttpResponse::NoContent().finish(),
        None => not_found(&path),
    }
}

fn open_session(s: &mut State, req: &HttpRequest, target: Option<String>, metadata: Value) -> HttpResponse {
    if query(req).get("uploadType").map(String::as_str) != Some("resumable") {
        return google_error(400, "badRequest", "Only resumable uploads are served here.");
    }
    let upload_id = random_id(40);
    s.sessions.insert(upload_id.clone(), Session { target, metadata, received: Vec::new() });
    let location = format!(
        "http://{}/upload/drive/v3/files?uploadType=resumable&upload_id={upload_id}",
        req.connection_info().host()
    );
    HttpResponse::Ok().insert_header((header::LOCATION, location)).finish()
}

async fn create_session(state: Shared, req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    let mut s = lock(&state);
    if !authorized(&s, &req) {
        return unauthenticated();
    }
    let parents: Vec<String> = serde_json::from_value(body["parents"].clone()).unwrap_or_default();
    for parent in &parents {
        match s.files.get(parent) {
            None => return not_found(parent),
            Some(p) if p.mime_type != FOLDER_MIME || !p.can_add_children => {
                return google_error(
                    403,
                    "insufficientFilePermissions",
                    "The user does not have sufficient permissions for this file.",
                );
            }
            Some(_) => {}
        }
    }
    open_session(&mut s, &req, None, body.into_inner())
}

async fn update_session(state: Shared, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let mut s = lock(&state);
    if !authorized(&s, &req) {
        return unauthenticated();
    }
    if !s.files.contains_key(path.as_str()) {
        return not_found(&path);
    }
    open_session(&mut s, &req, Some(path.into_inner()), json!({}))
}

/// A `Content-Range`: the bytes sent (none for a status query), and the total once known.
struct ContentRange {
    range: Option<(usize, usize)>,
    total: Option<usize>,
}

/// `bytes a-b/T`, `bytes a-b/*` or `bytes */T`.
fn content_range(req: &HttpRequest) -> Option<ContentRange> {
    let value = req.headers().get(header::CONTENT_RANGE)?.to_str().ok()?.strip_prefix("bytes ")?;
    let (range, total) = value.split_once('/')?;
    let total = if total == "*" { None } else { Some(total.parse().ok()?) };
    let range = if range == "*" {
        None
    } else {
        let (a, b) = range.split_once('-')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    };
    Some(ContentRange { range, total })
}

async fn put_chunk(state: Shared, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let mut s = lock(&state);
    let Some(upload_id) = query(&req).get("upload_id").cloned() else {
        return google_error(400, "badRequest", "upload_id is missing.");
    };
    let Some(ContentRange { range, total }) = content_range(&req) else {
        return google_error(400, "badRequest", "Content-Range is missing or malformed.");
    };
    let Some(session) = s.sessions.get_mut(&upload_id) else {
        return google_error(404, "notFound", "No such upload session.");
    };
    match range {
        Some((a, b)) => {
            if a != session.received.len() || b + 1 - a != body.len() {
                return google_error(
                    400,
                    "badRequest",
                    "Invalid request: the Content-Range does not follow the bytes already uploaded.",
                );
            }
            let last = total == Some(b + 1);
            if !last && !body.len().is_multiple_of(CHUNK_UNIT) {
                return google_error(
                    400,
                    "badRequest",
                    &format!(
                        "Invalid request. The number of bytes uploaded is required to be a multiple of 262144, except for the final request. The received request contained {} bytes.",
                        body.len()
                    ),
                );
            }
            session.received.extend_from_slice(&body);
        }
        None if !body.is_empty() => return google_error(400, "badRequest", "A body needs a byte range."),
        None => {}
    }
    if total != Some(session.received.len()) {
        let mut answer = HttpResponse::build(StatusCode::PERMANENT_REDIRECT);
        if !session.received.is_empty() {
            answer.insert_header((header::RANGE, format!("bytes=0-{}", session.received.len() - 1)));
        }
        return answer.finish();
    }
    let Some(session) = s.sessions.remove(&upload_id) else { return not_found(&upload_id) };
    let id = session.target.clone().unwrap_or_else(|| random_id(33));
    let file = match s.files.get(&id) {
        Some(existing) => File { content: session.received, modified: chrono::Utc::now(), ..existing.clone() },
        None => File {
            name: session.metadata["name"].as_str().unwrap_or("Untitled").into(),
            mime_type: session.metadata["mimeType"].as_str().unwrap_or("application/octet-stream").into(),
            parents: serde_json::from_value(session.metadata["parents"].clone()).unwrap_or_default(),
            trashed: false,
            can_add_children: false,
            content: session.received,
            modified: chrono::Utc::now(),
        },
    };
    let answer = resource(&id, &file);
    s.files.insert(id, file);
    HttpResponse::Ok().json(answer)
}

async fn cancel(state: Shared, req: HttpRequest) -> HttpResponse {
    let mut s = lock(&state);
    let upload_id = query(&req).get("upload_id").cloned().unwrap_or_default();
    match s.sessions.remove(&upload_id) {
        Some(_) => HttpResponse::build(StatusCode::from_u16(499).expect("499")).finish(),
        None => google_error(404, "notFound", "No such upload session."),
    }
}
