//! Who sent a request, as far as the server can tell: the client's address and its User-Agent.

use crate::config::TrustedProxies;
use crate::sessions::Client;
use actix_web::http::header;
use actix_web::{HttpRequest, web};

/// The client's address: the socket's peer, or — when that is a trusted proxy
/// (`DEVPILOT_TRUSTED_PROXIES`) — the client its `X-Forwarded-For` names.
pub fn address(req: &HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else { return String::new() };
    let Some(proxies) = req.app_data::<web::Data<TrustedProxies>>().filter(|p| !p.is_empty()) else {
        return peer.to_canonical().to_string();
    };
    let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
    proxies.client(peer, forwarded.collect::<Vec<_>>().into_iter()).to_string()
}

pub fn of(req: &HttpRequest) -> Client {
    let agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    Client::new(address(req), agent)
}
