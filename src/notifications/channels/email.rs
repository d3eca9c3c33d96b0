//! Email over the workspace's own SMTP server (lettre): host, port, STARTTLS / TLS / none, an
//! optional login (the password sealed), from and to. The host is resolved through the
//! outbound policy and lettre connects to the address that passed (TLS still checks the name).

use super::{Attempt, Channel, Transport};
use crate::fields::{FieldErrors, FieldSpec, Input, RawFields};
use crate::notifications::domain::{Payload, reader};
use crate::providers::outbound::ResolveError;
use async_trait::async_trait;
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

const SECURITY: &[(&str, &str)] = &[
    ("starttls", "STARTTLS (port 587)"),
    ("tls", "TLS from the start (port 465)"),
    ("none", "None (trusted network only)"),
];

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("host", "SMTP host").required().placeholder("smtp.example.com"),
    FieldSpec::text("port", "Port").input(Input::Number).placeholder("587"),
    FieldSpec::text("security", "Security").input(Input::Select(SECURITY)),
    FieldSpec::text("username", "Username").help("Leave blank when the server takes mail without a login."),
    FieldSpec::secret("password", "Password").max_len(500).help("Stored encrypted."),
    FieldSpec::text("from", "From").required().placeholder("Devpilot <backups@example.com>"),
    FieldSpec::text("to", "To")
        .required()
        .max_len(1000)
        .placeholder("ops@example.com, oncall@example.com")
        .help("Up to 20 addresses, separated by commas."),
];

pub struct Email {
    host: String,
    port: u16,
    security: &'static str,
    login: Option<(String, SecretString)>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Email {
    pub fn parse(fields: &RawFields) -> Result<Email, FieldErrors> {
        let mut r = reader(fields, super::ChannelKind::Email);
        let host = r.checked("host", |v| {
            crate::fields::rules::charset("SMTP host", v.trim_start_matches('[').trim_end_matches(']'), ".-:")
        });
        let security = r.choice("security", "starttls");
        let default_port = match security {
            "tls" => 465,
            "none" => 25,
            _ => 587,
        };
        let port = r.number("port", default_port, 1u16..=65535);
        let username = r.text("username");
        let password = r.secret("password");
        let from = r.text("from").and_then(|v| match v.parse::<Mailbox>() {
            Ok(m) => Some(m),
            Err(_) => {
                r.error("from", "From must be an address such as Devpilot <backups@example.com>.");
                None
            }
        });
        let to = r.text("to").and_then(|v| {
            let parsed: Result<Vec<Mailbox>, _> =
                v.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::parse::<Mailbox>).collect();
            match parsed {
                Ok(list) if !list.is_empty() && list.len() <= 20 => Some(list),
                Ok(_) => {
                    r.error("to", "To must list 1 to 20 addresses.");
                    None
                }
                Err(_) => {
                    r.error("to", "To must be addresses separated by commas.");
                    None
                }
            }
        });
        if password.is_some() && username.is_none() {
            r.error("username", "Username is required with a password.");
        }
        let login = username.map(|u| (u, password.unwrap_or_else(|| SecretString::from(String::new()))));
        r.finish(|| Some(Email { host: host?, port, security, login, from: from?, to: to? }))
    }

    async fn transport(&self, transport: &Transport) -> Result<AsyncSmtpTransport<Tokio1Executor>, Attempt> {
        let addrs = match transport.policy.resolve(&self.host, self.port).await {
            Ok(addrs) => addrs,
            Err(ResolveError::Refused(refused)) => return Err(Attempt::failed("refused", refused.to_string(), true)),
            Err(ResolveError::Lookup(e)) => {
                return Err(Attempt::failed(
                    "connection failed",
                    format!("{} does not resolve: {e}", self.host),
                    false,
                ));
            }
        };
        let Some(addr) = addrs.first() else {
            return Err(Attempt::failed("connection failed", format!("{} has no address", self.host), false));
        };
        let tls =
            |host: &str| TlsParameters::new(host.to_owned()).map_err(|e| Attempt::failed("tls", e.to_string(), true));
        let tls = match self.security {
            "none" => Tls::None,
            "tls" => Tls::Wrapper(tls(&self.host)?),
            _ => Tls::Required(tls(&self.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
            .port(addr.port())
            .timeout(Some(transport.timeout))
            .tls(tls);
        if let Some((user, password)) = &self.login {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
        }
        Ok(builder.build())
    }
}

#[async_trait]
impl Channel for Email {
    fn secrets(&self) -> Vec<String> {
        self.login.iter().map(|(_, p)| p.expose_secret().to_owned()).filter(|p| !p.is_empty()).collect()
    }

    fn hosts(&self) -> Vec<(&'static str, String)> {
        vec![("host", self.host.clone())]
    }

    async fn send(&self, transport: &Transport, payload: &Payload) -> Attempt {
        let smtp = match self.transport(transport).await {
            Ok(smtp) => smtp,
            Err(attempt) => return attempt,
        };
        let mut message = Message::builder().from(self.from.clone()).subject(format!("[Devpilot] {}", payload.title));
        for to in &self.to {
            message = message.to(to.clone());
        }
        let message = match message.header(ContentType::TEXT_PLAIN).body(payload.text()) {
            Ok(m) => m,
            Err(e) => return Attempt::failed("not sent", format!("the mail could not be written: {e}"), true),
        };
        let sent = tokio::time::timeout(transport.timeout * 2, smtp.send(message)).await;
        match sent {
            Ok(Ok(response)) => Attempt {
                ok: true,
                outcome: format!("SMTP {}", response.code()),
                answer: response.message().collect::<Vec<_>>().join(" "),
                retry_after: None,
                permanent: false,
            },
            Ok(Err(e)) => {
                let outcome = e.status().map_or_else(|| "SMTP error".to_owned(), |code| format!("SMTP {code}"));
                Attempt::failed(outcome, e.to_string(), e.is_permanent())
            }
            Err(_) => Attempt::failed("timeout", "the mail server did not finish in time", false),
        }
    }
}
