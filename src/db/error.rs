//! What can go wrong talking to the database, in the terms callers act on.
//!
//! "Unavailable" is every failure that is the database's state, not the query's: PostgreSQL not
//! answering or its connection lost (refused, reset, closed), and for SQLite a file that cannot
//! be written or read: its disk full, its file system read-only, an I/O error, or a lock another
//! process holds past the busy timeout. Requests answer those with 503 and a message that says
//! which; nothing about them is a bug.

/// Why the database cannot be used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// No connection: PostgreSQL is down or unreachable, or a connection broke.
    Unreachable,
    /// SQLite: the disk holding the database is full.
    DiskFull,
    /// SQLite: the database's file system is read-only.
    ReadOnly,
    /// SQLite: the file cannot be read or written.
    Io,
    /// SQLite: another process holds the database locked.
    Busy,
}

impl Outage {
    /// What a person is told.
    pub fn message(self) -> &'static str {
        match self {
            Outage::Unreachable => "The database is unavailable right now. Try again in a moment.",
            Outage::DiskFull => {
                "The database's disk is full, so nothing can be saved right now. Free some space and try again."
            }
            Outage::ReadOnly => "The database's file system is read-only, so nothing can be saved right now.",
            Outage::Io => "The database file cannot be read or written (an I/O error). Check the disk.",
            Outage::Busy => "The database is locked by another process. Try again in a moment.",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the database is unavailable: {detail}")]
    Unavailable { outage: Outage, detail: String },
    #[error("not found")]
    NotFound,
    /// A unique index refused the write; the string names the constraint or index.
    #[error("duplicate value: {0}")]
    Duplicate(String),
    #[error("database error: {0}")]
    Query(diesel::result::Error),
}

impl DbError {
    pub fn unreachable(detail: impl Into<String>) -> DbError {
        DbError::Unavailable { outage: Outage::Unreachable, detail: detail.into() }
    }

    /// The outage, when this error is one.
    pub fn outage(&self) -> Option<Outage> {
        match self {
            DbError::Unavailable { outage, .. } => Some(*outage),
            _ => None,
        }
    }
}

impl From<diesel::result::Error> for DbError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => DbError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => DbError::Duplicate(
                info.constraint_name().map(str::to_owned).unwrap_or_else(|| info.message().to_owned()),
            ),
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => DbError::unreachable(info.message()),
            Error::DatabaseError(kind, info) => match sqlite_outage(info.message()) {
                Some(outage) => DbError::Unavailable { outage, detail: info.message().to_owned() },
                None => DbError::Query(Error::DatabaseError(kind, info)),
            },
            other => DbError::Query(other),
        }
    }
}

/// No connection from the pool in time: the database is down, or (SQLite) opening the file or
/// setting up the connection failed.
impl From<diesel::r2d2::PoolError> for DbError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        let detail = error.to_string();
        DbError::Unavailable { outage: sqlite_outage(&detail).unwrap_or(Outage::Unreachable), detail }
    }
}

/// SQLite names these states only in its message (its result codes do not reach diesel's
/// error kinds): SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_BUSY.
fn sqlite_outage(message: &str) -> Option<Outage> {
    let m = message.to_ascii_lowercase();
    if m.contains("database or disk is full") {
        Some(Outage::DiskFull)
    } else if m.contains("readonly database") || m.contains("read-only file system") {
        Some(Outage::ReadOnly)
    } else if m.contains("disk i/o error") || m.contains("unable to open database file") {
        Some(Outage::Io)
    } else if m.contains("database is locked") || m.contains("database table is locked") {
        Some(Outage::Busy)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_states_are_outages_and_query_mistakes_are_not() {
        assert_eq!(sqlite_outage("database or disk is full"), Some(Outage::DiskFull));
        assert_eq!(sqlite_outage("attempt to write a readonly database"), Some(Outage::ReadOnly));
        assert_eq!(sqlite_outage("disk I/O error"), Some(Outage::Io));
        assert_eq!(sqlite_outage("database is locked"), Some(Outage::Busy));
        assert_eq!(sqlite_outage("no such table: plans"), None);
        assert_eq!(sqlite_outage("NOT NULL constraint failed: runs.status"), None);
    }
}
