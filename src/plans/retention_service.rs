//! Retention's rules around the pure policy: which policy applies to a plan's copy (its own
//! override, else the plan's, else — a plan from before GFS — its newest N), and the preview of
//! what a policy being typed would keep of the plan's artifacts, at the service's clock.

use super::domain::Retention;
use super::gfs::{self, Candidate, Decision, Tiers};
use super::retention::{RetentionFields, RetentionPolicy};
use super::retention_store::{self, HeldArtifact};
use crate::config::clock::Clock;
use crate::db::{Db, DbConn, DbError};
use crate::fields::FieldErrors;
use chrono::NaiveDateTime;
use std::collections::HashSet;

/// One artifact of a preview (or of a run's retention): what the policy decides, and why.
#[derive(Debug, Clone)]
pub struct PreviewRow {
    pub run_id: String,
    pub finished_at: NaiveDateTime,
    pub keep: bool,
    pub why: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("the retention is invalid")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What a policy decides over held artifacts: the decisions, newest first, with each artifact.
pub fn decide(
    policy: &RetentionPolicy,
    held: &[HeldArtifact],
    protected: &HashSet<String>,
    now: NaiveDateTime,
) -> Vec<(Decision, HeldArtifact)> {
    let candidates: Vec<Candidate> = held
        .iter()
        .map(|a| Candidate {
            id: a.run_id.clone(),
            finished_at: a.finished_at,
            locked_until: a.lock.as_ref().map(|(_, until)| *until),
            protected: protected.contains(&a.run_id),
        })
        .collect();
    gfs::decide(&policy.tiers, &candidates, now)
        .into_iter()
        .filter_map(|d| {
            let artifact = held.iter().find(|a| a.run_id == d.id)?.clone();
            Some((d, artifact))
        })
        .collect()
}

/// The policy of the plan's copy at `position`: its override, else the plan's own; a plan with
/// no row (created before GFS by a path that did not write one) keeps its newest `keep_last`.
pub fn policy_at(
    conn: &mut DbConn,
    workspace: &str,
    plan: &str,
    position: i64,
    keep_last: i64,
) -> diesel::QueryResult<RetentionPolicy> {
    if position != 0
        && let Some(own) = retention_store::find(conn, workspace, plan, position)?
    {
        return Ok(own);
    }
    let fallback = RetentionPolicy { tiers: Tiers::last(u32::try_from(keep_last.max(1)).unwrap_or(1)), lock: None };
    Ok(retention_store::find(conn, workspace, plan, 0)?.unwrap_or(fallback))
}

#[derive(Clone)]
pub struct RetentionService {
    db: Db,
    clock: Clock,
}

impl RetentionService {
    pub fn new(db: Db, clock: Clock) -> RetentionService {
        RetentionService { db, clock }
    }

    /// The plan's own policy (position 0), for its form.
    pub async fn policy(&self, workspace: &str, plan: &str, keep_last: i64) -> Result<RetentionPolicy, DbError> {
        let (ws, pid) = (workspace.to_owned(), plan.to_owned());
        self.db.run(move |c| policy_at(c, &ws, &pid, 0, keep_last)).await
    }

    /// What the typed policy would keep of the artifacts the plan's copy at `position` holds now
    /// (0: the primary; a plan of another workspace, or a new plan, has none), `protected` (the run that passed the last drill) kept whatever the
    /// tiers say, as retention does. Nothing is saved.
    pub async fn preview(
        &self,
        workspace: &str,
        plan: Option<&str>,
        position: i64,
        keep_last: &str,
        fields: &RetentionFields,
        protected: &HashSet<String>,
    ) -> Result<Vec<PreviewRow>, PreviewError> {
        let keep_last = Retention::parse(keep_last).map_err(|m| FieldErrors::single("retention", m));
        let policy = match keep_last {
            Ok(n) => RetentionPolicy::parse(u32::from(n.get()), fields).map_err(PreviewError::Invalid)?,
            Err(mut errors) => {
                if let Err(more) = RetentionPolicy::parse(1, fields) {
                    errors.merge(more);
                }
                return Err(PreviewError::Invalid(errors));
            }
        };
        let Some(plan) = plan else { return Ok(Vec::new()) };
        let now = self.clock.now();
        let (ws, pid) = (workspace.to_owned(), plan.to_owned());
        let held = self.db.run(move |c| retention_store::held(c, &ws, &pid, position, None, now)).await?;
        let decided = decide(&policy, &held, protected, now);
        Ok(decided
            .into_iter()
            .map(|(d, a)| PreviewRow { run_id: a.run_id, finished_at: a.finished_at, keep: d.keep(), why: d.explain() })
            .collect())
    }

    /// The locks a run's artifact carries: (copy position, mode, retain until).
    pub async fn locks_of(&self, workspace: &str, run: &str) -> Result<Vec<(i64, String, NaiveDateTime)>, DbError> {
        let (ws, id) = (workspace.to_owned(), run.to_owned());
        self.db.run(move |c| retention_store::locks_of(c, &ws, &id)).await
    }

    pub fn now(&self) -> NaiveDateTime {
        self.clock.now()
    }
}
