//! A MariaDB or MySQL database as an artifact: `mariadb-dump` out (one transaction, with
//! routines, triggers and events), `mariadb` back in, both from Debian's client packages.
//!
//! The connection ([`url::MariaDbUrl`]) is hostile input, judged as a PostgreSQL one is: its host
//! resolved once and every address checked against the workspace's database-server grants and
//! the outbound address policy ([`reach`]); a socket only in a granted folder. The check
//! ([`check`]) then goes step by step — the server answers as MySQL does ([`handshake`], pure
//! Rust, bounded), the login works, the privileges a consistent dump needs are there — and says
//! which step failed in its own words, never repeating what the server sent. The tools
//! ([`tools`]) connect only to the checked address, read no option file (`--no-defaults`), get
//! the password in `MYSQL_PWD` (never on a command line) and never send a local file
//! (`--local-infile=0`).

pub mod check;
pub mod checked;
pub mod handshake;
pub mod reach;
pub mod tools;
pub mod url;

pub use check::Privileges;
pub use checked::Checked;
pub use reach::Reachable;
pub use url::{MariaDbUrl, TlsMode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MariaDbError {
    #[error("the connection URL is not usable: {0}")]
    InvalidUrl(String),
    /// Not granted, or refused by the outbound policy: nothing was connected to.
    #[error("{0}")]
    Refused(String),
    #[error("could not find the host {host}: {detail}")]
    UnknownHost { host: String, detail: String },
    #[error("could not connect to {target}: {detail}")]
    Unreachable { target: String, detail: String },
    #[error("{target} is not a MariaDB or MySQL server (it did not answer as one does)")]
    NotMySql { target: String },
    #[error("{target} refused this connection before the login (server error {code})")]
    RefusedByServer { target: String, code: u16 },
    #[error("the login as “{user}” failed: wrong user or password, or the user may not connect from here")]
    Authentication { user: String },
    #[error("the TLS connection failed ({0})")]
    Tls(String),
    #[error("database “{0}” does not exist")]
    NoDatabase(String),
    #[error("user “{user}” may not use database “{database}”")]
    NoAccess { user: String, database: String },
    #[error("a database named “{0}” already exists on that server")]
    DatabaseExists(String),
    #[error("the privileges are not enough for a consistent dump: {0}")]
    Privileges(String),
    #[error("{0}")]
    Other(String),
}

impl From<MariaDbError> for std::io::Error {
    fn from(error: MariaDbError) -> Self {
        std::io::Error::other(error.to_string())
    }
}
