//! Telegram's Bot API: `POST {api}/bot{token}/sendMessage` with `{"chat_id", "text"}`. The token
//! is sealed and is part of the URL, so nothing about a request is logged before redaction.
//! Telegram answers `{"ok": true, …}` or `{"ok": false, "error_code", "description"}`, and
//! 429 with `parameters.retry_after` (seconds), which the next attempt waits for.

use super::{Answered, Attempt, Channel, Transport, http_attempt};
use crate::fields::{FieldErrors, FieldSpec, RawFields};
use crate::notifications::domain::{Payload, reader, truncate};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::secret("bot_token", "Bot token")
        .required()
        .max_len(200)
        .placeholder("123456789:AA…")
        .help("From @BotFather. Stored encrypted."),
    FieldSpec::text("chat_id", "Chat ID")
        .required()
        .max_len(100)
        .placeholder("-1001234567890 or @channelname")
        .help("The chat, group or channel the bot writes to (the bot must be a member)."),
];

pub struct Telegram {
    token: SecretString,
    chat_id: String,
}

fn token_rule(value: &str) -> Result<(), String> {
    // Telegram's tokens are `<bot id>:<secret>`; anything else would change the URL's path.
    let valid = value.split_once(':').is_some_and(|(id, secret)| {
        !id.is_empty()
            && id.chars().all(|c| c.is_ascii_digit())
            && !secret.is_empty()
            && secret.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    if valid { Ok(()) } else { Err("Bot token must look like 123456789:AAE… (as @BotFather gives it).".into()) }
}

fn chat_rule(value: &str) -> Result<(), String> {
    let numeric = value.strip_prefix('-').unwrap_or(value);
    let valid = (!numeric.is_empty() && numeric.chars().all(|c| c.is_ascii_digit()))
        || value
            .strip_prefix('@')
            .is_some_and(|n| n.len() >= 4 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if valid { Ok(()) } else { Err("Chat ID must be a number (-100…) or @channelname.".into()) }
}

impl Telegram {
    pub fn parse(fields: &RawFields) -> Result<Telegram, FieldErrors> {
        let mut r = reader(fields, super::ChannelKind::Telegram);
        let token = r.checked_secret("bot_token", token_rule);
        let chat_id = r.checked("chat_id", chat_rule);
        r.finish(|| Some(Telegram { token: token?, chat_id: chat_id? }))
    }
}

pub fn body(payload: &Payload, chat_id: &str) -> serde_json::Value {
    serde_json::json!({"chat_id": chat_id, "text": truncate(&payload.text(), 4000), "disable_web_page_preview": true})
}

#[async_trait]
impl Channel for Telegram {
    fn secrets(&self) -> Vec<String> {
        vec![self.token.expose_secret().to_owned()]
    }

    fn hosts(&self) -> Vec<(&'static str, String)> {
        // The API's address is the operator's setting, checked when sending.
        Vec::new()
    }

    async fn send(&self, transport: &Transport, payload: &Payload) -> Attempt {
        let url = format!("{}/bot{}/sendMessage", transport.telegram_api, self.token.expose_secret());
        let body = serde_json::to_vec(&body(payload, &self.chat_id)).unwrap_or_default();
        match transport.post_json(&url, &body, &[]).await {
            Answered::Http { status, body, retry_after } => {
                let answer: Option<serde_json::Value> = serde_json::from_str(&body).ok();
                let told = answer
                    .as_ref()
                    .and_then(|a| a.pointer("/parameters/retry_after"))
                    .and_then(serde_json::Value::as_u64)
                    .map(Duration::from_secs);
                let ok = answer.as_ref().and_then(|a| a.get("ok")).and_then(serde_json::Value::as_bool);
                let mut attempt = http_attempt(status, &body, told.or(retry_after));
                // A 200 that says "ok": false is no delivery.
                if attempt.ok && ok == Some(false) {
                    attempt.ok = false;
                    attempt.permanent = true;
                }
                attempt
            }
            Answered::Failed(attempt) => attempt,
        }
    }
}
