//! Whether committed data may have changed since a moment, cheap enough to ask on every request
//! (two atomic loads). It is what lets the hot pages — the destination list, who is signed in —
//! be answered from memory and still not show what the database no longer holds.
//!
//! A version has two parts:
//! - the writes of this process, counted as each commits ([`Db::write`](super::Db::write)), so
//!   the page after a change never shows the old state;
//! - what a watcher task observes of everyone else's commits: on SQLite, `PRAGMA data_version`
//!   (it changes when any other connection, of this process or another, commits); on
//!   PostgreSQL, the notifications that triggers on the cached tables send on commit (migrations
//!   `2026-12-01-000003_destination_list` and `2026-12-06-000101_sessions`), so another
//!   instance's change, or one made by hand in psql, is seen within [`POLL`].
//!
//! While the watcher cannot read its database the version is unknown and nothing is served from
//! memory.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryResult, RunQueryDsl, SqliteConnection};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the watcher looks (a PRAGMA, or a non-blocking read of notifications).
const POLL: Duration = Duration::from_millis(5);
/// How often the PostgreSQL watcher proves its connection alive with a query, and how long that
/// may take: a server gone without closing the connection would otherwise leave it reading
/// nothing, and the caches stale.
const LIVENESS_EVERY: Duration = Duration::from_secs(2);
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(2);
const CHANNEL: &str = "devpilot_changes";

/// A point in the database's history; two equal versions mean nothing was committed between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    observed: u64,
    local: u64,
}

#[cfg(test)]
impl Version {
    pub(crate) fn for_tests(observed: u64, local: u64) -> Version {
        Version { observed, local }
    }
}

#[derive(Clone)]
pub struct DataVersion {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Sqlite,
    Postgres,
}

struct Inner {
    url: String,
    source: Source,
    /// Writes of this process, counted when they have committed.
    local: AtomicU64,
    /// Commits the watcher has seen (or may have missed: it counts one on every reconnect).
    observed: AtomicU64,
    /// The watcher is reading its database; without it nothing may be cached.
    watching: AtomicBool,
    started: AtomicBool,
}

impl DataVersion {
    pub fn sqlite(path: &str) -> DataVersion {
        DataVersion::new(path, Source::Sqlite)
    }

    pub fn postgres(url: &str) -> DataVersion {
        DataVersion::new(url, Source::Postgres)
    }

    fn new(url: &str, source: Source) -> DataVersion {
        DataVersion {
            inner: Arc::new(Inner {
                url: url.to_owned(),
                source,
                local: AtomicU64::new(0),
                observed: AtomicU64::new(0),
                watching: AtomicBool::new(false),
                started: AtomicBool::new(false),
            }),
        }
    }

    /// The version now, or None when it cannot be known (then nothing may be cached). The first
    /// call starts the watcher on the current runtime.
    pub fn current(&self) -> Option<Version> {
        // A plain load first: this runs on every request, and a swap would write the flag's
        // cache line each time.
        if !self.inner.started.load(Ordering::Acquire) && !self.inner.started.swap(true, Ordering::AcqRel) {
            start_watcher(Arc::downgrade(&self.inner));
        }
        let local = self.inner.local.load(Ordering::Acquire);
        if !self.inner.watching.load(Ordering::Acquire) {
            return None;
        }
        Some(Version { observed: self.inner.observed.load(Ordering::Acquire), local })
    }

    /// Called after a write of this process has committed.
    pub fn written(&self) {
        self.inner.local.fetch_add(1, Ordering::AcqRel);
    }
}

/// Runs until the [`DataVersion`] is dropped; reconnects with a growing pause.
fn start_watcher(inner: Weak<Inner>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    runtime.spawn(async move {
        let mut pause = Duration::from_millis(100);
        while let Some((url, source)) = inner.upgrade().map(|i| (i.url.clone(), i.source)) {
            let connected = match source {
                Source::Sqlite => open(move || sqlite_watcher(&url)).await.map(|(c, v)| Watcher::Sqlite(c, v)),
                Source::Postgres => open(move || postgres_watcher(&url)).await.map(|c| Watcher::Postgres(Some(c))),
            };
            match connected {
                Ok(watcher) => {
                    pause = Duration::from_millis(100);
                    watch(&inner, watcher).await;
                    if let Some(i) = inner.upgrade() {
                        i.watching.store(false, Ordering::Release);
                        tracing::warn!("lost sight of the database's changes; caches are off until it returns");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "watching the database for changes"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    });
}

enum Watcher {
    /// The connection and the last `data_version` it read.
    Sqlite(SqliteConnection, i64),
    /// Taken out while a liveness query runs on the blocking pool.
    Postgres(Option<PgConnection>),
}

async fn open<C: Send + 'static>(connect: impl FnOnce() -> Result<C, String> + Send + 'static) -> Result<C, String> {
    tokio::task::spawn_blocking(connect).await.map_err(|e| e.to_string())?
}

fn sqlite_watcher(path: &str) -> Result<(SqliteConnection, i64), String> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| e.to_string())?;
    conn.batch_execute("PRAGMA busy_timeout = 1000; PRAGMA query_only = ON;").map_err(|e| e.to_string())?;
    let version = DataVersionQuery.get_result::<i64>(&mut conn).map_err(|e| e.to_string())?;
    Ok((conn, version))
}

fn postgres_watcher(url: &str) -> Result<PgConnection, String> {
    let mut conn = PgConnection::establish(url).map_err(|e| e.to_string())?;
    conn.batch_execute(&format!("LISTEN {CHANNEL}")).map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Counts changes until the watcher fails or the [`DataVersion`] is gone. Starting counts as
/// one: whatever was cached before may have changed unseen.
async fn watch(inner: &Weak<Inner>, mut watcher: Watcher) {
    let Some(i) = inner.upgrade() else { return };
    i.observed.fetch_add(1, Ordering::AcqRel);
    i.watching.store(true, Ordering::Release);
    drop(i);
    let mut since_check = Duration::ZERO;
    loop {
        tokio::time::sleep(POLL).await;
        let Some(i) = inner.upgrade() else { return };
        let changes = match &mut watcher {
            Watcher::Sqlite(conn, last) => sqlite_changes(conn, last),
            Watcher::Postgres(conn) => conn.as_mut().and_then(notifications),
        };
        match changes {
            Some(0) => {}
            Some(n) => {
                i.observed.fetch_add(n, Ordering::AcqRel);
            }
            None => return,
        }
        since_check += POLL;
        if let Watcher::Postgres(slot) = &mut watcher
            && since_check >= LIVENESS_EVERY
        {
            since_check = Duration::ZERO;
            let Some(conn) = slot.take() else { return };
            match alive(conn).await {
                Some(conn) => *slot = Some(conn),
                None => return,
            }
        }
    }
}

/// The connection back if it answers a query in time.
async fn alive(mut conn: PgConnection) -> Option<PgConnection> {
    let check = tokio::task::spawn_blocking(move || conn.batch_execute("SELECT 1").is_ok().then_some(conn));
    tokio::time::timeout(LIVENESS_TIMEOUT, check).await.ok()?.ok()?
}

/// `PRAGMA data_version` as a query of static SQL, so the connection keeps it prepared.
#[derive(diesel::query_builder::QueryId)]
struct DataVersionQuery;

impl diesel::query_builder::Query for DataVersionQuery {
    type SqlType = diesel::sql_types::BigInt;
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for DataVersionQuery {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        out.push_sql("PRAGMA data_version");
        Ok(())
    }
}

impl RunQueryDsl<SqliteConnection> for DataVersionQuery {}

/// 1 when another connection committed since the last look, 0 when not, None on failure.
fn sqlite_changes(conn: &mut SqliteConnection, last: &mut i64) -> Option<u64> {
    let now = DataVersionQuery.get_result::<i64>(conn).ok()?;
    let changed = now != *last;
    *last = now;
    Some(u64::from(changed))
}

/// The notifications that arrived (a non-blocking read), or None when the connection failed.
fn notifications(conn: &mut PgConnection) -> Option<u64> {
    let mut count = 0;
    for notification in conn.notifications_iter() {
        // Each further read would fail the same way.
        notification.ok()?;
        count += 1;
    }
    Some(count)
}
