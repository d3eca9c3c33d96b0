//! A MariaDB or MySQL connection as a workspace types it: `mariadb://user:password@host:3306/shop`
//! (or `mysql://`), one database or, with no database (`mariadb://user@host/`), every database of
//! the server but its system schemas. Only these settings are read: `tls` (`disable`, `require`,
//! `verify-full`) and `socket` (the absolute path of a Unix socket, used only when its folder is
//! granted); anything else is refused by name, so no option of the client tools that reads a file
//! of this server can be smuggled in.

use super::MariaDbError;
use crate::artifacts::postgres::DatabaseHost;
use secrecy::{ExposeSecret, SecretString};
use std::path::{Path, PathBuf};

/// MariaDB's own limits: 64 characters for a database name, 80 for a user (128 in 10.x is the
/// column; 80 is what accounts accept).
const MAX_DATABASE_CHARS: usize = 64;
const MAX_USER_CHARS: usize = 80;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain text (a loopback or socket server).
    Disable,
    /// Encrypted, the certificate not checked (MariaDB's self-signed default).
    #[default]
    Require,
    /// Encrypted, the certificate chained to a root this server trusts and naming the host.
    VerifyFull,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Require => "require",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    fn parse(value: &str) -> Result<TlsMode, String> {
        match value {
            "disable" => Ok(TlsMode::Disable),
            "require" => Ok(TlsMode::Require),
            "verify-full" => Ok(TlsMode::VerifyFull),
            other => Err(format!("tls “{other}” is not one of disable, require, verify-full")),
        }
    }
}

/// A parsed connection; the password only in [`MariaDbUrl::password`].
#[derive(Clone)]
pub struct MariaDbUrl {
    pub user: String,
    password: Option<SecretString>,
    /// `Name` or `Address`; `Socket` holds the socket file's path.
    pub host: DatabaseHost,
    pub port: u16,
    /// None: every database of the server but its system schemas.
    pub database: Option<String>,
    pub tls: TlsMode,
}

impl std::fmt::Debug for MariaDbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display_url())
    }
}

/// Schemas of the server itself, never backed up as "all databases" nor restored into.
pub const SYSTEM_SCHEMAS: &[&str] = &["mysql", "information_schema", "performance_schema", "sys"];

impl MariaDbUrl {
    pub fn parse(typed: &str) -> Result<MariaDbUrl, MariaDbError> {
        parse(typed.trim()).map_err(MariaDbError::InvalidUrl)
    }

    pub fn password(&self) -> Option<&SecretString> {
        self.password.as_ref()
    }

    /// The URL without its password: what is stored in the clear and shown.
    pub fn display_url(&self) -> String {
        self.written(None)
    }

    /// The full URL, password included, to seal.
    pub fn to_secret(&self) -> SecretString {
        SecretString::from(self.written(self.password.as_ref().map(|p| p.expose_secret())))
    }

    /// The same server and credentials with another database (a restore target's).
    pub fn with_database(&self, database: Option<String>) -> MariaDbUrl {
        MariaDbUrl { database, ..self.clone() }
    }

    fn written(&self, password: Option<&str>) -> String {
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, USERINFO).to_string();
        let mut out = format!("mariadb://{}", enc(&self.user));
        if let Some(password) = password {
            out.push(':');
            out.push_str(&enc(password));
        }
        let host = match &self.host {
            DatabaseHost::Socket(_) => "localhost".to_owned(),
            other => other.to_string(),
        };
        out.push_str(&format!("@{host}:{}/{}", self.port, enc(self.database.as_deref().unwrap_or_default())));
        let mut query = vec![format!("tls={}", self.tls.as_str())];
        if let DatabaseHost::Socket(path) = &self.host {
            query.push(format!("socket={}", enc(&path.display().to_string())));
        }
        out.push('?');
        out.push_str(&query.join("&"));
        out
    }

    /// `user@host:port` (or the socket), for messages.
    pub fn target(&self) -> String {
        match &self.host {
            DatabaseHost::Socket(path) => format!("the socket {}", path.display()),
            host => format!("{host}:{}", self.port),
        }
    }

    /// `message` with the password replaced, should a tool have repeated it.
    pub fn redact(&self, message: &str) -> String {
        match &self.password {
            Some(p) if !p.expose_secret().is_empty() => message.replace(p.expose_secret(), "[redacted]"),
            _ => message.to_owned(),
        }
    }
}

const USERINFO: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

fn parse(typed: &str) -> Result<MariaDbUrl, String> {
    let rest = typed
        .strip_prefix("mariadb://")
        .or_else(|| typed.strip_prefix("mysql://"))
        .ok_or("it must start with mariadb:// (or mysql://)")?;
    let decode = |s: &str, what: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| format!("the {what} is not valid UTF-8"))
    };
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
    let (userinfo, hostport) = authority.rsplit_once('@').ok_or("it needs a user: mariadb://user:password@host/db")?;
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (decode(user, "user")?, Some(decode(password, "password")?)),
        None => (decode(userinfo, "user")?, None),
    };
    if user.is_empty() || user.chars().count() > MAX_USER_CHARS || user.chars().any(char::is_control) {
        return Err(format!("the user must be 1 to {MAX_USER_CHARS} characters, without control characters"));
    }
    let database = decode(path.trim_end_matches('/'), "database name")?;
    let database = match database.as_str() {
        "" | "*" => None,
        name => Some(database_name(name)?),
    };
    let (host, port) = host_port(hostport)?;
    let mut tls = None;
    let mut socket = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode(value, key)?;
        match key {
            "tls" | "ssl-mode" | "sslmode" if tls.is_none() => tls = Some(TlsMode::parse(&value)?),
            "socket" if socket.is_none() => socket = Some(socket_path(&value)?),
            "tls" | "ssl-mode" | "sslmode" | "socket" => return Err(format!("“{key}” is given twice")),
            other => {
                return Err(format!("the setting “{other}” is not supported (only tls and socket are)"));
            }
        }
    }
    let host = match socket {
        Some(path) => DatabaseHost::Socket(path),
        None => host,
    };
    // A socket or this machine's loopback is plain text by default; anything else encrypted.
    let local = matches!(&host, DatabaseHost::Socket(_))
        || matches!(&host, DatabaseHost::Address(ip) if ip.is_loopback())
        || matches!(&host, DatabaseHost::Name(n) if crate::providers::outbound::is_localhost_name(n));
    let tls = tls.unwrap_or(if local { TlsMode::Disable } else { TlsMode::Require });
    Ok(MariaDbUrl { user, password: password.map(SecretString::from), host, port, database, tls })
}

/// A database name as the dump and restore use it: letters, digits, `_`, `$` and `-` (a name
/// that needs quoting anywhere else is refused rather than quoted everywhere).
pub fn database_name(name: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.chars().count() <= MAX_DATABASE_CHARS
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '-'));
    if !valid {
        return Err(format!(
            "“{name}” is not a database name Devpilot uses: 1 to {MAX_DATABASE_CHARS} letters, digits, _, $ or -"
        ));
    }
    Ok(name.to_owned())
}

fn host_port(hostport: &str) -> Result<(DatabaseHost, u16), String> {
    let bad_port = |p: &str| format!("“{p}” is not a port (1–65535)");
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad_port(p));
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("an IPv6 address in brackets needs its closing ]")?;
        match after.strip_prefix(':') {
            Some(p) => (host, port(p)?),
            None => (host, 3306),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((host, p)) => (host, port(p)?),
            None => (hostport, 3306),
        }
    };
    if host.is_empty() {
        return Err("it needs a host: mariadb://user:password@host:3306/db".into());
    }
    if let Ok(ip) = host.parse() {
        return Ok((DatabaseHost::Address(ip), port));
    }
    let valid = host.len() <= 253
        && host.split('.').all(|l| !l.is_empty() && l.len() <= 63)
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !valid {
        return Err(format!("“{host}” is not a host name or an IP address"));
    }
    Ok((DatabaseHost::Name(host.to_ascii_lowercase()), port))
}

fn socket_path(value: &str) -> Result<PathBuf, String> {
    let path = Path::new(value);
    let plain = path.components().all(|c| matches!(c, std::path::Component::RootDir | std::path::Component::Normal(_)));
    if !path.is_absolute() || !plain || path.file_name().is_none() {
        return Err(format!("the socket “{value}” must be an absolute path to the socket file, without .."));
    }
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_the_supported_settings() {
        let url = MariaDbUrl::parse(" mysql://app:p%40ss:w@DB.example:3307/shop?tls=verify-full ").expect("parses");
        assert_eq!(url.user, "app");
        assert_eq!(url.password().map(|p| p.expose_secret().to_owned()).as_deref(), Some("p@ss:w"));
        assert_eq!(url.host, DatabaseHost::Name("db.example".into()));
        assert_eq!((url.port, url.database.as_deref(), url.tls), (3307, Some("shop"), TlsMode::VerifyFull));
        assert_eq!(url.display_url(), "mariadb://app@db.example:3307/shop?tls=verify-full");
        assert!(!format!("{url:?}").contains("p@ss"));
        let again = MariaDbUrl::parse(url.to_secret().expose_secret()).expect("round trip");
        assert_eq!(again.password().map(|p| p.expose_secret().to_owned()).as_deref(), Some("p@ss:w"));

        let all = MariaDbUrl::parse("mariadb://root@127.0.0.1/").expect("all databases");
        assert_eq!((all.database, all.port, all.tls), (None, 3306, TlsMode::Disable));
        let socket = MariaDbUrl::parse("mariadb://app@localhost/shop?socket=/run/mysqld/mysqld.sock").expect("socket");
        assert_eq!(socket.host, DatabaseHost::Socket("/run/mysqld/mysqld.sock".into()));
        assert_eq!(MariaDbUrl::parse(&socket.display_url()).map(|u| u.host).ok(), Some(socket.host));
    }

    #[test]
    fn anything_else_is_refused_by_name() {
        for (typed, words) in [
            ("postgres://a@b/c", "mariadb://"),
            ("mariadb://host/db", "user"),
            ("mariadb://a@/db", "host"),
            ("mariadb://a@h:0/db", "port"),
            ("mariadb://a@h/db?ssl-ca=/etc/key", "ssl-ca"),
            ("mariadb://a@h/db?local-infile=1", "local-infile"),
            ("mariadb://a@h/db?tls=prefer", "prefer"),
            ("mariadb://a@h/db?socket=../x", "socket"),
            ("mariadb://a@h/db?socket=/run/../etc/x", "socket"),
            ("mariadb://a@h/sh`op", "database name"),
            ("mariadb://a@bad host/db", "host name"),
        ] {
            let message = MariaDbUrl::parse(typed).expect_err(typed).to_string();
            assert!(message.contains(words), "{typed}: {message}");
        }
    }
}
