//! A database server on this machine or its private network, as an operator grants it to a
//! workspace: `host:port`, or the folder of its Unix socket. The grant is stored by `grants`;
//! `reach` judges a URL's addresses against the servers granted.

use std::path::PathBuf;

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
}
