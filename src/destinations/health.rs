//! Destination health over time: every connection test of a saved destination is kept (its
//! steps with their durations, its error, who or what ran it, the status before and after), in
//! one place ([`store_result`]); the list shows each destination's last results as a strip, its
//! page and the API the whole history. Scheduled re-validation (`revalidation.rs`) adds to it.

use super::audited::TestedBy;
use super::domain::Status;
use super::health_store::{self, TestRow};
use super::service::{DestinationError, DestinationService};
use super::store;
use crate::connection_test::{StepState, TestOutcome};
use crate::db::DbConn;
use crate::notifications::emit as notify;
use chrono::NaiveDateTime;
use std::collections::HashMap;

/// What (or who) ran a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// "Test connection" or "Deep test", on a page or through the API.
    Manual,
    /// The test that follows a save.
    Save,
    /// The test that settles a re-enabled destination.
    Enable,
    /// The test after accepting an SFTP server's new host key.
    HostKey,
    /// The test after Google's consent flow connected a Google Drive destination.
    GoogleConsent,
    /// "Test all".
    TestAll,
    /// Scheduled re-validation (`DEVPILOT_REVALIDATE_EVERY`).
    Schedule,
}

impl Trigger {
    pub const ALL: [Trigger; 7] = [
        Trigger::Manual,
        Trigger::Save,
        Trigger::Enable,
        Trigger::HostKey,
        Trigger::GoogleConsent,
        Trigger::TestAll,
        Trigger::Schedule,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Save => "save",
            Trigger::Enable => "enable",
            Trigger::HostKey => "host-key",
            Trigger::GoogleConsent => "google-consent",
            Trigger::TestAll => "test-all",
            Trigger::Schedule => "schedule",
        }
    }

    /// Unknown text reads as Manual (a row written by a newer version).
    pub fn from_db(value: &str) -> Trigger {
        Trigger::ALL.into_iter().find(|t| t.as_str() == value).unwrap_or(Trigger::Manual)
    }

    /// Why the test ran, as the audit log and the history say it.
    pub fn cause(self, deep: bool) -> &'static str {
        match self {
            Trigger::Manual if deep => "Deep test",
            Trigger::Manual => "Test connection",
            Trigger::Save => "After saving",
            Trigger::Enable => "After enabling",
            Trigger::HostKey => "After accepting the host key",
            Trigger::GoogleConsent => "After connecting Google Drive",
            Trigger::TestAll => "Test all",
            Trigger::Schedule => "Scheduled re-validation",
        }
    }
}

/// What a finished test means for whoever is told about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthEvent {
    /// A test someone (or a save, "Test all", …) ran failed.
    TestFailed,
    /// Scheduled re-validation found a destination that was not failing failing now.
    RevalidationFailed,
    /// A destination that was failing passed.
    Recovered,
}

/// A test of a saved destination that has just been stored: previous status → new status, and
/// what ran it. Built in the transaction that stores it (see [`store_result`]).
#[derive(Debug, Clone)]
pub struct TestFinished {
    pub workspace_id: String,
    pub destination_id: String,
    pub destination_name: String,
    pub trigger: Trigger,
    pub deep: bool,
    pub before: Status,
    pub after: Status,
    pub ok: bool,
    /// The provider's message and hint (the list's "last test" line; no secret in it).
    pub message: String,
    pub error_class: Option<&'static str>,
    pub at: NaiveDateTime,
}

impl TestFinished {
    /// What to tell about this test, if anything.
    pub fn event(&self) -> Option<HealthEvent> {
        match (self.ok, self.trigger) {
            (false, Trigger::Schedule) if self.before != Status::Failed => Some(HealthEvent::RevalidationFailed),
            (false, Trigger::Schedule) => None,
            (false, _) => Some(HealthEvent::TestFailed),
            (true, _) if self.before == Status::Failed => Some(HealthEvent::Recovered),
            (true, _) => None,
        }
    }
}

/// The one place a finished test of a saved destination is stored, inside the caller's write
/// transaction: the destination's status and last test, then the test in the health history
/// (pruned to the newest kept). None when the destination was deleted meanwhile.
///
/// Whatever must follow a stored test in the same transaction (a notification in an outbox)
/// goes here, with `&finished`.
pub(super) fn store_result(
    conn: &mut DbConn,
    workspace: &str,
    id: &str,
    name: &str,
    deep: bool,
    outcome: &TestOutcome,
    by: &TestedBy<'_>,
) -> diesel::QueryResult<Option<TestFinished>> {
    let Some((status, before_test)) = health_store::status_of(conn, workspace, id)? else { return Ok(None) };
    let before = match status.as_str() {
        "testing" => Status::from_db(before_test.as_deref().unwrap_or("failed")),
        other => Status::from_db(other),
    };
    if !store::finish_test(conn, workspace, id, outcome.ok, &outcome.summary(), outcome.at)? {
        return Ok(None);
    }
    // What finish_test wrote: a disabled destination stays disabled, any other passes or fails.
    let after = match (status.as_str(), outcome.ok) {
        ("disabled", _) => Status::Disabled,
        (_, true) => Status::Active,
        (_, false) => Status::Failed,
    };
    let finished = TestFinished {
        workspace_id: workspace.to_owned(),
        destination_id: id.to_owned(),
        destination_name: name.to_owned(),
        trigger: by.trigger,
        deep,
        before,
        after,
        ok: outcome.ok,
        message: outcome.summary(),
        error_class: outcome.error_class,
        at: outcome.at,
    };
    health_store::insert(conn, &history_row(&finished, outcome, by))?;
    match finished.event() {
        Some(HealthEvent::TestFailed) => {
            notify::destination_test_failed(conn, workspace, id, name, false, &finished.message)?
        }
        Some(HealthEvent::RevalidationFailed) => {
            tracing::warn!(destination = %id, error = %finished.message, "scheduled re-validation failed");
            notify::destination_test_failed(conn, workspace, id, name, true, &finished.message)?;
        }
        Some(HealthEvent::Recovered) | None => {}
    }
    Ok(Some(finished))
}

fn history_row(finished: &TestFinished, outcome: &TestOutcome, by: &TestedBy<'_>) -> TestRow {
    let took = chrono::Duration::from_std(outcome.took).unwrap_or_default();
    let steps: Vec<StepRecord> = outcome
        .steps
        .iter()
        .map(|s| StepRecord {
            name: s.label.to_owned(),
            status: s.state_name().to_owned(),
            duration_ms: s.took.map(|d| d.as_millis() as u64),
        })
        .collect();
    TestRow {
        id: uuid::Uuid::new_v4().to_string(),
        workspace_id: finished.workspace_id.clone(),
        destination_id: finished.destination_id.clone(),
        started_at: outcome.at - took,
        finished_at: outcome.at,
        duration_ms: took.num_milliseconds(),
        status: if outcome.ok { "passed" } else { "failed" }.to_owned(),
        deep: finished.deep,
        steps: serde_json::to_string(&steps).unwrap_or_else(|_| "[]".into()),
        error_class: outcome.error_class.map(str::to_owned),
        error_message: (!outcome.ok).then(|| finished.message.clone()),
        trigger_kind: by.trigger.as_str().to_owned(),
        triggered_by: by.actor.map(|a| a.user_id.clone()),
        triggered_token: by.actor.and_then(|a| a.token.clone()),
        status_before: finished.before.as_str().to_owned(),
        status_after: finished.after.as_str().to_owned(),
    }
}

/// One step of a stored test.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    pub name: String,
    /// passed, failed or not-run.
    pub status: String,
    /// None: not run, or timed together with the next step (one round trip).
    pub duration_ms: Option<u64>,
}

impl StepRecord {
    pub fn state(&self) -> StepState {
        match self.status.as_str() {
            "passed" => StepState::Passed,
            "failed" => StepState::Failed,
            _ => StepState::NotRun,
        }
    }
}

/// One test of the history, as pages and the API show it.
#[derive(Debug, Clone)]
pub struct HealthTest {
    pub id: String,
    pub started_at: NaiveDateTime,
    pub finished_at: NaiveDateTime,
    pub duration_ms: i64,
    pub ok: bool,
    pub deep: bool,
    pub steps: Vec<StepRecord>,
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    pub trigger: Trigger,
    /// The user who ran it (none for the schedule).
    pub triggered_by: Option<String>,
    /// The API token it ran with: its name and shown prefix.
    pub triggered_token: Option<String>,
    pub status_before: Status,
    pub status_after: Status,
}

impl From<TestRow> for HealthTest {
    fn from(r: TestRow) -> HealthTest {
        HealthTest {
            steps: serde_json::from_str(&r.steps).unwrap_or_default(),
            id: r.id,
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_ms: r.duration_ms,
            ok: r.status == "passed",
            deep: r.deep,
            error_class: r.error_class,
            error_message: r.error_message,
            trigger: Trigger::from_db(&r.trigger_kind),
            triggered_by: r.triggered_by,
            triggered_token: r.triggered_token,
            status_before: Status::from_db(&r.status_before),
            status_after: Status::from_db(&r.status_after),
        }
    }
}

/// How many results the list's strip shows.
pub const STRIP_LENGTH: i64 = 30;

impl DestinationService {
    /// A page of a destination's tests, newest first, and how many there are; NotFound for a
    /// destination not in the workspace.
    pub async fn test_history(
        &self,
        workspace: &str,
        id: &str,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<HealthTest>, i64), DestinationError> {
        let (ws, id) = (workspace.to_owned(), id.to_owned());
        let (rows, total) = self
            .db
            .run(move |c| {
                store::find(c, &ws, &id)?;
                let rows = health_store::page(c, &ws, &id, per_page, (page.max(1) - 1) * per_page)?;
                Ok((rows, health_store::count(c, &ws, &id)?))
            })
            .await?;
        Ok((rows.into_iter().map(HealthTest::from).collect(), total))
    }

    /// The last [`STRIP_LENGTH`] tests of each of these destinations of the workspace, newest
    /// first.
    pub async fn recent_tests(
        &self,
        workspace: &str,
        ids: Vec<String>,
    ) -> Result<HashMap<String, Vec<HealthTest>>, DestinationError> {
        let ws = workspace.to_owned();
        let found = self.db.run(move |c| health_store::recent(c, &ws, &ids, STRIP_LENGTH)).await?;
        Ok(found.into_iter().map(|(id, rows)| (id, rows.into_iter().map(HealthTest::from).collect())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(ok: bool, trigger: Trigger, before: Status) -> TestFinished {
        TestFinished {
            workspace_id: "w".into(),
            destination_id: "d".into(),
            destination_name: "D".into(),
            trigger,
            deep: false,
            before,
            after: if ok { Status::Active } else { Status::Failed },
            ok,
            message: String::new(),
            error_class: None,
            at: chrono::Utc::now().naive_utc(),
        }
    }

    #[test]
    fn events_follow_the_change() {
        assert_eq!(finished(false, Trigger::Schedule, Status::Active).event(), Some(HealthEvent::RevalidationFailed));
        assert_eq!(finished(false, Trigger::Schedule, Status::Failed).event(), None);
        assert_eq!(finished(false, Trigger::Manual, Status::Failed).event(), Some(HealthEvent::TestFailed));
        assert_eq!(finished(true, Trigger::Schedule, Status::Failed).event(), Some(HealthEvent::Recovered));
        assert_eq!(finished(true, Trigger::Manual, Status::Active).event(), None);
    }

    #[test]
    fn triggers_round_trip() {
        for t in Trigger::ALL {
            assert_eq!(Trigger::from_db(t.as_str()), t);
        }
    }
}
