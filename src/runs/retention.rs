//! Retention: after a run has uploaded, the plan's successful artifacts beyond its newest N are
//! deleted from their destinations and marked pruned.

use super::runner::Runner;
use super::store;
use crate::plans::store::PlanRow;
use chrono::Utc;

impl Runner {
    /// Deletes the plan's successful artifacts beyond its newest N (the run that just uploaded
    /// `key` counts); returns what failed.
    pub(super) async fn apply_retention(
        &self,
        plan: &PlanRow,
        run_id: &str,
        key: &str,
        destination: &Option<String>,
    ) -> Option<String> {
        let (pid, current, keep) = (plan.id.clone(), run_id.to_owned(), plan.retention);
        // The current run's key and destination are not in its row yet.
        let (id, k, d) = (run_id.to_owned(), key.to_owned(), destination.clone());
        let note = self.db().run(move |c| store::note_artifact(c, &id, &k, d.as_deref())).await;
        if let Err(e) = note {
            return Some(format!("recording the new backup failed: {e}"));
        }
        let old = match self.db().run(move |c| store::beyond_retention(c, &pid, &current, keep)).await {
            Ok(old) => old,
            Err(e) => return Some(format!("listing old backups failed: {e}")),
        };
        let mut problems = Vec::new();
        for (run_id, key, destination) in old {
            let Some(destination) = destination else { continue };
            let provider = match self.destinations().provider(&plan.workspace_id, &destination).await {
                Ok((_, Ok(p))) => p,
                Ok((_, Err(e))) => {
                    problems.push(format!("could not delete {key}: {e}"));
                    continue;
                }
                // The destination is gone, and its artifacts with it as far as we can tell.
                Err(_) => continue,
            };
            match provider.delete(&key).await {
                Ok(()) => {
                    let now = Utc::now().naive_utc();
                    if let Err(e) = self.db().run(move |c| store::mark_pruned(c, &run_id, now)).await {
                        problems.push(format!("recording the deletion of {key} failed: {e}"));
                    }
                }
                Err(e) => problems.push(format!("could not delete {key}: {e}")),
            }
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}
