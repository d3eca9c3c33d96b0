//! Microsoft's identity platform (v2.0 endpoints) for OneDrive: the consent URL (authorization
//! code with PKCE S256), the code exchange and refreshes, with Microsoft's errors in its own
//! words (`invalid_grant` and the AADSTS code). No database here: the OneDrive provider and the
//! consent flow in `crate::oauth` both use it.

use crate::config::MicrosoftClouds;
use crate::fields::rules;
use crate::providers::{ErrorKind, ProviderError, Step, http};
use oauth2::PkceCodeChallenge;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// Microsoft's national clouds: each has its own login and Graph hosts (server settings).
pub const CLOUDS: &[(&str, &str)] = &[
    ("global", "Global (microsoft.com)"),
    ("us_gov", "US Government L4 (GCC High)"),
    ("us_dod", "US Government L5 (DoD)"),
    ("china", "China (operated by 21Vianet)"),
];

/// The login and Graph base URLs of `cloud` (one of [`CLOUDS`]).
pub fn hosts<'a>(clouds: &'a MicrosoftClouds, cloud: &str) -> (&'a str, &'a str) {
    match cloud {
        "us_gov" => (&clouds.us_gov_login, &clouds.us_gov_graph),
        "us_dod" => (&clouds.us_gov_login, &clouds.us_dod_graph),
        "china" => (&clouds.china_login, &clouds.china_graph),
        _ => (&clouds.global_login, &clouds.global_graph),
    }
}

/// A tenant as the login URL takes it: `common`, `organizations`, `consumers`, a directory
/// (tenant) ID or a verified domain name. It becomes a path segment, so nothing else passes.
pub fn check_tenant(value: &str) -> Result<(), String> {
    rules::charset("Tenant", value, "-.")?;
    if value.starts_with('.') || value.contains("..") {
        return Err("Tenant is `common`, a directory ID or a domain name such as contoso.onmicrosoft.com.".into());
    }
    Ok(())
}

/// The scopes of a consent. `offline_access` gets a refresh token. `Files.ReadWrite` reaches
/// only the signed-in user's own OneDrive; a SharePoint document library or another person's
/// shared drive (a drive ID) needs `Files.ReadWrite.All`, so that is asked only then. Outside
/// the global cloud scopes name their Graph host (Microsoft's national-cloud guidance).
pub fn scopes(graph: &str, shared_library: bool) -> String {
    let files = if shared_library { "Files.ReadWrite.All" } else { "Files.ReadWrite" };
    let global = graph.trim_end_matches('/') == MicrosoftClouds::default().global_graph;
    if global || !graph.starts_with("https://") {
        format!("offline_access {files}")
    } else {
        format!("offline_access {}/{files}", graph.trim_end_matches('/'))
    }
}

/// An app registration of Microsoft Entra and the tenant and cloud it signs in to.
pub struct MicrosoftOAuth<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    /// The cloud's login base URL.
    pub login: &'a str,
    pub tenant: &'a str,
    pub scopes: &'a str,
}

/// What the token endpoint answered.
pub struct Tokens {
    pub access_token: SecretString,
    /// Microsoft answers a new one on every exchange and refresh (with `offline_access`).
    pub refresh_token: Option<SecretString>,
    pub expires_in: Duration,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
}

#[derive(serde::Deserialize, Default)]
struct ErrorAnswer {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u64>,
}

impl MicrosoftOAuth<'_> {
    fn endpoint(&self, which: &str) -> String {
        format!("{}/{}/oauth2/v2.0/{which}", self.login.trim_end_matches('/'), self.tenant)
    }

    pub fn authorize_url(&self) -> String {
        self.endpoint("authorize")
    }

    pub fn token_url(&self) -> String {
        self.endpoint("token")
    }

    /// The sign-in and consent page: authorization code, PKCE S256, the answer in the query.
    pub fn consent_url(
        &self,
        redirect_uri: &str,
        state: &str,
        challenge: &PkceCodeChallenge,
    ) -> Result<url::Url, ProviderError> {
        let mut url = url::Url::parse(&self.authorize_url()).map_err(|e| {
            ProviderError::new(ErrorKind::Provider, format!("The Microsoft login URL is invalid: {e}."))
        })?;
        url.query_pairs_mut()
            .append_pair("client_id", self.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_mode", "query")
            .append_pair("scope", self.scopes)
            .append_pair("state", state)
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    pub async fn exchange_code(
        &self,
        client: &reqwest::Client,
        redirect_uri: &str,
        code: &str,
        verifier: &SecretString,
    ) -> Result<Tokens, ProviderError> {
        self.token_request(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier.expose_secret()),
            ],
        )
        .await
    }

    pub async fn refresh(
        &self,
        client: &reqwest::Client,
        refresh_token: &SecretString,
    ) -> Result<Tokens, ProviderError> {
        self.token_request(client, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose_secret())])
            .await
    }

    async fn token_request(&self, client: &reqwest::Client, grant: &[(&str, &str)]) -> Result<Tokens, ProviderError> {
        let url = self.token_url();
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", self.client_id),
            ("client_secret", self.client_secret.expose_secret()),
            ("scope", self.scopes),
        ];
        form.extend_from_slice(grant);
        let response =
            client.post(&url).form(&form).send().await.map_err(|e| http::transport_error(&e, &http::origin(&url)))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| http::transport_error(&e, &http::origin(&url)))?;
        if !status.is_success() {
            return Err(token_error(status, &body));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            ProviderError::new(
                ErrorKind::Provider,
                format!(
                    "{} answered something that is not a token response ({} bytes).",
                    http::origin(&url),
                    body.len()
                ),
            )
            .at(Step::Authenticate)
        })?;
        Ok(Tokens {
            access_token: SecretString::from(answer.access_token),
            refresh_token: answer.refresh_token.map(SecretString::from),
            expires_in: Duration::from_secs(answer.expires_in.unwrap_or(3600)),
        })
    }
}

/// Microsoft's answer in its words: the AADSTS code as the error's code, then the OAuth error
/// and the description's first line (the rest is trace and correlation IDs). A grant Microsoft
/// no longer accepts needs the admin to sign in again: the message says to reconnect.
fn token_error(status: reqwest::StatusCode, body: &[u8]) -> ProviderError {
    let answer: ErrorAnswer = serde_json::from_slice(body).unwrap_or_default();
    let first_line = answer.error_description.lines().next().unwrap_or("").trim();
    let (aadsts, text) = match first_line.split_once(": ") {
        Some((code, text)) if code.starts_with("AADSTS") => (Some(code.to_owned()), text),
        _ => (answer.error_codes.first().map(|c| format!("AADSTS{c}")), first_line),
    };
    let error = if answer.error.is_empty() { format!("HTTP {}", status.as_u16()) } else { answer.error.clone() };
    let text = if text.is_empty() { "no description" } else { text };
    let mut message = format!("{error}: {text}");
    let kind = match error.as_str() {
        "invalid_grant" => {
            message.push_str(" Reconnect the destination (“Reconnect” on its row) to sign in to Microsoft again.");
            ErrorKind::Authentication
        }
        "invalid_client" | "unauthorized_client" => ErrorKind::Authentication,
        _ => ErrorKind::Provider,
    };
    let error = match aadsts {
        Some(code) => ProviderError::with_code(kind, code, message),
        None => ProviderError::new(kind, message),
    };
    error.at(Step::Authenticate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_aadsts_code_and_say_reconnect() {
        let body = br#"{"error":"invalid_grant","error_description":"AADSTS70000: The refresh token was already used.\r\nTrace ID: 1","error_codes":[70000]}"#;
        let e = token_error(reqwest::StatusCode::BAD_REQUEST, body);
        assert_eq!(e.code.as_deref(), Some("AADSTS70000"));
        assert!(e.to_string().starts_with("AADSTS70000: invalid_grant: The refresh token was already used."), "{e}");
        assert!(e.message.contains("Reconnect"));
        assert!(!e.message.contains("Trace ID"));
    }

    #[test]
    fn tenants_are_one_path_segment() {
        for good in ["common", "organizations", "contoso.onmicrosoft.com", "9188040d-6c67-4c5b-b112-36a304b66dad"] {
            assert!(check_tenant(good).is_ok(), "{good}");
        }
        for bad in ["a/b", "..", "x?y", "a b", "%2e"] {
            assert!(check_tenant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn least_scope_unless_a_shared_library() {
        let global = &MicrosoftClouds::default().global_graph;
        assert_eq!(scopes(global, false), "offline_access Files.ReadWrite");
        assert_eq!(scopes(global, true), "offline_access Files.ReadWrite.All");
        assert_eq!(
            scopes("https://microsoftgraph.chinacloudapi.cn", false),
            "offline_access https://microsoftgraph.chinacloudapi.cn/Files.ReadWrite"
        );
    }
}
