//! Every sealed value in the database, with the associated data it was sealed under: what key
//! rotation re-seals and what the start-up check reads the key ids of.

use crate::db::DbConn;
use crate::db::schema::{destinations, oauth_states, plans, servers, workspaces};
use crate::notifications::store as notify_store;
use diesel::prelude::*;

/// Where sealed values live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    DestinationCredentials,
    ServerCredentials,
    PlanSourceUrl,
    WorkspaceArtifactKey,
    OauthVerifier,
    NotificationSecrets,
    PlanPingUrl,
    InstanceBackupDestination,
}

pub const COLUMNS: [Column; 8] = [
    Column::DestinationCredentials,
    Column::ServerCredentials,
    Column::PlanSourceUrl,
    Column::WorkspaceArtifactKey,
    Column::OauthVerifier,
    Column::NotificationSecrets,
    Column::PlanPingUrl,
    Column::InstanceBackupDestination,
];

/// One sealed value: its row, the associated data it is bound to, and the bytes.
pub struct Sealed {
    pub row: String,
    pub associated_data: String,
    pub value: Vec<u8>,
}

impl Column {
    pub fn label(self) -> &'static str {
        match self {
            Column::DestinationCredentials => "destination credentials",
            Column::ServerCredentials => "server logins",
            Column::PlanSourceUrl => "database connection URLs",
            Column::WorkspaceArtifactKey => "workspace artifact keys",
            Column::OauthVerifier => "pending Google sign-ins",
            Column::NotificationSecrets => "notification channel secrets",
            Column::PlanPingUrl => "plans' heartbeat URLs",
            Column::InstanceBackupDestination => "the operator's backup destination",
        }
    }

    pub fn load(self, c: &mut DbConn) -> QueryResult<Vec<Sealed>> {
        use crate::destinations::service::associated_data as destination_aad;
        use crate::servers::service::associated_data as server_aad;
        let sealed = |row: String, associated_data: String, value: Vec<u8>| Sealed { row, associated_data, value };
        Ok(match self {
            Column::DestinationCredentials => destinations::table
                .select((destinations::id, destinations::workspace_id, destinations::credentials))
                .load::<(String, String, Vec<u8>)>(c)?
                .into_iter()
                .map(|(id, ws, v)| sealed(id.clone(), destination_aad(&ws, &id), v))
                .collect(),
            Column::ServerCredentials => servers::table
                .select((servers::id, servers::workspace_id, servers::credentials))
                .load::<(String, String, Vec<u8>)>(c)?
                .into_iter()
                .map(|(id, ws, v)| sealed(id.clone(), server_aad(&ws, &id), v))
                .collect(),
            Column::PlanSourceUrl => plans::table
                .select((plans::id, plans::workspace_id, plans::source_secret))
                .load::<(String, String, Option<Vec<u8>>)>(c)?
                .into_iter()
                .filter_map(|(id, ws, v)| {
                    Some(sealed(id.clone(), crate::plans::service::source_associated_data(&ws, &id), v?))
                })
                .collect(),
            Column::WorkspaceArtifactKey => workspaces::table
                .select((workspaces::id, workspaces::artifact_key))
                .load::<(String, Option<Vec<u8>>)>(c)?
                .into_iter()
                .filter_map(|(id, v)| {
                    Some(sealed(id.clone(), crate::artifacts::workspace_key::associated_data(&id), v?))
                })
                .collect(),
            Column::OauthVerifier => oauth_states::table
                .select((oauth_states::state_hash, oauth_states::pkce_verifier))
                .load::<(String, Vec<u8>)>(c)?
                .into_iter()
                .map(|(hash, v)| sealed(hash.clone(), crate::oauth::service::verifier_aad(&hash), v))
                .collect(),
            Column::NotificationSecrets => notify_store::all_channel_secrets(c)?
                .into_iter()
                .map(|(id, ws, v)| sealed(id.clone(), crate::notifications::service::associated_data(&ws, &id), v))
                .collect(),
            Column::PlanPingUrl => notify_store::all_pings(c)?
                .into_iter()
                .map(|p| {
                    let aad = crate::notifications::service::ping_associated_data(&p.workspace_id, &p.plan_id);
                    sealed(p.plan_id, aad, p.url_sealed)
                })
                .collect(),
            Column::InstanceBackupDestination => crate::instance_backup::store::sealed_destination(c)?
                .into_iter()
                .map(|(id, v)| sealed(id, crate::instance_backup::service::DESTINATION_AAD.into(), v))
                .collect(),
        })
    }

    /// Replaces `old` with `new` in the row, only if the row still holds `old` (an edit made
    /// meanwhile wins, and was sealed under the current key anyway). Returns whether it did.
    pub fn replace(self, c: &mut DbConn, row: &str, old: &[u8], new: &[u8]) -> QueryResult<bool> {
        let n = match self {
            Column::DestinationCredentials => diesel::update(
                destinations::table.filter(destinations::id.eq(row)).filter(destinations::credentials.eq(old)),
            )
            .set(destinations::credentials.eq(new))
            .execute(c)?,
            Column::ServerCredentials => {
                diesel::update(servers::table.filter(servers::id.eq(row)).filter(servers::credentials.eq(old)))
                    .set(servers::credentials.eq(new))
                    .execute(c)?
            }
            Column::PlanSourceUrl => {
                diesel::update(plans::table.filter(plans::id.eq(row)).filter(plans::source_secret.eq(old)))
                    .set(plans::source_secret.eq(new))
                    .execute(c)?
            }
            Column::WorkspaceArtifactKey => diesel::update(
                workspaces::table.filter(workspaces::id.eq(row)).filter(workspaces::artifact_key.eq(old)),
            )
            .set(workspaces::artifact_key.eq(new))
            .execute(c)?,
            Column::OauthVerifier => diesel::update(
                oauth_states::table
                    .filter(oauth_states::state_hash.eq(row))
                    .filter(oauth_states::pkce_verifier.eq(old)),
            )
            .set(oauth_states::pkce_verifier.eq(new))
            .execute(c)?,
            Column::NotificationSecrets => usize::from(notify_store::replace_channel_secrets(c, row, old, new)?),
            Column::PlanPingUrl => usize::from(notify_store::replace_ping(c, row, old, new)?),
            Column::InstanceBackupDestination => {
                usize::from(crate::instance_backup::store::replace_destination(c, old, new)?)
            }
        };
        Ok(n > 0)
    }
}
