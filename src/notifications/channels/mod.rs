//! Channel kinds, one file each behind the [`Channel`] trait, and what they share: the HTTP
//! client every channel URL goes through (the outbound address policy, a timeout, no redirects)
//! and how an answer becomes an [`Attempt`] for the delivery log.

mod discord;
mod email;
mod gotify;
mod slack;
mod teams;
mod telegram;
mod webhook;

pub use webhook::{SECRET_FIELD, SIGNATURE_HEADER, sign};

use super::domain::{Payload, redact, truncate};
use crate::config::NotificationSettings;
use crate::fields::{FieldErrors, FieldSpec, RawFields};
use crate::providers::outbound::{self, AddressPolicy, refusal_in};
use async_trait::async_trait;
use std::time::Duration;

/// How much of a remote's answer the delivery log keeps.
pub const ANSWER_MAX: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Email,
    Webhook,
    Slack,
    Discord,
    Teams,
    Telegram,
    Gotify,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 7] = [
        ChannelKind::Email,
        ChannelKind::Webhook,
        ChannelKind::Slack,
        ChannelKind::Discord,
        ChannelKind::Teams,
        ChannelKind::Telegram,
        ChannelKind::Gotify,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Discord => "discord",
            ChannelKind::Teams => "teams",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Gotify => "gotify",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ChannelKind::Email => "Email (SMTP)",
            ChannelKind::Webhook => "Webhook (signed JSON)",
            ChannelKind::Slack => "Slack",
            ChannelKind::Discord => "Discord",
            ChannelKind::Teams => "Microsoft Teams",
            ChannelKind::Telegram => "Telegram",
            ChannelKind::Gotify => "Gotify",
        }
    }

    pub fn parse(code: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|k| k.code() == code)
    }

    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            ChannelKind::Email => email::FIELDS,
            ChannelKind::Webhook => webhook::FIELDS,
            ChannelKind::Slack => slack::FIELDS,
            ChannelKind::Discord => discord::FIELDS,
            ChannelKind::Teams => teams::FIELDS,
            ChannelKind::Telegram => telegram::FIELDS,
            ChannelKind::Gotify => gotify::FIELDS,
        }
    }

    /// The channel its fields (settings and opened secrets together) describe, or an error per
    /// field.
    pub fn build(self, fields: &RawFields) -> Result<Box<dyn Channel>, FieldErrors> {
        Ok(match self {
            ChannelKind::Email => Box::new(email::Email::parse(fields)?),
            ChannelKind::Webhook => Box::new(webhook::Webhook::parse(fields)?),
            ChannelKind::Slack => Box::new(slack::Slack::parse(fields)?),
            ChannelKind::Discord => Box::new(discord::Discord::parse(fields)?),
            ChannelKind::Teams => Box::new(teams::Teams::parse(fields)?),
            ChannelKind::Telegram => Box::new(telegram::Telegram::parse(fields)?),
            ChannelKind::Gotify => Box::new(gotify::Gotify::parse(fields)?),
        })
    }

    /// Where a list shows the channel going, without a secret: the host of a URL, an address.
    pub fn target(self, settings: &RawFields, host: Option<&str>) -> String {
        match self {
            ChannelKind::Email => settings.get("to").unwrap_or_default().to_owned(),
            ChannelKind::Telegram => format!("chat {}", settings.get("chat_id").unwrap_or_default()),
            ChannelKind::Gotify => super::domain::host_of(settings.get("server_url").unwrap_or_default()),
            _ => host.unwrap_or_default().to_owned(),
        }
    }
}

/// One try at delivering: what the delivery log shows, and what the worker does next.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub ok: bool,
    /// "HTTP 200", "SMTP 250", "timeout", "refused", …
    pub outcome: String,
    /// The remote's answer (or the error), truncated; secrets are redacted by the caller.
    pub answer: String,
    /// The remote asked to wait this long (HTTP Retry-After, Telegram's `retry_after`).
    pub retry_after: Option<Duration>,
    /// Trying again will not help (the remote refused the request itself, the policy refused the
    /// address).
    pub permanent: bool,
}

impl Attempt {
    pub fn failed(outcome: impl Into<String>, answer: impl Into<String>, permanent: bool) -> Attempt {
        Attempt {
            ok: false,
            outcome: outcome.into(),
            answer: truncate(&answer.into(), ANSWER_MAX),
            retry_after: None,
            permanent,
        }
    }

    /// The same attempt with every secret of the channel replaced.
    pub fn redacted(mut self, secrets: &[String]) -> Attempt {
        self.outcome = redact(&self.outcome, secrets);
        self.answer = redact(&self.answer, secrets);
        self
    }
}

/// What every channel sends with: one HTTP client whose every connection passes the policy.
#[derive(Clone)]
pub struct Transport {
    http: reqwest::Client,
    pub policy: AddressPolicy,
    pub timeout: Duration,
    pub telegram_api: String,
}

impl Transport {
    pub fn new(settings: &NotificationSettings, policy: AddressPolicy) -> anyhow::Result<Transport> {
        let builder = reqwest::Client::builder()
            .connect_timeout(settings.request_timeout)
            .timeout(settings.request_timeout)
            .user_agent(concat!("Devpilot/", env!("CARGO_PKG_VERSION")));
        // No redirects: a channel URL that answers elsewhere is the channel's own problem to fix.
        let http = outbound::checked(builder, policy, false).build()?;
        Ok(Transport { http, policy, timeout: settings.request_timeout, telegram_api: settings.telegram_api.clone() })
    }

    /// POSTs `body` as JSON with `headers` and reads the answer.
    pub async fn post_json(&self, url: &str, body: &[u8], headers: &[(&str, String)]) -> Answered {
        if let Err(refused) = self.policy.check_url(url) {
            return Answered::Failed(Attempt::failed("refused", refused.to_string(), true));
        }
        let mut request =
            self.http.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        self.answer(request.send().await).await
    }

    /// POSTs a plain-text body (heartbeat pings).
    pub async fn post_text(&self, url: &str, body: String) -> Answered {
        if let Err(refused) = self.policy.check_url(url) {
            return Answered::Failed(Attempt::failed("refused", refused.to_string(), true));
        }
        let request = self.http.post(url).header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8").body(body);
        self.answer(request.send().await).await
    }

    async fn answer(&self, sent: reqwest::Result<reqwest::Response>) -> Answered {
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Answered::Failed(transport_failure(e)),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let body = match tokio::time::timeout(self.timeout, response.text()).await {
            Ok(Ok(body)) => body,
            Ok(Err(e)) => format!("(the answer could not be read: {})", e.without_url()),
            Err(_) => "(the answer did not arrive in time)".into(),
        };
        Answered::Http { status: status.as_u16(), body, retry_after }
    }
}

/// What came back from an HTTP request.
pub enum Answered {
    Http { status: u16, body: String, retry_after: Option<Duration> },
    Failed(Attempt),
}

impl Answered {
    /// The usual reading: 2xx delivered; 408, 425, 429 and 5xx worth another try; other 4xx not.
    pub fn into_attempt(self) -> Attempt {
        match self {
            Answered::Failed(attempt) => attempt,
            Answered::Http { status, body, retry_after } => http_attempt(status, &body, retry_after),
        }
    }
}

pub fn http_attempt(status: u16, body: &str, retry_after: Option<Duration>) -> Attempt {
    let ok = (200..300).contains(&status);
    let body = if body.trim().is_empty() { "(empty answer)" } else { body.trim() };
    Attempt {
        ok,
        outcome: format!("HTTP {status}"),
        answer: truncate(body, ANSWER_MAX),
        retry_after,
        permanent: !ok && (400..500).contains(&status) && !matches!(status, 408 | 425 | 429),
    }
}

fn transport_failure(e: reqwest::Error) -> Attempt {
    if let Some(refused) = refusal_in(&e) {
        return Attempt::failed("refused", refused.to_string(), true);
    }
    let outcome = if e.is_timeout() { "timeout" } else { "connection failed" };
    // Without the URL: it may hold the channel's token.
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    Attempt::failed(outcome, message, false)
}

/// A channel of one kind, its secrets opened.
#[async_trait]
pub trait Channel: Send + Sync {
    /// Every secret string it holds: redacted from whatever is logged about it.
    fn secrets(&self) -> Vec<String>;

    /// Hosts it connects to, by the field that names them: checked against the outbound policy
    /// when the channel is saved (again at every delivery).
    fn hosts(&self) -> Vec<(&'static str, String)>;

    async fn send(&self, transport: &Transport, payload: &Payload) -> Attempt;
}

/// A URL's host, for a [`Channel::hosts`] list.
pub(crate) fn url_host(field: &'static str, url: &str) -> Vec<(&'static str, String)> {
    outbound::url_host(url).map(|h| vec![(field, h)]).unwrap_or_default()
}
