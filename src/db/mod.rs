//! The database layer: one code base for SQLite (the embedded default) and PostgreSQL, chosen by
//! the scheme of `DATABASE_URL`. Diesel is blocking, so every query runs through [`Db::run`],
//! which moves it onto the blocking thread pool.

mod error;
pub mod memo;
pub mod page;
pub mod schema;
pub mod version;

pub use error::{DbError, Outage};

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

pub type Conn = PooledConnection<ConnectionManager<DbConn>>;

/// Which database a URL names; `sqlite://path`, a bare path, or `postgres://…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The URL diesel's SQLite driver expects: a plain path (it does not take `sqlite://`).
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url)
}

/// The database file a SQLite URL names; None for PostgreSQL.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    (Backend::of(url) == Backend::Sqlite).then(|| std::path::PathBuf::from(sqlite_path(url)))
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        if let DbConn::Sqlite(conn) = conn {
            // WAL lets readers run beside the one writer; busy_timeout makes writers wait
            // instead of failing with "database is locked".
            conn.batch_execute(
                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                 PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager<DbConn>>,
    backend: Backend,
    versions: version::DataVersion,
    /// PostgreSQL mode: the URL of Devpilot's own database, so that no workspace uses it.
    postgres_url: Option<std::sync::Arc<secrecy::SecretString>>,
}

impl Db {
    /// Opens the pool and runs the embedded migrations of the URL's backend.
    pub fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        Db::connect_waiting(url, max_connections, std::time::Duration::from_secs(10))
    }

    /// As [`connect`](Db::connect); a query waits at most `wait` for a connection before it
    /// fails as unavailable (the database is down, or every connection is busy).
    pub fn connect_waiting(url: &str, max_connections: u32, wait: std::time::Duration) -> anyhow::Result<Db> {
        let backend = Backend::of(url);
        let (target, versions) = match backend {
            Backend::Sqlite => {
                let path = sqlite_path(url);
                if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                }
                (path.to_owned(), version::DataVersion::sqlite(path))
            }
            Backend::Postgres => (url.to_owned(), version::DataVersion::postgres(url)),
        };
        let pool = Pool::builder()
            .max_size(max_connections)
            // Open connections on demand: nothing refills the pool in the background (a pool
            // thread connecting while the process exits could crash it in libpq).
            .min_idle(Some(0))
            .connection_timeout(wait)
            // A connection broken while the database was away fails this check and is replaced.
            .test_on_check_out(true)
            .connection_customizer(Box::new(SqlitePragmas))
            .build(ConnectionManager::<DbConn>::new(target))
            .context("opening the database")?;
        let postgres_url =
            (backend == Backend::Postgres).then(|| std::sync::Arc::new(secrecy::SecretString::from(url.to_owned())));
        let db = Db { pool, backend, versions, postgres_url };
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.get().context("connecting to the database")?;
        let result = match &mut *conn {
            DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
            DbConn::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
        };
        result.map_err(|e| anyhow::anyhow!("running migrations: {e}"))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL of Devpilot's own PostgreSQL database (None on SQLite).
    pub fn postgres_url(&self) -> Option<&secrecy::SecretString> {
        self.postgres_url.as_deref()
    }

    /// Where committed data stands, for the in-memory [`memo::Memo`]s.
    pub fn versions(&self) -> &version::DataVersion {
        &self.versions
    }

    /// [`run`](Self::run) for a closure that writes tables a [`memo::Memo`] reads: once it has
    /// committed, this process's caches know at once (other instances learn it from the
    /// database's notifications).
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConn) -> diesel::QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let result = self.run(f).await;
        self.versions.written();
        result
    }

    /// As [`write`](Self::write), for a guarded update that may change no row (it returns how
    /// many it changed): only one that changed something retires the caches. Requests in flight
    /// together that all find a session due for its touch each send the guarded update; counted
    /// every time, each would retire every cache again.
    pub async fn write_changed<F>(&self, f: F) -> Result<usize, DbError>
    where
        F: FnOnce(&mut DbConn) -> diesel::QueryResult<usize> + Send + 'static,
    {
        let result = self.run(f).await;
        if !matches!(result, Ok(0)) {
            self.versions.written();
        }
        result
    }

    /// Runs a blocking closure with a pooled connection on actix's blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConn) -> diesel::QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::rt::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn).map_err(DbError::from)
        })
        .await
        .map_err(|e| DbError::unreachable(format!("database task failed: {e}")))?
    }
}

/// A transaction that writes. On SQLite it starts with `BEGIN IMMEDIATE`, taking the write lock
/// up front: a deferred transaction that reads first and then writes cannot wait for the lock
/// (SQLite answers "database is locked" at once when another writer committed meanwhile), while
/// an immediate one waits for it like any writer (busy_timeout). PostgreSQL needs nothing special.
/// Nested (a store function that writes in a transaction, called inside the transaction that also
/// records the change in the audit log), it is a savepoint.
pub fn write_transaction<T, F>(conn: &mut DbConn, f: F) -> diesel::QueryResult<T>
where
    F: FnOnce(&mut DbConn) -> diesel::QueryResult<T>,
{
    use diesel::Connection;
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConn::Sqlite(sqlite) = conn else { return conn.transaction(f) };
    // Inside another write transaction the lock is held already: a savepoint will do.
    let status =
        <AnsiTransactionManager as TransactionManager<SqliteConnection>>::transaction_manager_status_mut(sqlite);
    if status.transaction_depth()?.is_some() {
        return conn.transaction(f);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let result = f(conn);
    let DbConn::Sqlite(sqlite) = conn else { unreachable!("the connection is still SQLite") };
    match result {
        Ok(value) => match <AnsiTransactionManager as TransactionManager<SqliteConnection>>::commit_transaction(sqlite)
        {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = <AnsiTransactionManager as TransactionManager<SqliteConnection>>::rollback_transaction(sqlite);
                Err(e)
            }
        },
        Err(e) => {
            let _ = <AnsiTransactionManager as TransactionManager<SqliteConnection>>::rollback_transaction(sqlite);
            Err(e)
        }
    }
}
