//! A PostgreSQL connection URL as a workspace types it, parsed into the few settings Devpilot
//! supports. Everything else libpq would honour is refused by name: `hostaddr` (Devpilot resolves
//! and checks the host itself), several hosts, `service`/`passfile` (files of this server),
//! `options`, client-certificate and CA paths (files of this server), unknown parameters.
//! A Unix socket (`?host=/run/postgresql`) parses here; whether it may be used is decided with
//! the workspace's grants (see `reach`).

use super::PostgresError;
use secrecy::{ExposeSecret, SecretString};
use std::fmt::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// PostgreSQL's own limit on identifiers; a longer name would be cut silently by the server.
const MAX_NAME_BYTES: usize = 63;
/// libpq waits forever with 0; a workspace's check never does.
const MAX_CONNECT_TIMEOUT: u64 = 60;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server is, as typed (not yet resolved or checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseHost {
    Name(String),
    Address(IpAddr),
    /// The folder holding the server's socket (`.s.PGSQL.<port>` inside it).
    Socket(PathBuf),
}

impl std::fmt::Display for DatabaseHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseHost::Name(name) => f.write_str(name),
            DatabaseHost::Address(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            DatabaseHost::Address(ip) => write!(f, "{ip}"),
            DatabaseHost::Socket(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// libpq's `sslmode` values; `allow` is not offered (it tries plain text first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disable,
    #[default]
    Prefer,
    Require,
    /// The certificate must chain to a root this server trusts.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(value: &str) -> Result<SslMode, String> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode “{other}” is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }
}

/// A parsed connection URL. The password stays sealed in a [`SecretString`] and is never part of
/// [`PostgresUrl::display_url`], a log line or an error.
#[derive(Clone)]
pub struct PostgresUrl {
    pub user: String,
    password: Option<SecretString>,
    pub host: DatabaseHost,
    pub port: u16,
    pub dbname: String,
    pub sslmode: SslMode,
    pub connect_timeout: Duration,
    pub application_name: Option<String>,
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresUrl").field("url", &self.display_url()).finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> PostgresError {
    PostgresError::InvalidUrl(message.into())
}

/// What libpq would also accept, and why Devpilot does not.
fn refused_parameter(key: &str) -> String {
    match key {
        "hostaddr" => "hostaddr= is not accepted: give the server as the URL's host; Devpilot resolves and checks it \
                       itself"
            .into(),
        "service" => "service= is not accepted: service files belong to this server, not to workspaces; write the \
                      connection out in the URL"
            .into(),
        "passfile" => "passfile= is not accepted: password files belong to this server, not to workspaces; put the \
                       password in the URL (postgres://user:password@host/database)"
            .into(),
        "options" => "options= is not accepted (server settings for the session)".into(),
        "sslcert" | "sslkey" | "sslrootcert" | "sslcrl" | "sslcrldir" | "sslpassword" => {
            format!("{key}= names a file on this server, which a workspace cannot use")
        }
        "user" | "password" | "dbname" => {
            format!("give the {key} in the URL itself: postgres://user:password@host:5432/database")
        }
        other => format!(
            "“{}” is not a setting Devpilot accepts; only sslmode, connect_timeout, application_name, host and port",
            shown(other)
        ),
    }
}

/// A value safe to put in a message: printable, and not too long.
fn shown(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).take(60).collect()
}

fn decode(part: &str, what: &str) -> Result<String, PostgresError> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| invalid(format!("the {what} is not valid UTF-8 once decoded")))
}

/// A host as written (after decoding): a socket folder, an IP address, or a DNS name.
fn parse_host(host: &str) -> Result<DatabaseHost, PostgresError> {
    if host.contains(',') {
        return Err(invalid(format!("several hosts ({}) are not accepted: give one database server", shown(host))));
    }
    if host.starts_with('/') {
        return Ok(DatabaseHost::Socket(PathBuf::from(host)));
    }
    if host.starts_with('@') || host.contains('/') {
        return Err(invalid(format!("“{}” is not a host; a socket folder is an absolute path", shown(host))));
    }
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(DatabaseHost::Address(ip));
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if host.is_empty() || host.len() > 253 || !host.chars().all(valid) {
        return Err(invalid(format!("“{}” is not a host name", shown(host))));
    }
    Ok(DatabaseHost::Name(host.to_ascii_lowercase()))
}

fn parse_port(port: &str) -> Result<u16, PostgresError> {
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ if port.contains(',') => Err(invalid("several ports are not accepted: give one database server")),
        _ => Err(invalid(format!("the port “{}” is not a number from 1 to 65535", shown(port)))),
    }
}

/// Splits `host[:port]` (with `[v6]` brackets) into its parts, both still encoded.
pub(super) fn split_host_port(hostport: &str) -> (&str, Option<&str>) {
    if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(end) => {
                let port = hostport[end + 1..].strip_prefix(':');
                (&hostport[..=end], port)
            }
            None => (hostport, None),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    }
}

fn check_name(value: &str, what: &str) -> Result<(), PostgresError> {
    if value.len() > MAX_NAME_BYTES {
        return Err(invalid(format!("the {what} is longer than PostgreSQL's {MAX_NAME_BYTES} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(format!("the {what} contains control characters")));
    }
    Ok(())
}

impl PostgresUrl {
    /// Parses `postgres://user:password@host:port/database?sslmode=…`, one field at a time, with a
    /// message that names what is wrong (never the password).
    pub fn parse(input: &str) -> Result<PostgresUrl, PostgresError> {
        let input = input.trim();
        let rest =
            ["postgres://", "postgresql://"].iter().find_map(|scheme| input.strip_prefix(scheme)).ok_or_else(|| {
                match input.split_once("://") {
                    Some((scheme, _)) => invalid(format!(
                        "the URL must start with postgres:// or postgresql://, not {}://",
                        shown(scheme)
                    )),
                    None => invalid("not a connection URL; expected postgres://user:password@host:5432/database"),
                }
            })?;
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        if hostport.contains(',') {
            return Err(invalid(format!(
                "several hosts ({}) are not accepted: give one database server",
                shown(hostport)
            )));
        }
        let (user, password) = match userinfo.map(|u| u.split_once(':').unwrap_or((u, ""))) {
            Some((user, password)) => {
                let password = decode(password, "password")?;
                (decode(user, "user name")?, Some(password).filter(|p| !p.is_empty()).map(SecretString::from))
            }
            None => (String::new(), None),
        };
        let (host_part, port_part) = split_host_port(hostport);
        let mut host = (!host_part.is_empty()).then(|| decode(host_part, "host")).transpose()?;
        let mut port = port_part.filter(|p| !p.is_empty()).map(parse_port).transpose()?;
        let mut parsed = PostgresUrl {
            user,
            password,
            host: DatabaseHost::Name(String::new()),
            port: 5432,
            dbname: decode(path, "database name")?,
            sslmode: SslMode::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            application_name: None,
        };
        let mut seen = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (key, value) = (decode(key, "parameter name")?, decode(value, "parameter value")?);
            if seen.contains(&key) {
                return Err(invalid(format!("{} is given twice", shown(&key))));
            }
            seen.push(key.clone());
            match key.as_str() {
                "sslmode" => parsed.sslmode = SslMode::parse(&value).map_err(invalid)?,
                "connect_timeout" => parsed.connect_timeout = connect_timeout(&value)?,
                "application_name" => {
                    check_name(&value, "application_name")?;
                    parsed.application_name = Some(value);
                }
                "host" if host.is_some() => return Err(invalid("the host is given twice (in the URL and as host=)")),
                "host" => host = Some(value),
                "port" if port.is_some() => return Err(invalid("the port is given twice (in the URL and as port=)")),
                "port" => port = Some(parse_port(&value)?),
                other => return Err(invalid(refused_parameter(other))),
            }
        }
        parsed.host = parse_host(&host.ok_or_else(|| invalid("the URL has no host"))?)?;
        parsed.port = port.unwrap_or(5432);
        if parsed.user.is_empty() {
            return Err(invalid("the URL has no user name (postgres://user:password@host:5432/database)"));
        }
        check_name(&parsed.user, "user name")?;
        if parsed.dbname.is_empty() {
            return Err(invalid("the URL has no database name (…/database at the end)"));
        }
        check_name(&parsed.dbname, "database name")?;
        Ok(parsed)
    }

    pub fn password(&self) -> Option<&SecretString> {
        self.password.as_ref()
    }

    /// The same connection to another database of the server.
    pub fn with_dbname(&self, dbname: &str) -> PostgresUrl {
        PostgresUrl { dbname: dbname.to_owned(), ..self.clone() }
    }

    /// The same role and database on a cluster of this host at `port` (a clone Devpilot runs),
    /// without TLS: it listens on loopback only.
    pub fn on_loopback(&self, port: u16) -> PostgresUrl {
        PostgresUrl {
            host: DatabaseHost::Address(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
            port,
            sslmode: SslMode::Disable,
            ..self.clone()
        }
    }

    /// `host:port` (or the socket folder) for messages.
    pub fn server(&self) -> String {
        match &self.host {
            DatabaseHost::Socket(dir) => format!("the socket in {} (port {})", dir.display(), self.port),
            _ => self.grantable_server(),
        }
    }

    /// The server as an operator grants it: `host:port` (`[v6]:port`) or the socket's folder.
    pub fn grantable_server(&self) -> String {
        match &self.host {
            DatabaseHost::Socket(dir) => dir.display().to_string(),
            host => format!("{host}:{}", self.port),
        }
    }

    /// The URL without its password: safe to store in a plain column and to show.
    pub fn display_url(&self) -> String {
        self.render(None)
    }

    /// The full URL with its password, for sealing: the settings as parsed, nothing else.
    pub fn to_secret(&self) -> SecretString {
        SecretString::from(self.render(self.password.as_ref()))
    }

    fn render(&self, password: Option<&SecretString>) -> String {
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, URL_PART).to_string();
        let mut url = format!("postgres://{}", enc(&self.user));
        if let Some(password) = password {
            let _ = write!(url, ":{}", enc(password.expose_secret()));
        }
        url.push('@');
        let mut query = Vec::new();
        match &self.host {
            DatabaseHost::Socket(dir) => query.push(format!("host={}", enc(&dir.display().to_string()))),
            host => {
                let _ = write!(url, "{host}");
            }
        }
        let _ = write!(url, ":{}/{}", self.port, enc(&self.dbname));
        if self.sslmode != SslMode::default() {
            query.push(format!("sslmode={}", self.sslmode.as_str()));
        }
        if self.connect_timeout != DEFAULT_CONNECT_TIMEOUT {
            query.push(format!("connect_timeout={}", self.connect_timeout.as_secs()));
        }
        if let Some(name) = &self.application_name {
            query.push(format!("application_name={}", enc(name)));
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        url
    }

    /// Removes the password from a message, in case a tool ever echoes it.
    pub fn redact(&self, message: &str) -> String {
        match &self.password {
            Some(password) if !password.expose_secret().is_empty() => message.replace(password.expose_secret(), "***"),
            _ => message.to_string(),
        }
    }
}

/// Everything but unreserved characters is encoded in a user, password, database or value.
const URL_PART: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn connect_timeout(value: &str) -> Result<Duration, PostgresError> {
    match value.trim().parse::<u64>() {
        Ok(secs @ 1..=MAX_CONNECT_TIMEOUT) => Ok(Duration::from_secs(secs)),
        _ => Err(invalid(format!("connect_timeout must be a number of seconds from 1 to {MAX_CONNECT_TIMEOUT}"))),
    }
}

#[cfg(test)]
#[path = "url_tests.rs"]
mod tests;
