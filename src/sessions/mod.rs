//! Sessions that end. A sign-in starts one: a random token that the browser keeps in its
//! (encrypted) session cookie, or that a JWT from `/api/v1/auth/token` carries; the database keeps
//! only its SHA-256. Every request looks the token up — from memory while the data stands still
//! (see `db::memo`), so a sign-out, "sign out everywhere", a password change or a disabled
//! account is seen on the very next request — and a session past its end is refused and removed:
//! a browser session unused for the idle time, or older than the absolute limit; an API session
//! at its JWT's expiry. `last_seen_at` is written at most once a minute (not on every request).

pub mod browser;
pub mod store;

use crate::crypto::{random_token, sha256_hex as hash};
use crate::db::memo::Memo;
use crate::db::{Db, DbError};
use chrono::{NaiveDateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;
use store::SessionRow;

/// Sessions kept in memory (a few hundred bytes each).
const CACHED_SESSIONS: usize = 4096;
/// `last_seen_at` is written at most this often (or a quarter of the idle time, if shorter).
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// A User-Agent is kept up to this many characters.
const USER_AGENT_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The session cookie of a browser.
    Browser,
    /// A JWT from `/api/v1/auth/token`.
    Api,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Browser => "browser",
            Kind::Api => "api",
        }
    }
}

/// Where a request comes from, as the sessions page shows it.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: String,
    pub user_agent: String,
}

impl Client {
    pub fn new(ip: String, user_agent: &str) -> Client {
        Client { ip, user_agent: user_agent.chars().filter(|c| !c.is_control()).take(USER_AGENT_LEN).collect() }
    }
}

/// A live session: whose it is.
#[derive(Debug, Clone)]
pub struct Live {
    pub id: String,
    pub user_id: String,
}

#[derive(Clone)]
pub struct SessionService {
    db: Db,
    idle: TimeDelta,
    max: TimeDelta,
    touch_every: TimeDelta,
    /// Token hash → its row (None: no such session), at one data version.
    rows: Arc<Memo<String, Option<SessionRow>>>,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl SessionService {
    pub fn new(db: Db, idle: Duration, max: Duration) -> SessionService {
        SessionService {
            db,
            idle: delta(idle),
            max: delta(max),
            touch_every: delta(TOUCH_EVERY.min(idle / 4)),
            rows: Arc::new(Memo::new(CACHED_SESSIONS)),
        }
    }

    /// Starts a session for a user who just proved who they are. A browser session ends after the
    /// absolute limit; an API session at `expires_at` (its JWT's expiry). Returns the token, which
    /// exists in the clear only here, and the session's id.
    pub async fn start(
        &self,
        user_id: &str,
        kind: Kind,
        client: &Client,
        expires_at: Option<NaiveDateTime>,
    ) -> Result<(SecretString, String), DbError> {
        let token = random_token();
        let now = Utc::now().naive_utc();
        let row = SessionRow {
            id: uuid::Uuid::new_v4().to_string(),
            token_hash: hash(&token),
            user_id: user_id.to_owned(),
            kind: kind.as_str().to_owned(),
            created_at: now,
            last_seen_at: now,
            expires_at: expires_at.unwrap_or(now + self.max).min(now + self.max),
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
        };
        let id = row.id.clone();
        let idle_since = now - self.idle;
        self.db
            .write(move |c| {
                // The ended sessions of everyone go as a new one starts.
                store::delete_expired(c, now, idle_since)?;
                store::insert(c, &row)
            })
            .await?;
        Ok((SecretString::from(token), id))
    }

    /// The live session a token names, if it is of this kind and has not ended; notes the request
    /// (`client` is asked only when the row is due to be touched).
    pub async fn resolve(
        &self,
        token: &str,
        kind: Kind,
        client: impl FnOnce() -> Client,
    ) -> Result<Option<Live>, DbError> {
        let digest = hash(token);
        let key = digest.clone();
        let row =
            self.rows.get_or_load(self.db.versions(), digest, || self.db.run(move |c| store::by_hash(c, &key))).await?;
        let Some(row) = row.as_ref().as_ref().filter(|r| r.kind == kind.as_str()) else { return Ok(None) };
        let now = Utc::now().naive_utc();
        if self.ended(row, now) {
            let digest = row.token_hash.clone();
            self.db.write(move |c| store::delete_by_hash(c, &digest)).await?;
            return Ok(None);
        }
        if now - row.last_seen_at >= self.touch_every {
            let (id, client, stale) = (row.id.clone(), client(), now - self.touch_every);
            // Guarded by `stale`: of the requests that saw it due together, one changes the row.
            self.db.write_changed(move |c| store::touch(c, &id, now, stale, &client.ip, &client.user_agent)).await?;
        }
        Ok(Some(Live { id: row.id.clone(), user_id: row.user_id.clone() }))
    }

    fn ended(&self, row: &SessionRow, now: NaiveDateTime) -> bool {
        let idle = row.kind == Kind::Browser.as_str() && now - row.last_seen_at >= self.idle;
        idle || now >= row.expires_at || now - row.created_at >= self.max
    }

    /// A user's live sessions, most recently used first.
    pub async fn of_user(&self, user_id: &str) -> Result<Vec<SessionRow>, DbError> {
        let uid = user_id.to_owned();
        let now = Utc::now().naive_utc();
        let rows = self.db.run(move |c| store::of_user(c, &uid)).await?;
        Ok(rows.into_iter().filter(|r| !self.ended(r, now)).collect())
    }

    /// Sign-out: the session of this token ends.
    pub async fn end(&self, token: &SecretString) -> Result<(), DbError> {
        let digest = hash(token.expose_secret());
        self.db.write(move |c| store::delete_by_hash(c, &digest)).await.map(drop)
    }

    /// Ends one of the user's sessions by its id; false when they have none of that id.
    pub async fn end_one(&self, user_id: &str, id: &str) -> Result<bool, DbError> {
        let (uid, id) = (user_id.to_owned(), id.to_owned());
        Ok(self.db.write(move |c| store::delete_of_user(c, &uid, &id)).await? > 0)
    }

    /// Ends every session of the user but `keep`; how many ended.
    pub async fn end_all(&self, user_id: &str, keep: Option<&str>) -> Result<usize, DbError> {
        let (uid, keep) = (user_id.to_owned(), keep.map(str::to_owned));
        self.db.write(move |c| store::delete_all_of_user(c, &uid, keep.as_deref())).await
    }
}
