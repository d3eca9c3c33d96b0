//! What an SFTP destination is configured with: either its own SSH login or a managed server,
//! and the remote directory. A managed server's login is parsed with the same rules.

use crate::fields::{FieldErrors, FieldReader, FieldSpec, Input, RawFields};
use secrecy::SecretString;

const NO_SERVER: &[(&str, &str)] = &[("", "None: enter the connection below")];

const SERVER: FieldSpec = FieldSpec::text("server_id", "Managed server")
    .input(Input::Select(NO_SERVER))
    .max_len(64)
    .help("Reuse a server's SSH login from the Servers page; its changes apply here at once.");
const HOST: FieldSpec = FieldSpec::text("host", "Host").max_len(253).placeholder("backup.example.com");
const PORT: FieldSpec = FieldSpec::text("port", "Port").input(Input::Number).max_len(5).placeholder("22");
const DIRECTORY: FieldSpec =
    FieldSpec::text("directory", "Remote directory").required().max_len(1024).placeholder("/srv/backups");
const USERNAME: FieldSpec = FieldSpec::text("username", "Username").max_len(64);
const PASSWORD: FieldSpec =
    FieldSpec::secret("password", "Password").max_len(256).help("Either a password or a private key.");
const PRIVATE_KEY: FieldSpec = FieldSpec::secret("private_key", "Private key")
    .input(Input::TextArea)
    .max_len(16384)
    .help("OpenSSH or PEM format (ed25519, RSA or ECDSA). Preferred over a password.");
const PASSPHRASE: FieldSpec =
    FieldSpec::secret("passphrase", "Key passphrase").max_len(256).help("Only if the private key is encrypted.");

/// The destination form: a managed server, or a login of its own; host and username are
/// required only without a server (checked in [`SftpConfig::parse`]).
pub const FIELDS: &[FieldSpec] = &[SERVER, HOST, PORT, DIRECTORY, USERNAME, PASSWORD, PRIVATE_KEY, PASSPHRASE];

/// A managed server's form.
pub const LOGIN_FIELDS: &[FieldSpec] = &[HOST.required(), PORT, USERNAME.required(), PASSWORD, PRIVATE_KEY, PASSPHRASE];

/// The fields a destination does not need (and does not keep) when it uses a managed server.
pub const LOGIN_FIELD_NAMES: &[&str] = &["host", "port", "username", "password", "private_key", "passphrase"];

/// Where and how to log in over SSH.
#[derive(Debug, Clone)]
pub struct SshLogin {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Option<SecretString>,
    pub private_key: Option<SecretString>,
    pub passphrase: Option<SecretString>,
}

impl SshLogin {
    pub fn parse(raw: &RawFields) -> Result<SshLogin, FieldErrors> {
        let mut r = FieldReader::new(raw, LOGIN_FIELDS);
        let login = read_login(&mut r);
        r.finish(|| login)
    }

    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Reads the login fields, recording their errors in `r`; None when one is missing or bad.
fn read_login(r: &mut FieldReader<'_>) -> Option<SshLogin> {
    let host = r.checked("host", |v| {
        let ok = v.parse::<std::net::IpAddr>().is_ok()
            || v.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if ok { Ok(()) } else { Err("Host must be a host name or an IP address.".into()) }
    });
    let port = r.number("port", 22u16, 1..=65535);
    let username = r.checked("username", |v| {
        if v.chars().any(|c| c.is_whitespace() || c == '@' || c == ':') {
            Err("Username must not contain spaces, \"@\" or \":\".".into())
        } else {
            Ok(())
        }
    });
    let password = r.secret("password");
    let private_key = r.checked_secret("private_key", |v| {
        if v.starts_with("-----BEGIN ") && v.contains("PRIVATE KEY-----") {
            Ok(())
        } else {
            Err("Private key must be in OpenSSH or PEM format (it starts with \"-----BEGIN\").".into())
        }
    });
    let passphrase = r.secret("passphrase");
    if password.is_none() && private_key.is_none() && !r.has_error("private_key") {
        r.error("password", "Enter a password or a private key.");
    }
    if passphrase.is_some() && private_key.is_none() && !r.has_error("private_key") {
        r.error("passphrase", "A passphrase needs a private key.");
    }
    Some(SshLogin { host: host?, port, username: username?, password, private_key, passphrase })
}

/// Whose login a destination uses.
#[derive(Debug, Clone)]
pub enum SftpTarget {
    Login(SshLogin),
    /// A managed server's id; the destination service swaps in its login before connecting.
    Server(String),
}

#[derive(Debug, Clone)]
pub struct SftpConfig {
    pub target: SftpTarget,
    pub directory: String,
    /// The host key fingerprint (`SHA256:…`) an earlier test pinned. Filled in by the destination
    /// service; None trusts the key the server presents (and the service then pins it).
    pub host_key: Option<String>,
}

impl SftpConfig {
    pub fn parse(raw: &RawFields) -> Result<SftpConfig, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
        let server = r.checked("server_id", |v| {
            if uuid::Uuid::parse_str(v).is_ok() { Ok(()) } else { Err("Choose one of the servers listed.".into()) }
        });
        let directory = r.checked("directory", |v| {
            if !v.starts_with('/') {
                Err("Remote directory must be an absolute path (starting with \"/\").".into())
            } else if v.split('/').any(|s| s == "..") {
                Err("Remote directory must not contain \"..\".".into())
            } else {
                Ok(())
            }
        });
        let target = match server {
            Some(id) => Some(SftpTarget::Server(id)),
            None if r.has_error("server_id") => None,
            None => {
                for (name, label) in [("host", "Host"), ("username", "Username")] {
                    if !raw.contains(name) {
                        r.error(name, format!("{label} is required (or choose a managed server)."));
                    }
                }
                read_login(&mut r).map(SftpTarget::Login)
            }
        };
        r.finish(|| Some(SftpConfig { target: target?, directory: directory?, host_key: None }))
    }

    pub fn server_id(&self) -> Option<&str> {
        match &self.target {
            SftpTarget::Server(id) => Some(id),
            SftpTarget::Login(_) => None,
        }
    }

    pub fn location(&self) -> String {
        match &self.target {
            SftpTarget::Login(l) => format!("sftp://{}@{}:{}{}", l.username, l.host, l.port, self.directory),
            SftpTarget::Server(_) => format!("{} on a managed server", self.directory),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawFields {
        RawFields::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn a_login_of_its_own_needs_host_username_and_a_secret() {
        let errors = SftpConfig::parse(&raw(&[("directory", "/srv")])).expect_err("incomplete");
        for field in ["host", "username", "password"] {
            assert!(errors.get(field).is_some(), "{field}: {errors:?}");
        }
        let ok = SftpConfig::parse(&raw(&[
            ("host", "backup.example.com"),
            ("directory", "/srv"),
            ("username", "u"),
            ("password", "p"),
        ]))
        .expect("valid");
        assert_eq!(ok.location(), "sftp://u@backup.example.com:22/srv");
    }

    #[test]
    fn a_managed_server_replaces_the_login() {
        let id = uuid::Uuid::new_v4().to_string();
        let c = SftpConfig::parse(&raw(&[("server_id", &id), ("directory", "/srv")])).expect("valid");
        assert_eq!(c.server_id(), Some(id.as_str()));
        let bad = SftpConfig::parse(&raw(&[("server_id", "x"), ("directory", "/srv")])).expect_err("bad id");
        assert!(bad.get("server_id").is_some());
        assert!(bad.get("host").is_none(), "no login errors while a server is chosen");
    }

    #[test]
    fn relative_directories_and_lone_passphrases_are_refused() {
        let errors = SftpConfig::parse(&raw(&[
            ("host", "h"),
            ("directory", "srv"),
            ("username", "u"),
            ("password", "p"),
            ("passphrase", "x"),
        ]))
        .expect_err("invalid");
        assert!(errors.get("directory").is_some() && errors.get("passphrase").is_some(), "{errors:?}");
    }
}
