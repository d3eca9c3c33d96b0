//! The trust flow of a host key, written once ([`PinsHostKeys::accept_host_key`]): the offer,
//! the check that the server still presents the key confirmed, the pin and its audit entry in
//! one transaction, and the test that follows. Each feature says only where its key is pinned.

use super::HostKeyOffer;
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::connection_test::TestOutcome;
use crate::db::{Db, DbConn, DbError, write_transaction};
use crate::fields::FieldErrors;

/// Pins a fingerprint where its feature keeps it, in the accepting transaction (given the
/// workspace and the fingerprint); answers the audit entry's subject and where the key went when
/// that is not the subject itself (" (on its managed server)", else "").
pub type Pin = Box<dyn FnOnce(&mut DbConn, &str, &str) -> diesel::QueryResult<(Subject, &'static str)> + Send>;

/// A feature whose SFTP logins pin host keys: destinations, managed servers.
#[async_trait::async_trait(?Send)]
pub trait PinsHostKeys {
    type Error: From<AcceptError>;

    fn db(&self) -> &Db;

    /// The name shown for the destination or server `id`.
    async fn name_of(&self, workspace: &str, id: &str) -> Result<String, Self::Error>;

    /// The pinned key and the one the server presents now, for an admin to compare.
    async fn host_key_offer(&self, workspace: &str, id: &str) -> Result<HostKeyOffer, Self::Error>;

    /// Where `id`'s key is pinned.
    async fn pin_for(&self, workspace: &str, id: &str) -> Result<Pin, Self::Error>;

    /// The test after a key was accepted, recorded as the feature records its tests.
    async fn test_accepted(&self, workspace: &str, id: &str, by: &Actor) -> Result<TestOutcome, Self::Error>;

    /// Pins the key the admin confirmed, if the server still presents it (a key swapped between
    /// the confirmation page and the click is refused), then tests again.
    async fn accept_host_key(
        &self,
        workspace: &str,
        id: &str,
        fingerprint: &str,
        by: &Actor,
    ) -> Result<TestOutcome, Self::Error> {
        let offer = self.host_key_offer(workspace, id).await?;
        offer.confirm(fingerprint).map_err(|m| AcceptError::Refused(FieldErrors::single("fingerprint", m)))?;
        let pin = self.pin_for(workspace, id).await?;
        let (ws, fp, actor) = (workspace.to_owned(), fingerprint.to_owned(), by.clone());
        self.db()
            .write(move |c| {
                write_transaction(c, |c| {
                    let (subject, place) = pin(c, &ws, &fp)?;
                    let detail = format!("Pinned {fp}{place}.");
                    audit::store::record(c, &Entry::new(&actor, &ws, subject, Action::HostKeyAccepted, detail))
                })
            })
            .await
            .map_err(AcceptError::Db)?;
        self.test_accepted(workspace, id, by).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The key confirmed is not the one the server presents (now): the message is for the
    /// `fingerprint` field.
    #[error("the host key was refused")]
    Refused(FieldErrors),
    #[error(transparent)]
    Db(#[from] DbError),
}
