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

impl DatabaseServer {
    /// `host:port` (the port defaults to 5432; an IPv6 address in brackets), or the absolute
    /// folder of the server's Unix socket (resolved: it must exist).
    pub fn parse(typed: &str) -> Result<DatabaseServer, String> {
        let typed = typed.trim();
        if typed.is_empty() {
            return Err("Enter host:port (127.0.0.1:5432) or the folder of the server's Unix socket \
                        (/var/run/postgresql)."
                .into());
        }
        if typed.starts_with('/') {
            let dir = std::fs::canonicalize(typed)
                .map_err(|e| format!("“{typed}” cannot be used: {}.", crate::hostfs::describe(&e)))?;
            return if dir.is_dir() {
                Ok(DatabaseServer::Socket { dir })
            } else {
                Err(format!("“{typed}” is not a folder."))
            };
        }
        let (host, port) = split_host_port(typed)?;
        let valid_name = host.len() <= 253
            && host.split('.').all(|l| !l.is_empty() && l.len() <= 63)
            && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if host.parse::<std::net::IpAddr>().is_err() && !valid_name {
            return Err(format!("“{host}” is not a host name or an IP address."));
        }
        Ok(DatabaseServer::Tcp { host: host.to_ascii_lowercase(), port })
    }

    /// The same server: host names compared without case.
    pub fn same_as(&self, other: &DatabaseServer) -> bool {
        match (self, other) {
            (DatabaseServer::Tcp { host: a, port: p }, DatabaseServer::Tcp { host: b, port: q }) => {
                a.eq_ignore_ascii_case(b) && p == q
            }
            (DatabaseServer::Socket { dir: a }, DatabaseServer::Socket { dir: b }) => a == b,
            _ => false,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            DatabaseServer::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
            DatabaseServer::Tcp { host, port } => format!("{host}:{port}"),
            DatabaseServer::Socket { dir } => format!("the Unix socket in {}", dir.display()),
        }
    }
}

fn split_host_port(typed: &str) -> Result<(&str, u16), String> {
    let bad_port = |p: &str| format!("“{p}” is not a port (1–65535).");
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad_port(p));
    if let Some(rest) = typed.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("An IPv6 address in brackets needs its closing ].")?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host, port(p)?)),
            None if after.is_empty() => Ok((host, 5432)),
            None => Err(format!("“{typed}” is not host:port.")),
        };
    }
    if typed.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((typed, 5432));
    }
    match typed.rsplit_once(':') {
        Some((host, p)) => Ok((host, port(p)?)),
        None => Ok((typed, 5432)),
    }
}

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
    fn database_servers_parse() {
        let tcp = |host: &str, port| Ok(DatabaseServer::Tcp { host: host.into(), port });
        assert_eq!(DatabaseServer::parse(" DB.internal:6432 "), tcp("db.internal", 6432));
        assert_eq!(DatabaseServer::parse("127.0.0.1"), tcp("127.0.0.1", 5432));
        assert_eq!(DatabaseServer::parse("[::1]:5433"), tcp("::1", 5433));
        assert_eq!(DatabaseServer::parse("::1"), tcp("::1", 5432));
        for bad in ["", "db:0", "db:70000", "bad host:5432", "[::1", "/no/such/socket/folder"] {
            assert!(DatabaseServer::parse(bad).is_err(), "{bad}");
        }
        let dir = std::env::temp_dir();
        assert!(matches!(DatabaseServer::parse(&dir.display().to_string()), Ok(DatabaseServer::Socket { .. })));
        assert!(tcp("Db", 1).expect("tcp").same_as(&DatabaseServer::Tcp { host: "db".into(), port: 1 }));
    }

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
