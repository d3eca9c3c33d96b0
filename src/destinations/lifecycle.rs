//! A destination's life after it is saved: made the default, disabled and enabled again,
//! deleted (disabling its plans, or only while no plan uses it), each change audited.

use super::audited::TestedBy;
use super::domain::Status;
use super::health::Trigger;
use super::service::{DestinationError, DestinationService};
use super::store;
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::connection_test::TestOutcome;
use crate::db::write_transaction;
use chrono::Utc;

impl DestinationService {
    pub async fn make_default(&self, workspace: &str, id: &str, by: &Actor) -> Result<(), DestinationError> {
        if Status::from_db(&self.row(workspace, id).await?.status) == Status::Disabled {
            return Err(DestinationError::Conflict(
                "A disabled destination cannot be the default; enable it first.".into(),
            ));
        }
        self.audited(workspace, id, by, Action::MadeDefault, |c, ws, id| {
            Ok((store::make_default(c, ws, id)?, Some(String::new())))
        })
        .await
    }

    pub async fn disable(&self, workspace: &str, id: &str, by: &Actor) -> Result<(), DestinationError> {
        let now = Utc::now().naive_utc();
        self.audited(workspace, id, by, Action::Disabled, move |c, ws, id| {
            Ok((store::set_disabled(c, ws, id, now)?, Some(String::new())))
        })
        .await
    }

    /// Re-enables a Disabled destination and tests it, so its status is earned, not assumed.
    pub async fn enable(&self, workspace: &str, id: &str, by: &Actor) -> Result<TestOutcome, DestinationError> {
        let (now, owner) = (Utc::now().naive_utc(), self.instance.to_string());
        self.audited(workspace, id, by, Action::Enabled, move |c, ws, id| {
            Ok((store::enable_for_test(c, ws, id, &owner, now)?, Some(String::new())))
        })
        .await?;
        let config = self.row(workspace, id).await.and_then(|row| self.config_of(&row));
        self.run_test(workspace, id, config, false, &TestedBy::new(by, Trigger::Enable)).await
    }

    /// Deletes the destination and disables the plans that used it; returns their names.
    pub async fn delete(&self, workspace: &str, id: &str, by: &Actor) -> Result<Vec<String>, DestinationError> {
        self.audited(workspace, id, by, Action::Deleted, |c, ws, id| {
            let plans = store::delete(c, ws, id)?;
            let detail = disabled_plans(&plans);
            Ok((plans, Some(detail)))
        })
        .await
    }

    /// Deletes the destination only if no plan uses it, in one transaction; returns the names of
    /// the plans that use it (empty: it was deleted).
    pub async fn delete_if_unused(
        &self,
        workspace: &str,
        id: &str,
        by: &Actor,
    ) -> Result<Vec<String>, DestinationError> {
        self.audited(workspace, id, by, Action::Deleted, |c, ws, id| {
            let plans = store::delete_if_unused(c, ws, id)?;
            // Nothing was deleted while plans use it: nothing to record.
            let detail = plans.is_empty().then(String::new);
            Ok((plans, detail))
        })
        .await
    }

    /// Makes a change and records it in the audit log in one transaction; `change` returns its
    /// result and the entry's detail (None: it changed nothing, so no entry). The destination's
    /// name is read first, in the transaction.
    async fn audited<T, F>(
        &self,
        workspace: &str,
        id: &str,
        by: &Actor,
        action: Action,
        change: F,
    ) -> Result<T, DestinationError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &str, &str) -> diesel::QueryResult<(T, Option<String>)> + Send + 'static,
    {
        let (ws, rid, by) = (workspace.to_owned(), id.to_owned(), by.clone());
        Ok(self
            .db
            .write(move |c| {
                write_transaction(c, |c| {
                    let name = store::find(c, &ws, &rid)?.name;
                    let (done, detail) = change(c, &ws, &rid)?;
                    if let Some(detail) = detail {
                        let entry = Entry::new(&by, &ws, Subject::destination(&rid, &name), action, detail);
                        audit::store::record(c, &entry)?;
                    }
                    Ok(done)
                })
            })
            .await?)
    }
}

fn disabled_plans(names: &[String]) -> String {
    if names.is_empty() { String::new() } else { format!("Plans disabled: {}.", names.join(", ")) }
}
