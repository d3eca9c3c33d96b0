//! Google service-account authentication: the OAuth 2.0 JWT bearer grant (RFC 7523) as Google
//! documents it for server-to-server apps, with a process-wide token cache. Shared by the Google
//! providers.
//!
//! The whole API:
//! - [`ServiceAccountKey::from_json`] parses a service-account key file (the JSON Google gives).
//! - [`access_token`] returns a bearer token for a key and scopes: from the cache while the cached
//!   one has at least [`MIN_TOKEN_LIFE`] left, else a fresh one, by signing an RS256 JWT with the
//!   key and exchanging it at the token endpoint given. The cache is process-wide, keyed by token
//!   endpoint, scopes, account and key. The endpoint is the server's setting, never the
//!   key's own `token_uri`, so a key file cannot send our signed assertions elsewhere.
//! - [`ServiceAccountKey::sign`] signs other payloads (GCS V4 signed URLs) with the same key.
//!
//! Errors are [`ProviderError`]s at [`Step::Authenticate`] carrying Google's own `error` code and
//! `error_description` (e.g. `invalid_grant: Invalid JWT Signature.`).

use crate::providers::{ErrorKind, ProviderError, Step};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A cached token is handed out only while it has at least this long left.
pub const MIN_TOKEN_LIFE: Duration = Duration::from_secs(60);

/// Google accepts assertions that live at most an hour.
const ASSERTION_LIFE_SECS: u64 = 3600;

const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A parsed service-account key. `Debug` shows only the account's email.
pub struct ServiceAccountKey {
    client_email: String,
    private_key_id: Option<String>,
    signer: SigningKey<Sha256>,
    /// Identifies the key in the token cache without keeping its text around.
    fingerprint: [u8; 32],
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct KeyFile {
    client_email: String,
    #[serde(deserialize_with = "secret")]
    private_key: SecretString,
    private_key_id: Option<String>,
}

/// Wraps a secret as it is read (secrecy's serde support is not enabled).
fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    <String as serde::Deserialize>::deserialize(d).map(SecretString::from)
}

impl ServiceAccountKey {
    pub fn from_json(json: &str) -> Result<ServiceAccountKey, ProviderError> {
        let bad = |what: &str| {
            ProviderError::new(ErrorKind::Authentication, format!("The service-account key {what}."))
                .at(Step::Authenticate)
        };
        let file: KeyFile = serde_json::from_str(json).map_err(|_| bad("is not a valid key file"))?;
        let pem = file.private_key.expose_secret();
        let key = {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            use rsa::pkcs8::DecodePrivateKey;
            rsa::RsaPrivateKey::from_pkcs8_pem(pem).or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
        }
        .map_err(|_| bad("has a private_key that is not an RSA key in PEM form"))?;
        Ok(ServiceAccountKey {
            fingerprint: Sha256::digest(pem.as_bytes()).into(),
            client_email: file.client_email,
            private_key_id: file.private_key_id,
            signer: SigningKey::new(key),
        })
    }

    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (JWT `RS256`, GCS `GOOG4-RSA-SHA256`).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.signer.sign(message).to_vec()
    }

    /// The signed assertion for the JWT bearer grant.
    fn assertion(&self, scopes: &str, token_url: &str, now: u64) -> String {
        let mut header = serde_json::json!({ "alg": "RS256", "typ": "JWT" });
        if let Some(kid) = &self.private_key_id {
            header["kid"] = kid.as_str().into();
        }
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": scopes,
            "aud": token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFE_SECS,
        });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = URL_SAFE_NO_PAD.encode(self.sign(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }
}

struct CachedToken {
    token: SecretString,
    expires_at: Instant,
}

fn cache() -> &'static Mutex<HashMap<[u8; 32], CachedToken>> {
    static CACHE: OnceLock<Mutex<HashMap<[u8; 32], CachedToken>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// A bearer token for `key` with `scopes`, exchanged at `token_url` when the cache has none that
/// lives at least [`MIN_TOKEN_LIFE`] more.
pub async fn access_token(
    http: &reqwest::Client,
    key: &ServiceAccountKey,
    scopes: &[&str],
    token_url: &str,
) -> Result<SecretString, ProviderError> {
    let scopes = scopes.join(" ");
    let cache_key: [u8; 32] = Sha256::new()
        .chain_update(token_url)
        .chain_update([0])
        .chain_update(&scopes)
        .chain_update([0])
        .chain_update(&key.client_email)
        .chain_update([0])
        .chain_update(key.fingerprint)
        .finalize()
        .into();
    if let Some(hit) = lock(cache()).get(&cache_key)
        && hit.expires_at.saturating_duration_since(Instant::now()) >= MIN_TOKEN_LIFE
    {
        return Ok(hit.token.clone());
    }
    // Counted from before the request, so the cached expiry errs on the early side.
    let requested_at = Instant::now();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let assertion = key.assertion(&scopes, token_url, now);
    let (token, lifetime) = exchange(http, &assertion, token_url).await?;
    let expires_at = requested_at + lifetime;
    lock(cache()).insert(cache_key, CachedToken { token: token.clone(), expires_at });
    Ok(token)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(deserialize_with = "secret")]
    access_token: SecretString,
    expires_in: u64,
}

#[derive(serde::Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: String,
}

async fn exchange(
    http: &reqwest::Client,
    assertion: &str,
    token_url: &str,
) -> Result<(SecretString, Duration), ProviderError> {
    let response = http
        .post(token_url)
        .form(&[("grant_type", JWT_BEARER_GRANT), ("assertion", assertion)])
        .send()
        .await
        .map_err(|e| crate::providers::http::transport_error(&e, token_url).at(Step::Authenticate))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() {
        let token: TokenResponse = serde_json::from_str(&body).map_err(|_| {
            ProviderError::new(
                ErrorKind::Provider,
                format!("The token endpoint {token_url} sent an unreadable answer."),
            )
            .at(Step::Authenticate)
        })?;
        return Ok((token.access_token, Duration::from_secs(token.expires_in)));
    }
    Err(match serde_json::from_str::<TokenError>(&body) {
        Ok(e) => ProviderError::with_code(ErrorKind::Authentication, e.error, e.error_description),
        Err(_) => ProviderError::new(
            ErrorKind::Authentication,
            format!("The token endpoint {token_url} answered HTTP {}.", status.as_u16()),
        ),
    }
    .at(Step::Authenticate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_keys_that_are_not_rsa_pem() {
        let json = r#"{"client_email":"a@b.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#;
        let e = ServiceAccountKey::from_json(json).expect_err("not a key");
        assert!(e.message.contains("not an RSA key"), "{e}");
        assert_eq!(e.step, Some(Step::Authenticate));
    }
}
