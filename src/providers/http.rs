//! The HTTP clients every provider shares, and transport failures in the same words for the
//! object_store providers (S3, Azure, GCS) and the plain-reqwest ones (Google Drive, Cloudinary,
//! Google's token endpoint).
//!
//! One set of clients per server, not one per destination: building a client reads and parses
//! the system's root certificates (milliseconds of CPU — "Test all" of 200 destinations spent
//! most of its time there), and a shared client keeps its connections to a service alive.

use super::{ErrorKind, ProviderError};
use crate::config::ProviderSettings;
use object_store::client::{HttpClient, HttpConnector};
use object_store::{ClientConfigKey, ClientOptions};
use std::time::Duration;

/// Each request carries at most one upload part or chunk, so five minutes is generous.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct HttpClients {
    /// For our own requests: no redirects followed blindly (credentials ride along).
    api: reqwest::Client,
    store: StoreClients,
}

/// object_store's clients: as its own connector builds them (redirects followed, no
/// decompression), one that refuses plain http and one that allows it.
#[derive(Debug, Clone)]
struct StoreClients {
    https_only: reqwest::Client,
    any: reqwest::Client,
}

impl HttpClients {
    pub fn new(settings: &ProviderSettings) -> Result<HttpClients, ProviderError> {
        let base = || reqwest::Client::builder().connect_timeout(settings.connect_timeout).timeout(REQUEST_TIMEOUT);
        let store = |https_only: bool| {
            base().no_gzip().no_brotli().no_zstd().no_deflate().https_only(https_only).build().map_err(build_error)
        };
        Ok(HttpClients {
            api: base().redirect(reqwest::redirect::Policy::none()).build().map_err(build_error)?,
            store: StoreClients { https_only: store(true)?, any: store(false)? },
        })
    }

    pub fn api(&self) -> &reqwest::Client {
        &self.api
    }

    /// Hands object_store builders the shared clients (`with_http_connector`).
    pub fn store_connector(&self) -> impl HttpConnector {
        self.store.clone()
    }
}

impl HttpConnector for StoreClients {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let allow_http = options.get_config_value(&ClientConfigKey::AllowHttp).is_some_and(|v| v == "true");
        Ok(HttpClient::new(if allow_http { self.any.clone() } else { self.https_only.clone() }))
    }
}

fn build_error(e: reqwest::Error) -> ProviderError {
    ProviderError::new(ErrorKind::Provider, format!("cannot build the HTTP client: {e}"))
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
