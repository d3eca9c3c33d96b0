//! The rules of destinations: what a destination is to the rest of the app, its errors, and the
//! service that handlers (HTML and JSON) call; it calls the store and providers. Its use cases
//! live beside it: `reading`, `saving`, `connecting` (configs, providers, host keys),
//! `lifecycle` (default, disable/enable, delete) and `testing`.

use super::domain::Status;
use super::store::{self, DestinationRow};
use crate::crypto::CredentialCipher;
use crate::db::memo::Memo;
use crate::db::{Db, DbError};
use crate::fields::{FieldErrors, RawFields};
use crate::grants::GrantService;
use crate::providers::compatibility::Compatibility;
use crate::providers::{ProviderContext, ProviderKind};
use chrono::NaiveDateTime;
use std::sync::Arc;

/// A destination as the rest of the app sees it: settings in the clear, credentials only as the
/// names of the secret fields that are stored.
#[derive(Debug, Clone)]
pub struct Destination {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub kind: ProviderKind,
    pub settings: RawFields,
    pub stored_secrets: Vec<&'static str>,
    /// The type as shown: the kind's label, or an S3-compatible service's own name.
    pub type_label: &'static str,
    pub location: String,
    pub status: Status,
    pub last_tested_at: Option<NaiveDateTime>,
    pub last_test_message: Option<String>,
    pub is_default: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// SFTP: the pinned host key fingerprint (the managed server's, when it uses one).
    pub host_key: Option<String>,
    /// SFTP: the name of the managed server it uses.
    pub server_name: Option<String>,
    /// What the last deep test's compatibility probe found (S3).
    pub compatibility: Option<Compatibility>,
}

/// What the admin submitted: a name, a type and the type's fields.
#[derive(Debug, Clone)]
pub struct DestinationInput {
    pub name: String,
    pub kind: String,
    pub fields: RawFields,
}

#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error("Backup destination not found")]
    NotFound,
    #[error("the destination is invalid")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Db(DbError),
    #[error("stored credentials cannot be read: {0}")]
    Credentials(String),
    /// The destination's state does not allow the change (e.g. a disabled one as the default).
    #[error("{0}")]
    Conflict(String),
}

impl From<DbError> for DestinationError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => DestinationError::NotFound,
            other => DestinationError::Db(other),
        }
    }
}

pub use crate::db::page::Page;

pub use super::testing::{TEST_ALL_CONCURRENCY, TestAllSummary};

#[derive(Clone)]
pub struct DestinationService {
    pub(super) db: Db,
    pub(super) cipher: Arc<CredentialCipher>,
    pub(super) providers: ProviderContext,
    /// What of this machine each workspace may use (local destinations).
    pub(super) grants: GrantService,
    /// This process's instance id: the owner of the tests it runs.
    pub(super) instance: Arc<str>,
    /// Pages of the list by (workspace, page, per page).
    pub(super) pages: Arc<Memo<(String, i64, i64), Page<Destination>>>,
}

/// Pages of destination lists kept in memory (a page of 100 is about 100 KB).
const CACHED_PAGES: usize = 256;

/// Binds sealed credentials to their workspace and destination.
pub fn associated_data(workspace: &str, id: &str) -> String {
    format!("devpilot:destination:{workspace}:{id}")
}

impl DestinationService {
    pub fn new(
        db: Db,
        cipher: Arc<CredentialCipher>,
        providers: ProviderContext,
        grants: GrantService,
        instance: Arc<str>,
    ) -> DestinationService {
        DestinationService { db, cipher, providers, grants, instance, pages: Arc::new(Memo::new(CACHED_PAGES)) }
    }

    /// Puts back destinations left Testing by instances not among the `live` ones (they crashed
    /// mid-test); returns how many. (Not a [`Db::write`]: it runs with every heartbeat and
    /// usually changes nothing; what it does change the caches see from the database itself.)
    pub async fn reset_orphaned_tests(&self, live: Vec<String>) -> Result<usize, DbError> {
        self.db.run(move |c| store::reset_interrupted_tests(c, &live)).await
    }

    pub(super) async fn row(&self, workspace: &str, id: &str) -> Result<DestinationRow, DestinationError> {
        let (ws, id) = (workspace.to_owned(), id.to_owned());
        Ok(self.db.run(move |c| store::find(c, &ws, &id)).await?)
    }
}

pub(super) fn kind_of(row: &DestinationRow) -> Result<ProviderKind, DestinationError> {
    ProviderKind::parse(&row.kind).map_err(DestinationError::Credentials)
}
