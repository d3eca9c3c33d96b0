//! Metrics as a service: the scrape (every family, from the database) and the instance's metrics
//! token, which an operator creates or rotates (shown once, kept as a SHA-256 hash like API
//! tokens) for a Prometheus server to scrape with.

use super::families;
use super::store::{self, MetricsTokenRow};
use crate::db::{Db, DbError};
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

/// Every metrics token starts with this (API tokens with `dpk_`), so it is recognisable.
pub const TOKEN_PREFIX: &str = "dpm_";
/// How many characters of the token the admin page shows.
const SHOWN_PREFIX_LEN: usize = TOKEN_PREFIX.len() + 8;

#[derive(Clone)]
pub struct MetricsService {
    db: Db,
}

impl MetricsService {
    pub fn new(db: Db) -> MetricsService {
        MetricsService { db }
    }

    /// Every metric family in the Prometheus text format.
    pub async fn scrape(&self) -> Result<String, DbError> {
        self.db.run(families::scrape).await
    }

    /// The live token's row (its prefix and when it was made), if there is one.
    pub async fn token(&self) -> Result<Option<MetricsTokenRow>, DbError> {
        self.db.run(store::current_token).await
    }

    /// Makes a new token, replacing the old one (which stops working at once); the returned
    /// secret is the only time it exists in the clear.
    pub async fn rotate(&self, by_user: &str) -> Result<SecretString, DbError> {
        let token = format!("{TOKEN_PREFIX}{}", crate::crypto::random_token());
        let row = MetricsTokenRow {
            id: uuid::Uuid::new_v4().to_string(),
            prefix: token[..SHOWN_PREFIX_LEN].to_owned(),
            token_hash: crate::crypto::sha256_hex(&token),
            created_by: by_user.to_owned(),
            created_at: Utc::now().naive_utc(),
        };
        self.db.run(move |c| store::replace_token(c, &row)).await?;
        Ok(SecretString::from(token))
    }

    /// Removes the token; false if there was none.
    pub async fn revoke(&self) -> Result<bool, DbError> {
        Ok(self.db.run(store::delete_tokens).await? > 0)
    }

    /// Whether `token` is the live metrics token (compared by hash).
    pub async fn accepts(&self, token: &SecretString) -> Result<bool, DbError> {
        let digest = crate::crypto::sha256_hex(token.expose_secret());
        self.db.run(move |c| store::token_with_hash(c, &digest)).await
    }
}
