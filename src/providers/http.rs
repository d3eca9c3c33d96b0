//! The HTTP clients every provider shares, and transport failures in the same words for the
//! object_store providers (S3, Azure, GCS) and the plain-reqwest ones (Google Drive, Cloudinary,
//! Google's token endpoint).
//!
//! One set of clients per server, not one per destination: building a client reads and parses
//! the system's root certificates (milliseconds of CPU — "Test all" of 200 destinations spent
//! most of its time there), and a shared client keeps its connections to a service alive.

use super::object_store_errors::from_answer;
use super::outbound::{self, AddressPolicy};
use super::{ErrorKind, ProviderError};

// Callers that classify their own answers find it beside the clients.
pub use super::object_store_errors::kind_of_status;
use crate::config::ProviderSettings;
use object_store::client::{HttpClient, HttpConnector};
use object_store::{ClientConfigKey, ClientOptions};

#[derive(Debug, Clone)]
pub struct HttpClients {
    /// For our own requests to the services the operator configures (Google, Cloudinary): no
    /// redirects followed blindly (credentials ride along).
    api: reqwest::Client,
    /// For one long request that watches its own progress (a GCS upload streamed whole).
    streaming: reqwest::Client,
    /// object_store's clients for the operator's endpoints (GCS).
    store: StoreClients,
    /// For the endpoints admins type (S3, Azure): every address passes the outbound policy.
    checked_store: StoreClients,
    checked_api: CheckedApi,
}

/// object_store's clients: as its own connector builds them (redirects followed, no
/// decompression), one that refuses plain http and one that allows it; with the policy, each
/// request's literal address is checked before it goes.
#[derive(Debug, Clone)]
struct StoreClients {
    https_only: reqwest::Client,
    any: reqwest::Client,
    policy: Option<AddressPolicy>,
}

/// Requests of our own to an endpoint an admin typed (listing what an object store holds
/// beyond object_store's API): names resolve through the policy, literals are checked here.
#[derive(Debug, Clone)]
pub struct CheckedApi {
    client: reqwest::Client,
    policy: AddressPolicy,
}

impl CheckedApi {
    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, ProviderError> {
        self.request(reqwest::Method::GET, url)
    }

    pub fn request(&self, method: reqwest::Method, url: &str) -> Result<reqwest::RequestBuilder, ProviderError> {
        self.policy.check_url(url).map_err(|refused| refused.provider_error())?;
        Ok(self.client.request(method, url))
    }
}

/// How long a request may stay silent: reqwest's read timeout runs from sending the request —
/// its body included — to the answer's headers, then between reads of the answer. So a server
/// that accepted the connection and says nothing fails within the stall timeout, a request
/// carrying one upload part or chunk (8 MiB) must be sent within it, and a download has no
/// limit but its pauses. No overall timeout: it would cut off long downloads.
impl HttpClients {
    pub fn new(settings: &ProviderSettings) -> Result<HttpClients, ProviderError> {
        let policy = settings.outbound;
        let base = || reqwest::Client::builder().connect_timeout(settings.connect_timeout);
        let watched = || base().read_timeout(settings.stall_timeout);
        let store_client = |checked: bool, https_only: bool| {
            let builder = watched().no_gzip().no_brotli().no_zstd().no_deflate().https_only(https_only);
            let builder = if checked { outbound::checked(builder, policy, true) } else { builder };
            builder.build().map_err(build_error)
        };
        let store = |checked: bool| -> Result<StoreClients, ProviderError> {
            Ok(StoreClients {
                https_only: store_client(checked, true)?,
                any: store_client(checked, false)?,
                policy: checked.then_some(policy),
            })
        };
        let no_redirects = || reqwest::redirect::Policy::none();
        Ok(HttpClients {
            api: watched().redirect(no_redirects()).build().map_err(build_error)?,
            streaming: base().redirect(no_redirects()).build().map_err(build_error)?,
            store: store(false)?,
            checked_store: store(true)?,
            checked_api: CheckedApi {
                // Redirects followed as object_store follows them for the same endpoints, every hop checked.
                client: outbound::checked(watched(), policy, true).build().map_err(build_error)?,
                policy,
            },
        })
    }

    pub fn api(&self) -> &reqwest::Client {
        &self.api
    }

    /// Without a read timeout: the caller fails the request when its body stops moving.
    pub fn streaming(&self) -> &reqwest::Client {
        &self.streaming
    }

    /// Hands object_store builders the shared clients (`with_http_connector`), for endpoints
    /// the operator configured.
    pub fn store_connector(&self) -> impl HttpConnector {
        self.store.clone()
    }

    /// As [`store_connector`](Self::store_connector), for endpoints an admin typed.
    pub fn checked_store_connector(&self) -> impl HttpConnector {
        self.checked_store.clone()
    }

    pub fn checked_api(&self) -> &CheckedApi {
        &self.checked_api
    }
}

impl HttpConnector for StoreClients {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let allow_http = options.get_config_value(&ClientConfigKey::AllowHttp).is_some_and(|v| v == "true");
        let client = if allow_http { self.any.clone() } else { self.https_only.clone() };
        Ok(match self.policy {
            Some(policy) => HttpClient::new(outbound::CheckedService { client, policy }),
            None => HttpClient::new(client),
        })
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

/// Sends a request that object_store's signer has signed (`request` carries its method, URL
/// and headers; no body) and returns the answer's body; an error answer in the provider's own
/// words.
pub async fn send_signed(
    api: &CheckedApi,
    request: http::Request<object_store::client::HttpRequestBody>,
    endpoint: &str,
) -> Result<String, ProviderError> {
    let url = request.uri().to_string();
    let response = api
        .request(request.method().clone(), &url)?
        .headers(request.headers().clone())
        .send()
        .await
        .map_err(|e| transport_error(&e, endpoint))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| transport_error(&e, endpoint))?;
    if !status.is_success() {
        return Err(from_answer(status, &body));
    }
    Ok(body)
}

/// A request of `url` without a body, for a signer to sign.
pub fn unsigned(
    method: http::Method,
    url: &url::Url,
) -> Result<http::Request<object_store::client::HttpRequestBody>, ProviderError> {
    http::Request::builder()
        .method(method)
        .uri(url.as_str())
        .body(object_store::client::HttpRequestBody::empty())
        .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid request: {e}")))
}
