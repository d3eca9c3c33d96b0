//! Retention: after a run has uploaded, each copy keeps the plan's newest N artifacts; the older
//! ones of that copy are deleted from its own destination and marked pruned (a run is pruned once
//! none of its copies holds its artifact). A copy is its position: the primary, copy 1, copy 2.

use super::copies_store::{self, RunCopyRow};
use super::runner::Runner;
use crate::plans::store::PlanRow;
use chrono::{NaiveDateTime, Utc};
use std::collections::HashMap;

/// The rule: per copy (position), the newest `keep` artifacts stay and the rest go. `kept` is
/// every copy still holding an artifact, newest run first.
pub fn beyond_retention(kept: Vec<(RunCopyRow, NaiveDateTime)>, keep: usize) -> Vec<RunCopyRow> {
    let mut seen: HashMap<i64, usize> = HashMap::new();
    kept.into_iter()
        .filter_map(|(copy, _)| {
            let n = seen.entry(copy.position).or_default();
            *n += 1;
            (*n > keep).then_some(copy)
        })
        .collect()
}

impl Runner {
    /// Deletes each copy's artifacts beyond the plan's newest N (the run `run_id` that just
    /// uploaded counts; its copies are recorded already); returns what failed.
    pub(super) async fn apply_retention(&self, plan: &PlanRow, run_id: &str) -> Option<String> {
        let (pid, current) = (plan.id.clone(), run_id.to_owned());
        let keep = usize::try_from(plan.retention).unwrap_or(usize::MAX);
        let old = match self.db().run(move |c| copies_store::kept_of_plan(c, &pid, &current)).await {
            Ok(kept) => beyond_retention(kept, keep),
            Err(e) => return Some(format!("listing old backups failed: {e}")),
        };
        let mut problems = Vec::new();
        for copy in old {
            let (Some(destination), Some(key)) = (copy.destination_id.clone(), copy.object_key.clone()) else {
                continue;
            };
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
                    let (run, position, now) = (copy.run_id.clone(), copy.position, Utc::now().naive_utc());
                    let marked = self.db().run(move |c| copies_store::mark_pruned(c, &run, position, now)).await;
                    if let Err(e) = marked {
                        problems.push(format!("recording the deletion of {key} failed: {e}"));
                    }
                }
                Err(e) if copy.position == 0 => problems.push(format!("could not delete {key}: {e}")),
                Err(e) => problems.push(format!("could not delete {key} from {}: {e}", copy.label())),
            }
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(run: &str, position: i64) -> (RunCopyRow, NaiveDateTime) {
        let row = RunCopyRow {
            run_id: run.into(),
            workspace_id: "w".into(),
            position,
            destination_id: Some(format!("d{position}")),
            status: "succeeded".into(),
            bytes: 1,
            sha256: None,
            object_key: Some(format!("{run}.tar.zst")),
            error: None,
            pruned_at: None,
            started_at: None,
            finished_at: None,
        };
        (row, NaiveDateTime::default())
    }

    #[test]
    fn each_copy_keeps_its_own_newest() {
        // Newest first: r3 wrote both; r2 only the primary (its copy failed); r1 both.
        let kept = vec![copy("r3", 0), copy("r3", 1), copy("r2", 0), copy("r1", 0), copy("r1", 1)];
        let gone: Vec<(String, i64)> = beyond_retention(kept, 2).into_iter().map(|c| (c.run_id, c.position)).collect();
        assert_eq!(gone, [("r1".to_owned(), 0)], "copy 1 holds only two artifacts, both kept");
    }
}
