//! The check connection, in pure Rust (tokio-postgres reads no `PG*` variable and no file of this
//! server), over a socket Devpilot opens itself at a checked address. It tells a wrong password, a
//! missing database, a refused connection and a server that is not PostgreSQL apart, and never
//! repeats what a server that is not PostgreSQL answered: only a PostgreSQL error's own message
//! is shown, cut short and without control characters.

use super::PostgresError;
use super::reach::{Endpoint, Reachable};
use super::stream::Limited;
use super::tls;
use super::url::{DatabaseHost, PostgresUrl, SslMode};
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, NoTls};

/// Past the connect timeout, how long the handshake and a check's queries may take.
const TALK_TIMEOUT: Duration = Duration::from_secs(15);
/// How much of a PostgreSQL error message is shown.
const MESSAGE_LIMIT: usize = 300;

/// Tables only Devpilot's database has together (in any schema): diesel's migrations with the
/// grants or memberships of workspaces.
const HOLDS_DEVPILOT: &str = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class \
       WHERE relname = '__diesel_schema_migrations' AND relkind IN ('r', 'p')) \
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_class \
       WHERE relname IN ('host_grants', 'memberships') AND relkind IN ('r', 'p'))";

/// Where a check connected: the only address the tools use afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Tcp(SocketAddr),
    /// The socket file.
    Socket(PathBuf),
}

/// A database that answered as PostgreSQL at a checked address and holds no Devpilot tables.
#[derive(Debug, Clone)]
pub struct Checked {
    pub url: PostgresUrl,
    pub at: Address,
}

impl Checked {
    /// The database's size on disk (`pg_database_size`), asked at the checked address: what a run
    /// reads, about (a dump leaves out indexes' contents, so it reads less).
    pub async fn database_size(&self) -> Result<u64, PostgresError> {
        let row = self.reachable().text_row("SELECT pg_database_size(current_database())::text", &[]).await?;
        let size = row.and_then(|r| r.into_iter().next().flatten()).and_then(|t| t.parse::<u64>().ok());
        size.ok_or_else(|| PostgresError::NotPostgres { target: self.url.server() })
    }

    /// The address the check connected to, as the only place to connect again.
    pub fn reachable(&self) -> Reachable {
        let endpoint = match &self.at {
            Address::Tcp(addr) => Endpoint::Tcp(vec![*addr]),
            Address::Socket(file) => Endpoint::Socket(file.clone()),
        };
        Reachable { url: self.url.clone(), endpoint }
    }
}

struct Session {
    client: Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start<T>(config: &Config, socket: Limited, tls: T) -> Result<Session, tokio_postgres::Error>
where
    T: TlsConnect<Limited>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect_raw(socket, tls).await?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Session { client, task })
}

/// Printable, short, and never the password.
fn shown(url: &PostgresUrl, message: &str) -> String {
    let cleaned: String = message.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MESSAGE_LIMIT).collect();
    url.redact(cleaned.trim())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Reachable {
    /// Connects, refuses a database that holds Devpilot's tables, and says where it connected.
    pub async fn check(&self) -> Result<Checked, PostgresError> {
        let (session, at) = self.open(&self.url.dbname).await?;
        let holds = self.ask(&session, HOLDS_DEVPILOT, &[]).await?;
        if holds {
            return Err(PostgresError::HoldsDevpilot(self.url.dbname.clone()));
        }
        Ok(Checked { url: self.url.clone(), at })
    }

    /// Whether the URL's database exists on the server (asked in its maintenance database).
    pub async fn database_exists(&self) -> Result<bool, PostgresError> {
        let session = self.maintenance().await?;
        self.ask(
            &session,
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1)",
            &[&self.url.dbname],
        )
        .await
    }

    /// Creates the URL's database (which must not exist yet) and checks it.
    pub async fn create_database(&self) -> Result<Checked, PostgresError> {
        if self.database_exists().await? {
            return Err(PostgresError::DatabaseExists(self.url.dbname.clone()));
        }
        let session = self.maintenance().await?;
        let create = format!("CREATE DATABASE {}", quote_ident(&self.url.dbname));
        session.client.batch_execute(&create).await.map_err(|e| self.classify(&self.url.dbname, &e))?;
        drop(session);
        match self.check().await {
            Ok(checked) => Ok(checked),
            Err(e) => {
                let _ = self.drop_database().await;
                Err(e)
            }
        }
    }

    /// Drops the URL's database: only ever one that [`Reachable::create_database`] just made.
    pub async fn drop_database(&self) -> Result<(), PostgresError> {
        let session = self.maintenance().await?;
        let drop = format!("DROP DATABASE IF EXISTS {}", quote_ident(&self.url.dbname));
        session.client.batch_execute(&drop).await.map_err(|e| self.classify(&self.url.dbname, &e))
    }

    /// A connection to the server's `postgres` database (`template1` where there is none).
    async fn maintenance(&self) -> Result<Session, PostgresError> {
        match self.open("postgres").await {
            Err(PostgresError::NoDatabase(_)) => self.open("template1").await.map(|(s, _)| s),
            other => other.map(|(s, _)| s),
        }
    }

    async fn ask(
        &self,
        session: &Session,
        query: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<bool, PostgresError> {
        let asked = tokio::time::timeout(TALK_TIMEOUT, session.client.query_one(query, params)).await;
        let row = asked
            .map_err(|_| self.connect_error(format!("no answer within {} s", TALK_TIMEOUT.as_secs())))?
            .map_err(|e| self.classify(&self.url.dbname, &e))?;
        row.try_get::<_, bool>(0).map_err(|_| PostgresError::NotPostgres { target: self.url.server() })
    }

    /// The first row of `query` on the URL's database, each column as text (queries cast what
    /// they select to `text`); None when there is no row.
    pub(in crate::artifacts::postgres) async fn text_row(
        &self,
        query: &str,
        params: &[&str],
    ) -> Result<Option<Vec<Option<String>>>, PostgresError> {
        let (session, _) = self.open(&self.url.dbname).await?;
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
        let asked = tokio::time::timeout(TALK_TIMEOUT, session.client.query_opt(query, &params)).await;
        let row = asked
            .map_err(|_| self.connect_error(format!("no answer within {} s", TALK_TIMEOUT.as_secs())))?
            .map_err(|e| self.classify(&self.url.dbname, &e))?;
        let Some(row) = row else { return Ok(None) };
        let columns = (0..row.len()).map(|i| row.try_get::<_, Option<String>>(i));
        let texts = columns.collect::<Result<Vec<_>, _>>();
        texts.map(Some).map_err(|_| PostgresError::NotPostgres { target: self.url.server() })
    }

    /// Every ordinary table of the URL's database outside the system schemas, as `schema.table`,
    /// with its exact row count (`count(*)`, read after a restore drill's `pg_restore`).
    pub async fn row_counts(&self) -> Result<Vec<(String, i64)>, PostgresError> {
        let (session, _) = self.open(&self.url.dbname).await?;
        let listed = session.client.query(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2",
            &[],
        );
        let listed = tokio::time::timeout(TALK_TIMEOUT, listed)
            .await
            .map_err(|_| self.connect_error(format!("no answer within {} s", TALK_TIMEOUT.as_secs())))?
            .map_err(|e| self.classify(&self.url.dbname, &e))?;
        let mut counts = Vec::with_capacity(listed.len());
        for row in listed {
            let (schema, table): (String, String) = (row.get(0), row.get(1));
            let count = format!("SELECT count(*) FROM {}.{}", quote_ident(&schema), quote_ident(&table));
            let row = session.client.query_one(&count, &[]).await.map_err(|e| self.classify(&self.url.dbname, &e))?;
            counts.push((format!("{schema}.{table}"), row.get::<_, i64>(0)));
        }
        Ok(counts)
    }

    fn connect_error(&self, detail: String) -> PostgresError {
        PostgresError::Connect { target: self.url.server(), detail }
    }

    /// Opens a session on `dbname` at the first checked address that accepts.
    async fn open(&self, dbname: &str) -> Result<(Session, Address), PostgresError> {
        let (socket, at) = self.socket().await?;
        let url = &self.url;
        let mut config = Config::new();
        config.user(&url.user).dbname(dbname);
        if let Some(password) = url.password() {
            config.password(password.expose_secret());
        }
        if let Some(name) = &url.application_name {
            config.application_name(name);
        }
        let mode = match (&at, url.sslmode) {
            (Address::Socket(_), _) | (_, SslMode::Disable) => tokio_postgres::config::SslMode::Disable,
            (_, SslMode::Prefer) => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        };
        config.ssl_mode(mode);
        let tls_name = match &url.host {
            DatabaseHost::Name(name) => name.clone(),
            DatabaseHost::Address(ip) => ip.to_string(),
            DatabaseHost::Socket(_) => "localhost".into(),
        };
        let connector = tls::connector(url.sslmode).map_err(|m| self.connect_error(m))?;
        let talk = async {
            match connector {
                Some(mut make) if mode != tokio_postgres::config::SslMode::Disable => {
                    let Ok(tls) = MakeTlsConnect::<Limited>::make_tls_connect(&mut make, &tls_name);
                    start(&config, socket, tls).await
                }
                _ => start(&config, socket, NoTls).await,
            }
        };
        match tokio::time::timeout(TALK_TIMEOUT, talk).await {
            Ok(Ok(session)) => Ok((session, at)),
            Ok(Err(e)) => Err(self.classify(dbname, &e)),
            Err(_) => Err(self.connect_error(format!("no answer within {} s", TALK_TIMEOUT.as_secs()))),
        }
    }

    async fn socket(&self) -> Result<(Limited, Address), PostgresError> {
        let timeout = self.url.connect_timeout;
        let late = || format!("no answer within {} s", timeout.as_secs());
        match &self.endpoint {
            Endpoint::Socket(file) => {
                match tokio::time::timeout(timeout, tokio::net::UnixStream::connect(file)).await {
                    Ok(Ok(stream)) => Ok((Limited::new(Box::new(stream)), Address::Socket(file.clone()))),
                    Ok(Err(e)) => Err(self.connect_error(e.to_string())),
                    Err(_) => Err(self.connect_error(late())),
                }
            }
            Endpoint::Tcp(addrs) => {
                let mut last = String::from("no address");
                for addr in addrs {
                    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
                        Ok(Ok(stream)) => {
                            // The startup's small messages go at once: with Nagle's algorithm each
                            // waited for the server's delayed ACK (40 ms), 90 ms a connection.
                            let _ = stream.set_nodelay(true);
                            return Ok((Limited::new(Box::new(stream)), Address::Tcp(*addr)));
                        }
                        Ok(Err(e)) => last = e.to_string(),
                        Err(_) => last = late(),
                    }
                }
                Err(self.connect_error(last))
            }
        }
    }

    /// Turns a failure into its message. Only a PostgreSQL error carries the server's words.
    fn classify(&self, dbname: &str, error: &tokio_postgres::Error) -> PostgresError {
        let url = &self.url;
        if let Some(db) = error.as_db_error() {
            let message = shown(url, db.message());
            let code = db.code();
            return if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
                PostgresError::Authentication { user: url.user.clone(), detail: message }
            } else if *code == SqlState::INVALID_CATALOG_NAME {
                PostgresError::NoDatabase(dbname.to_owned())
            } else {
                PostgresError::Other(format!("the server refused: {message}"))
            };
        }
        // Words of tokio-postgres and rustls, never bytes of the server.
        let text = error.to_string();
        let auth = |detail: &str| PostgresError::Authentication { user: url.user.clone(), detail: detail.into() };
        if text.contains("password missing") {
            auth("the server asks for a password and the URL has none")
        } else if text.starts_with("authentication error") {
            auth("the server asks for a way of signing in that Devpilot does not offer (password, md5 or SCRAM only)")
        } else if let Some(tls) = text.strip_prefix("error performing TLS handshake") {
            self.connect_error(format!("TLS failed{tls}"))
        } else {
            PostgresError::NotPostgres { target: url.server() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("shop"), "\"shop\"");
        assert_eq!(quote_ident("a\"; DROP DATABASE x; --"), "\"a\"\"; DROP DATABASE x; --\"");
    }

    #[test]
    fn messages_are_printable_short_and_redacted() {
        let url = PostgresUrl::parse("postgres://app:s3cret@db.example/shop").expect("parse");
        let long = format!("bad\u{1b}[31m s3cret {}", "x".repeat(1000));
        let message = shown(&url, &long);
        assert!(!message.contains('\u{1b}') && !message.contains("s3cret"), "{message}");
        assert!(message.chars().count() <= MESSAGE_LIMIT);
    }
}
