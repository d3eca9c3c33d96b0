//! Shared by the providers that speak plain HTTP through reqwest (Google Drive, Cloudinary): one
//! client per provider with the server's timeouts, and transport failures in the same words as
//! the object_store providers use.

use super::{ErrorKind, ProviderContext, ProviderError};
use std::time::Duration;

/// Each request carries at most one upload chunk, so five minutes is generous.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

pub fn client(ctx: &ProviderContext) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .connect_timeout(ctx.settings.connect_timeout)
        .timeout(REQUEST_TIMEOUT)
        // A server that stops answering fails within the stall timeout (see object_store's clients).
        .read_timeout(ctx.settings.stall_timeout)
        // A provider answering with a redirect is not followed blindly (credentials ride along).
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("cannot build the HTTP client: {e}")))
}

/// A request that got no HTTP answer: unreachable, refused, timed out.
pub fn transport_error(error: &reqwest::Error, endpoint: &str) -> ProviderError {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    let lower = text.to_ascii_lowercase();
    let (kind, what) = if error.is_timeout() || lower.contains("timed out") {
        (ErrorKind::Timeout, "no answer in time")
    } else if lower.contains("connection refused") {
        (ErrorKind::Unreachable, "connection refused")
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        (ErrorKind::Unreachable, "the host name could not be resolved")
    } else if lower.contains("certificate") || lower.contains("tls") {
        (ErrorKind::Unreachable, "the TLS handshake failed")
    } else if error.is_connect() {
        (ErrorKind::Unreachable, "the connection failed")
    } else {
        (ErrorKind::Unreachable, "the connection broke off")
    };
    ProviderError::new(kind, format!("Could not reach {endpoint}: {what}."))
}

/// The scheme, host and port of a URL: enough to name a service without its paths or queries.
pub fn origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => url.to_owned(),
    }
}

/// The kind an HTTP status implies when the body says nothing better.
pub fn kind_of_status(status: reqwest::StatusCode) -> ErrorKind {
    match status.as_u16() {
        401 => ErrorKind::Authentication,
        403 => ErrorKind::Permission,
        404 => ErrorKind::NotFound,
        _ => ErrorKind::Provider,
    }
}

/// Sends a GET that object_store's signer has signed (`request` carries its headers) and returns
/// the answer's body; an error answer in the provider's own words.
pub async fn send_signed(
    client: &reqwest::Client,
    request: http::Request<object_store::client::HttpRequestBody>,
    endpoint: &str,
) -> Result<String, ProviderError> {
    let url = request.uri().to_string();
    let response =
        client.get(url).headers(request.headers().clone()).send().await.map_err(|e| transport_error(&e, endpoint))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| transport_error(&e, endpoint))?;
    if !status.is_success() {
        return Err(super::object_store_errors::from_answer(status, &body));
    }
    Ok(body)
}

/// An empty GET of `url`, for a signer to sign.
pub fn unsigned_get(url: &url::Url) -> Result<http::Request<object_store::client::HttpRequestBody>, ProviderError> {
    http::Request::builder()
        .method(http::Method::GET)
        .uri(url.as_str())
        .body(object_store::client::HttpRequestBody::empty())
        .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid request: {e}")))
}
