//! Google's OAuth 2.0 endpoints through the `oauth2` crate: the consent URL (authorization code
//! with PKCE, offline access), the code exchange, and refreshing access tokens. oauth2's own
//! reqwest support targets another reqwest major version, so [`Http`] runs its requests over ours.
//! [`RefreshingToken`] is the Drive provider's access token, refreshed as it runs out. No database
//! here: the Drive provider and the consent flow both use it.

use crate::providers::{ErrorKind, ProviderError, Step, http};
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    HttpClientError, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// Backups go into an existing folder the admin names by ID. `drive.file` only sees files this
/// app created, so that folder would be invisible: the full `drive` scope is needed (restricted:
/// an internal Workspace app or a client in testing mode works without Google's verification).
pub const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive";

/// oauth2's HTTP client trait over our reqwest client.
pub struct Http(pub reqwest::Client);

type HttpError = HttpClientError<reqwest::Error>;

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + Sync + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let response = self.0.execute(request).await.map_err(Box::new)?;
            let mut builder = ::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await.map_err(Box::new)?;
            builder.body(body.to_vec()).map_err(HttpClientError::Http)
        })
    }
}

/// An OAuth client of Google's (from the Google Cloud console) and where Google's endpoints are.
pub struct GoogleOAuth<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    pub authorize_url: &'a str,
    pub token_url: &'a str,
}

/// What Google's token endpoint answered.
pub struct Tokens {
    pub access_token: SecretString,
    /// Present on a code exchange with offline access; absent on a refresh.
    pub refresh_token: Option<SecretString>,
    pub expires_in: Option<Duration>,
}

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

impl GoogleOAuth<'_> {
    fn client(&self) -> Result<Client, ProviderError> {
        let bad = |what: &str, e: url::ParseError| {
            ProviderError::new(ErrorKind::Provider, format!("The Google OAuth {what} URL is invalid: {e}."))
        };
        Ok(BasicClient::new(ClientId::new(self.client_id.to_owned()))
            .set_client_secret(ClientSecret::new(self.client_secret.expose_secret().to_owned()))
            // Google documents the client credentials in the form body.
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(AuthUrl::new(self.authorize_url.to_owned()).map_err(|e| bad("authorize", e))?)
            .set_token_uri(TokenUrl::new(self.token_url.to_owned()).map_err(|e| bad("token", e))?))
    }

    /// The consent page URL: Drive scope, offline access (a refresh token), consent asked every
    /// time (so Google sends a refresh token again on reconnect), PKCE S256.
    pub fn consent_url(
        &self,
        redirect_uri: &str,
        state: &str,
        challenge: PkceCodeChallenge,
    ) -> Result<url::Url, ProviderError> {
        let redirect = redirect_url(redirect_uri)?;
        let state = state.to_owned();
        let (url, _) = self
            .client()?
            .set_redirect_uri(redirect)
            .authorize_url(move || CsrfToken::new(state))
            .add_scope(Scope::new(DRIVE_SCOPE.to_owned()))
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent")
            .set_pkce_challenge(challenge)
            .url();
        Ok(url)
    }

    pub async fn exchange_code(
        &self,
        http: &Http,
        redirect_uri: &str,
        code: &str,
        verifier: &SecretString,
    ) -> Result<Tokens, ProviderError> {
        let answer = self
            .client()?
            .set_redirect_uri(redirect_url(redirect_uri)?)
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose_secret().to_owned()))
            .request_async(http)
            .await
            .map_err(|e| self.token_error(e))?;
        Ok(tokens(answer))
    }

    pub async fn refresh(&self, http: &Http, refresh_token: &SecretString) -> Result<Tokens, ProviderError> {
        let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let answer =
            self.client()?.exchange_refresh_token(&token).request_async(http).await.map_err(|e| self.token_error(e))?;
        Ok(tokens(answer))
    }

    /// Google's own `error` code and description (`invalid_grant: Token has been expired or
    /// revoked.`), or why no answer came.
    fn token_error(&self, e: RequestTokenError<HttpError, BasicErrorResponse>) -> ProviderError {
        let endpoint = http::origin(self.token_url);
        match e {
            RequestTokenError::ServerResponse(answer) => {
                let code = answer.error().to_string();
                let message = answer.error_description().cloned().unwrap_or_else(|| "no description".into());
                let kind = match code.as_str() {
                    "invalid_grant" | "invalid_client" | "unauthorized_client" => ErrorKind::Authentication,
                    _ => ErrorKind::Provider,
                };
                ProviderError::with_code(kind, code, message).at(Step::Authenticate)
            }
            RequestTokenError::Request(HttpClientError::Reqwest(e)) => http::transport_error(&e, &endpoint),
            RequestTokenError::Request(e) => {
                ProviderError::new(ErrorKind::Unreachable, format!("Could not reach {endpoint}: {e}."))
            }
            RequestTokenError::Parse(_, body) => ProviderError::new(
                ErrorKind::Provider,
                format!("{endpoint} answered something that is not a token response ({} bytes).", body.len()),
            )
            .at(Step::Authenticate),
            RequestTokenError::Other(m) => ProviderError::new(ErrorKind::Provider, m).at(Step::Authenticate),
        }
    }
}

/// A refresh token with its OAuth client, and the access token of the last refresh, kept until
/// shortly before it expires.
pub struct RefreshingToken {
    pub client_id: String,
    pub client_secret: SecretString,
    pub refresh_token: SecretString,
    pub authorize_url: String,
    pub token_url: String,
    cached: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
}

impl RefreshingToken {
    pub fn new(
        client_id: String,
        client_secret: SecretString,
        refresh_token: SecretString,
        authorize_url: String,
        token_url: String,
    ) -> RefreshingToken {
        let cached = tokio::sync::Mutex::new(None);
        RefreshingToken { client_id, client_secret, refresh_token, authorize_url, token_url, cached }
    }

    /// The cached access token, or a fresh one from Google's token endpoint.
    pub async fn access_token(&self, http: &reqwest::Client) -> Result<SecretString, ProviderError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let google = GoogleOAuth {
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            authorize_url: &self.authorize_url,
            token_url: &self.token_url,
        };
        let tokens = google.refresh(&Http(http.clone()), &self.refresh_token).await?;
        let lifetime = tokens.expires_in.unwrap_or(Duration::from_secs(3600));
        let until = Instant::now() + lifetime.saturating_sub(Duration::from_secs(60));
        *cached = Some((tokens.access_token.clone(), until));
        Ok(tokens.access_token)
    }
}

fn redirect_url(redirect_uri: &str) -> Result<RedirectUrl, ProviderError> {
    RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| {
        ProviderError::new(ErrorKind::Provider, format!("The OAuth redirect URL {redirect_uri} is invalid: {e}."))
    })
}

fn tokens(answer: BasicTokenResponse) -> Tokens {
    Tokens {
        access_token: SecretString::from(answer.access_token().secret().to_owned()),
        refresh_token: answer.refresh_token().map(|t| SecretString::from(t.secret().to_owned())),
        expires_in: answer.expires_in(),
    }
}
