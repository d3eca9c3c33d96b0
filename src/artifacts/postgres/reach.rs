//! Where a parsed URL may lead, decided before anything is connected to. The host is resolved
//! once and every address judged: link-local and metadata addresses never (the outbound policy);
//! this machine (loopback, `0.0.0.0`), private ranges and Unix sockets only when that database
//! server is granted to the workspace; Devpilot's own database never. The addresses checked here
//! are the only ones connected to afterwards (no second lookup for DNS rebinding to answer).

use super::PostgresError;
use super::server::DatabaseServer;
use super::url::{DatabaseHost, PostgresUrl};
use crate::providers::outbound::{AddressPolicy, ResolveError, canonical, literal};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A lookup for a grant's or Devpilot's own host gives up after this long.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// What a workspace may reach: its granted database servers, and Devpilot's own database to
/// refuse (PostgreSQL mode).
#[derive(Debug, Clone, Default)]
pub struct DatabaseAccess {
    pub granted: Vec<DatabaseServer>,
    pub own: Option<OwnDatabase>,
}

impl DatabaseAccess {
    /// Whether `reachable` leads to the server of Devpilot's own database, whichever database of
    /// it the URL names (what copies a whole server, as WAL archiving does, must not copy it).
    pub async fn is_own_server(&self, reachable: &Reachable) -> bool {
        match &self.own {
            Some(own) => own.serves(&reachable.endpoint, reachable.url.port).await,
            None => false,
        }
    }
}

/// The checked place to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Every address the host resolved to, each one checked.
    Tcp(Vec<SocketAddr>),
    /// The socket file inside a granted folder, resolved (no symlinks).
    Socket(PathBuf),
}

/// A URL whose destination passed every check; only [`Reachable::check`] connects.
#[derive(Debug, Clone)]
pub struct Reachable {
    pub url: PostgresUrl,
    pub endpoint: Endpoint,
}

/// This machine or its private network: a host resource, used only by grant.
pub(crate) fn is_host_resource(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(a) => {
            let [first, second, ..] = a.octets();
            a.is_loopback() || a.is_private() || first == 0 || (first == 100 && (64..128).contains(&second))
        }
        IpAddr::V6(a) => a.is_loopback() || a.is_unspecified() || (a.segments()[0] & 0xfe00) == 0xfc00,
    }
}

async fn lookup(host: &str, port: u16) -> Vec<IpAddr> {
    if let Some(ip) = literal(host) {
        return vec![ip];
    }
    match tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
        _ => Vec::new(),
    }
}

/// Whether a TCP grant covers `ip:port` (a granted name counts by the addresses it resolves to).
pub(crate) async fn granted_tcp(granted: &[DatabaseServer], ip: IpAddr, port: u16) -> bool {
    for server in granted {
        if let DatabaseServer::Tcp { host, port: granted_port } = server
            && *granted_port == port
            && lookup(host, port).await.into_iter().any(|a| canonical(a) == canonical(ip))
        {
            return true;
        }
    }
    false
}

/// The granted socket folder that `dir` is (compared resolved), if any.
pub(crate) async fn granted_socket(granted: &[DatabaseServer], dir: &Path) -> Option<PathBuf> {
    let typed = tokio::fs::canonicalize(dir).await.ok()?;
    for server in granted {
        if let DatabaseServer::Socket { dir: granted_dir } = server
            && tokio::fs::canonicalize(granted_dir).await.is_ok_and(|g| g == typed)
        {
            return Some(typed);
        }
    }
    None
}

pub(crate) fn not_granted(what: String) -> PostgresError {
    PostgresError::Refused(format!(
        "{what}: database servers on this machine or its private network are used only when an operator grants \
         them, and this one is not granted to this workspace"
    ))
}

impl PostgresUrl {
    /// Resolves and checks where this URL leads, connecting to nothing.
    pub async fn reach(&self, access: &DatabaseAccess) -> Result<Reachable, PostgresError> {
        let endpoint = match &self.host {
            DatabaseHost::Socket(dir) => {
                // Refused the same way whether or not the folder exists: nothing of the server's
                // file system is told to a workspace.
                let Some(dir) = granted_socket(&access.granted, dir).await else {
                    return Err(not_granted(format!("the socket folder {}", dir.display())));
                };
                Endpoint::Socket(dir.join(format!(".s.PGSQL.{}", self.port)))
            }
            host => Endpoint::Tcp(self.resolve(&host.to_string()).await?),
        };
        if let Some(own) = &access.own
            && own.dbname == self.dbname
            && own.serves(&endpoint, self.port).await
        {
            return Err(PostgresError::OwnDatabase);
        }
        if let Endpoint::Tcp(addrs) = &endpoint {
            for addr in addrs.iter().filter(|a| is_host_resource(a.ip())) {
                if !granted_tcp(&access.granted, addr.ip(), self.port).await {
                    let what = match &self.host {
                        DatabaseHost::Name(name) => format!("{name} resolves to {}, port {}", addr.ip(), self.port),
                        _ => format!("{}:{}", self.host, self.port),
                    };
                    return Err(not_granted(what));
                }
            }
        }
        Ok(Reachable { url: self.clone(), endpoint })
    }

    /// The host's addresses, each one past the outbound policy (metadata and link-local never).
    async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, PostgresError> {
        let policy = AddressPolicy::allowing_loopback();
        let lookup = tokio::time::timeout(self.connect_timeout, policy.resolve(host, self.port)).await;
        let unknown = |detail: String| PostgresError::UnknownHost { host: host.to_owned(), detail };
        match lookup {
            Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
            Ok(Ok(_)) => Err(unknown("it has no addresses".into())),
            Ok(Err(ResolveError::Refused(refused))) => Err(PostgresError::Refused(refused.to_string())),
            Ok(Err(ResolveError::Lookup(e))) => Err(unknown(e.to_string())),
            Err(_) => Err(unknown(format!("no answer within {} s", self.connect_timeout.as_secs()))),
        }
    }
}

/// Devpilot's own database in PostgreSQL mode, as `DATABASE_URL` names it (read leniently: it is
/// the operator's, and may use settings a workspace may not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnDatabase {
    hosts: Vec<String>,
    port: u16,
    dbname: String,
}

/// libpq's default socket folder on Debian, where an empty host leads.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

impl OwnDatabase {
    /// None for a URL that is not PostgreSQL's.
    pub fn from_url(url: &str) -> Option<OwnDatabase> {
        let rest = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://"))?;
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
        let (user, hostports) = authority.rsplit_once('@').unwrap_or(("", authority));
        let user = decode(user.split(':').next().unwrap_or_default());
        let mut hosts = Vec::new();
        let mut port = None;
        for hostport in hostports.split(',').filter(|h| !h.is_empty()) {
            let (host, p) = super::url::split_host_port(hostport);
            hosts.push(decode(host.trim_start_matches('[').trim_end_matches(']')));
            port = port.or_else(|| p.and_then(|p| p.parse().ok()));
        }
        let mut dbname = decode(path);
        for (key, value) in query.split('&').filter_map(|p| p.split_once('=')) {
            let values = decode(value);
            match key {
                "host" | "hostaddr" => hosts.extend(values.split(',').map(str::to_owned)),
                "port" => port = port.or_else(|| values.split(',').next().and_then(|p| p.parse().ok())),
                "dbname" if dbname.is_empty() => dbname = values,
                _ => {}
            }
        }
        if hosts.is_empty() {
            hosts.push(DEFAULT_SOCKET_DIR.to_owned());
        }
        let dbname = [dbname, user].into_iter().find(|d| !d.is_empty()).unwrap_or_else(|| "postgres".into());
        Some(OwnDatabase { hosts, port: port.unwrap_or(5432), dbname })
    }

    /// Whether `endpoint` on `port` is the server of Devpilot's database: the same address, or
    /// this machine by another spelling (any loopback address or socket, when Devpilot's database
    /// is on this machine too).
    async fn serves(&self, endpoint: &Endpoint, port: u16) -> bool {
        if port != self.port {
            return false;
        }
        let mut own_ips = Vec::new();
        let mut own_sockets = Vec::new();
        for host in &self.hosts {
            if host.starts_with('/') {
                own_sockets.push(tokio::fs::canonicalize(host).await.unwrap_or_else(|_| PathBuf::from(host)));
            } else {
                own_ips.extend(lookup(host, port).await.into_iter().map(canonical));
            }
        }
        let this_machine =
            |ip: IpAddr| ip.is_loopback() || ip.is_unspecified() || matches!(ip, IpAddr::V4(a) if a.octets()[0] == 0);
        let own_local = !own_sockets.is_empty() || own_ips.iter().any(|ip| this_machine(*ip));
        match endpoint {
            Endpoint::Tcp(addrs) => addrs
                .iter()
                .map(|a| canonical(a.ip()))
                .any(|ip| own_ips.contains(&ip) || (own_local && this_machine(ip))),
            Endpoint::Socket(file) => own_local || own_sockets.iter().any(|dir| file.parent() == Some(dir)),
        }
    }
}

#[cfg(test)]
#[path = "reach_tests.rs"]
mod tests;
