//! Retention: after a run has uploaded, the plan's policy (GFS tiers, `plans::gfs`) decides over
//! its successful artifacts; those it does not keep are deleted from their destinations and
//! marked pruned. Artifacts still under an Object Lock are kept, and the run's note says until
//! when.

use super::runner::Runner;
use super::store;
use crate::plans::retention_service::{decide, policy_at};
use crate::plans::retention_store;
use crate::plans::store::PlanRow;
use chrono::Utc;
use std::collections::HashSet;

/// What retention did beyond deleting: what failed, and which backups a lock kept.
#[derive(Debug, Default)]
pub(super) struct Retained {
    pub problem: Option<String>,
    pub note: Option<String>,
}

impl Runner {
    /// Applies the plan's policy at its primary (position 0) over its successful artifacts (the
    /// run that just uploaded `key` counts, finished now by the runner's clock).
    pub(super) async fn apply_retention(
        &self,
        plan: &PlanRow,
        run_id: &str,
        key: &str,
        destination: &Option<String>,
    ) -> Retained {
        let failed = |m: String| Retained { problem: Some(m), note: None };
        // The current run's key and destination are not in its row yet.
        let (id, k, d) = (run_id.to_owned(), key.to_owned(), destination.clone());
        let note = self.db().run(move |c| store::note_artifact(c, &id, &k, d.as_deref())).await;
        if let Err(e) = note {
            return failed(format!("recording the new backup failed: {e}"));
        }
        let now = self.clock().now();
        let (ws, pid, current, keep) = (plan.workspace_id.clone(), plan.id.clone(), run_id.to_owned(), plan.retention);
        let loaded = self
            .db()
            .run(move |c| {
                let policy = policy_at(c, &ws, &pid, 0, keep)?;
                Ok((policy, retention_store::held(c, &ws, &pid, 0, Some(&current), now)?))
            })
            .await;
        let (policy, held) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => return failed(format!("listing old backups failed: {e}")),
        };
        // The restore drills' "only copy that passed its last drill" joins here when drills
        // record it (it is kept like a locked one).
        let decided = decide(&policy, &held, &HashSet::new(), now);
        let mut problems = Vec::new();
        let mut locked = Vec::new();
        for (decision, artifact) in decided {
            if decision.keep() {
                if decision.reasons.iter().all(|r| matches!(r, crate::plans::gfs::Reason::Locked(_))) {
                    locked.push(format!("{} ({})", artifact.object_key, decision.explain()));
                }
                continue;
            }
            let Some(destination) = &artifact.destination_id else { continue };
            let key = &artifact.object_key;
            let provider = match self.destinations().provider(&plan.workspace_id, destination).await {
                Ok((_, Ok(p))) => p,
                Ok((_, Err(e))) => {
                    problems.push(format!("could not delete {key}: {e}"));
                    continue;
                }
                // The destination is gone, and its artifacts with it as far as we can tell.
                Err(_) => continue,
            };
            match provider.delete(key).await {
                Ok(()) => {
                    let (run, at) = (artifact.run_id.clone(), Utc::now().naive_utc());
                    if let Err(e) = self.db().run(move |c| store::mark_pruned(c, &run, at)).await {
                        problems.push(format!("recording the deletion of {key} failed: {e}"));
                    }
                }
                Err(e) => problems.push(format!("could not delete {key}: {e}")),
            }
        }
        Retained {
            problem: (!problems.is_empty()).then(|| problems.join("; ")),
            note: (!locked.is_empty())
                .then(|| format!("Retention kept {} locked backup(s): {}.", locked.len(), locked.join("; "))),
        }
    }
}
