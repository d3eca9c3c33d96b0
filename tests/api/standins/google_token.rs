//! A stand-in for Google's OAuth 2.0 token endpoint, JWT bearer grant only (service accounts,
//! <https://developers.google.com/identity/protocols/oauth2/service-account#httprest>): it takes
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and an RS256 `assertion`, verifies the
//! signature with the public key it trusts for the `iss` account, checks `scope`, `aud` (its own
//! URL), `iat` and `exp` like Google, and answers `{access_token, expires_in, token_type}` or
//! Google's `{error, error_description}` (400). It remembers the tokens it issues, so the GCS gate
//! can refuse unknown and expired ones.
//!
//! Test keys are generated at run time ([`TestAccount`]); none is committed.

use super::server::serve;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::json;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google tolerates this much clock difference on `iat`.
const SKEW: u64 = 300;
pub const TOKEN_LIFE: Duration = Duration::from_secs(3599);

/// A service account made for the test run: its key file and its public key.
pub struct TestAccount {
    pub email: String,
    pub key_json: String,
    pub public_key: RsaPublicKey,
}

impl TestAccount {
    /// An account whose key file carries `signing` as its private key; the stand-in is told to
    /// trust `public_key`, which is `signing`'s own unless the test says otherwise.
    pub fn new(email: &str, signing: &RsaPrivateKey) -> TestAccount {
        use rsa::pkcs8::EncodePrivateKey;
        let pem = signing.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).expect("pem");
        let key_json = json!({
            "type": "service_account",
            "project_id": "devpilot-test",
            "private_key_id": "0123456789abcdef",
            "private_key": pem.as_str(),
            "client_email": email,
            "client_id": "100000000000000000001",
            // Deliberately useless: the server's token URL setting decides, never the key file.
            "token_uri": "http://127.0.0.1:9/token",
        })
        .to_string();
        TestAccount { email: email.into(), key_json, public_key: signing.to_public_key() }
    }
}

/// RSA key generation is slow in debug builds: each key is made once per test run.
pub fn test_key(which: usize) -> &'static RsaPrivateKey {
    static KEYS: [OnceLock<RsaPrivateKey>; 2] = [OnceLock::new(), OnceLock::new()];
    KEYS[which].get_or_init(|| RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key"))
}

struct Issued {
    expires_at: Instant,
    scopes: Vec<String>,
}

#[derive(Default)]
struct State {
    accounts: Mutex<HashMap<String, RsaPublicKey>>,
    tokens: Mutex<HashMap<String, Issued>>,
    grants: AtomicUsize,
}

#[derive(Clone)]
pub struct GoogleTokenStandIn {
    /// The token endpoint, as the `google_oauth_token` setting takes it.
    pub url: String,
    state: Arc<State>,
}

/// Why a bearer token is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Missing,
    Unknown,
    Expired,
    Scope,
}

impl GoogleTokenStandIn {
    pub fn start() -> GoogleTokenStandIn {
        let state = Arc::new(State::default());
        let data = web::Data::from(state.clone());
        let base = serve(move |app| {
            app.app_data(data.clone()).route("/token", web::post().to(token));
        });
        GoogleTokenStandIn { url: format!("{base}/token"), state }
    }

    pub fn trust(&self, email: &str, public_key: &RsaPublicKey) {
        self.state.accounts.lock().expect("lock").insert(email.into(), public_key.clone());
    }

    pub fn public_key(&self, email: &str) -> Option<RsaPublicKey> {
        self.state.accounts.lock().expect("lock").get(email).cloned()
    }

    /// Token exchanges answered with a token so far.
    pub fn grants(&self) -> usize {
        self.state.grants.load(Ordering::SeqCst)
    }

    /// A token as the endpoint would issue it, living `life` (zero: expired already).
    pub fn issue(&self, scopes: &[&str], life: Duration) -> String {
        issue(&self.state, scopes.iter().map(|s| (*s).to_owned()).collect(), life)
    }

    /// Checks an `Authorization` header: a live token of ours with a scope starting `scope`.
    pub fn check(&self, authorization: Option<&str>, scope: &str) -> Result<(), Refused> {
        let token = authorization.and_then(|h| h.strip_prefix("Bearer ")).ok_or(Refused::Missing)?;
        let tokens = self.state.tokens.lock().expect("lock");
        let issued = tokens.get(token).ok_or(Refused::Unknown)?;
        if issued.expires_at <= Instant::now() {
            return Err(Refused::Expired);
        }
        if !issued.scopes.iter().any(|s| s.starts_with(scope)) {
            return Err(Refused::Scope);
        }
        Ok(())
    }
}

fn issue(state: &State, scopes: Vec<String>, life: Duration) -> String {
    let token = format!("ya29.stand-in-{}", uuid::Uuid::new_v4().simple());
    let issued = Issued { expires_at: Instant::now() + life, scopes };
    state.tokens.lock().expect("lock").insert(token.clone(), issued);
    token
}

fn refuse(error: &str, description: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": error, "error_description": description }))
}

async fn token(state: web::Data<State>, req: HttpRequest, form: web::Form<HashMap<String, String>>) -> HttpResponse {
    let grant_type = form.get("grant_type").map(String::as_str).unwrap_or_default();
    if grant_type != JWT_BEARER {
        return refuse("unsupported_grant_type", &format!("Invalid grant_type: {grant_type}"));
    }
    let Some(assertion) = form.get("assertion") else {
        return refuse("invalid_request", "Missing required parameter: assertion");
    };
    // Google wants its own token URL as the audience: this endpoint's URL, as it was called.
    let own_url = format!("http://{}{}", req.connection_info().host(), req.path());
    match verify(&state, &own_url, assertion) {
        Ok(scopes) => {
            state.grants.fetch_add(1, Ordering::SeqCst);
            let access_token = issue(&state, scopes, TOKEN_LIFE);
            HttpResponse::Ok().json(json!({
                "access_token": access_token,
                "expires_in": TOKEN_LIFE.as_secs(),
                "token_type": "Bearer",
            }))
        }
        Err((error, description)) => refuse(error, &description),
    }
}

/// Google's checks of a JWT bearer assertion; the granted scopes, or its error and description.
fn verify(state: &State, own_url: &str, assertion: &str) -> Result<Vec<String>, (&'static str, String)> {
    let invalid = |d: &str| ("invalid_grant", d.to_owned());
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(invalid("Invalid JWT: malformed."));
    };
    let decode =
        |part: &str| -> Option<serde_json::Value> { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok() };
    let (Some(header), Some(claims)) = (decode(header), decode(claims)) else {
        return Err(invalid("Invalid JWT: malformed."));
    };
    if header["alg"] != "RS256" {
        return Err(invalid("Invalid JWT: the algorithm must be RS256."));
    }
    let iss = claims["iss"].as_str().unwrap_or_default();
    let Some(public_key) = state.accounts.lock().expect("lock").get(iss).cloned() else {
        return Err(invalid("Invalid grant: account not found"));
    };
    let signature = URL_SAFE_NO_PAD.decode(signature).ok().and_then(|s| Signature::try_from(s.as_slice()).ok());
    let signed = format!("{}.{}", parts[0], parts[1]);
    let valid =
        signature.is_some_and(|s| VerifyingKey::<Sha256>::new(public_key).verify(signed.as_bytes(), &s).is_ok());
    if !valid {
        return Err(invalid("Invalid JWT Signature."));
    }
    if claims["aud"] != own_url {
        return Err(invalid(&format!("Invalid JWT: Failed audience check. The expected audience is {own_url}.")));
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let (iat, exp) = (claims["iat"].as_u64().unwrap_or(0), claims["exp"].as_u64().unwrap_or(0));
    if iat > now + SKEW || exp <= now || exp < iat || exp - iat > 3600 {
        return Err(invalid(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. \
             Check your iat and exp values in the JWT claim.",
        ));
    }
    let scopes: Vec<String> =
        claims["scope"].as_str().unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    if scopes.is_empty() || !scopes.iter().all(|s| s.starts_with("https://www.googleapis.com/auth/")) {
        return Err(("invalid_scope", "Invalid OAuth scope or ID token audience provided.".into()));
    }
    Ok(scopes)
}
