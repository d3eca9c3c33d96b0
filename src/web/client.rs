//! Who sent a request, as far as the server can tell: the client's address and its User-Agent.

use crate::sessions::Client;
use actix_web::HttpRequest;
use actix_web::http::header;

/// The client's address: the socket's peer.
pub fn address(req: &HttpRequest) -> String {
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()
}

pub fn of(req: &HttpRequest) -> Client {
    let agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    Client::new(address(req), agent)
}
