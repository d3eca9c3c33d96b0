//! Uploads under the plan's Object Lock: the artifact is written with a retention until the
//! lock's days from now, and the lock is recorded with the run, so retention skips it and the
//! run page shows until when it stays.

use super::runner::Runner;
use crate::plans::retention_service::policy_at;
use crate::plans::retention_store;
use crate::plans::store::PlanRow;
use crate::providers::lock::ObjectLock;
use crate::providers::{ByteStream, ErrorKind, Provider, ProviderError};
use chrono::Utc;

impl Runner {
    /// Puts the artifact at the plan's primary (position 0), locked when its policy says so.
    pub(super) async fn put_artifact(
        &self,
        provider: &dyn Provider,
        plan: &PlanRow,
        run_id: &str,
        key: &str,
        body: ByteStream,
    ) -> Result<u64, ProviderError> {
        let (ws, pid, keep) = (plan.workspace_id.clone(), plan.id.clone(), plan.retention);
        let policy = self.db().run(move |c| policy_at(c, &ws, &pid, 0, keep)).await.map_err(|e| {
            ProviderError::new(ErrorKind::Provider, format!("reading the plan's retention failed: {e}"))
        })?;
        let Some(lock) = policy.lock else { return provider.put(key, body).await };
        // The lock runs on the real clock: it is the storage service's, not retention's.
        let retain_until = Utc::now() + chrono::Duration::days(i64::from(lock.days));
        let written = provider.put_locked(key, body, &ObjectLock { mode: lock.mode, retain_until }).await?;
        let (ws, id, until) = (plan.workspace_id.clone(), run_id.to_owned(), retain_until.naive_utc());
        let recorded = self.db().run(move |c| retention_store::record_lock(c, &ws, &id, 0, lock.mode, until)).await;
        if let Err(e) = recorded {
            tracing::warn!(run = %run_id, error = %e, "recording the artifact's lock failed");
        }
        Ok(written)
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
