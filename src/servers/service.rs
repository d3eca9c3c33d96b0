//! The rules of managed servers: validation, sealing the login's secrets, the pinned host key,
//! refusing to delete a server in use. Destinations reach a server's login only through
//! [`login_for`], at test and run time, so an edit here applies to all of them at once.

use super::domain::NewServer;
use super::store::{self, ServerChange, ServerRow};
use crate::audit::domain::{changed_fields, describe_changes};
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::connection_test::TestOutcome;
use crate::crypto::CredentialCipher;
use crate::db::{Db, DbError, write_transaction};
use crate::fields::{FieldErrors, RawFields};
use crate::host_keys::HostKeyOffer;
use crate::host_keys::service::{AcceptError, Pin, PinsHostKeys};
use crate::providers::ProviderContext;
use crate::providers::sftp::{LOGIN_FIELDS, SshLogin};
use chrono::{NaiveDateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;

/// A server as pages show it: the login's secrets only as the names of those stored.
#[derive(Debug, Clone)]
pub struct Server {
    pub id: String,
    pub name: String,
    pub host: String,
    pub port: i64,
    pub username: String,
    pub stored_secrets: Vec<&'static str>,
    pub host_key: Option<String>,
    /// Names of the destinations that use it.
    pub used_by: Vec<String>,
    pub updated_at: NaiveDateTime,
}

impl Server {
    /// The non-secret fields, as the form shows them.
    pub fn settings(&self) -> RawFields {
        let port = self.port.to_string();
        RawFields::from_pairs([("host", self.host.as_str()), ("port", &port), ("username", &self.username)])
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("Server not found")]
    NotFound,
    #[error("the server is invalid")]
    Invalid(FieldErrors),
    #[error("the server is used by {}", .0.join(", "))]
    InUse(Vec<String>),
    #[error(transparent)]
    Db(DbError),
    #[error("stored credentials cannot be read: {0}")]
    Credentials(String),
}

impl From<DbError> for ServerError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => ServerError::NotFound,
            other => ServerError::Db(other),
        }
    }
}

/// Binds a server's sealed secrets to its workspace and row (not interchangeable with a
/// destination's).
pub fn associated_data(workspace: &str, id: &str) -> String {
    format!("devpilot:server:{workspace}:{id}")
}

/// A server's login, decrypted, and its pinned host key: what a destination that uses it
/// connects with.
pub async fn login_for(
    db: &Db,
    cipher: &CredentialCipher,
    workspace: &str,
    id: &str,
) -> Result<(SshLogin, Option<String>), ServerError> {
    let (ws, sid) = (workspace.to_owned(), id.to_owned());
    let row = db.run(move |c| store::find(c, &ws, &sid)).await?;
    let login = SshLogin::parse(&fields_of(cipher, &row)?)
        .map_err(|_| ServerError::Credentials("the stored login is invalid".into()))?;
    Ok((login, row.host_key_fingerprint))
}

pub async fn pin_host_key(db: &Db, workspace: &str, id: &str, fingerprint: &str) -> Result<(), ServerError> {
    let (ws, sid, fp) = (workspace.to_owned(), id.to_owned(), fingerprint.to_owned());
    Ok(db.write(move |c| store::set_host_key(c, &ws, &sid, &fp)).await?)
}

/// Host, port, username and the decrypted secrets of a row, as fields.
fn fields_of(cipher: &CredentialCipher, row: &ServerRow) -> Result<RawFields, ServerError> {
    let plain = cipher
        .open(&row.credentials, &associated_data(&row.workspace_id, &row.id))
        .map_err(|e| ServerError::Credentials(e.to_string()))?;
    let mut fields = std::str::from_utf8(&plain)
        .ok()
        .and_then(|t| RawFields::from_json(t).ok())
        .ok_or_else(|| ServerError::Credentials("stored credentials are malformed".into()))?;
    fields.set("host", &row.host);
    fields.set("port", &row.port.to_string());
    fields.set("username", &row.username);
    Ok(fields)
}

#[derive(Clone)]
pub struct ServerService {
    pub(super) db: Db,
    pub(super) cipher: Arc<CredentialCipher>,
    pub(super) providers: ProviderContext,
}

impl ServerService {
    pub fn new(db: Db, cipher: Arc<CredentialCipher>, providers: ProviderContext) -> ServerService {
        ServerService { db, cipher, providers }
    }

    pub async fn list(&self, workspace: &str) -> Result<Vec<Server>, ServerError> {
        let ws = workspace.to_owned();
        let (rows, users) =
            self.db.run(move |c| Ok((store::list(c, &ws)?, store::destinations_using_servers(c, &ws)?))).await?;
        let mut by_server: HashMap<String, Vec<String>> = HashMap::new();
        for (server, name) in users {
            by_server.entry(server).or_default().push(name);
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let used_by = by_server.remove(&row.id).unwrap_or_default();
                self.to_server(row, used_by)
            })
            .collect())
    }

    pub async fn get(&self, workspace: &str, id: &str) -> Result<Server, ServerError> {
        let row = self.row(workspace, id).await?;
        Ok(self.to_server(row, Vec::new()))
    }

    async fn row(&self, workspace: &str, id: &str) -> Result<ServerRow, ServerError> {
        let (ws, sid) = (workspace.to_owned(), id.to_owned());
        Ok(self.db.run(move |c| store::find(c, &ws, &sid)).await?)
    }

    /// Validates, seals and stores a new server, then tests its login (which pins its host key).
    pub async fn create(
        &self,
        workspace: &str,
        name: &str,
        fields: &RawFields,
        by: &Actor,
    ) -> Result<(Server, TestOutcome), ServerError> {
        let server = NewServer::parse(name, fields).map_err(ServerError::Invalid)?;
        self.check_address(&server).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = Utc::now().naive_utc();
        let row = ServerRow {
            credentials: self.seal(workspace, &id, fields),
            id: id.clone(),
            workspace_id: workspace.to_owned(),
            name: server.name.as_str().to_owned(),
            host: server.login.host.clone(),
            port: i64::from(server.login.port),
            username: server.login.username.clone(),
            host_key_fingerprint: None,
            created_at: now,
            updated_at: now,
        };
        let given: Vec<&str> = LOGIN_FIELDS.iter().filter(|f| fields.contains(f.name)).map(|f| f.name).collect();
        let detail = format!("{}@{}, with {}.", row.username, row.host, given.join(", "));
        let entry = Entry::new(by, workspace, Subject::server(&id, server.name.as_str()), Action::Created, detail);
        self.db
            .write(move |c| audit::store::with_entry(c, &entry, |c| store::insert(c, &row)))
            .await
            .map_err(duplicate_name(&server.name))?;
        let outcome = self.test_because(workspace, &id, by, "After saving").await?;
        Ok((self.get(workspace, &id).await?, outcome))
    }

    /// Replaces name and login; secret fields left blank keep their stored values. The pinned
    /// host key stays. Then tests again.
    pub async fn update(
        &self,
        workspace: &str,
        id: &str,
        name: &str,
        fields: &RawFields,
        by: &Actor,
    ) -> Result<(Server, TestOutcome), ServerError> {
        let row = self.row(workspace, id).await?;
        let mut fields = fields.clone();
        // Unreadable stored secrets are not kept: the edit must supply them again.
        if let Ok(stored) = fields_of(&self.cipher, &row) {
            for spec in LOGIN_FIELDS.iter().filter(|f| f.secret) {
                if let Some(v) = stored.get(spec.name).filter(|_| !fields.contains(spec.name)) {
                    fields.set(spec.name, v);
                }
            }
        }
        let server = NewServer::parse(name, &fields).map_err(ServerError::Invalid)?;
        self.check_address(&server).await?;
        let before = fields_of(&self.cipher, &row).unwrap_or_default();
        let (after_settings, after_secrets) = fields.split(LOGIN_FIELDS);
        let mut after = after_settings;
        after.fill_from(&after_secrets);
        after.set("port", &server.login.port.to_string());
        let mut names = changed_fields(&before, &after);
        if row.name != server.name.as_str() {
            names.insert(0, "name".into());
        }
        let entry = Entry::new(
            by,
            workspace,
            Subject::server(id, server.name.as_str()),
            Action::Updated,
            describe_changes(&names),
        );
        let change = ServerChange {
            name: server.name.as_str().to_owned(),
            host: server.login.host.clone(),
            port: i64::from(server.login.port),
            username: server.login.username.clone(),
            credentials: self.seal(workspace, id, &fields),
            updated_at: Utc::now().naive_utc(),
        };
        let (ws, sid) = (workspace.to_owned(), id.to_owned());
        self.db
            .write(move |c| audit::store::with_entry(c, &entry, |c| store::update(c, &ws, &sid, change)))
            .await
            .map_err(duplicate_name(&server.name))?;
        let outcome = self.test_because(workspace, id, by, "After saving").await?;
        Ok((self.get(workspace, id).await?, outcome))
    }

    /// The host must not lead where the outbound policy refuses to go (checked again, after its
    /// own lookup, at every connection).
    async fn check_address(&self, server: &NewServer) -> Result<(), ServerError> {
        let policy = self.providers.settings.outbound;
        policy
            .check_host(&server.login.host)
            .await
            .map_err(|refused| ServerError::Invalid(FieldErrors::single("host", refused.to_string())))
    }

    /// Deletes a server no destination uses; else refuses with the names of those that do.
    pub async fn delete(&self, workspace: &str, id: &str, by: &Actor) -> Result<(), ServerError> {
        let (ws, sid, by) = (workspace.to_owned(), id.to_owned(), by.clone());
        let users = self
            .db
            .write(move |c| {
                write_transaction(c, |c| {
                    let name = store::find(c, &ws, &sid)?.name;
                    let users = store::delete_unused(c, &ws, &sid)?;
                    if users.is_empty() {
                        audit::store::record(
                            c,
                            &Entry::new(&by, &ws, Subject::server(&sid, &name), Action::Deleted, ""),
                        )?;
                    }
                    Ok(users)
                })
            })
            .await?;
        if users.is_empty() { Ok(()) } else { Err(ServerError::InUse(users)) }
    }

    fn seal(&self, workspace: &str, id: &str, fields: &RawFields) -> Vec<u8> {
        let (_, secrets) = fields.split(LOGIN_FIELDS);
        self.cipher.seal(secrets.to_json().as_bytes(), &associated_data(workspace, id))
    }

    fn to_server(&self, row: ServerRow, used_by: Vec<String>) -> Server {
        // Which secrets are stored is shown ("a key is stored"), never their values.
        let stored_secrets = match fields_of(&self.cipher, &row) {
            Ok(all) => LOGIN_FIELDS.iter().filter(|f| f.secret && all.contains(f.name)).map(|f| f.name).collect(),
            Err(_) => Vec::new(),
        };
        Server {
            id: row.id,
            name: row.name,
            host: row.host,
            port: row.port,
            username: row.username,
            stored_secrets,
            host_key: row.host_key_fingerprint,
            used_by,
            updated_at: row.updated_at,
        }
    }
}

#[async_trait::async_trait(?Send)]
impl PinsHostKeys for ServerService {
    type Error = ServerError;

    fn db(&self) -> &Db {
        &self.db
    }

    async fn name_of(&self, workspace: &str, id: &str) -> Result<String, ServerError> {
        Ok(self.row(workspace, id).await?.name)
    }

    async fn host_key_offer(&self, workspace: &str, id: &str) -> Result<HostKeyOffer, ServerError> {
        let (login, pinned) = login_for(&self.db, &self.cipher, workspace, id).await?;
        Ok(HostKeyOffer::fetch(&login, pinned, &self.providers.settings).await)
    }

    async fn pin_for(&self, _workspace: &str, id: &str) -> Result<Pin, ServerError> {
        let sid = id.to_owned();
        Ok(Box::new(move |c, ws, fp| {
            let name = store::find(c, ws, &sid)?.name;
            store::set_host_key(c, ws, &sid, fp)?;
            Ok((Subject::server(&sid, &name), ""))
        }))
    }

    async fn test_accepted(&self, workspace: &str, id: &str, by: &Actor) -> Result<TestOutcome, ServerError> {
        self.test_because(workspace, id, by, "After accepting the host key").await
    }
}

impl From<AcceptError> for ServerError {
    fn from(e: AcceptError) -> Self {
        match e {
            AcceptError::Refused(errors) => ServerError::Invalid(errors),
            AcceptError::Db(e) => e.into(),
        }
    }
}

fn duplicate_name(name: &super::domain::ServerName) -> impl FnOnce(DbError) -> ServerError + '_ {
    move |e| match e {
        DbError::Duplicate(_) => ServerError::Invalid(FieldErrors::single(
            "name",
            format!("A server named \"{}\" already exists in this workspace.", name.as_str()),
        )),
        other => other.into(),
    }
}
