//! Gotify: `POST {server}/message` with the application's token in `X-Gotify-Key` and
//! `{"title", "message", "priority"}`. Gotify answers 200 with the stored message, 400 for a
//! missing message, 401/403 for a bad token.

use super::{Attempt, Channel, Transport, url_host};
use crate::fields::{FieldErrors, FieldSpec, Input, RawFields};
use crate::notifications::domain::{Payload, channel_url, reader};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("server_url", "Server URL").required().max_len(2000).placeholder("https://gotify.example.com"),
    FieldSpec::secret("app_token", "Application token")
        .required()
        .max_len(200)
        .help("Apps → Create Application in Gotify, then copy its token. Stored encrypted."),
    FieldSpec::text("priority", "Priority")
        .input(Input::Number)
        .placeholder("8")
        .help("0–10; failures use it, good news uses 2."),
];

pub struct Gotify {
    server: String,
    token: SecretString,
    priority: u8,
}

impl Gotify {
    pub fn parse(fields: &RawFields) -> Result<Gotify, FieldErrors> {
        let mut r = reader(fields, super::ChannelKind::Gotify);
        let server = r.checked("server_url", |v| channel_url("Server URL", v));
        let token = r.checked_secret("app_token", |v| crate::fields::rules::no_whitespace("Application token", v));
        let priority = r.number("priority", 8u8, 0..=10);
        r.finish(|| Some(Gotify { server: server?.trim_end_matches('/').to_owned(), token: token?, priority }))
    }
}

pub fn body(payload: &Payload, priority: u8) -> serde_json::Value {
    let priority = if payload.kind().is_some_and(|k| k.is_good()) { priority.min(2) } else { priority };
    serde_json::json!({"title": payload.title, "message": payload.text(), "priority": priority})
}

#[async_trait]
impl Channel for Gotify {
    fn secrets(&self) -> Vec<String> {
        vec![self.token.expose_secret().to_owned()]
    }

    fn hosts(&self) -> Vec<(&'static str, String)> {
        url_host("server_url", &self.server)
    }

    async fn send(&self, transport: &Transport, payload: &Payload) -> Attempt {
        let body = serde_json::to_vec(&body(payload, self.priority)).unwrap_or_default();
        let url = format!("{}/message", self.server);
        let key = [("X-Gotify-Key", self.token.expose_secret().to_owned())];
        transport.post_json(&url, &body, &key).await.into_attempt()
    }
}
