//! The outcome of a connection test, shared by destinations and managed servers: the steps a
//! test passed and the one that failed, the provider's message and a hint, and the deadline
//! every test runs under.

use crate::providers::compatibility::Compatibility;
use crate::providers::{ErrorKind, ProviderError, Step};
use chrono::{NaiveDateTime, Utc};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Passed,
    Failed,
    NotRun,
}

#[derive(Debug, Clone)]
pub struct StepResult {
    pub label: &'static str,
    pub state: StepState,
}

impl StepResult {
    pub fn mark(&self) -> &'static str {
        match self.state {
            StepState::Passed => "✓",
            StepState::Failed => "✗",
            StepState::NotRun => "·",
        }
    }

    pub fn state_name(&self) -> &'static str {
        match self.state {
            StepState::Passed => "passed",
            StepState::Failed => "failed",
            StepState::NotRun => "not-run",
        }
    }
}

/// A finished test: the steps it passed and the one that failed, the provider's message, and a
/// hint for the common failures.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    pub ok: bool,
    pub message: String,
    pub hint: Option<&'static str>,
    pub steps: Vec<StepResult>,
    pub at: NaiveDateTime,
    /// A deep test's compatibility probe (S3): what the service supports, what the key can do.
    pub compatibility: Option<Compatibility>,
}

impl TestOutcome {
    pub fn from_result(plan: &[Step], result: Result<String, ProviderError>) -> TestOutcome {
        let at = Utc::now().naive_utc();
        let step = |label: &'static str, state| StepResult { label, state };
        match result {
            Ok(message) => TestOutcome {
                ok: true,
                message,
                hint: None,
                steps: plan.iter().map(|s| step(s.label(), StepState::Passed)).collect(),
                at,
                compatibility: None,
            },
            Err(e) => {
                let failed = e.failed_step(plan);
                let at_failed = plan.iter().position(|s| *s == failed).unwrap_or(0);
                let steps = plan
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let state = match i.cmp(&at_failed) {
                            std::cmp::Ordering::Less => StepState::Passed,
                            std::cmp::Ordering::Equal => StepState::Failed,
                            std::cmp::Ordering::Greater => StepState::NotRun,
                        };
                        step(s.label(), state)
                    })
                    .collect();
                TestOutcome { ok: false, hint: e.hint(), message: e.to_string(), steps, at, compatibility: None }
            }
        }
    }

    /// A test that failed before it could connect, for a reason of Devpilot's own (unreadable
    /// credentials, a test that could not run).
    pub fn not_connected(reason: String) -> TestOutcome {
        TestOutcome::from_result(&[Step::Connect], Err(ProviderError::new(ErrorKind::Provider, reason)))
    }

    /// The line stored as the destination's last test message.
    pub fn summary(&self) -> String {
        match self.hint {
            Some(hint) => format!("{} {hint}", self.message),
            None => self.message.clone(),
        }
    }
}

/// Runs a test, or fails it as timed out once `deadline` has passed.
pub async fn within_deadline<T>(
    deadline: Duration,
    run: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    tokio::time::timeout(deadline, run).await.unwrap_or_else(|_| Err(timed_out(deadline)))
}

pub fn timed_out(deadline: Duration) -> ProviderError {
    ProviderError::new(ErrorKind::Timeout, format!("The test did not finish within {} s.", deadline.as_secs()))
}
