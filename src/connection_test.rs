//! The outcome of a connection test, shared by destinations and managed servers: the steps a
//! test passed and the one that failed, the provider's message and a hint, and the deadline
//! every test runs under.

use crate::providers::compatibility::Compatibility;
use crate::providers::{ErrorKind, ProviderError, Step};
use chrono::{NaiveDateTime, Utc};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// How long the step took, where its end was seen ([`StepClock`]); None for a step not run,
    /// or one inside the same round trip as the next timed step.
    pub took: Option<Duration>,
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
    /// The failure's class (`unreachable`, `timeout`, `authentication`, `permission`,
    /// `not-found`, `provider`); None for a test that passed.
    pub error_class: Option<&'static str>,
    /// How long the whole test took (zero where it was not timed).
    pub took: Duration,
}

impl TestOutcome {
    pub fn from_result(plan: &[Step], result: Result<String, ProviderError>) -> TestOutcome {
        let at = Utc::now().naive_utc();
        let step = |label: &'static str, state| StepResult { label, state, took: None };
        match result {
            Ok(message) => TestOutcome {
                ok: true,
                message,
                hint: None,
                steps: plan.iter().map(|s| step(s.label(), StepState::Passed)).collect(),
                at,
                compatibility: None,
                error_class: None,
                took: Duration::ZERO,
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
                TestOutcome {
                    ok: false,
                    hint: e.hint(),
                    message: e.to_string(),
                    steps,
                    at,
                    compatibility: None,
                    error_class: Some(error_class(e.kind)),
                    took: Duration::ZERO,
                }
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

/// The name a failure's kind is stored and shown under.
pub fn error_class(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unreachable => "unreachable",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Authentication => "authentication",
        ErrorKind::Permission => "permission",
        ErrorKind::NotFound => "not-found",
        ErrorKind::Provider => "provider",
    }
}

/// Times a test's steps where their ends can be seen: a provider's own round trip ends at its
/// last step (the steps before it happen inside the same requests), a deep test's probe ends
/// each of its steps. [`apply`](StepClock::apply) writes the durations into the outcome.
pub struct StepClock {
    started: Instant,
    marks: Mutex<Vec<(&'static str, Instant)>>,
}

impl Default for StepClock {
    fn default() -> Self {
        StepClock { started: Instant::now(), marks: Mutex::new(Vec::new()) }
    }
}

impl StepClock {
    /// Notes that `step` has just finished.
    pub fn reached(&self, step: Step) {
        self.marks.lock().unwrap_or_else(|e| e.into_inner()).push((step.label(), Instant::now()));
    }

    /// Sets each step's duration (from the previous timed end to its own) and the whole test's.
    pub fn apply(&self, outcome: &mut TestOutcome) {
        let ended = Instant::now();
        let marks = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        let mut previous = self.started;
        for step in &mut outcome.steps {
            step.took = match step.state {
                StepState::Passed => {
                    marks.iter().rev().find(|(label, at)| *label == step.label && *at >= previous).map(|(_, at)| {
                        let took = at.duration_since(previous);
                        previous = *at;
                        took
                    })
                }
                StepState::Failed => Some(ended.duration_since(previous)),
                StepState::NotRun => None,
            };
        }
        outcome.took = ended.duration_since(self.started);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_timed_from_the_previous_end() {
        let plan = [Step::Connect, Step::Authenticate, Step::List, Step::Write];
        let clock = StepClock::default();
        clock.reached(Step::List);
        let failed = ProviderError::new(ErrorKind::Provider, "no").at(Step::Write);
        let mut outcome = TestOutcome::from_result(&plan, Err(failed));
        clock.apply(&mut outcome);
        let took: Vec<bool> = outcome.steps.iter().map(|s| s.took.is_some()).collect();
        // Connect and authenticate happen inside the list's round trip; write failed, timed too.
        assert_eq!(took, [false, false, true, true]);
        assert_eq!(outcome.error_class, Some("provider"));
        assert!(outcome.took >= outcome.steps[2].took.unwrap_or_default());
    }
}
