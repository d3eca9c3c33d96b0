//! How much of a request body the server reads: 256 KiB for every form and every JSON body (the
//! largest real field, a pasted SSH key or service-account key, is a few KiB). Too much answers
//! 413 with a page that says so (the JSON API answers in its own error shape); a form that does
//! not parse answers 400 the same way, never actix's bare text.

use crate::error::AppError;
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::{PayloadError, UrlencodedError};
use actix_web::http::header;
use actix_web::{HttpMessage, web};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use std::time::Duration;

pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What a person reads when a body is over the limit.
pub fn too_large_message(what: &str) -> String {
    format!(
        "The {what} is larger than {} KiB, the most this server accepts. Nothing was saved; \
         check what was pasted (a key file is a few KiB).",
        MAX_BODY_BYTES / 1024
    )
}

pub fn form_config() -> web::FormConfig {
    web::FormConfig::default().limit(MAX_BODY_BYTES).error_handler(|e, _| {
        match e {
            UrlencodedError::Overflow { .. } => AppError::PayloadTooLarge(too_large_message("form")),
            UrlencodedError::ContentType => {
                AppError::BadRequest("This page takes a form (application/x-www-form-urlencoded).".into())
            }
            other => AppError::BadRequest(format!("The form could not be read: {other}.")),
        }
        .into()
    })
}

/// Query strings of the pages (`?page=…`): a bad one is a 400 page.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|e, _| AppError::BadRequest(format!("The address's query string is not valid: {e}.")).into())
}

/// Past the limit, a body is read on (and thrown away) this far, for this long at most, so a
/// client that is still sending gets the 413 rather than a connection reset under its feet.
pub(crate) const DRAIN_BYTES: usize = 16 * 1024 * 1024;
pub(crate) const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    /// The client broke off, or sent something that is not HTTP.
    Broken(PayloadError),
}

impl BodyError {
    /// For a page (the JSON API words its own).
    pub fn page(&self) -> AppError {
        match self {
            BodyError::TooLarge => AppError::PayloadTooLarge(too_large_message("form")),
            BodyError::Broken(e) => AppError::BadRequest(format!("The request body could not be read: {e}.")),
        }
    }
}

/// A body announced (`Content-Length`) as larger than the limit.
fn announced_too_large(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
}

/// Reads the body of a request that changes something, whatever route it is for (one that
/// takes no body would otherwise leave it unchecked), and puts it back for the handler. The
/// middlewares call this, so every body meets the same limit in one place.
pub async fn read_body(req: &mut ServiceRequest) -> Result<Bytes, BodyError> {
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    let mut over = announced_too_large(req);
    let mut drained = 0usize;
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    loop {
        let chunk = if over {
            match tokio::time::timeout_at(deadline, payload.next()).await {
                Ok(chunk) => chunk,
                Err(_) => break,
            }
        } else {
            payload.next().await
        };
        let chunk = match chunk {
            None => break,
            Some(Err(_)) if over => break,
            Some(Err(e)) => return Err(BodyError::Broken(e)),
            Some(Ok(chunk)) => chunk,
        };
        if over {
            drained += chunk.len();
            if drained > DRAIN_BYTES {
                break;
            }
        } else if body.len() + chunk.len() > MAX_BODY_BYTES {
            over = true;
            drained = body.len() + chunk.len();
            body = BytesMut::new();
        } else {
            body.extend_from_slice(&chunk);
        }
    }
    if over {
        return Err(BodyError::TooLarge);
    }
    let body = body.freeze();
    req.set_payload(payload_of(body.clone()));
    Ok(body)
}

/// Reads on (and throws away) what a client still sends of a body that was refused, this far and
/// this long at most, so that it gets the answer rather than a connection reset.
pub async fn drain(payload: &mut (impl futures::Stream<Item = Result<Bytes, PayloadError>> + Unpin)) {
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    let mut drained = 0usize;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, payload.next()).await {
        drained += chunk.len();
        if drained > DRAIN_BYTES {
            break;
        }
    }
}

fn payload_of(body: Bytes) -> Payload {
    let (_, mut payload) = actix_http::h1::Payload::create(true);
    payload.unread_data(body);
    Payload::from(payload)
}
