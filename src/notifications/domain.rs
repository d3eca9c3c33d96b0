//! What notifications are about (events and their kinds), the body every channel renders from
//! (also the generic webhook's JSON), and a channel as entered: name, kind, fields, events.

use super::channels::ChannelKind;
use crate::fields::{FieldErrors, FieldReader, RawFields};
use chrono::{DateTime, Utc};

/// Something a workspace may want to be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    RunFailed,
    RunInterrupted,
    RunSucceeded,
    /// Some copies of a run failed, others hold the artifact.
    RunPartial,
    /// The first success after a failure (or an interruption).
    Recovered,
    PlanStale,
    DestinationTestFailed,
    RevalidationFailed,
    RetentionFailed,
    /// WAL archiving of a protected database is lagging or broken.
    WalArchiving,
    /// A restore drill of a plan's newest backup failed.
    DrillFailed,
    /// The "Send test" button: goes to one channel, whatever it chose.
    Test,
}

impl EventKind {
    /// Every kind a channel may choose, in the order the form lists them.
    pub const CHOOSABLE: [EventKind; 11] = [
        EventKind::RunFailed,
        EventKind::RunPartial,
        EventKind::RunInterrupted,
        EventKind::RunSucceeded,
        EventKind::Recovered,
        EventKind::PlanStale,
        EventKind::DestinationTestFailed,
        EventKind::RevalidationFailed,
        EventKind::RetentionFailed,
        EventKind::WalArchiving,
        EventKind::DrillFailed,
    ];

    /// The `type` of the webhook body.
    pub fn code(self) -> &'static str {
        match self {
            EventKind::RunFailed => "run.failed",
            EventKind::RunInterrupted => "run.interrupted",
            EventKind::RunSucceeded => "run.succeeded",
            EventKind::RunPartial => "run.partial",
            EventKind::Recovered => "run.recovered",
            EventKind::PlanStale => "plan.stale",
            EventKind::DestinationTestFailed => "destination.test_failed",
            EventKind::RevalidationFailed => "destination.revalidation_failed",
            EventKind::RetentionFailed => "retention.failed",
            EventKind::WalArchiving => "wal.archiving_failed",
            EventKind::DrillFailed => "drill.failed",
            EventKind::Test => "test",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            EventKind::RunFailed => "Run failed",
            EventKind::RunInterrupted => "Run interrupted",
            EventKind::RunSucceeded => "Run succeeded",
            EventKind::RunPartial => "Run partially succeeded (some copies failed)",
            EventKind::Recovered => "Recovered (first success after a failure)",
            EventKind::PlanStale => "Plan stale (no success within two scheduled times)",
            EventKind::DestinationTestFailed => "Destination test failed",
            EventKind::RevalidationFailed => "Scheduled re-validation failed",
            EventKind::RetentionFailed => "Retention could not delete",
            EventKind::WalArchiving => "WAL archiving lagging or broken",
            EventKind::DrillFailed => "Restore drill failed",
            EventKind::Test => "Test notification",
        }
    }

    /// Whether a new channel has it ticked: all but the noisy "run succeeded".
    pub fn on_by_default(self) -> bool {
        !matches!(self, EventKind::RunSucceeded | EventKind::Test)
    }

    pub fn parse(code: &str) -> Option<EventKind> {
        EventKind::CHOOSABLE.into_iter().chain([EventKind::Test]).find(|k| k.code() == code)
    }

    /// Good news: channels that colour their messages show it green.
    pub fn is_good(self) -> bool {
        matches!(self, EventKind::RunSucceeded | EventKind::Recovered | EventKind::Test)
    }
}

/// A chosen set of event kinds, stored comma-separated.
pub fn events_to_db(events: &[EventKind]) -> String {
    events.iter().map(|e| e.code()).collect::<Vec<_>>().join(",")
}

pub fn events_from_db(text: &str) -> Vec<EventKind> {
    text.split(',').filter_map(EventKind::parse).collect()
}

/// Something an event is about, by id and name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// The run an event is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RunInfo {
    pub id: String,
    /// `succeeded`, `failed` or `interrupted`.
    pub status: String,
    pub error: Option<String>,
    /// Bytes the artifact holds (0 without one).
    pub bytes: i64,
}

/// An event as every channel receives it, and exactly the generic webhook's JSON body.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Payload {
    /// The event's id: the same in every delivery of it (retries included), so a receiver can
    /// drop repeats.
    #[schema(format = "uuid")]
    pub id: String,
    /// `run.failed`, `run.interrupted`, `run.succeeded`, `run.recovered`, `plan.stale`,
    /// `destination.test_failed`, `destination.revalidation_failed`, `retention.failed`,
    /// `wal.archiving_failed` or `test`.
    #[serde(rename = "type")]
    #[schema(example = "run.failed")]
    pub kind: String,
    /// One line for a person, e.g. "Backup failed: Nightly".
    pub title: String,
    /// What happened, in a sentence or two (the error, when there is one).
    pub message: String,
    pub occurred_at: DateTime<Utc>,
    pub workspace: Named,
    pub plan: Option<Named>,
    pub run: Option<RunInfo>,
    pub destination: Option<Named>,
    pub database: Option<Named>,
}

impl Payload {
    pub fn kind(&self) -> Option<EventKind> {
        EventKind::parse(&self.kind)
    }

    /// Title and message as one plain text (mail bodies, chat messages).
    pub fn text(&self) -> String {
        let mut lines = vec![self.title.clone(), String::new(), self.message.clone(), String::new()];
        lines.push(format!("Workspace: {}", self.workspace.name));
        if let Some(plan) = &self.plan {
            lines.push(format!("Plan: {}", plan.name));
        }
        if let Some(run) = &self.run {
            lines.push(format!("Run: {} ({})", run.id, run.status));
        }
        if let Some(destination) = &self.destination {
            lines.push(format!("Destination: {}", destination.name));
        }
        if let Some(database) = &self.database {
            lines.push(format!("Database: {}", database.name));
        }
        lines.push(format!("At: {}", self.occurred_at.format("%Y-%m-%d %H:%M:%S UTC")));
        lines.join("\n")
    }
}

/// A channel as entered: checked name and kind, its fields by the kind's spec, its events.
#[derive(Debug)]
pub struct ChannelInput {
    pub name: String,
    pub kind: String,
    pub fields: RawFields,
    pub events: Vec<EventKind>,
    pub enabled: bool,
}

/// A channel's name and kind, checked (the fields are the kind's to check).
pub fn check_name_and_kind(input: &ChannelInput) -> Result<ChannelKind, FieldErrors> {
    let mut errors = FieldErrors::new();
    if let Err(m) = crate::fields::rules::name(&input.name) {
        errors.add("name", m);
    }
    let kind = ChannelKind::parse(&input.kind);
    if kind.is_none() {
        let kinds: Vec<&str> = ChannelKind::ALL.iter().map(|k| k.code()).collect();
        errors.add("kind", format!("Kind must be one of: {}.", kinds.join(", ")));
    }
    match (kind, errors.is_empty()) {
        (Some(kind), true) => Ok(kind),
        _ => Err(errors),
    }
}

/// A URL a channel posts to: http(s), a host, at most 2000 characters.
pub fn channel_url(label: &str, value: &str) -> Result<(), String> {
    if value.len() > 2000 {
        return Err(format!("{label} must be at most 2000 characters."));
    }
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            if !url.username().is_empty() || url.password().is_some() {
                return Err(format!("{label} must not carry a login (user:password@)."));
            }
            Ok(())
        }
        Ok(_) => Err(format!("{label} must be an http:// or https:// URL with a host.")),
        Err(e) => Err(format!("{label} is not a valid URL ({e}).")),
    }
}

/// The host of a URL, for showing where a secret-bearing URL points without its secret.
pub fn host_of(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| "?".into())
}

/// Reads a field set through a kind's spec (the kinds' parsers share this start).
pub fn reader<'a>(fields: &'a RawFields, kind: ChannelKind) -> FieldReader<'a> {
    FieldReader::new(fields, kind.fields())
}

/// Replaces every secret in `text` (and its URL-encoded form) with `[redacted]`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    let mut all: Vec<String> = Vec::new();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        all.push(s.clone());
        let encoded = url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        if encoded != *s {
            all.push(encoded);
        }
        let path_encoded = percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
        if path_encoded != *s {
            all.push(path_encoded);
        }
    }
    // Longest first, so a secret that contains another is replaced whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in all {
        out = out.replace(&s, "[redacted]");
    }
    out
}

/// At most `max` characters, with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_plain_and_encoded() {
        let secrets = vec!["123:ABC/def".to_owned()];
        let text = "GET https://api.telegram.org/bot123:ABC/def/sendMessage and 123%3AABC%2Fdef";
        let out = redact(text, &secrets);
        assert!(!out.contains("ABC"), "{out}");
        assert_eq!(out.matches("[redacted]").count(), 2, "{out}");
    }

    #[test]
    fn events_round_trip_and_default_to_all_but_success() {
        let all = EventKind::CHOOSABLE.to_vec();
        assert_eq!(events_from_db(&events_to_db(&all)), all);
        let defaults: Vec<EventKind> = all.iter().copied().filter(|k| k.on_by_default()).collect();
        assert_eq!(defaults.len(), all.len() - 1, "every kind but run.succeeded");
        assert!(!defaults.contains(&EventKind::RunSucceeded));
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ab", 2), "ab");
    }
}
