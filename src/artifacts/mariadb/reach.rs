//! Where a MariaDB URL may lead, decided before anything is connected to, by the rules of
//! PostgreSQL sources (`artifacts::postgres::reach`): the host resolved once, metadata and
//! link-local addresses never, this machine and private networks only when granted, a socket
//! only inside a granted socket folder. The addresses checked here are the only ones connected to.

use super::MariaDbError;
use super::url::MariaDbUrl;
use crate::artifacts::postgres::reach::{granted_socket, granted_tcp, is_host_resource, not_granted};
use crate::artifacts::postgres::{DatabaseAccess, DatabaseHost};
use crate::providers::outbound::{AddressPolicy, ResolveError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The checked place to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tcp(Vec<SocketAddr>),
    /// The socket file, its folder resolved (no symlinks) and granted.
    Socket(PathBuf),
}

/// A URL whose destination passed every check.
#[derive(Debug, Clone)]
pub struct Reachable {
    pub url: MariaDbUrl,
    pub endpoint: Endpoint,
}

impl MariaDbUrl {
    /// Resolves and checks where this URL leads, connecting to nothing.
    pub async fn reach(&self, access: &DatabaseAccess) -> Result<Reachable, MariaDbError> {
        let refused = |e: crate::artifacts::postgres::PostgresError| MariaDbError::Refused(e.to_string());
        let endpoint = match &self.host {
            DatabaseHost::Socket(file) => {
                let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
                    return Err(refused(not_granted(format!("the socket {}", file.display()))));
                };
                // Refused the same way whether or not the folder exists.
                let Some(dir) = granted_socket(&access.granted, dir).await else {
                    return Err(refused(not_granted(format!("the socket {}", file.display()))));
                };
                Endpoint::Socket(dir.join(name))
            }
            host => {
                let host = host.to_string();
                let addrs = resolve(host.trim_start_matches('[').trim_end_matches(']'), self.port).await?;
                for addr in addrs.iter().filter(|a| is_host_resource(a.ip())) {
                    if !granted_tcp(&access.granted, addr.ip(), self.port).await {
                        let what = match &self.host {
                            DatabaseHost::Name(name) => format!("{name} resolves to {}, port {}", addr.ip(), self.port),
                            _ => format!("{host}:{}", self.port),
                        };
                        return Err(refused(not_granted(what)));
                    }
                }
                Endpoint::Tcp(addrs)
            }
        };
        Ok(Reachable { url: self.clone(), endpoint })
    }
}

/// The host's addresses, each past the outbound policy.
async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, MariaDbError> {
    let policy = AddressPolicy::allowing_loopback();
    let unknown = |detail: String| MariaDbError::UnknownHost { host: host.to_owned(), detail };
    match tokio::time::timeout(CONNECT_TIMEOUT, policy.resolve(host, port)).await {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(unknown("it has no addresses".into())),
        Ok(Err(ResolveError::Refused(refused))) => Err(MariaDbError::Refused(refused.to_string())),
        Ok(Err(ResolveError::Lookup(e))) => Err(unknown(e.to_string())),
        Err(_) => Err(unknown(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::postgres::DatabaseServer;

    #[tokio::test]
    async fn host_resources_need_a_grant_and_metadata_never_passes() {
        let none = DatabaseAccess::default();
        let url = |s: &str| MariaDbUrl::parse(s).expect("parses");
        for typed in ["mariadb://a@127.0.0.1:3306/x", "mariadb://a@10.0.0.5/x", "mariadb://a@[::1]:3306/x"] {
            let refused = url(typed).reach(&none).await.expect_err(typed).to_string();
            assert!(refused.contains("not granted"), "{typed}: {refused}");
        }
        let metadata = url("mariadb://a@169.254.169.254/x").reach(&none).await.expect_err("metadata");
        assert!(matches!(metadata, MariaDbError::Refused(_)), "{metadata:?}");
        let socket = url("mariadb://a@localhost/x?socket=/run/mysqld/mysqld.sock").reach(&none).await;
        assert!(socket.expect_err("socket").to_string().contains("not granted"));
        let granted =
            DatabaseAccess { granted: vec![DatabaseServer::Tcp { host: "127.0.0.1".into(), port: 3306 }], own: None };
        assert!(url("mariadb://a@127.0.0.1:3306/x").reach(&granted).await.is_ok());
        assert!(url("mariadb://a@127.0.0.1:3307/x").reach(&granted).await.is_err(), "another port");
    }
}
