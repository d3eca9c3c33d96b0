//! SFTP to a server of the workspace's own.

use crate::destinations::fields::{FieldErrors, FieldReader, FieldSpec, Input, RawFields};
use secrecy::SecretString;

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("host", "Host").required().max_len(253).placeholder("backup.example.com"),
    FieldSpec::text("port", "Port").input(Input::Number).max_len(5).placeholder("22"),
    FieldSpec::text("directory", "Remote directory").required().max_len(1024).placeholder("/srv/backups"),
    FieldSpec::text("username", "Username").required().max_len(64),
    FieldSpec::secret("password", "Password").max_len(256).help("Either a password or a private key."),
    FieldSpec::secret("private_key", "Private key")
        .input(Input::TextArea)
        .max_len(16384)
        .help("OpenSSH or PEM format (ed25519, RSA or ECDSA). Preferred over a password."),
    FieldSpec::secret("passphrase", "Key passphrase").max_len(256).help("Only if the private key is encrypted."),
];

#[derive(Debug, Clone)]
pub struct SftpConfig {
    pub host: String,
    pub port: u16,
    pub directory: String,
    pub username: String,
    pub password: Option<SecretString>,
    pub private_key: Option<SecretString>,
    pub passphrase: Option<SecretString>,
}

impl SftpConfig {
    pub fn parse(raw: &RawFields) -> Result<SftpConfig, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
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
        let directory = r.checked("directory", |v| {
            if !v.starts_with('/') {
                Err("Remote directory must be an absolute path (starting with \"/\").".into())
            } else if v.split('/').any(|s| s == "..") {
                Err("Remote directory must not contain \"..\".".into())
            } else {
                Ok(())
            }
        });
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
        r.finish(|| {
            Some(SftpConfig {
                host: host?,
                port,
                directory: directory?,
                username: username?,
                password,
                private_key,
                passphrase,
            })
        })
    }

    pub fn location(&self) -> String {
        format!("sftp://{}@{}:{}{}", self.username, self.host, self.port, self.directory)
    }
}
