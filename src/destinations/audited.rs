//! The audit log's words for what happens to a destination: which fields a save set or changed
//! (names only), what a test found and why it ran.

use crate::audit::domain::{changed_fields, describe_changes};
use crate::audit::{Action, Actor, Entry, Subject};
use crate::connection_test::TestOutcome;
use crate::fields::RawFields;

/// Who asked for a connection test, and why (a save, "Test all", …), for its audit entry.
#[derive(Debug, Clone, Copy)]
pub struct TestedBy<'a> {
    pub actor: &'a Actor,
    pub cause: &'static str,
}

impl<'a> TestedBy<'a> {
    pub fn new(actor: &'a Actor, cause: &'static str) -> TestedBy<'a> {
        TestedBy { actor, cause }
    }

    /// "Test connection" (or "Deep test") on a saved destination.
    pub fn asked(actor: &'a Actor, deep: bool) -> TestedBy<'a> {
        TestedBy { actor, cause: if deep { "Deep test" } else { "Test connection" } }
    }

    pub fn entry(&self, workspace: &str, id: &str, name: &str, deep: bool, outcome: &TestOutcome) -> Entry {
        let action = if deep { Action::DeepTested } else { Action::Tested };
        let verdict = if outcome.ok { "passed" } else { "failed" };
        let detail = format!("{}: {verdict}. {}", self.cause, outcome.summary());
        Entry::new(self.actor, workspace, Subject::destination(id, name), action, detail)
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
