//! `DEVPILOT_SMTP_URL` (`smtp://user:password@host:port?tls=starttls|tls|none`) and
//! `DEVPILOT_MAIL_FROM` (`Devpilot <devpilot@example.com>`).

use lettre::message::Mailbox;
use secrecy::SecretString;

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, required (port 587 by default).
    StartTls,
    /// TLS from the first byte (port 465 by default).
    Tls,
    /// No encryption: only for a relay on this machine or a trusted network (port 25 by default).
    None,
}

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// User name and password, when the server wants a login.
    pub credentials: Option<(String, SecretString)>,
    pub from: Mailbox,
}

impl MailSettings {
    pub fn parse(url: &str, from: &str) -> anyhow::Result<MailSettings> {
        // The URL holds a password: errors never repeat it.
        let parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("DEVPILOT_SMTP_URL does not parse: {e}"))?;
        let mut security = match parsed.scheme() {
            "smtp" => Security::StartTls,
            "smtps" => Security::Tls,
            other => anyhow::bail!("DEVPILOT_SMTP_URL: the scheme must be smtp or smtps, not {other:?}"),
        };
        for (key, value) in parsed.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "starttls") => security = Security::StartTls,
                ("tls", "tls") => security = Security::Tls,
                ("tls", "none") => security = Security::None,
                (key, _) => anyhow::bail!("DEVPILOT_SMTP_URL: unknown parameter {key:?} (tls=starttls|tls|none)"),
            }
        }
        let host = parsed.host_str().filter(|h| !h.is_empty());
        let host = host.ok_or_else(|| anyhow::anyhow!("DEVPILOT_SMTP_URL names no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = parsed.port().unwrap_or(match security {
            Security::StartTls => 587,
            Security::Tls => 465,
            Security::None => 25,
        });
        let decode = |s: &str| percent_decode(s);
        let credentials = match (parsed.username(), parsed.password()) {
            ("", None) => None,
            (user, password) => Some((decode(user)?, SecretString::from(decode(password.unwrap_or_default())?))),
        };
        let from = from.parse::<Mailbox>().map_err(|e| anyhow::anyhow!("DEVPILOT_MAIL_FROM {from:?}: {e}"))?;
        Ok(MailSettings { host, port, security, credentials, from })
    }

    /// For the settings page: where mail goes and as whom, never the password.
    pub fn describe(&self) -> String {
        let security = match self.security {
            Security::StartTls => "STARTTLS",
            Security::Tls => "TLS",
            Security::None => "no encryption",
        };
        let login = self.credentials.as_ref().map(|(user, _)| format!(", login {user}")).unwrap_or_default();
        format!("{}:{} ({security}{login}), from {}", self.host, self.port, self.from)
    }
}

fn percent_decode(s: &str) -> anyhow::Result<String> {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| anyhow::anyhow!("DEVPILOT_SMTP_URL: the login does not decode"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn urls_name_host_port_security_and_login() {
        let s = MailSettings::parse("smtp://mailer:p%40ss+word@mail.example:2525", "Devpilot <dp@example.com>")
            .expect("parse");
        assert_eq!((s.host.as_str(), s.port, s.security), ("mail.example", 2525, Security::StartTls));
        let (user, password) = s.credentials.as_ref().expect("login");
        assert_eq!((user.as_str(), password.expose_secret()), ("mailer", "p@ss+word"));
        assert!(!s.describe().contains("p@ss") && s.describe().contains("login mailer"), "{}", s.describe());
        assert!(!format!("{s:?}").contains("p@ss"), "Debug hides the password");

        let s = MailSettings::parse("smtp://127.0.0.1:2526?tls=none", "dp@example.com").expect("parse");
        assert_eq!((s.port, s.security, s.credentials.is_none()), (2526, Security::None, true));
        assert_eq!(MailSettings::parse("smtps://mail.example", "dp@example.com").expect("parse").port, 465);
        assert!(MailSettings::parse("http://mail.example", "dp@example.com").is_err());
        assert!(MailSettings::parse("smtp://mail.example?tls=maybe", "dp@example.com").is_err());
        let bad = MailSettings::parse("smtp://u:secret@mail.example", "not an address").expect_err("from");
        assert!(!bad.to_string().contains("secret"));
    }
}
