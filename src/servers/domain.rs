//! A managed server as it is entered: a name and an SSH login, parsed with field-level errors.

use crate::fields::{FieldErrors, RawFields};
use crate::providers::sftp::SshLogin;

/// A server's name: the same rules as a destination's (1–100 printable characters), unique
/// (case-insensitively) in a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerName(String);

impl ServerName {
    pub fn parse(value: &str) -> Result<ServerName, String> {
        crate::fields::rules::name(value).map(|n| ServerName(n.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A valid server: its name and login.
#[derive(Debug, Clone)]
pub struct NewServer {
    pub name: ServerName,
    pub login: SshLogin,
}

impl NewServer {
    /// Parses name and login together so every field error is reported at once.
    pub fn parse(name: &str, fields: &RawFields) -> Result<NewServer, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = ServerName::parse(name).map_err(|m| errors.add("name", m)).ok();
        let login = SshLogin::parse(fields).map_err(|e| errors.merge(e)).ok();
        match (name, login) {
            (Some(name), Some(login)) if errors.is_empty() => Ok(NewServer { name, login }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_name_and_login_errors_together() {
        let errors = NewServer::parse(" ", &RawFields::from_pairs([("port", "70000")])).expect_err("invalid");
        for field in ["name", "host", "port", "username", "password"] {
            assert!(errors.get(field).is_some(), "{field}: {errors:?}");
        }
        let ok = NewServer::parse(
            "Backup box",
            &RawFields::from_pairs([("host", "10.0.0.5"), ("username", "backup"), ("password", "pw")]),
        )
        .expect("valid");
        assert_eq!((ok.name.as_str(), ok.login.port), ("Backup box", 22));
    }
}
