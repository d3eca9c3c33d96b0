//! Accepting a host key: checked against what the server presents now, then pinned where its
//! feature keeps it and recorded in the audit log, in one transaction.

use super::HostKeyOffer;
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::db::{Db, DbConn, DbError, write_transaction};
use crate::fields::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The key confirmed is not the one the server presents (now): the message is for the
    /// `fingerprint` field.
    #[error("the host key was refused")]
    Refused(FieldErrors),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Pins `fingerprint` if `offer` shows the server still presents it. `pin` writes it where its
/// feature keeps it, in the transaction, and answers the audit entry's subject and where the key
/// went when that is not the subject itself (" (on its managed server)", else "").
pub async fn accept<F>(
    db: &Db,
    offer: &HostKeyOffer,
    fingerprint: &str,
    workspace: &str,
    by: &Actor,
    pin: F,
) -> Result<(), AcceptError>
where
    F: FnOnce(&mut DbConn, &str, &str) -> diesel::QueryResult<(Subject, &'static str)> + Send + 'static,
{
    offer.confirm(fingerprint).map_err(|m| AcceptError::Refused(FieldErrors::single("fingerprint", m)))?;
    let (ws, fp, by) = (workspace.to_owned(), fingerprint.to_owned(), by.clone());
    db.write(move |c| {
        write_transaction(c, |c| {
            let (subject, place) = pin(c, &ws, &fp)?;
            let entry = Entry::new(&by, &ws, subject, Action::HostKeyAccepted, format!("Pinned {fp}{place}."));
            audit::store::record(c, &entry)
        })
    })
    .await?;
    Ok(())
}
