//! Microsoft Teams through a Workflows webhook ("Post to a channel when a webhook request is
//! received"): an adaptive card in a message's attachments. The URL holds its signature
//! (`sig=`): sealed. The workflow answers 202 Accepted.

use super::{Attempt, Channel, Transport, url_host};
use crate::fields::{FieldErrors, FieldSpec, RawFields};
use crate::notifications::domain::{Payload, channel_url, reader};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

pub const FIELDS: &[FieldSpec] = &[FieldSpec::secret("webhook_url", "Workflow webhook URL")
    .required()
    .max_len(2000)
    .placeholder("https://prod-00.westeurope.logic.azure.com:443/workflows/…")
    .help("In Teams: Workflows → “Post to a channel when a webhook request is received”. It holds a signature: stored encrypted.")];

pub struct Teams {
    url: SecretString,
}

impl Teams {
    pub fn parse(fields: &RawFields) -> Result<Teams, FieldErrors> {
        let mut r = reader(fields, super::ChannelKind::Teams);
        let url = r.checked_secret("webhook_url", |v| channel_url("Workflow webhook URL", v));
        r.finish(|| Some(Teams { url: url? }))
    }
}

pub fn body(payload: &Payload) -> serde_json::Value {
    let mut facts = vec![serde_json::json!({"title": "Workspace", "value": payload.workspace.name})];
    if let Some(plan) = &payload.plan {
        facts.push(serde_json::json!({"title": "Plan", "value": plan.name}));
    }
    if let Some(destination) = &payload.destination {
        facts.push(serde_json::json!({"title": "Destination", "value": destination.name}));
    }
    if let Some(database) = &payload.database {
        facts.push(serde_json::json!({"title": "Database", "value": database.name}));
    }
    facts.push(
        serde_json::json!({"title": "At", "value": payload.occurred_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}),
    );
    let color = if payload.kind().is_some_and(|k| k.is_good()) { "Good" } else { "Attention" };
    serde_json::json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": payload.title, "weight": "Bolder", "size": "Medium", "color": color, "wrap": true},
                    {"type": "TextBlock", "text": payload.message, "wrap": true},
                    {"type": "FactSet", "facts": facts},
                ],
            },
        }],
    })
}

#[async_trait]
impl Channel for Teams {
    fn secrets(&self) -> Vec<String> {
        let url = self.url.expose_secret().to_owned();
        // The signature alone too: a workflow's error may quote it.
        let sig = url::Url::parse(&url)
            .ok()
            .and_then(|u| u.query_pairs().find(|(k, _)| k == "sig").map(|(_, v)| v.into_owned()));
        std::iter::once(url).chain(sig).collect()
    }

    fn hosts(&self) -> Vec<(&'static str, String)> {
        url_host("webhook_url", self.url.expose_secret())
    }

    async fn send(&self, transport: &Transport, payload: &Payload) -> Attempt {
        let body = serde_json::to_vec(&body(payload)).unwrap_or_default();
        transport.post_json(self.url.expose_secret(), &body, &[]).await.into_attempt()
    }
}
