//! Whose consent page a destination's type uses and what is asked there: Google's for Google
//! Drive (the `drive` scope), Microsoft's for OneDrive (its tenant and cloud, `offline_access`
//! and the least Files scope). The state handling around it (`service`) is the same for both.

use super::service::OAuthError;
use crate::config::ExternalEndpoints;
use crate::providers::google_auth::oauth::{GoogleOAuth, Http};
use crate::providers::microsoft_auth::{self, MicrosoftOAuth};
use crate::providers::{ProviderConfig, ProviderError};
use oauth2::PkceCodeChallenge;
use secrecy::SecretString;

pub enum Consent {
    Google { client_id: String, client_secret: SecretString },
    Microsoft { client_id: String, client_secret: SecretString, login: String, tenant: String, scopes: String },
}

impl Consent {
    /// The consent of a destination's config, or why it has none.
    pub fn of(config: ProviderConfig, endpoints: &ExternalEndpoints) -> Result<Consent, OAuthError> {
        match config {
            ProviderConfig::GoogleDrive(c) => match (c.client_id, c.client_secret) {
                (Some(client_id), Some(client_secret)) => Ok(Consent::Google { client_id, client_secret }),
                _ => Err(OAuthError::NoClient),
            },
            ProviderConfig::OneDrive(c) => {
                let (login, graph) = microsoft_auth::hosts(&endpoints.microsoft, c.cloud);
                Ok(Consent::Microsoft {
                    scopes: microsoft_auth::scopes(graph, c.shared_library()),
                    login: login.to_owned(),
                    tenant: c.tenant,
                    client_id: c.client_id,
                    client_secret: c.client_secret,
                })
            }
            _ => Err(OAuthError::NotDrive),
        }
    }

    /// Who runs the consent page, as the notices name it.
    pub fn owner(&self) -> &'static str {
        match self {
            Consent::Google { .. } => "Google",
            Consent::Microsoft { .. } => "Microsoft",
        }
    }

    fn google<'a>(&'a self, endpoints: &'a ExternalEndpoints) -> Option<GoogleOAuth<'a>> {
        match self {
            Consent::Google { client_id, client_secret } => Some(GoogleOAuth {
                client_id,
                client_secret,
                authorize_url: &endpoints.google_oauth_authorize,
                token_url: &endpoints.google_oauth_token,
            }),
            Consent::Microsoft { .. } => None,
        }
    }

    fn microsoft(&self) -> Option<MicrosoftOAuth<'_>> {
        match self {
            Consent::Microsoft { client_id, client_secret, login, tenant, scopes } => {
                Some(MicrosoftOAuth { client_id, client_secret, login, tenant, scopes })
            }
            Consent::Google { .. } => None,
        }
    }

    pub fn url(
        &self,
        endpoints: &ExternalEndpoints,
        redirect_uri: &str,
        state: &str,
        challenge: PkceCodeChallenge,
    ) -> Result<url::Url, ProviderError> {
        match (self.google(endpoints), self.microsoft()) {
            (Some(google), _) => google.consent_url(redirect_uri, state, challenge),
            (_, Some(microsoft)) => microsoft.consent_url(redirect_uri, state, &challenge),
            _ => unreachable!("a consent is Google's or Microsoft's"),
        }
    }

    /// Exchanges the code; the refresh token, if the answer carried one.
    pub async fn exchange(
        &self,
        endpoints: &ExternalEndpoints,
        http: &reqwest::Client,
        redirect_uri: &str,
        code: &str,
        verifier: &SecretString,
    ) -> Result<Option<SecretString>, ProviderError> {
        match (self.google(endpoints), self.microsoft()) {
            (Some(google), _) => {
                Ok(google.exchange_code(&Http(http.clone()), redirect_uri, code, verifier).await?.refresh_token)
            }
            (_, Some(microsoft)) => {
                Ok(microsoft.exchange_code(http, redirect_uri, code, verifier).await?.refresh_token)
            }
            _ => unreachable!("a consent is Google's or Microsoft's"),
        }
    }
}
