//! Testing destinations: "Test credentials" on unsaved values, "Test connection" on a saved
//! one, and "Test all". A test is the provider's cheap real round trip under the deadline,
//! reported as the steps it passed and the one that failed; a saved destination's status and
//! last test are recorded with it.
//!
//! "Test all" runs the tests concurrently, SFTP destinations of one login sharing its
//! connection ([`ProviderContext::for_batch`]), and records results as they come in as few
//! write transactions as keep up (one writer, gathering what arrives within a few
//! milliseconds), so tests never queue behind each other for the database's write lock.

use super::audited::TestedBy;
use super::connecting::{HostKeyPin, pinned_host_key};
use super::health::{self, TestFinished, Trigger};
use super::saving::parse_config;
use super::service::{DestinationError, DestinationInput, DestinationService, kind_of};
use super::store;
use crate::audit::{self, Actor};
use crate::connection_test::{StepClock, TestOutcome, within_deadline};
use crate::db::write_transaction;
use crate::providers::ProviderConfig;
use crate::providers::compatibility::{CheckState, Compatibility};
use crate::providers::{self, Provider, ProviderContext, ProviderError, Step};
use chrono::Utc;
use futures::StreamExt;
use std::collections::HashMap;
use tokio::sync::mpsc;

/// How many tests "Test all" runs at once: enough that a list of hundreds takes about as long as
/// its slowest test, few enough not to swamp a provider (SFTP destinations of one login share
/// one connection, so an SSH server's `MaxStartups` is not the limit).
pub const TEST_ALL_CONCURRENCY: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestAllSummary {
    pub passed: usize,
    pub failed: usize,
}

/// How long "Test all"'s writer waits for more results before it records what it has: short
/// enough that a row shows its result at once, long enough that a burst of results is one
/// transaction rather than one each.
const GATHER: std::time::Duration = std::time::Duration::from_millis(10);

/// A test that has run, to be recorded with the host key it pins (an SFTP destination's first
/// good test).
struct Tested {
    id: String,
    deep: bool,
    outcome: TestOutcome,
    pin: Option<(HostKeyPin, String)>,
}

impl DestinationService {
    /// "Test credentials": runs on submitted values and stores nothing. On an edit form,
    /// `existing` names the destination whose stored secrets fill blank secret fields.
    pub async fn test_credentials(
        &self,
        workspace: &str,
        existing: Option<&str>,
        input: &DestinationInput,
        deep: bool,
    ) -> Result<TestOutcome, DestinationError> {
        let stored = match existing {
            Some(id) => {
                let row = self.row(workspace, id).await?;
                Some((kind_of(&row)?, self.stored_fields(&row)?))
            }
            None => None,
        };
        let parsed = parse_config(input, stored.as_ref().map(|(k, f)| (*k, f))).map_err(DestinationError::Invalid)?;
        self.check_addresses(&parsed.config).await?;
        let (config, _) = self.prepare(workspace, existing, parsed.config).await?;
        let ctx = self.context(workspace).await?;
        // The stored refresh token, used here, rotates: the saved destination keeps the new one.
        // A token typed into the form is the form's own until it is saved.
        let typed_token = input.fields.get("refresh_token").is_some_and(|t| !t.is_empty());
        let ctx = match existing {
            Some(id) if !typed_token => self.keeping_tokens(ctx, workspace, id),
            _ => ctx,
        };
        Ok(provider_test(&config, deep, &ctx).await.0)
    }

    /// "Test connection": Testing while it runs, then Active (with the time) or Failed.
    pub async fn test_saved(
        &self,
        workspace: &str,
        id: &str,
        deep: bool,
        by: &TestedBy<'_>,
    ) -> Result<TestOutcome, DestinationError> {
        let (ws, rid, owner) = (workspace.to_owned(), id.to_owned(), self.instance.to_string());
        self.db.write(move |c| store::begin_test(c, &ws, &rid, &owner)).await?;
        let config = self.row(workspace, id).await.and_then(|row| self.config_of(&row));
        self.run_test(workspace, id, config, deep, by).await
    }

    /// "Test all", first half: marks every destination that is not disabled as Testing at once
    /// (so the list shows them all waiting) and returns their ids for [`test_marked`](Self::test_marked).
    pub async fn begin_test_all(&self, workspace: &str) -> Result<Vec<String>, DestinationError> {
        let (ws, owner) = (workspace.to_owned(), self.instance.to_string());
        Ok(self.db.write(move |c| store::begin_test_all(c, &ws, &owner)).await?)
    }

    /// "Test all", second half: tests the destinations marked, at most [`TEST_ALL_CONCURRENCY`]
    /// at once, each recorded as soon as the writer takes it; returns how many passed and how
    /// many failed.
    pub async fn test_marked(&self, workspace: &str, ids: Vec<String>, by: &Actor) -> TestAllSummary {
        let (ws, wanted) = (workspace.to_owned(), ids.clone());
        let rows = match self.db.run(move |c| store::find_many(c, &ws, &wanted)).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "reading the destinations to test");
                return TestAllSummary { passed: 0, failed: ids.len() };
            }
        };
        let batch = match self.context(workspace).await {
            Ok(context) => context.for_batch(),
            Err(e) => {
                tracing::error!(error = %e, "reading the workspace's host folders");
                return TestAllSummary { passed: 0, failed: ids.len() };
            }
        };
        let (results, arrived) = mpsc::unbounded_channel();
        let tests = async move {
            let passed = futures::stream::iter(rows)
                .map(|row| {
                    let (results, batch) = (&results, &batch);
                    async move {
                        let config = self.config_of(&row);
                        let tested = match self.evaluate(workspace, &row.id, config, false, batch).await {
                            Ok(tested) => tested,
                            // Recorded all the same, so the row does not stay Testing.
                            Err(e) => {
                                tracing::warn!(destination = %row.id, error = %e, "testing a destination failed");
                                let outcome = TestOutcome::not_connected(format!("The test could not run: {e}."));
                                Tested { id: row.id.clone(), deep: false, outcome, pin: None }
                            }
                        };
                        let ok = tested.outcome.ok;
                        let _ = results.send(tested);
                        ok
                    }
                })
                .buffer_unordered(TEST_ALL_CONCURRENCY)
                .collect::<Vec<bool>>()
                .await;
            // The writer stops once every result has been taken.
            drop(results);
            passed
        };
        let by = TestedBy::new(by, Trigger::TestAll);
        let (outcomes, ()) = futures::join!(tests, self.record_as_they_come(workspace, arrived, &by));
        let passed = outcomes.iter().filter(|ok| **ok).count();
        TestAllSummary { passed, failed: outcomes.len() - passed }
    }

    /// Tests a saved destination's config and records the outcome.
    pub(super) async fn run_test(
        &self,
        workspace: &str,
        id: &str,
        config: Result<ProviderConfig, DestinationError>,
        deep: bool,
        by: &TestedBy<'_>,
    ) -> Result<TestOutcome, DestinationError> {
        let tested = self.evaluate(workspace, id, config, deep, &self.context(workspace).await?).await?;
        let outcome = tested.outcome.clone();
        self.record(workspace, vec![tested], by).await?;
        Ok(outcome)
    }

    /// Runs the test of a saved destination without recording it. Unreadable credentials are
    /// this destination's failure, shown like any other.
    async fn evaluate(
        &self,
        workspace: &str,
        id: &str,
        config: Result<ProviderConfig, DestinationError>,
        deep: bool,
        ctx: &ProviderContext,
    ) -> Result<Tested, DestinationError> {
        let prepared = match config {
            Ok(config) => self.prepare(workspace, Some(id), config).await,
            Err(e) => Err(e),
        };
        let (config, pin) = match prepared {
            Ok(prepared) => prepared,
            Err(DestinationError::Credentials(reason)) => {
                let outcome = TestOutcome::not_connected(format!(
                    "{reason}. Edit the destination and enter its credentials again."
                ));
                return Ok(Tested { id: id.to_owned(), deep, outcome, pin: None });
            }
            Err(e) => return Err(e),
        };
        let ctx = self.keeping_tokens(ctx.clone(), workspace, id);
        let (outcome, presented) = provider_test(&config, deep, &ctx).await;
        let pin = match (outcome.ok, pinned_host_key(&config), presented) {
            (true, None, Some(fingerprint)) => Some((pin, fingerprint)),
            _ => None,
        };
        Ok(Tested { id: id.to_owned(), deep, outcome, pin })
    }

    /// Records finished tests, the host keys they pin, their health history and audit entries,
    /// in one write transaction (each test through [`health::store_result`]). A destination
    /// deleted meanwhile is skipped.
    async fn record(
        &self,
        workspace: &str,
        tested: Vec<Tested>,
        by: &TestedBy<'_>,
    ) -> Result<Vec<TestFinished>, DestinationError> {
        let (ws, actor, trigger) = (workspace.to_owned(), by.actor.cloned(), by.trigger);
        let finished = self
            .db
            .write(move |c| {
                write_transaction(c, |c| {
                    let by = TestedBy { actor: actor.as_ref(), trigger };
                    let ids: Vec<String> = tested.iter().map(|t| t.id.clone()).collect();
                    let names: HashMap<String, String> = store::names_of(c, &ws, &ids)?.into_iter().collect();
                    let mut finished = Vec::new();
                    for t in &tested {
                        let Some(name) = names.get(&t.id) else { continue };
                        if let Some((pin, fingerprint)) = &t.pin {
                            gone_is_fine(pin.pin(c, &ws, fingerprint))?;
                        }
                        let o = &t.outcome;
                        if let Some(found) = &o.compatibility {
                            store::set_compatibility(c, &ws, &t.id, &found.to_json())?;
                        }
                        if let Some(done) = health::store_result(c, &ws, &t.id, name, t.deep, o, &by)? {
                            if let Some(entry) = by.entry(&ws, &t.id, name, t.deep, o) {
                                audit::store::record(c, &entry)?;
                            }
                            finished.push(done);
                        }
                    }
                    Ok(finished)
                })
            })
            .await?;
        Ok(finished)
    }

    /// "Test all"'s one writer: records results as they come, gathering those that arrive
    /// within [`GATHER`] of each other into one transaction, until the tests are done.
    async fn record_as_they_come(
        &self,
        workspace: &str,
        mut arrived: mpsc::UnboundedReceiver<Tested>,
        by: &TestedBy<'_>,
    ) {
        while let Some(first) = arrived.recv().await {
            let mut tested = vec![first];
            let until = tokio::time::Instant::now() + GATHER;
            while let Ok(Some(next)) = tokio::time::timeout_at(until, arrived.recv()).await {
                tested.push(next);
            }
            if let Err(e) = self.record(workspace, tested, by).await {
                tracing::error!(error = %e, "recording test results");
            }
        }
    }
}

/// Runs the provider's test under the deadline; always returns an outcome. A deep test also
/// writes, reads back and deletes a small probe object, so "test passes, backup fails"
/// cannot happen silently.
async fn provider_test(config: &ProviderConfig, deep: bool, ctx: &ProviderContext) -> (TestOutcome, Option<String>) {
    let deadline = ctx.settings.test_deadline;
    let clock = StepClock::default();
    let provider = match providers::build(config, ctx) {
        Ok(p) => p,
        Err(e) => {
            let mut outcome = TestOutcome::from_result(&[Step::Connect], Err(e));
            clock.apply(&mut outcome);
            return (outcome, None);
        }
    };
    let mut plan = provider.steps().to_vec();
    if deep {
        for step in [Step::Write, Step::Read, Step::Delete] {
            if !plan.contains(&step) {
                plan.push(step);
            }
        }
    }
    let tested_steps = provider.steps();
    let run = async {
        let message = provider.test().await?;
        if let Some(last) = tested_steps.last() {
            clock.reached(*last);
        }
        if deep {
            probe_round_trip(provider.as_ref(), &clock).await?;
            return Ok(format!("{message} Wrote, read back and deleted a probe object."));
        }
        Ok(message)
    };
    let result = within_deadline(deadline, run).await;
    let probe = deep && result.is_ok();
    let mut outcome = TestOutcome::from_result(&plan, result);
    clock.apply(&mut outcome);
    if probe {
        outcome.compatibility = compatibility(provider.as_ref(), deadline * PROBE_DEADLINES).await;
        if let Some(found) = outcome.compatibility.as_ref().filter(|f| !f.warnings.is_empty()) {
            outcome.message.push_str(&format!(" Warning: {}", found.warnings.join(" ")));
        }
    }
    (outcome, provider.presented_host_key())
}

/// The compatibility probe gets this many test deadlines (it sends a few dozen requests).
const PROBE_DEADLINES: u32 = 4;

/// The provider's compatibility probe within `limit`; one that runs out says so, and what it
/// may have learned is not kept (Devpilot goes back to what every service takes).
async fn compatibility(provider: &dyn Provider, limit: std::time::Duration) -> Option<Compatibility> {
    match tokio::time::timeout(limit, provider.compatibility()).await {
        Ok(found) => found,
        Err(_) => {
            let mut found = Compatibility { probed_at: Some(Utc::now().naive_utc()), ..Compatibility::default() };
            found.check(
                "compatibility probe",
                CheckState::Refused,
                format!("did not finish within {} s", limit.as_secs()),
            );
            Some(found)
        }
    }
}

/// A pin on a destination (or server) deleted meanwhile is nothing to record.
fn gone_is_fine(result: diesel::QueryResult<()>) -> diesel::QueryResult<()> {
    match result {
        Err(diesel::result::Error::NotFound) => Ok(()),
        other => other,
    }
}

/// Writes a small random object, reads it back, compares, deletes it.
async fn probe_round_trip(provider: &dyn Provider, clock: &StepClock) -> Result<(), ProviderError> {
    use futures::{StreamExt, TryStreamExt};
    use rand::RngCore;
    let key = format!(".devpilot-probe/{}", uuid::Uuid::new_v4());
    let mut data = vec![0u8; 4096];
    rand::rng().fill_bytes(&mut data);
    let body = futures::stream::once(futures::future::ready(Ok(bytes::Bytes::from(data.clone())))).boxed();
    provider.put(&key, body).await.map_err(|e| e.at(Step::Write))?;
    clock.reached(Step::Write);
    let read: Vec<bytes::Bytes> =
        provider.get(&key).await.map_err(|e| e.at(Step::Read))?.try_collect().await.map_err(|e| {
            ProviderError::new(providers::ErrorKind::Provider, format!("reading the probe back: {e}")).at(Step::Read)
        })?;
    if read.concat() != data {
        let _ = provider.delete(&key).await;
        return Err(ProviderError::new(
            providers::ErrorKind::Provider,
            "The probe object read back differs from what was written.",
        )
        .at(Step::Read));
    }
    clock.reached(Step::Read);
    provider.delete(&key).await.map_err(|e| e.at(Step::Delete))?;
    clock.reached(Step::Delete);
    Ok(())
}
