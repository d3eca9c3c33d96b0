//! Long-lived API tokens: `dpk_` and 43 random characters, shown once when minted and stored only
//! as a SHA-256 hash, scoped to one workspace and a role. A token works while it is neither
//! revoked nor expired and its creator is still a member of the workspace; it never has more
//! rights than its creator has now.

use super::Role;
use super::token_store::{self, ApiTokenRow};
use crate::db::{Db, DbError};
use chrono::{NaiveDateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

/// Every token starts with this, so one pasted by mistake is recognisable (and scannable).
pub const TOKEN_PREFIX: &str = "dpk_";
/// How many characters of a token the list shows.
const SHOWN_PREFIX_LEN: usize = TOKEN_PREFIX.len() + 8;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("This API token is not known; check that it was copied whole.")]
    Unknown,
    #[error("This API token was revoked.")]
    Revoked,
    #[error("This API token expired on {0} UTC.")]
    Expired(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

pub fn hash(token: &str) -> String {
    crate::crypto::sha256_hex(token)
}

#[derive(Clone)]
pub struct TokenService {
    db: Db,
}

impl TokenService {
    pub fn new(db: Db) -> TokenService {
        TokenService { db }
    }

    /// Mints a token; the returned secret is the only time it exists in the clear.
    pub async fn mint(
        &self,
        workspace: &str,
        user: &str,
        name: &str,
        role: Role,
        expires_at: Option<NaiveDateTime>,
    ) -> Result<(ApiTokenRow, SecretString), DbError> {
        let token = format!("{TOKEN_PREFIX}{}", crate::crypto::random_token());
        let row = ApiTokenRow {
            id: uuid::Uuid::new_v4().to_string(),
            workspace_id: workspace.to_owned(),
            created_by: user.to_owned(),
            name: name.trim().to_owned(),
            role: role.as_str().to_owned(),
            prefix: token[..SHOWN_PREFIX_LEN].to_owned(),
            token_hash: hash(&token),
            created_at: Utc::now().naive_utc(),
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        let insert = row.clone();
        self.db.run(move |c| token_store::insert(c, &insert)).await?;
        Ok((row, SecretString::from(token)))
    }

    /// The workspace's tokens, newest first (revoked ones included, marked).
    pub async fn list(&self, workspace: &str) -> Result<Vec<ApiTokenRow>, DbError> {
        let ws = workspace.to_owned();
        self.db.run(move |c| token_store::of_workspace(c, &ws)).await
    }

    pub async fn revoke(&self, workspace: &str, id: &str) -> Result<(), DbError> {
        let (ws, id) = (workspace.to_owned(), id.to_owned());
        let now = Utc::now().naive_utc();
        let n = self.db.run(move |c| token_store::revoke(c, &ws, &id, now)).await?;
        if n == 0 { Err(DbError::NotFound) } else { Ok(()) }
    }

    /// Who a presented token belongs to; notes its use.
    pub async fn authenticate(&self, token: &SecretString) -> Result<ApiTokenRow, TokenError> {
        let digest = hash(token.expose_secret());
        let now = Utc::now().naive_utc();
        let row =
            self.db.run(move |c| token_store::find_and_touch(c, &digest, now)).await?.ok_or(TokenError::Unknown)?;
        if row.revoked_at.is_some() {
            return Err(TokenError::Revoked);
        }
        if let Some(expiry) = row.expires_at.filter(|e| *e <= now) {
            return Err(TokenError::Expired(expiry.format("%Y-%m-%d %H:%M").to_string()));
        }
        Ok(row)
    }
}
