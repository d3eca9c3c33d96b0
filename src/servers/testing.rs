//! Testing a managed server's login ("Test login", and after every save or accepted host key):
//! logs in and opens SFTP under the test deadline, pins the first host key seen, and records
//! the outcome in the audit log.

use super::service::{ServerError, ServerService, login_for, pin_host_key};
use super::store;
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::connection_test::{TestOutcome, timed_out};
use crate::providers::{ErrorKind, ProviderError, sftp};

impl ServerService {
    /// "Test login", recorded in the audit log.
    pub async fn test(&self, workspace: &str, id: &str, by: &Actor) -> Result<TestOutcome, ServerError> {
        self.test_because(workspace, id, by, "Test login").await
    }

    pub(super) async fn test_because(
        &self,
        workspace: &str,
        id: &str,
        by: &Actor,
        cause: &str,
    ) -> Result<TestOutcome, ServerError> {
        let outcome = self.test_login(workspace, id).await?;
        let verdict = if outcome.ok { "passed" } else { "failed" };
        let detail = format!("{cause}: {verdict}. {}", outcome.summary());
        let (ws, sid, by) = (workspace.to_owned(), id.to_owned(), by.clone());
        self.db
            .run(move |c| {
                let name = store::find(c, &ws, &sid)?.name;
                audit::store::record(c, &Entry::new(&by, &ws, Subject::server(&sid, &name), Action::Tested, detail))
            })
            .await?;
        Ok(outcome)
    }

    /// Logs in and opens SFTP; the first success pins the host key the server presented.
    async fn test_login(&self, workspace: &str, id: &str) -> Result<TestOutcome, ServerError> {
        let login = login_for(&self.db, &self.cipher, workspace, id).await;
        let (result, presented, pinned) = match login {
            Ok((login, pinned)) => {
                let run = sftp::check_login(&login, pinned.as_deref(), &self.providers.settings);
                let (result, presented) = self.within_deadline(run).await;
                (result, presented, pinned)
            }
            Err(ServerError::Credentials(reason)) => (
                Err(ProviderError::new(
                    ErrorKind::Provider,
                    format!("{reason}. Edit the server and enter its credentials again."),
                )),
                None,
                None,
            ),
            Err(e) => return Err(e),
        };
        if let (Ok(_), None, Some(fingerprint)) = (&result, &pinned, &presented) {
            pin_host_key(&self.db, workspace, id, fingerprint).await?;
        }
        Ok(TestOutcome::from_result(sftp::LOGIN_STEPS, result))
    }

    async fn within_deadline(
        &self,
        run: impl Future<Output = (Result<String, ProviderError>, Option<String>)>,
    ) -> (Result<String, ProviderError>, Option<String>) {
        let deadline = self.providers.settings.test_deadline;
        tokio::time::timeout(deadline, run).await.unwrap_or_else(|_| (Err(timed_out(deadline)), None))
    }
}
