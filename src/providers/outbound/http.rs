//! What an HTTP client needs so that every address it connects to passes the
//! [`AddressPolicy`]: names through a checking DNS resolver; IP literals (which reqwest connects
//! to without asking a resolver) before each request and at each redirect hop, read the way
//! reqwest reads them (the url crate's normalised host). The shared clients of
//! [`crate::providers::http::HttpClients`] for the endpoints admins type (S3, Azure) are built
//! with these.

use super::policy::{AddressPolicy, ResolveError, literal, refusal_in, url_host};
use async_trait::async_trait;
use object_store::client::{HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService};

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

/// Follows redirects as reqwest does, but not to a refused literal address (a named hop meets
/// the resolver when it connects).
fn redirect_policy(policy: AddressPolicy) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(TooManyRedirects);
        }
        let target = url_host(attempt.url().as_str()).and_then(|h| literal(&h));
        match target.map(|ip| policy.check(ip)) {
            Some(Err(refused)) => attempt.error(refused),
            _ => attempt.follow(),
        }
    })
}

/// A client builder made to resolve through the policy; `follow_redirects` checks each hop,
/// else none is followed.
pub fn checked(
    builder: reqwest::ClientBuilder,
    policy: AddressPolicy,
    follow_redirects: bool,
) -> reqwest::ClientBuilder {
    let redirects = if follow_redirects { redirect_policy(policy) } else { reqwest::redirect::Policy::none() };
    builder.dns_resolver(std::sync::Arc::new(CheckingResolver(policy))).redirect(redirects)
}

/// object_store's requests through a checked client, with literal addresses checked first.
#[derive(Debug)]
pub struct CheckedService {
    pub client: reqwest::Client,
    pub policy: AddressPolicy,
}

#[async_trait]
impl HttpService for CheckedService {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        // Refusals are not retried (HttpErrorKind::Unknown): asking again changes nothing.
        if let Err(refused) = self.policy.check_url(&req.uri().to_string()) {
            return Err(HttpError::new(HttpErrorKind::Unknown, refused));
        }
        HttpService::call(&self.client, req)
            .await
            .map_err(|e| if refusal_in(&e).is_some() { HttpError::new(HttpErrorKind::Unknown, e) } else { e })
    }
}
