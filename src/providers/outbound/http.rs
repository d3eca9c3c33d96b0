//! The HTTP client behind the object stores whose endpoint the admin types (S3, Azure): every
//! address it connects to passes the [`AddressPolicy`]. Names through a checking DNS resolver;
//! IP literals (which reqwest connects to without asking a resolver) before each request and at
//! each redirect hop, read the way reqwest reads them (the url crate's normalised host).

use super::policy::{AddressPolicy, ResolveError, literal, refusal_in, url_host};
use crate::config::ProviderSettings;
use async_trait::async_trait;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService,
};
use std::time::Duration;

/// Each request carries at most one upload part, so five minutes is generous.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// As reqwest's default policy: more hops than this is a loop.
const MAX_REDIRECTS: usize = 10;

/// Resolves names and refuses the ones that lead to refused addresses.
struct CheckingResolver(AddressPolicy);

impl reqwest::dns::Resolve for CheckingResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (policy, host) = (self.0, name.as_str().to_owned());
        Box::pin(async move {
            match policy.resolve(&host, 0).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                Err(ResolveError::Refused(refused)) => Err(refused.into()),
                Err(ResolveError::Lookup(e)) => Err(e.into()),
            }
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("more than {MAX_REDIRECTS} redirects")]
struct TooManyRedirects;

fn redirect_policy(policy: AddressPolicy) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(TooManyRedirects);
        }
        // A named hop meets the resolver when it connects; a literal one is checked here.
        let target = url_host(attempt.url().as_str()).and_then(|h| literal(&h));
        match target.map(|ip| policy.check(ip)) {
            Some(Err(refused)) => attempt.error(refused),
            _ => attempt.follow(),
        }
    })
}

/// A reqwest client with the policy's resolver and redirect checks and the server's timeouts.
pub fn checked_client(settings: &ProviderSettings) -> reqwest::Result<reqwest::Client> {
    let policy = settings.outbound;
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(REQUEST_TIMEOUT)
        .dns_resolver(std::sync::Arc::new(CheckingResolver(policy)))
        .redirect(redirect_policy(policy))
        .build()
}

/// object_store's hook for a client of our own: each store gets a checked client.
#[derive(Debug, Clone)]
pub struct CheckedConnector {
    settings: ProviderSettings,
}

impl CheckedConnector {
    pub fn new(settings: &ProviderSettings) -> CheckedConnector {
        CheckedConnector { settings: settings.clone() }
    }
}

impl HttpConnector for CheckedConnector {
    fn connect(&self, _: &object_store::ClientOptions) -> object_store::Result<HttpClient> {
        let client = checked_client(&self.settings)
            .map_err(|e| object_store::Error::Generic { store: "HTTP", source: Box::new(e) })?;
        Ok(HttpClient::new(CheckedService { client, policy: self.settings.outbound }))
    }
}

#[derive(Debug)]
struct CheckedService {
    client: reqwest::Client,
    policy: AddressPolicy,
}

#[async_trait]
impl HttpService for CheckedService {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        // Refusals are not retried (HttpErrorKind::Unknown): asking again changes nothing.
        let target = url_host(&req.uri().to_string()).and_then(|h| literal(&h));
        if let Some(Err(refused)) = target.map(|ip| self.policy.check(ip)) {
            return Err(HttpError::new(HttpErrorKind::Unknown, refused));
        }
        HttpService::call(&self.client, req)
            .await
            .map_err(|e| if refusal_in(&e).is_some() { HttpError::new(HttpErrorKind::Unknown, e) } else { e })
    }
}
