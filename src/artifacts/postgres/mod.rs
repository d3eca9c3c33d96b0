//! A PostgreSQL database as an artifact: `pg_dump --format=custom` out, `pg_restore` back in.
//!
//! A connection URL is hostile input. It is parsed into the few settings we support
//! ([`url::PostgresUrl`]); its host is resolved once and every address checked against the
//! workspace's database-server grants and the outbound address policy ([`reach`]), and Devpilot's
//! own database is refused by name; the check connection (pure Rust, [`client`]) then refuses a
//! database that holds Devpilot's tables and anything that is not PostgreSQL, without echoing
//! what it answered. The tools ([`tools`]) connect only at the address that was checked, with a
//! cleared environment: no `PG*` variables, `~/.pgpass`, service files or client certificates of
//! this server. The password never reaches a command line, a log line or an error message.
//! A dump handed in from outside (an upload, a file in a granted folder) is imported through
//! [`import`], which tells what it is before anything runs.

pub mod client;
pub mod import;
pub mod programs;
mod psql_input;
pub mod reach;
mod server;
mod stream;
mod tls;
pub mod tools;
pub mod url;
pub mod wal;

pub use client::Checked;
pub use reach::{DatabaseAccess, OwnDatabase, Reachable};
pub use server::DatabaseServer;
pub use url::{DatabaseHost, PostgresUrl, SslMode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostgresError {
    #[error("{0}")]
    InvalidUrl(String),
    /// A database server of this machine or its network that the workspace was not granted, or
    /// an address the outbound policy refuses: nothing was connected to.
    #[error("{0}")]
    Refused(String),
    #[error("that is Devpilot's own database, which is never a source or restore target")]
    OwnDatabase,
    #[error("database “{0}” holds Devpilot's own tables, so it is never a source or restore target")]
    HoldsDevpilot(String),
    #[error("could not find the host {host}: {detail}")]
    UnknownHost { host: String, detail: String },
    #[error("could not connect to {target}: {detail}")]
    Connect { target: String, detail: String },
    #[error("{target} is not a PostgreSQL server (it did not answer as PostgreSQL does)")]
    NotPostgres { target: String },
    #[error("authentication failed for user \"{user}\": {detail}")]
    Authentication { user: String, detail: String },
    #[error("database \"{0}\" does not exist")]
    NoDatabase(String),
    #[error("a database named “{0}” already exists on that server")]
    DatabaseExists(String),
    #[error("{0}")]
    Other(String),
}

impl From<PostgresError> for std::io::Error {
    fn from(error: PostgresError) -> Self {
        std::io::Error::other(error.to_string())
    }
}
