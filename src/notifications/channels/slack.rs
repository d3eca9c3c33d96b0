//! Slack incoming webhooks: `POST {"text": …, "blocks": […]}` to the hook's URL, which holds its
//! token (sealed). Slack answers `ok`, or 400 `invalid_payload`, 403 `action_prohibited`, 404
//! `no_service`, 410 `channel_is_archived`, 429 with Retry-After.

use super::{Attempt, Channel, Transport, url_host};
use crate::fields::{FieldErrors, FieldSpec, RawFields};
use crate::notifications::domain::{Payload, channel_url, reader};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

pub const FIELDS: &[FieldSpec] = &[FieldSpec::secret("webhook_url", "Webhook URL")
    .required()
    .max_len(2000)
    .placeholder("https://hooks.slack.com/services/T000/B000/XXXX")
    .help("Slack → Apps → Incoming Webhooks → Add New Webhook to Workspace. It holds a token: stored encrypted.")];

pub struct Slack {
    url: SecretString,
}

impl Slack {
    pub fn parse(fields: &RawFields) -> Result<Slack, FieldErrors> {
        let mut r = reader(fields, super::ChannelKind::Slack);
        let url = r.checked_secret("webhook_url", |v| channel_url("Webhook URL", v));
        r.finish(|| Some(Slack { url: url? }))
    }
}

pub fn body(payload: &Payload) -> serde_json::Value {
    serde_json::json!({
        "text": format!("{}: {}", payload.title, payload.message),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": crate::notifications::domain::truncate(&payload.title, 140)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": crate::notifications::domain::truncate(&payload.text(), 2900)}},
        ],
    })
}

#[async_trait]
impl Channel for Slack {
    fn secrets(&self) -> Vec<String> {
        vec![self.url.expose_secret().to_owned()]
    }

    fn hosts(&self) -> Vec<(&'static str, String)> {
        url_host("webhook_url", self.url.expose_secret())
    }

    async fn send(&self, transport: &Transport, payload: &Payload) -> Attempt {
        let body = serde_json::to_vec(&body(payload)).unwrap_or_default();
        transport.post_json(self.url.expose_secret(), &body, &[]).await.into_attempt()
    }
}
