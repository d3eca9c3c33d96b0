//! What a grant names: a folder with its access, or a database server.

use super::store::GrantRow;
use chrono::NaiveDateTime;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderAccess {
    /// Sources only (directory and SQLite plans read there).
    Read,
    /// Sources, local destinations and restore targets.
    ReadWrite,
}

impl FolderAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            FolderAccess::Read => "read",
            FolderAccess::ReadWrite => "read_write",
        }
    }

    pub fn parse(value: &str) -> Option<FolderAccess> {
        match value {
            "read" => Some(FolderAccess::Read),
            "read_write" => Some(FolderAccess::ReadWrite),
            _ => None,
        }
    }

    pub fn allows_write(self) -> bool {
        self == FolderAccess::ReadWrite
    }
}

/// A database server on this machine or its private network, as granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseServer {
    Tcp {
        host: String,
        port: u16,
    },
    /// The folder holding the server's Unix socket (libpq's `host=/var/run/postgresql`).
    Socket {
        dir: PathBuf,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantKind {
    /// An absolute folder, resolved (no symlinks, no `..`) when it was granted.
    Folder {
        path: PathBuf,
        access: FolderAccess,
    },
    Database(DatabaseServer),
}

#[derive(Debug, Clone)]
pub struct HostGrant {
    pub id: String,
    pub workspace_id: String,
    pub kind: GrantKind,
    pub note: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

impl HostGrant {
    /// None for a row this version cannot read (a kind or access it does not know).
    pub fn from_row(row: GrantRow) -> Option<HostGrant> {
        let kind = match row.kind.as_str() {
            "folder" => GrantKind::Folder {
                path: PathBuf::from(row.path?),
                access: FolderAccess::parse(row.access.as_deref()?)?,
            },
            "database" => GrantKind::Database(match (row.host, row.port, row.path) {
                (Some(host), Some(port), _) => DatabaseServer::Tcp { host, port: u16::try_from(port).ok()? },
                (None, _, Some(dir)) => DatabaseServer::Socket { dir: PathBuf::from(dir) },
                _ => return None,
            }),
            _ => return None,
        };
        Some(HostGrant {
            id: row.id,
            workspace_id: row.workspace_id,
            kind,
            note: row.note,
            created_by: row.created_by,
            created_at: row.created_at,
        })
    }

    pub fn to_row(&self) -> GrantRow {
        let (kind, path, access, host, port) = match &self.kind {
            GrantKind::Folder { path, access } => {
                ("folder", Some(path.display().to_string()), Some(access.as_str().to_owned()), None, None)
            }
            GrantKind::Database(DatabaseServer::Tcp { host, port }) => {
                ("database", None, None, Some(host.clone()), Some(i64::from(*port)))
            }
            GrantKind::Database(DatabaseServer::Socket { dir }) => {
                ("database", Some(dir.display().to_string()), None, None, None)
            }
        };
        GrantRow {
            id: self.id.clone(),
            workspace_id: self.workspace_id.clone(),
            kind: kind.to_owned(),
            path,
            access,
            host,
            port,
            note: self.note.clone(),
            created_by: self.created_by.clone(),
            created_at: self.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let at = chrono::Utc::now().naive_utc();
        for kind in [
            GrantKind::Folder { path: "/srv/team-a".into(), access: FolderAccess::ReadWrite },
            GrantKind::Database(DatabaseServer::Tcp { host: "127.0.0.1".into(), port: 5432 }),
            GrantKind::Database(DatabaseServer::Socket { dir: "/var/run/postgresql".into() }),
        ] {
            let grant = HostGrant {
                id: "g".into(),
                workspace_id: "w".into(),
                kind: kind.clone(),
                note: String::new(),
                created_by: "op@example.com".into(),
                created_at: at,
            };
            assert_eq!(HostGrant::from_row(grant.to_row()).map(|g| g.kind), Some(kind));
        }
    }
}
