//! What a grant names: a folder with its access (see `hostfs`), or a database server (see
//! `artifacts::postgres`).

use super::store::GrantRow;
pub use crate::artifacts::postgres::DatabaseServer;
pub use crate::hostfs::FolderAccess;
use chrono::NaiveDateTime;
use std::path::PathBuf;

/// A grant's note: up to 200 characters, no control or invisible formatting characters.
pub fn parse_note(typed: &str) -> Result<String, String> {
    let note = typed.trim();
    if note.chars().count() > 200 {
        return Err("A note is at most 200 characters.".into());
    }
    if note.chars().any(|c| c.is_control() || is_format(c)) {
        return Err("A note must not contain control or invisible formatting characters.".into());
    }
    Ok(note.to_owned())
}

/// Unicode's format characters (Cf), bidirectional overrides among them.
fn is_format(c: char) -> bool {
    matches!(c, '\u{AD}' | '\u{600}'..='\u{605}' | '\u{61C}' | '\u{6DD}' | '\u{70F}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
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

impl GrantKind {
    /// In words, for the audit log and the pages.
    pub fn describe(&self) -> String {
        match self {
            GrantKind::Folder { path, access: FolderAccess::Read } => format!("read access to {}", path.display()),
            GrantKind::Folder { path, access: FolderAccess::ReadWrite } => {
                format!("read and write access to {}", path.display())
            }
            GrantKind::Database(server) => format!("the database server {}", server.describe()),
        }
    }

    /// The same folder or server, whatever the access.
    pub fn same_target(&self, other: &GrantKind) -> bool {
        match (self, other) {
            (GrantKind::Folder { path: a, .. }, GrantKind::Folder { path: b, .. }) => a == b,
            (GrantKind::Database(a), GrantKind::Database(b)) => a.same_as(b),
            _ => false,
        }
    }
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
    fn notes_refuse_invisible_characters() {
        assert_eq!(parse_note("  for the nightly job "), Ok("for the nightly job".into()));
        assert!(parse_note("evil\u{202E}txt").is_err());
        assert!(parse_note("a\nb").is_err());
        assert!(parse_note(&"x".repeat(201)).is_err());
    }

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
