//! The rules of the consent flow, the same for Google and Microsoft (`consent` says what differs):
//! who may start it, what a callback must match, and what a successful one changes (the
//! destination's refresh token, then a test).

use super::consent::Consent;
use super::store::{self, OAuthStateRow};
use crate::audit::Actor;
use crate::config::{ExternalEndpoints, Settings};
use crate::connection_test::TestOutcome;
pub use crate::crypto::random_token;
use crate::crypto::{CredentialCipher, sha256_hex};
use crate::db::{Db, DbError};
use crate::destinations::audited::TestedBy;
use crate::destinations::health::Trigger;
use crate::destinations::service::{DestinationError, DestinationService};
use crate::providers::{ErrorKind, ProviderError};
use chrono::{NaiveDateTime, Utc};
use oauth2::PkceCodeChallenge;
use secrecy::SecretString;
use std::sync::Arc;

/// How long a consent (Google's or Microsoft's) may take.
const STATE_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);
/// Used and expired states are kept this long, so a replay is named as such.
const KEEP_USED: chrono::Duration = chrono::Duration::days(1);

/// The session hash of a consent started through the API: not a SHA-256 in hex, so no
/// session's hash can equal it.
const API_STARTED: &str = "api";

/// Why a callback was refused. Nothing changes on a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Unknown,
    Replayed,
    Expired,
    OtherSession,
    OtherWorkspace,
}

impl Refusal {
    pub fn title(self) -> &'static str {
        match self {
            Refusal::Expired => "Sign-in expired",
            Refusal::Replayed => "Sign-in already used",
            _ => "Sign-in refused",
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Missing => {
                "The consent page's answer is missing its state or code, so it cannot be matched to a request of yours."
            }
            Refusal::Unknown => "This sign-in does not match any request started here.",
            Refusal::Replayed => "This sign-in was already used. Each one works once.",
            Refusal::Expired => "This sign-in expired: it must be finished within 10 minutes of starting it.",
            Refusal::OtherSession => "This sign-in was started in another browser session, not this one.",
            Refusal::OtherWorkspace => "This sign-in was started in another workspace; switch back to it first.",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{}", .0.reason())]
    Refused(Refusal),
    #[error(transparent)]
    Destination(#[from] DestinationError),
    #[error("Only Google Drive and OneDrive destinations connect through a consent page.")]
    NotDrive,
    #[error("Enter the destination's OAuth client ID and secret (Edit), then connect.")]
    NoClient,
    /// Google or Microsoft refused or could not be reached; the destination is unchanged.
    #[error("{0}")]
    Provider(ProviderError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What a finished callback did.
pub enum Finished {
    /// The refresh token is stored and the destination was tested.
    Connected { name: String, owner: &'static str, outcome: TestOutcome },
    /// The person clicked "Cancel" (or Google or Microsoft said no) on the consent page.
    Denied { name: String, owner: &'static str, error: String },
}

/// What Google sent back to the callback.
pub struct Callback<'a> {
    pub state: Option<&'a str>,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// Who is asking: the signed-in user, their workspace, and their session's binding secret.
pub struct Requester<'a> {
    pub user_id: &'a str,
    pub workspace_id: &'a str,
    pub session_binding: Option<&'a str>,
}

#[derive(Clone)]
pub struct OAuthService {
    db: Db,
    cipher: Arc<CredentialCipher>,
    destinations: DestinationService,
    endpoints: ExternalEndpoints,
    redirect_uri: String,
    http: reqwest::Client,
}

pub fn verifier_aad(state_hash: &str) -> String {
    format!("devpilot:oauth-state:{state_hash}")
}

impl OAuthService {
    /// `port` is the one the server bound: Google sends browsers back to `/oauth/callback` at
    /// the public URL, else at `http://host:port`.
    pub fn new(
        db: Db,
        cipher: Arc<CredentialCipher>,
        destinations: DestinationService,
        settings: &Settings,
        port: u16,
    ) -> anyhow::Result<OAuthService> {
        let base_url = settings.public_url.clone().unwrap_or_else(|| format!("http://{}:{port}", settings.host));
        let http = reqwest::Client::builder()
            .connect_timeout(settings.provider.connect_timeout)
            .timeout(settings.provider.test_deadline)
            // The token endpoint's answer is read as is; a redirect is never followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(OAuthService {
            db,
            cipher,
            destinations,
            endpoints: settings.provider.endpoints.clone(),
            redirect_uri: format!("{}/oauth/callback", base_url.trim_end_matches('/')),
            http,
        })
    }

    /// The destination's consent (its OAuth client and whose page), or why it cannot connect.
    async fn consent_of(&self, workspace: &str, id: &str) -> Result<Consent, OAuthError> {
        Consent::of(self.destinations.config(workspace, id).await?, &self.endpoints)
    }

    /// Records a new state for this user, session and destination; returns the consent page's URL.
    pub async fn start(&self, who: &Requester<'_>, destination_id: &str) -> Result<url::Url, OAuthError> {
        let binding = who.session_binding.ok_or(OAuthError::Refused(Refusal::OtherSession))?;
        self.start_bound(who.user_id, who.workspace_id, destination_id, sha256_hex(binding)).await
    }

    /// For the API, which has no browser session: the state is bound to the user instead. The
    /// callback must still come from that user's signed-in browser, in the same workspace.
    pub async fn start_for_api(
        &self,
        user_id: &str,
        workspace_id: &str,
        destination_id: &str,
    ) -> Result<url::Url, OAuthError> {
        self.start_bound(user_id, workspace_id, destination_id, API_STARTED.to_owned()).await
    }

    async fn start_bound(
        &self,
        user_id: &str,
        workspace_id: &str,
        destination_id: &str,
        session_hash: String,
    ) -> Result<url::Url, OAuthError> {
        let destination = self.destinations.get(workspace_id, destination_id).await?;
        let consent = self.consent_of(workspace_id, &destination.id).await?;
        let state = random_token();
        let state_hash = sha256_hex(&state);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let url = consent.url(&self.endpoints, &self.redirect_uri, &state, challenge).map_err(OAuthError::Provider)?;
        let now = Utc::now().naive_utc();
        let row = OAuthStateRow {
            pkce_verifier: self.cipher.seal(verifier.secret().as_bytes(), &verifier_aad(&state_hash)),
            state_hash,
            workspace_id: workspace_id.to_owned(),
            destination_id: destination.id,
            user_id: user_id.to_owned(),
            session_hash,
            redirect_uri: self.redirect_uri.clone(),
            created_at: now,
            expires_at: now + STATE_LIFETIME,
            used_at: None,
        };
        self.db
            .run(move |c| {
                store::purge_expired(c, now - KEEP_USED)?;
                store::insert(c, row)
            })
            .await?;
        Ok(url)
    }

    /// Checks a callback against its state (refusing anything that does not match), then
    /// exchanges the code, stores the refresh token and tests the destination.
    pub async fn finish(
        &self,
        who: &Requester<'_>,
        callback: &Callback<'_>,
        by: &Actor,
    ) -> Result<Finished, OAuthError> {
        let state = callback.state.filter(|s| !s.is_empty()).ok_or(OAuthError::Refused(Refusal::Missing))?;
        let row = self.claim(who, &sha256_hex(state)).await?;
        let name = self.destinations.get(&row.workspace_id, &row.destination_id).await?.name;
        let consent = self.consent_of(&row.workspace_id, &row.destination_id).await?;
        let owner = consent.owner();
        if let Some(error) = callback.error {
            return Ok(Finished::Denied { name, owner, error: error.to_owned() });
        }
        let code = callback.code.filter(|c| !c.is_empty()).ok_or(OAuthError::Refused(Refusal::Missing))?;
        let verifier = self
            .cipher
            .open(&row.pkce_verifier, &verifier_aad(&row.state_hash))
            .map(|v| SecretString::from(String::from_utf8_lossy(&v).into_owned()))
            .map_err(|e| DestinationError::Credentials(e.to_string()))?;
        let refresh = consent
            .exchange(&self.endpoints, &self.http, &row.redirect_uri, code, &verifier)
            .await
            .map_err(OAuthError::Provider)?
            .ok_or_else(|| {
                OAuthError::Provider(ProviderError::new(
                    ErrorKind::Authentication,
                    format!("{owner} granted access but sent no refresh token; remove Devpilot's access in your account and connect again."),
                ))
            })?;
        self.destinations.store_oauth_tokens(&row.workspace_id, &row.destination_id, &refresh, by).await?;
        let after = TestedBy::new(by, Trigger::GoogleConsent);
        let outcome = self.destinations.test_saved(&row.workspace_id, &row.destination_id, false, &after).await?;
        Ok(Finished::Connected { name, owner, outcome })
    }

    /// The state's row if it belongs to this user and session (for a consent started through the
    /// API: this user), is unused and unexpired; it is marked used here. A state of another
    /// session is refused without using it up.
    async fn claim(&self, who: &Requester<'_>, state_hash: &str) -> Result<OAuthStateRow, OAuthError> {
        let hash = state_hash.to_owned();
        let row = match self.db.run(move |c| store::find(c, &hash)).await {
            Ok(row) => row,
            Err(DbError::NotFound) => return Err(OAuthError::Refused(Refusal::Unknown)),
            Err(e) => return Err(e.into()),
        };
        let same_session = row.session_hash == API_STARTED
            || who.session_binding.map(sha256_hex).is_some_and(|h| same(&h, &row.session_hash));
        if row.user_id != who.user_id || !same_session {
            return Err(OAuthError::Refused(Refusal::OtherSession));
        }
        if row.used_at.is_some() {
            return Err(OAuthError::Refused(Refusal::Replayed));
        }
        if row.workspace_id != who.workspace_id {
            return Err(OAuthError::Refused(Refusal::OtherWorkspace));
        }
        let now: NaiveDateTime = Utc::now().naive_utc();
        let hash = row.state_hash.clone();
        let won = self.db.run(move |c| store::consume(c, &hash, now)).await?;
        if !won {
            return Err(OAuthError::Refused(Refusal::Replayed));
        }
        if now > row.expires_at {
            return Err(OAuthError::Refused(Refusal::Expired));
        }
        Ok(row)
    }
}

/// Constant-time comparison of two hashes.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
