//! CSRF protection for browser requests: a random token lives in the (encrypted) session and
//! must come back with every state-changing request, as the `X-CSRF-Token` header (htmx sends
//! it from `hx-headers`) or the `csrf_token` form field. A request without it gets 403 and
//! changes nothing, because the check runs before any handler. The body is read in full here (up
//! to the limit; more answers 413), which is also where it finds a form's token; an upload
//! (`web::upload::STREAMED_BODIES`) that brings its token as the header is left unread for its
//! handler. `/api/` is exempt: it ignores cookies and takes bearer tokens only.

use crate::web::limits::{BodyError, read_body};
use crate::web::upload::streams_its_body;
use actix_session::{Session, SessionExt};
use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, http::Method};
use bytes::Bytes;

const SESSION_KEY: &str = "csrf";
pub const HEADER: &str = "X-CSRF-Token";
pub const FIELD: &str = "csrf_token";

/// The session's token, created on first use.
pub fn token(session: &Session) -> String {
    if let Ok(Some(t)) = session.get::<String>(SESSION_KEY) {
        return t;
    }
    rotate(session)
}

pub fn rotate(session: &Session) -> String {
    let t = crate::crypto::random_token();
    let _ = session.insert(SESSION_KEY, &t);
    t
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn protect(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // The JSON API authenticates with bearer tokens only, never the session cookie, so a
    // cross-site request has nothing to ride on.
    let api = req.path().starts_with("/api/");
    if safe || api {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    // Every body is read here, within the limit, so every route has one (see web::limits); but
    // an upload's, whose token comes as the header, is left to its handler and its own limit.
    let streamed = streams_its_body(req.path()) && req.headers().contains_key(HEADER);
    let body = match read_body_unless(streamed, &mut req).await {
        Ok(body) => body,
        Err(e) => return Ok(req.into_response(e.page().error_response()).map_into_right_body()),
    };
    let expected = req.get_session().get::<String>(SESSION_KEY).ok().flatten();
    let mut presented = req.headers().get(HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let is_form = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if presented.is_none() && is_form {
        presented = form_token(&body);
    }
    match (expected, presented) {
        (Some(e), Some(p)) if same(&e, &p) => next.call(req).await.map(ServiceResponse::map_into_left_body),
        _ => {
            tracing::warn!(path = %req.path(), "refused a request without a valid CSRF token");
            let response = HttpResponse::Forbidden()
                .content_type("text/plain; charset=utf-8")
                .body("This request is missing its security token (CSRF). Reload the page and try again.");
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

async fn read_body_unless(streamed: bool, req: &mut ServiceRequest) -> Result<Bytes, BodyError> {
    if streamed { Ok(Bytes::new()) } else { read_body(req).await }
}

fn form_token(body: &[u8]) -> Option<String> {
    form_urlencoded_pairs(body).find(|(k, _)| k == FIELD).map(|(_, v)| v)
}

fn form_urlencoded_pairs(body: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned()))
}
