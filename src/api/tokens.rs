//! Long-lived API tokens: `dpk_` and 43 random characters, shown once when minted and stored only
//! as a SHA-256 hash, scoped to one workspace and a role. A token works while it is neither
//! revoked nor expired and its creator is still a member of the workspace; it never has more
//! rights than its creator has now.

use crate::auth::session::Role;
use crate::db::schema::api_tokens::{self, dsl};
use crate::db::{Db, DbConn, DbError};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use secrecy::{ExposeSecret, SecretString};

/// Every token starts with this, so one pasted by mistake is recognisable (and scannable).
pub const TOKEN_PREFIX: &str = "dpk_";
/// How many characters of a token the list shows.
const SHOWN_PREFIX_LEN: usize = TOKEN_PREFIX.len() + 8;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct ApiTokenRow {
    pub id: String,
    pub workspace_id: String,
    pub created_by: String,
    pub name: String,
    pub role: String,
    pub prefix: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A token's holder as the API sees it.
#[derive(Debug, Clone)]
pub struct TokenHolder {
    pub token_id: String,
    pub user_id: String,
    pub workspace_id: String,
    pub role: Role,
}

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
        self.db.run(move |c| diesel::insert_into(dsl::api_tokens).values(&insert).execute(c).map(drop)).await?;
        Ok((row, SecretString::from(token)))
    }

    /// The workspace's tokens, newest first (revoked ones included, marked).
    pub async fn list(&self, workspace: &str) -> Result<Vec<ApiTokenRow>, DbError> {
        let ws = workspace.to_owned();
        self.db
            .run(move |c| {
                dsl::api_tokens
                    .filter(dsl::workspace_id.eq(&ws))
                    .order(dsl::created_at.desc())
                    .select(ApiTokenRow::as_select())
                    .load(c)
            })
            .await
    }

    pub async fn revoke(&self, workspace: &str, id: &str) -> Result<(), DbError> {
        let (ws, id) = (workspace.to_owned(), id.to_owned());
        let now = Utc::now().naive_utc();
        let n = self
            .db
            .run(move |c| {
                diesel::update(dsl::api_tokens.filter(dsl::workspace_id.eq(&ws)).filter(dsl::id.eq(&id)))
                    .filter(dsl::revoked_at.is_null())
                    .set(dsl::revoked_at.eq(now))
                    .execute(c)
            })
            .await?;
        if n == 0 { Err(DbError::NotFound) } else { Ok(()) }
    }

    /// Who a presented token belongs to; notes its use.
    pub async fn authenticate(&self, token: &SecretString) -> Result<ApiTokenRow, TokenError> {
        let digest = hash(token.expose_secret());
        let now = Utc::now().naive_utc();
        let row = self.db.run(move |c| find_and_touch(c, &digest, now)).await?.ok_or(TokenError::Unknown)?;
        if row.revoked_at.is_some() {
            return Err(TokenError::Revoked);
        }
        if let Some(expiry) = row.expires_at.filter(|e| *e <= now) {
            return Err(TokenError::Expired(expiry.format("%Y-%m-%d %H:%M").to_string()));
        }
        Ok(row)
    }
}

fn find_and_touch(c: &mut DbConn, digest: &str, now: NaiveDateTime) -> QueryResult<Option<ApiTokenRow>> {
    let row =
        dsl::api_tokens.filter(dsl::token_hash.eq(digest)).select(ApiTokenRow::as_select()).first(c).optional()?;
    if let Some(row) = &row {
        diesel::update(dsl::api_tokens.find(&row.id)).set(dsl::last_used_at.eq(now)).execute(c)?;
    }
    Ok(row)
}
