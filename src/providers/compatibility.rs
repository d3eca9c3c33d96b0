//! What a deep test learned about a service beyond "it works": which optional features it
//! supports (checked one by one, each a real request) and whether the key can do more than
//! Devpilot needs. Stored with the destination, shown on its pages, and read back by the
//! provider, which uses only what worked. Providers without a probe have none.

use serde::{Deserialize, Serialize};

/// One feature and how the service answered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub feature: String,
    pub state: CheckState,
    /// What was seen: the service's error, a limit found.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    /// Works as documented.
    Works,
    /// Accepted but not honoured (a checksum not verified, a condition not checked).
    Ignored,
    /// Refused or broken: Devpilot does without it.
    Refused,
}

impl CheckState {
    pub fn label(self) -> &'static str {
        match self {
            CheckState::Works => "works",
            CheckState::Ignored => "ignored",
            CheckState::Refused => "not supported",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CheckState::Works => "works",
            CheckState::Ignored => "ignored",
            CheckState::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Compatibility {
    pub probed_at: Option<chrono::NaiveDateTime>,
    pub checks: Vec<Check>,
    /// The key can do more than Devpilot needs (found without side effects).
    pub warnings: Vec<String>,
    /// What Devpilot uses at this destination because of the checks, in words.
    pub uses: Vec<String>,
    /// The provider's own reading of the checks (S3: [`super::s3::learned::Learned`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<super::s3::learned::Learned>,
}

impl Compatibility {
    pub fn check(&mut self, feature: &str, state: CheckState, detail: impl Into<String>) {
        self.checks.push(Check { feature: feature.to_owned(), state, detail: detail.into() });
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("plain data serializes"))
    }

    /// A stored report; one that no longer reads (an older shape) counts as none.
    pub fn from_json(text: &str) -> Option<Compatibility> {
        serde_json::from_str(text).ok()
    }
}
