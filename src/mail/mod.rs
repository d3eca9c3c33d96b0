//! Outgoing mail over SMTP (lettre), configured by the operator: `DEVPILOT_SMTP_URL` and
//! `DEVPILOT_MAIL_FROM`. Invitations use it; notifications will. Without it, nothing is mailed and
//! the pages show what would have been (an invitation's link to copy).

mod settings;

pub use settings::{MailSettings, Security};

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::time::Duration;

/// An SMTP conversation that takes longer than this fails (the page waits for it).
const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the address {0:?} cannot receive mail")]
    Recipient(String),
    #[error("the mail could not be written: {0}")]
    Message(String),
    #[error("the mail server refused or did not answer: {0}")]
    Send(String),
}

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> anyhow::Result<Mailer> {
        let host = settings.host.clone();
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host).port(settings.port).timeout(Some(TIMEOUT));
        builder = match settings.security {
            Security::None => builder.tls(Tls::None),
            Security::StartTls => builder.tls(Tls::Required(TlsParameters::new(host)?)),
            Security::Tls => builder.tls(Tls::Wrapper(TlsParameters::new(host)?)),
        };
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
        }
        Ok(Mailer { transport: builder.build(), from: settings.from.clone() })
    }

    /// Sends a plain-text mail to one address.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::Recipient(to.to_owned()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Message(e.to_string()))?;
        self.transport.send(message).await.map(drop).map_err(|e| MailError::Send(e.to_string()))
    }
}
