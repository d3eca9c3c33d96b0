//! The export's rules: owners only, the password checked again within the sign-in limits, the key
//! read (made if the workspace had none yet) and the audit entry written before it is shown.

use crate::artifacts::{recovery_key, workspace_key};
use crate::audit::{Action, Actor, Entry, Subject};
use crate::auth::CurrentUser;
use crate::auth::Role;
use crate::auth::service::{AccountError, AccountService};
use crate::crypto::CredentialCipher;
use crate::db::{Db, DbError};
use crate::fields::FieldErrors;
use secrecy::SecretString;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum RecoveryKeyError {
    #[error("Only an owner of this workspace can export its recovery key.")]
    Forbidden,
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Clone)]
pub struct RecoveryKeyService {
    db: Db,
    cipher: Arc<CredentialCipher>,
    accounts: AccountService,
}

impl RecoveryKeyService {
    pub fn new(db: Db, cipher: Arc<CredentialCipher>, accounts: AccountService) -> RecoveryKeyService {
        RecoveryKeyService { db, cipher, accounts }
    }

    pub fn may_export(user: &CurrentUser) -> Result<(), RecoveryKeyError> {
        if user.role == Role::Owner { Ok(()) } else { Err(RecoveryKeyError::Forbidden) }
    }

    /// The workspace's recovery key in its text form, once `password` is the owner's own.
    pub async fn export(
        &self,
        user: &CurrentUser,
        ip: &str,
        password: SecretString,
    ) -> Result<SecretString, RecoveryKeyError> {
        Self::may_export(user)?;
        let field = |m: String| RecoveryKeyError::Invalid(FieldErrors::single("password", m));
        match self.accounts.confirm_password(&user.user_id, &user.email, ip, password).await {
            Ok(()) => {}
            Err(AccountError::BadCredentials) => return Err(field("This is not your password.".into())),
            Err(e @ AccountError::RateLimited(_)) => return Err(field(e.to_string())),
            Err(AccountError::Db(e)) => return Err(e.into()),
            Err(e) => return Err(anyhow::anyhow!("checking the password: {e}").into()),
        }
        let key = workspace_key::for_workspace(&self.db, &self.cipher, &user.workspace_id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let entry = Entry::new(
            &Actor::web(user),
            &user.workspace_id,
            Subject::workspace(&user.workspace_id, &user.workspace_name),
            Action::Exported,
            "Exported the workspace's recovery key (shown once).",
        );
        // Recorded before the key is shown: an export that cannot be audited does not happen.
        self.db.write(move |c| crate::audit::store::record(c, &entry)).await?;
        Ok(recovery_key::encode(&key))
    }
}
