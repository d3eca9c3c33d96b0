//! Retention: after a run has uploaded, each copy (the primary, copy 1, copy 2) applies its
//! policy (GFS tiers, `plans::gfs`: the copy's override, else the plan's) over the artifacts it
//! still holds; those it does not keep are deleted from that copy's destination and marked pruned
//! there (a run is pruned once none of its copies holds its artifact). Artifacts still under an
//! Object Lock are kept, and the run's note says until when.

use super::copies_store;
use super::runner::Runner;
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

/// A copy as retention's messages name it.
fn copy_label(position: i64) -> String {
    match position {
        0 => String::new(),
        n => format!(" from copy {n}"),
    }
}

impl Runner {
    /// Applies each copy's policy over its artifacts (the run `run_id` that just uploaded counts,
    /// finished now by the runner's clock; its copies are recorded already).
    pub(super) async fn apply_retention(&self, plan: &PlanRow, run_id: &str) -> Retained {
        let now = self.clock().now();
        let (mut problems, mut locked) = (Vec::new(), Vec::new());
        let (ws, pid) = (plan.workspace_id.clone(), plan.id.clone());
        let positions = match self.db().run(move |c| copies_store::positions_of_plan(c, &ws, &pid)).await {
            Ok(positions) => positions,
            Err(e) => return Retained { problem: Some(format!("listing old backups failed: {e}")), note: None },
        };
        for position in positions {
            let (ws, pid, current, keep) =
                (plan.workspace_id.clone(), plan.id.clone(), run_id.to_owned(), plan.retention);
            let loaded = self
                .db()
                .run(move |c| {
                    let policy = policy_at(c, &ws, &pid, position, keep)?;
                    let held = retention_store::held(c, &ws, &pid, position, Some(&current), now)?;
                    // The copy that passed the plan's last restore drill stays, whatever the tiers say.
                    let protected: Vec<String> = crate::runs::drills_store::last_passed(c, &ws, &pid)?
                        .filter(|(_, copy)| *copy == position)
                        .map(|(run, _)| run)
                        .into_iter()
                        .collect();
                    Ok((policy, held, protected))
                })
                .await;
            let (policy, held, protected) = match loaded {
                Ok(loaded) => loaded,
                Err(e) => {
                    problems.push(format!("listing old backups{} failed: {e}", copy_label(position)));
                    continue;
                }
            };
            let protected: HashSet<String> = protected.into_iter().collect();
            for (decision, artifact) in decide(&policy, &held, &protected, now) {
                let key = &artifact.object_key;
                if decision.keep() {
                    if decision.reasons.iter().all(|r| matches!(r, crate::plans::gfs::Reason::Locked(_))) {
                        locked.push(format!("{key}{} ({})", copy_label(position), decision.explain()));
                    }
                    continue;
                }
                let Some(destination) = &artifact.destination_id else { continue };
                let provider = match self.destinations().provider(&plan.workspace_id, destination).await {
                    Ok((_, Ok(p))) => p,
                    Ok((_, Err(e))) => {
                        problems.push(format!("could not delete {key}{}: {e}", copy_label(position)));
                        continue;
                    }
                    // The destination is gone, and its artifacts with it as far as we can tell.
                    Err(_) => continue,
                };
                match provider.delete(key).await {
                    Ok(()) => {
                        let (run, at) = (artifact.run_id.clone(), Utc::now().naive_utc());
                        let marked = self.db().run(move |c| copies_store::mark_pruned(c, &run, position, at)).await;
                        if let Err(e) = marked {
                            problems.push(format!("recording the deletion of {key} failed: {e}"));
                        }
                    }
                    Err(e) => problems.push(format!("could not delete {key}{}: {e}", copy_label(position))),
                }
            }
        }
        Retained {
            problem: (!problems.is_empty()).then(|| problems.join("; ")),
            note: (!locked.is_empty())
                .then(|| format!("Retention kept {} locked backup(s): {}.", locked.len(), locked.join("; "))),
        }
    }
}
