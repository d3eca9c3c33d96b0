//! Uploads under the plan's Object Lock: the artifact is written with a retention until the
//! lock's days from now, and the lock is recorded with the run, so retention skips it and the
//! run page shows until when it stays.

use super::copies::{CopyEnd, Target};
use super::runner::Runner;
use crate::plans::retention_service::policy_at;
use crate::plans::retention_store;
use crate::plans::store::PlanRow;
use crate::providers::lock::ObjectLock;
use chrono::Utc;

impl Runner {
    /// Sets each target's Object Lock from the policy of its position (a copy's override, else
    /// the plan's). A target whose policy cannot be read ends failed: a backup that asked for a
    /// lock is never written without one.
    pub(super) async fn with_locks(&self, plan: &PlanRow, targets: Vec<Target>) -> (Vec<Target>, Vec<CopyEnd>) {
        let (mut ready, mut ended) = (Vec::new(), Vec::new());
        for mut target in targets {
            let (ws, pid, keep, position) =
                (plan.workspace_id.clone(), plan.id.clone(), plan.retention, target.position);
            match self.db().run(move |c| policy_at(c, &ws, &pid, position, keep)).await {
                Ok(policy) => {
                    // The lock runs on the real clock: it is the storage service's, not retention's.
                    target.lock = policy.lock.map(|lock| ObjectLock {
                        mode: lock.mode,
                        retain_until: Utc::now() + chrono::Duration::days(i64::from(lock.days)),
                    });
                    ready.push(target);
                }
                Err(e) => {
                    let error = format!("reading the plan's retention failed: {e}");
                    ended.push(CopyEnd::failed(position, Some(target.destination_id), error, None));
                }
            }
        }
        (ready, ended)
    }

    /// Records the lock a copy's artifact was written with, so retention skips it and the run
    /// page shows until when it stays.
    pub(super) async fn record_lock(&self, plan: &PlanRow, run_id: &str, position: i64, lock: &ObjectLock) {
        let (ws, id, mode, until) =
            (plan.workspace_id.clone(), run_id.to_owned(), lock.mode, lock.retain_until.naive_utc());
        let recorded = self.db().run(move |c| retention_store::record_lock(c, &ws, &id, position, mode, until)).await;
        if let Err(e) = recorded {
            tracing::warn!(run = %run_id, error = %e, "recording the artifact's lock failed");
        }
    }
}

impl Runner {
    /// For the history: each locked run's lock in words ("Locked (governance) until …"), by run.
    pub async fn locks_of_runs(
        &self,
        workspace: &str,
        runs: Vec<String>,
    ) -> Result<std::collections::HashMap<String, String>, crate::db::DbError> {
        let ws = workspace.to_owned();
        let rows = self.db().run(move |c| retention_store::locks_of_runs(c, &ws, &runs)).await?;
        let mut described = std::collections::HashMap::<String, String>::new();
        for (run, position, mode, until) in rows {
            let copy = if position == 0 { String::new() } else { format!(" (copy {position})") };
            let line = format!("Locked{copy}: {mode} until {}", crate::web::time::exact(until));
            described.entry(run).and_modify(|d| d.push_str(&format!("; {line}"))).or_insert(line);
        }
        Ok(described)
    }
}
