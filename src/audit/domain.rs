//! What an audit entry says: who (an [`Actor`]), through what ([`Channel`]), did what
//! ([`Action`]) to what ([`Subject`]), with a short detail that never holds a secret.

use crate::auth::{Account, CurrentUser};
use crate::fields::RawFields;

/// Details longer than this are cut (a provider's message can be long).
const MAX_DETAIL_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Web,
    Api,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Api => "api",
        }
    }
}

/// Who did it: a signed-in person, or a script with their API token (or their JWT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub email: String,
    /// The API token used: its name and shown prefix, e.g. `nightly (dpk_1a2b3c4d)`.
    pub token: Option<String>,
    pub channel: Channel,
}

impl Actor {
    pub fn web(user: &CurrentUser) -> Actor {
        Actor { user_id: user.user_id.clone(), email: user.email.clone(), token: None, channel: Channel::Web }
    }

    /// An operator in the admin area, who may belong to no workspace.
    pub fn operator(account: &Account) -> Actor {
        Actor { user_id: account.user_id.clone(), email: account.email.clone(), token: None, channel: Channel::Web }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    Destination,
    Plan,
    Server,
    /// A host grant an operator gave the workspace (or revoked).
    Grant,
    /// A PostgreSQL database protected with WAL archiving.
    Database,
    /// A cluster restored from a database's archive.
    Clone,
    /// A notification channel.
    Channel,
    /// The workspace itself (its recovery key exported).
    Workspace,
}

impl SubjectKind {
    pub const ALL: [SubjectKind; 8] = [
        SubjectKind::Destination,
        SubjectKind::Plan,
        SubjectKind::Server,
        SubjectKind::Grant,
        SubjectKind::Database,
        SubjectKind::Clone,
        SubjectKind::Channel,
        SubjectKind::Workspace,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Destination => "destination",
            SubjectKind::Plan => "plan",
            SubjectKind::Server => "server",
            SubjectKind::Grant => "grant",
            SubjectKind::Database => "database",
            SubjectKind::Clone => "clone",
            SubjectKind::Channel => "channel",
            SubjectKind::Workspace => "workspace",
        }
    }

    pub fn parse(value: &str) -> Option<SubjectKind> {
        SubjectKind::ALL.into_iter().find(|k| k.as_str() == value)
    }

    pub fn label(self) -> &'static str {
        match self {
            SubjectKind::Destination => "Destination",
            SubjectKind::Plan => "Plan",
            SubjectKind::Server => "Server",
            SubjectKind::Grant => "Host grant",
            SubjectKind::Database => "Database",
            SubjectKind::Clone => "Clone",
            SubjectKind::Channel => "Notification channel",
            SubjectKind::Workspace => "Workspace",
        }
    }
}

/// What was acted on, with its name at the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub kind: SubjectKind,
    pub id: String,
    pub name: String,
}

impl Subject {
    pub fn destination(id: &str, name: &str) -> Subject {
        Subject { kind: SubjectKind::Destination, id: id.to_owned(), name: name.to_owned() }
    }

    pub fn plan(id: &str, name: &str) -> Subject {
        Subject { kind: SubjectKind::Plan, id: id.to_owned(), name: name.to_owned() }
    }

    pub fn server(id: &str, name: &str) -> Subject {
        Subject { kind: SubjectKind::Server, id: id.to_owned(), name: name.to_owned() }
    }

    pub fn grant(id: &str, name: &str) -> Subject {
        Subject { kind: SubjectKind::Grant, id: id.to_owned(), name: name.to_owned() }
    }

    pub fn database(id: &str, name: &str) -> Subject {
        Subject { kind: SubjectKind::Database, id: id.to_owned(), name: name.to_owned() }
    }

    pub fn clone_of(id: &str, name: &str) -> Subject {
        Subject { kind: SubjectKind::Clone, id: id.to_owned(), name: name.to_owned() }
    }

    pub fn channel(id: &str, name: &str) -> Subject {
        Subject { kind: SubjectKind::Channel, id: id.to_owned(), name: name.to_owned() }
    }

    pub fn workspace(id: &str, name: &str) -> Subject {
        Subject { kind: SubjectKind::Workspace, id: id.to_owned(), name: name.to_owned() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Created,
    Updated,
    Tested,
    DeepTested,
    Disabled,
    Enabled,
    MadeDefault,
    Deleted,
    HostKeyAccepted,
    RunStarted,
    /// Data written back from a backup: a restore, an import, a point-in-time restore.
    Restored,
    /// A clone became the protected database.
    Switched,
    Started,
    Stopped,
    /// A secret handed out once: the workspace's recovery key.
    Exported,
}

impl Action {
    pub const ALL: [Action; 15] = [
        Action::Created,
        Action::Updated,
        Action::Tested,
        Action::DeepTested,
        Action::Disabled,
        Action::Enabled,
        Action::MadeDefault,
        Action::Deleted,
        Action::HostKeyAccepted,
        Action::RunStarted,
        Action::Restored,
        Action::Switched,
        Action::Started,
        Action::Stopped,
        Action::Exported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Tested => "tested",
            Action::DeepTested => "deep_tested",
            Action::Disabled => "disabled",
            Action::Enabled => "enabled",
            Action::MadeDefault => "made_default",
            Action::Deleted => "deleted",
            Action::HostKeyAccepted => "host_key_accepted",
            Action::RunStarted => "run_started",
            Action::Restored => "restored",
            Action::Switched => "switched",
            Action::Started => "started",
            Action::Stopped => "stopped",
            Action::Exported => "exported",
        }
    }

    pub fn parse(value: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == value)
    }

    pub fn label(self) -> &'static str {
        match self {
            Action::Created => "Created",
            Action::Updated => "Changed",
            Action::Tested => "Tested",
            Action::DeepTested => "Deep-tested",
            Action::Disabled => "Disabled",
            Action::Enabled => "Enabled",
            Action::MadeDefault => "Made default",
            Action::Deleted => "Deleted",
            Action::HostKeyAccepted => "Accepted a new host key",
            Action::RunStarted => "Started a run",
            Action::Restored => "Restored",
            Action::Switched => "Switched to a clone",
            Action::Started => "Started",
            Action::Stopped => "Stopped",
            Action::Exported => "Exported the recovery key",
        }
    }
}

/// One entry to record: built where the change happens, written in its transaction.
#[derive(Debug, Clone)]
pub struct Entry {
    pub by: Actor,
    pub workspace_id: String,
    pub subject: Subject,
    pub action: Action,
    pub detail: String,
}

impl Entry {
    pub fn new(by: &Actor, workspace: &str, subject: Subject, action: Action, detail: impl Into<String>) -> Entry {
        let detail: String = detail.into();
        let detail = match detail.char_indices().nth(MAX_DETAIL_CHARS) {
            Some((cut, _)) => format!("{}…", &detail[..cut]),
            None => detail,
        };
        Entry { by: by.clone(), workspace_id: workspace.to_owned(), subject, action, detail }
    }
}

/// The names of the fields whose values differ between two versions (values never leave here).
pub fn changed_fields(before: &RawFields, after: &RawFields) -> Vec<String> {
    let mut names: Vec<String> = before
        .iter()
        .map(|(k, _)| k)
        .chain(after.iter().map(|(k, _)| k))
        .filter(|k| before.get(k) != after.get(k))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// "Changed: a, b." or "Nothing changed."
pub fn describe_changes(names: &[String]) -> String {
    if names.is_empty() { "Nothing changed.".into() } else { format!("Changed: {}.", names.join(", ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_named_never_shown() {
        let before = RawFields::from_pairs([("bucket", "a"), ("secret_access_key", "old-secret"), ("region", "x")]);
        let after = RawFields::from_pairs([("bucket", "a"), ("secret_access_key", "new-secret"), ("prefix", "p/")]);
        let names = changed_fields(&before, &after);
        assert_eq!(names, ["prefix", "region", "secret_access_key"]);
        let text = describe_changes(&names);
        assert!(!text.contains("old-secret") && !text.contains("new-secret"), "{text}");
        assert_eq!(describe_changes(&[]), "Nothing changed.");
    }

    #[test]
    fn long_details_are_cut() {
        let by = Actor { user_id: "u".into(), email: "e".into(), token: None, channel: Channel::Web };
        let entry = Entry::new(&by, "w", Subject::plan("p", "P"), Action::Tested, "é".repeat(600));
        assert_eq!(entry.detail.chars().count(), MAX_DETAIL_CHARS + 1);
    }
}
