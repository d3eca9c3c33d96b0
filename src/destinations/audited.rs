//! The audit log's words for what happens to a destination: which fields a save set or changed
//! (names only), what a test found and why it ran.

use super::health::Trigger;
use crate::audit::domain::{changed_fields, describe_changes};
use crate::audit::{Action, Actor, Entry, Subject};
use crate::connection_test::TestOutcome;
use crate::fields::RawFields;

/// Who asked for a connection test (a person or script; none for the schedule), and why, for
/// its audit entry and its place in the health history.
#[derive(Debug, Clone, Copy)]
pub struct TestedBy<'a> {
    pub actor: Option<&'a Actor>,
    pub trigger: Trigger,
}

impl<'a> TestedBy<'a> {
    pub fn new(actor: &'a Actor, trigger: Trigger) -> TestedBy<'a> {
        TestedBy { actor: Some(actor), trigger }
    }

    /// "Test connection" (or "Deep test") on a saved destination.
    pub fn asked(actor: &'a Actor) -> TestedBy<'a> {
        TestedBy::new(actor, Trigger::Manual)
    }

    /// Scheduled re-validation: nobody asked.
    pub fn schedule() -> TestedBy<'static> {
        TestedBy { actor: None, trigger: Trigger::Schedule }
    }

    /// The audit entry of a test someone asked for (the schedule's tests are in the health
    /// history only).
    pub fn entry(&self, workspace: &str, id: &str, name: &str, deep: bool, outcome: &TestOutcome) -> Option<Entry> {
        let actor = self.actor?;
        let action = if deep { Action::DeepTested } else { Action::Tested };
        let verdict = if outcome.ok { "passed" } else { "failed" };
        let detail = format!("{}: {verdict}. {}", self.trigger.cause(deep), outcome.summary());
        Some(Entry::new(actor, workspace, Subject::destination(id, name), action, detail))
    }
}

/// All the fields of a stored config, settings and secrets together (to compare two versions).
pub fn all_fields(settings: &RawFields, secrets: &RawFields, server: Option<&str>) -> RawFields {
    let mut all = settings.clone();
    all.fill_from(secrets);
    if let Some(server) = server {
        all.set("server_id", server);
    }
    all
}

/// "Amazon S3, with access_key_id, bucket, …": the type and the names of the fields given.
pub fn created(type_label: &str, fields: &RawFields) -> String {
    let names: Vec<&str> = fields.iter().map(|(k, _)| k).collect();
    if names.is_empty() { format!("{type_label}.") } else { format!("{type_label}, with {}.", names.join(", ")) }
}

/// The names of what an edit changed: the name, the type, then each field.
pub fn updated(name_changed: bool, kinds: (&str, &str), before: &RawFields, after: &RawFields) -> String {
    let mut names = Vec::new();
    if name_changed {
        names.push("name".to_owned());
    }
    if kinds.0 != kinds.1 {
        names.push(format!("type ({} → {})", kinds.0, kinds.1));
    }
    names.extend(changed_fields(before, after));
    describe_changes(&names)
}
