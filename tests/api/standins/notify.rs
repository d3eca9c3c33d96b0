//! Stand-ins for the services notification channels post to, each checking the body its
//! provider documents and answering the provider's documented errors:
//! - Slack incoming webhooks: `{"text"}` (or blocks) → `ok`; else 400 `invalid_payload`; an
//!   unknown hook → 404 `no_service`.
//! - Discord webhooks: `content` or `embeds` → 204; else 400 `{"code": 50006}`; unknown → 404
//!   `{"code": 10015, "message": "Unknown Webhook"}`.
//! - Teams workflow webhooks: a message with an adaptive-card attachment → 202; else 400; a bad
//!   `sig` → 401.
//! - Telegram's Bot API `sendMessage`: `chat_id` and `text` → `{"ok": true}`; a bad token → 401;
//!   the first `throttle` requests → 429 with `parameters.retry_after`.
//! - Gotify `POST /message` with `X-Gotify-Key` → 200 with the stored message; a bad key → 401;
//!   no `message` → 400.
//! - A Healthchecks.io-style ping endpoint: `/ping/<uuid>`, `/start`, `/fail` → `OK`.
//! - A webhook receiver that checks `X-Devpilot-Signature` and answers from a script (500, then
//!   200, …).

use super::server::serve;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One request a stand-in accepted (or refused), as it came.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub body: String,
    /// The status the stand-in answered.
    pub status: u16,
    pub at: Instant,
    /// Webhooks: whether the signature checked out.
    pub signed: bool,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Received>>>);

impl Log {
    fn push(&self, req: &HttpRequest, body: &[u8], status: u16, signed: bool) {
        let received = Received {
            path: req.uri().to_string(),
            body: String::from_utf8_lossy(body).into_owned(),
            status,
            at: Instant::now(),
            signed,
        };
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(received);
    }

    pub fn all(&self) -> Vec<Received> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The requests answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.all().into_iter().filter(|r| (200..300).contains(&r.status)).collect()
    }

    /// Waits (up to 30 s) until `n` requests were accepted; returns them.
    pub async fn wait_accepted(&self, n: usize) -> Vec<Received> {
        for _ in 0..300 {
            let accepted = self.accepted();
            if accepted.len() >= n {
                return accepted;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("expected {n} accepted requests, got {:?}", self.all());
    }
}

fn answer(log: &Log, req: &HttpRequest, body: &[u8], status: StatusCode, reply: HttpResponse) -> HttpResponse {
    log.push(req, body, status.as_u16(), false);
    reply
}

/// Slack: `/services/T/B/<token>`.
pub fn slack(token: &str) -> (String, Log) {
    let (log, token) = (Log::default(), token.to_owned());
    let l = log.clone();
    let base = serve(move |cfg| {
        let (log, token) = (l.clone(), token.clone());
        cfg.route(
            "/services/{team}/{bot}/{token}",
            web::post().to(move |req: HttpRequest, path: web::Path<(String, String, String)>, body: web::Bytes| {
                let (log, token) = (log.clone(), token.clone());
                async move {
                    if path.2 != token {
                        return answer(
                            &log,
                            &req,
                            &body,
                            StatusCode::NOT_FOUND,
                            HttpResponse::NotFound().body("no_service"),
                        );
                    }
                    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let has_text = json["text"].as_str().is_some_and(|t| !t.trim().is_empty());
                    let blocks_ok = json["blocks"].as_array().is_none_or(|b| b.iter().all(|b| b["type"].is_string()));
                    if !has_text || !blocks_ok {
                        return answer(
                            &log,
                            &req,
                            &body,
                            StatusCode::BAD_REQUEST,
                            HttpResponse::BadRequest().body("invalid_payload"),
                        );
                    }
                    answer(&log, &req, &body, StatusCode::OK, HttpResponse::Ok().body("ok"))
                }
            }),
        );
    });
    (base, log)
}

/// Discord: `/api/webhooks/<id>/<token>`.
pub fn discord(token: &str) -> (String, Log) {
    let (log, token) = (Log::default(), token.to_owned());
    let l = log.clone();
    let base = serve(move |cfg| {
        let (log, token) = (l.clone(), token.clone());
        cfg.route(
            "/api/webhooks/{id}/{token}",
            web::post().to(move |req: HttpRequest, path: web::Path<(String, String)>, body: web::Bytes| {
                let (log, token) = (log.clone(), token.clone());
                async move {
                    if path.1 != token {
                        let reply = HttpResponse::NotFound().json(json!({"message": "Unknown Webhook", "code": 10015}));
                        return answer(&log, &req, &body, StatusCode::NOT_FOUND, reply);
                    }
                    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let content = json["content"].as_str().is_some_and(|c| !c.is_empty() && c.chars().count() <= 2000);
                    let embeds = json["embeds"].as_array().is_some_and(|e| {
                        !e.is_empty()
                            && e.len() <= 10
                            && e.iter().all(|e| e["description"].as_str().is_none_or(|d| d.chars().count() <= 4096))
                    });
                    if !content && !embeds {
                        let reply = HttpResponse::BadRequest()
                            .json(json!({"message": "Cannot send an empty message", "code": 50006}));
                        return answer(&log, &req, &body, StatusCode::BAD_REQUEST, reply);
                    }
                    answer(&log, &req, &body, StatusCode::NO_CONTENT, HttpResponse::NoContent().finish())
                }
            }),
        );
    });
    (base, log)
}

/// Teams (Power Automate): `/workflows/<id>/triggers/manual/paths/invoke?sig=<sig>`.
pub fn teams(sig: &str) -> (String, Log) {
    let (log, sig) = (Log::default(), sig.to_owned());
    let l = log.clone();
    let base = serve(move |cfg| {
        let (log, sig) = (l.clone(), sig.clone());
        cfg.route(
            "/workflows/{id}/triggers/manual/paths/invoke",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let (log, sig) = (log.clone(), sig.clone());
                async move {
                    let given = url::form_urlencoded::parse(req.query_string().as_bytes())
                        .find(|(k, _)| k == "sig")
                        .map(|(_, v)| v.into_owned());
                    if given.as_deref() != Some(sig.as_str()) {
                        let reply = HttpResponse::Unauthorized().json(json!({"error": {"code": "DirectApiAuthorizationRequired", "message": "The request must be authenticated"}}));
                        return answer(&log, &req, &body, StatusCode::UNAUTHORIZED, reply);
                    }
                    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let card = &json["attachments"][0];
                    let valid = json["type"] == "message"
                        && card["contentType"] == "application/vnd.microsoft.card.adaptive"
                        && card["content"]["type"] == "AdaptiveCard"
                        && card["content"]["body"].as_array().is_some_and(|b| !b.is_empty());
                    if !valid {
                        let reply = HttpResponse::BadRequest().json(json!({"error": {"code": "InvalidRequestContent", "message": "The input body for trigger 'manual' of type 'Request' did not match its schema definition."}}));
                        return answer(&log, &req, &body, StatusCode::BAD_REQUEST, reply);
                    }
                    answer(&log, &req, &body, StatusCode::ACCEPTED, HttpResponse::Accepted().finish())
                }
            }),
        );
    });
    (base, log)
}

/// Telegram's Bot API; the first `throttle` requests are answered 429 with `retry_after`.
pub fn telegram(token: &str, throttle: usize, retry_after: u64) -> (String, Log) {
    let (log, token) = (Log::default(), token.to_owned());
    let l = log.clone();
    let seen = Arc::new(Mutex::new(0usize));
    let base = serve(move |cfg| {
        let (log, token, seen) = (l.clone(), token.clone(), seen.clone());
        cfg.route(
            "/{bot}/sendMessage",
            web::post().to(move |req: HttpRequest, path: web::Path<String>, body: web::Bytes| {
                let (log, token, seen) = (log.clone(), token.clone(), seen.clone());
                async move {
                    if path.strip_prefix("bot") != Some(token.as_str()) {
                        let reply = HttpResponse::Unauthorized().json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"}));
                        return answer(&log, &req, &body, StatusCode::UNAUTHORIZED, reply);
                    }
                    let count = {
                        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                        *seen += 1;
                        *seen
                    };
                    if count <= throttle {
                        let reply = HttpResponse::TooManyRequests().json(json!({
                            "ok": false, "error_code": 429,
                            "description": format!("Too Many Requests: retry after {retry_after}"),
                            "parameters": {"retry_after": retry_after}
                        }));
                        return answer(&log, &req, &body, StatusCode::TOO_MANY_REQUESTS, reply);
                    }
                    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let chat = json["chat_id"].is_string() || json["chat_id"].is_i64();
                    let text = json["text"].as_str().is_some_and(|t| !t.is_empty() && t.chars().count() <= 4096);
                    if !chat || !text {
                        let reply = HttpResponse::BadRequest().json(json!({"ok": false, "error_code": 400, "description": "Bad Request: message text is empty"}));
                        return answer(&log, &req, &body, StatusCode::BAD_REQUEST, reply);
                    }
                    let reply = HttpResponse::Ok().json(json!({"ok": true, "result": {"message_id": count, "chat": {"id": json["chat_id"]}, "text": json["text"]}}));
                    answer(&log, &req, &body, StatusCode::OK, reply)
                }
            }),
        );
    });
    (base, log)
}

/// Gotify: `POST /message` with `X-Gotify-Key`.
pub fn gotify(app_token: &str) -> (String, Log) {
    let (log, token) = (Log::default(), app_token.to_owned());
    let l = log.clone();
    let base = serve(move |cfg| {
        let (log, token) = (l.clone(), token.clone());
        cfg.route(
            "/message",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let (log, token) = (log.clone(), token.clone());
                async move {
                    let key = req.headers().get("X-Gotify-Key").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    if key.as_deref() != Some(token.as_str()) {
                        let reply = HttpResponse::Unauthorized().json(json!({"error": "Unauthorized", "errorCode": 401, "errorDescription": "you need to provide a valid access token or user credentials to access this api"}));
                        return answer(&log, &req, &body, StatusCode::UNAUTHORIZED, reply);
                    }
                    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    if json["message"].as_str().is_none_or(str::is_empty) {
                        let reply = HttpResponse::BadRequest().json(json!({"error": "Bad Request", "errorCode": 400, "errorDescription": "Field 'message' is required"}));
                        return answer(&log, &req, &body, StatusCode::BAD_REQUEST, reply);
                    }
                    let reply = HttpResponse::Ok().json(json!({"id": 1, "appid": 1, "message": json["message"], "title": json["title"], "priority": json["priority"], "date": "2026-12-06T00:00:00Z"}));
                    answer(&log, &req, &body, StatusCode::OK, reply)
                }
            }),
        );
    });
    (base, log)
}

/// A Healthchecks.io-style ping endpoint for one check: `/ping/<uuid>[/start|/fail]`.
pub fn pings(check: &str) -> (String, Log) {
    let (log, check) = (Log::default(), check.to_owned());
    let l = log.clone();
    let base = serve(move |cfg| {
        let (log, check) = (l.clone(), check.clone());
        cfg.route(
            "/ping/{rest:.*}",
            web::post().to(move |req: HttpRequest, path: web::Path<String>, body: web::Bytes| {
                let (log, check) = (log.clone(), check.clone());
                async move {
                    let rest = path.into_inner();
                    let known = [check.clone(), format!("{check}/start"), format!("{check}/fail")];
                    if !known.contains(&rest) {
                        return answer(
                            &log,
                            &req,
                            &body,
                            StatusCode::NOT_FOUND,
                            HttpResponse::NotFound().body("not found"),
                        );
                    }
                    answer(&log, &req, &body, StatusCode::OK, HttpResponse::Ok().body("OK"))
                }
            }),
        );
    });
    (base, log)
}

/// A webhook receiver: checks `X-Devpilot-Signature` with the secret once it is known (refusing
/// timestamps older than 5 minutes), then answers the next status of `script` (200 once the
/// script is used up).
pub struct WebhookReceiver {
    pub url: String,
    pub log: Log,
    secret: Arc<Mutex<Option<String>>>,
    /// While set, every request is answered 503 (the receiver is "down").
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl WebhookReceiver {
    pub fn start(script: Vec<u16>) -> WebhookReceiver {
        let (log, secret) = (Log::default(), Arc::new(Mutex::new(None::<String>)));
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let script = Arc::new(Mutex::new(script.into_iter().collect::<std::collections::VecDeque<u16>>()));
        let (l, s, d) = (log.clone(), secret.clone(), down.clone());
        let base = serve(move |cfg| {
            let (log, secret, script, down) = (l.clone(), s.clone(), script.clone(), d.clone());
            cfg.route(
                "/hook",
                web::post().to(move |req: HttpRequest, body: web::Bytes| {
                    let (log, secret, script, down) = (log.clone(), secret.clone(), script.clone(), down.clone());
                    async move {
                        if down.load(std::sync::atomic::Ordering::SeqCst) {
                            log.push(&req, &body, 503, false);
                            return HttpResponse::ServiceUnavailable().body("down for maintenance");
                        }
                        let header =
                            req.headers().get("X-Devpilot-Signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
                        let secret = secret.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        let signed = secret.is_some_and(|s| verify(&s, header, &body));
                        if !signed {
                            log.push(&req, &body, 401, false);
                            return HttpResponse::Unauthorized().body("bad signature");
                        }
                        let status = script.lock().unwrap_or_else(|e| e.into_inner()).pop_front().unwrap_or(200);
                        log.push(&req, &body, status, true);
                        HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                            .body(format!("answered {status}"))
                    }
                }),
            );
        });
        WebhookReceiver { url: format!("{base}/hook"), log, secret, down }
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn set_secret(&self, secret: &str) {
        *self.secret.lock().unwrap_or_else(|e| e.into_inner()) = Some(secret.to_owned());
    }
}

/// The README's recipe: HMAC-SHA256 of "<t>.<body>", compared in constant time, `t` recent.
pub fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    use hmac::{Hmac, Mac};
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    if (chrono::Utc::now().timestamp() - t).abs() > 300 {
        return false;
    }
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&v1).is_ok()
}

/// A server that accepts connections and never answers (a hanging channel).
pub fn hanging() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    format!("http://127.0.0.1:{port}")
}
