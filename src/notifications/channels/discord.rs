//! Discord webhooks: `POST {"content": …, "embeds": [{title, description, color}]}` to the hook's
//! URL (it holds the token: sealed). Discord answers 204 (200 with `?wait=true`), 400 with
//! `{"code": 50006, …}` for an empty message, 404 `Unknown Webhook`, 429 with `retry_after`.

use super::{Answered, Attempt, Channel, Transport, url_host};
use crate::fields::{FieldErrors, FieldSpec, RawFields};
use crate::notifications::domain::{Payload, channel_url, reader, truncate};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

pub const FIELDS: &[FieldSpec] = &[FieldSpec::secret("webhook_url", "Webhook URL")
    .required()
    .max_len(2000)
    .placeholder("https://discord.com/api/webhooks/123/abc")
    .help("Channel settings → Integrations → Webhooks → Copy Webhook URL. It holds a token: stored encrypted.")];

pub struct Discord {
    url: SecretString,
}

impl Discord {
    pub fn parse(fields: &RawFields) -> Result<Discord, FieldErrors> {
        let mut r = reader(fields, super::ChannelKind::Discord);
        let url = r.checked_secret("webhook_url", |v| channel_url("Webhook URL", v));
        r.finish(|| Some(Discord { url: url? }))
    }
}

pub fn body(payload: &Payload) -> serde_json::Value {
    let color = if payload.kind().is_some_and(|k| k.is_good()) { 0x2e7d32 } else { 0xc62828 };
    serde_json::json!({
        "content": truncate(&payload.title, 1900),
        "allowed_mentions": {"parse": []},
        "embeds": [{
            "title": truncate(&payload.title, 250),
            "description": truncate(&payload.text(), 4000),
            "color": color,
            "timestamp": payload.occurred_at.to_rfc3339(),
        }],
    })
}

#[async_trait]
impl Channel for Discord {
    fn secrets(&self) -> Vec<String> {
        vec![self.url.expose_secret().to_owned()]
    }

    fn hosts(&self) -> Vec<(&'static str, String)> {
        url_host("webhook_url", self.url.expose_secret())
    }

    async fn send(&self, transport: &Transport, payload: &Payload) -> Attempt {
        let body = serde_json::to_vec(&body(payload)).unwrap_or_default();
        match transport.post_json(self.url.expose_secret(), &body, &[]).await {
            // Discord's 429 says how long in its body too (seconds, fractional).
            Answered::Http { status: 429, body, retry_after } => {
                let from_body = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("retry_after").and_then(serde_json::Value::as_f64))
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64);
                super::http_attempt(429, &body, retry_after.or(from_body))
            }
            other => other.into_attempt(),
        }
    }
}
