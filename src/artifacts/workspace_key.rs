//! Each workspace's artifact key: 32 random bytes made on first use and kept in the workspace row,
//! sealed under the master key (so rotating the master key re-seals it without touching artifacts).

use super::encryption::{ArtifactKey, generate_key};
use crate::crypto::CredentialCipher;
use crate::db::schema::workspaces::dsl;
use crate::db::{Db, DbError};
use diesel::prelude::*;
use secrecy::{ExposeSecret, SecretBox};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the workspace's artifact key cannot be opened: {0}")]
    Open(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

pub fn associated_data(workspace: &str) -> String {
    format!("devpilot:artifact-key:{workspace}")
}

/// The workspace's artifact key, created (once, even when two callers race) if it has none.
pub async fn for_workspace(db: &Db, cipher: &CredentialCipher, workspace: &str) -> Result<ArtifactKey, KeyError> {
    let fresh = cipher.seal(generate_key().expose_secret(), &associated_data(workspace));
    let ws = workspace.to_owned();
    let sealed = db
        .run(move |c| {
            // Only the first writer's key counts; everyone then reads the stored one.
            diesel::update(dsl::workspaces.find(&ws).filter(dsl::artifact_key.is_null()))
                .set(dsl::artifact_key.eq(&fresh))
                .execute(c)?;
            dsl::workspaces.find(&ws).select(dsl::artifact_key).first::<Option<Vec<u8>>>(c)
        })
        .await?
        .ok_or_else(|| KeyError::Open("the workspace has no key".into()))?;
    let plain = cipher.open(&sealed, &associated_data(workspace)).map_err(|e| KeyError::Open(e.to_string()))?;
    let bytes: [u8; 32] = plain.try_into().map_err(|_| KeyError::Open("the stored key is not 32 bytes".into()))?;
    Ok(SecretBox::new(Box::new(bytes)))
}
