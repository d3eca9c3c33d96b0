//! Saving destinations: create and update (parsed, checked, sealed, audited, then tested), and
//! the refresh token Google's consent flow brings.

use super::audited::{self, TestedBy};
use super::connecting::server_error;
use super::domain::{DestinationName, Status};
use super::health::Trigger;
use super::service::{Destination, DestinationError, DestinationInput, DestinationService, associated_data, kind_of};
use super::store::{self, ConfigChange, DestinationRow};
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::connection_test::TestOutcome;
use crate::db::DbError;
use crate::fields::{FieldErrors, RawFields};
use crate::providers::sftp;
use crate::providers::{ProviderConfig, ProviderKind};
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

impl DestinationService {
    /// Validates, seals and stores a new destination, then tests it.
    pub async fn create(
        &self,
        workspace: &str,
        input: DestinationInput,
        by: &Actor,
    ) -> Result<(Destination, TestOutcome), DestinationError> {
        let (name, mut config_fields) = parse_input(&input, None)?;
        self.check_host_folder(workspace, &mut config_fields).await?;
        self.check_server(workspace, &config_fields.config).await?;
        self.check_addresses(&config_fields.config).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = Utc::now().naive_utc();
        let (settings, secrets, server_id) = config_fields.for_storage();
        let row = DestinationRow {
            credentials: self.cipher.seal(secrets.to_json().as_bytes(), &associated_data(workspace, &id)),
            id: id.clone(),
            workspace_id: workspace.to_owned(),
            name: name.as_str().to_owned(),
            kind: config_fields.kind.as_str().to_owned(),
            settings: settings.to_json(),
            status: Status::Testing.as_str().to_owned(),
            status_before_test: Some(Status::Failed.as_str().to_owned()),
            last_tested_at: None,
            last_test_message: None,
            is_default: false,
            created_at: now,
            updated_at: now,
            host_key_fingerprint: None,
            server_id,
            test_owner: Some(self.instance.to_string()),
            compatibility: None,
        };
        let given = audited::all_fields(&settings, &secrets, row.server_id.as_deref());
        let detail = audited::created(config_fields.config.type_label(), &given);
        let entry = Entry::new(by, workspace, Subject::destination(&id, name.as_str()), Action::Created, detail);
        self.db
            .write(move |c| audit::store::with_entry(c, &entry, |c| store::insert(c, row)))
            .await
            .map_err(duplicate_name(&name))?;
        let after_save = TestedBy::new(by, Trigger::Save);
        let outcome = self.run_test(workspace, &id, Ok(config_fields.config), false, &after_save).await?;
        Ok((self.get(workspace, &id).await?, outcome))
    }

    /// Replaces name, type and config; secret fields left blank keep their stored values (when
    /// the type is unchanged). Then tests again.
    pub async fn update(
        &self,
        workspace: &str,
        id: &str,
        input: DestinationInput,
        by: &Actor,
    ) -> Result<(Destination, TestOutcome), DestinationError> {
        let row = self.row(workspace, id).await?;
        // Unreadable stored credentials are not kept: the edit must supply them again.
        let stored = self.stored_fields(&row).unwrap_or_default();
        let (name, mut parsed) = parse_input(&input, Some((kind_of(&row)?, &stored)))?;
        self.check_host_folder(workspace, &mut parsed).await?;
        self.check_server(workspace, &parsed.config).await?;
        self.check_addresses(&parsed.config).await?;
        let (settings, secrets, server_id) = parsed.for_storage();
        let after = audited::all_fields(&settings, &secrets, server_id.as_deref());
        let detail = audited::updated(row.name != name.as_str(), (&row.kind, parsed.kind.as_str()), &stored, &after);
        let entry = Entry::new(by, workspace, Subject::destination(id, name.as_str()), Action::Updated, detail);
        let change = ConfigChange {
            name: name.as_str().to_owned(),
            kind: parsed.kind.as_str().to_owned(),
            settings: settings.to_json(),
            credentials: self.cipher.seal(secrets.to_json().as_bytes(), &associated_data(workspace, id)),
            server_id,
            updated_at: Utc::now().naive_utc(),
        };
        let (ws, rid) = (workspace.to_owned(), id.to_owned());
        self.db
            .write(move |c| audit::store::with_entry(c, &entry, |c| store::update_config(c, &ws, &rid, change)))
            .await
            .map_err(duplicate_name(&name))?;
        let outcome = self.test_saved(workspace, id, false, &TestedBy::new(by, Trigger::Save)).await?;
        Ok((self.get(workspace, id).await?, outcome))
    }

    /// Stores a refresh token from Google's consent flow in a Google Drive destination's sealed
    /// credentials, keeping every other setting and secret. The caller tests it afterwards.
    pub async fn store_oauth_tokens(
        &self,
        workspace: &str,
        id: &str,
        refresh_token: &SecretString,
        by: &Actor,
    ) -> Result<(), DestinationError> {
        let row = self.row(workspace, id).await?;
        let kind = kind_of(&row)?;
        if !kind.connects_through_consent() {
            return Err(DestinationError::Invalid(FieldErrors::single(
                "type",
                "Only Google Drive and OneDrive take OAuth tokens.",
            )));
        }
        let mut fields = self.stored_fields(&row)?;
        fields.set("refresh_token", refresh_token.expose_secret());
        let (settings, secrets) = fields.split(kind.fields());
        let detail = format!("Connected through {}'s consent page: refresh_token stored.", kind.consent_owner());
        let entry = Entry::new(by, workspace, Subject::destination(id, &row.name), Action::Updated, detail);
        let change = ConfigChange {
            name: row.name,
            kind: row.kind,
            settings: settings.to_json(),
            credentials: self.cipher.seal(secrets.to_json().as_bytes(), &associated_data(workspace, id)),
            server_id: None,
            updated_at: Utc::now().naive_utc(),
        };
        let (ws, rid) = (workspace.to_owned(), id.to_owned());
        Ok(self
            .db
            .write(move |c| audit::store::with_entry(c, &entry, |c| store::update_config(c, &ws, &rid, change)))
            .await?)
    }

    /// A managed server chosen on the form must be one of this workspace's.
    async fn check_server(&self, workspace: &str, config: &ProviderConfig) -> Result<(), DestinationError> {
        let ProviderConfig::Sftp(sftp) = config else { return Ok(()) };
        let Some(server) = sftp.server_id().map(str::to_owned) else { return Ok(()) };
        let ws = workspace.to_owned();
        match self.db.run(move |c| crate::servers::store::find(c, &ws, &server)).await {
            Ok(_) => Ok(()),
            Err(e) => Err(server_error(e.into())),
        }
    }

    /// The endpoints and hosts typed must not lead where the outbound policy refuses to go; the
    /// refusal is shown next to the field. (Every connection checks again, after its own lookup.)
    pub(super) async fn check_addresses(&self, config: &ProviderConfig) -> Result<(), DestinationError> {
        let policy = self.providers.settings.outbound;
        let mut errors = FieldErrors::new();
        for (field, host) in config.typed_hosts() {
            if let Err(refused) = policy.check_host(&host).await {
                errors.add(field, refused.to_string());
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(DestinationError::Invalid(errors)) }
    }
}

pub(super) struct Parsed {
    kind: ProviderKind,
    pub(super) fields: RawFields,
    pub(super) config: ProviderConfig,
}

impl Parsed {
    /// (settings, secrets, managed server) to store. The server is a column of its own (so a
    /// server in use cannot be deleted), and a destination that uses one keeps no login.
    fn for_storage(&self) -> (RawFields, RawFields, Option<String>) {
        let mut fields = self.fields.clone();
        let server = match &self.config {
            ProviderConfig::Sftp(c) => c.server_id().map(str::to_owned),
            _ => None,
        };
        if server.is_some() {
            for name in sftp::LOGIN_FIELD_NAMES {
                fields.set(*name, "");
            }
        }
        fields.set("server_id", "");
        let (settings, secrets) = fields.split(self.kind.fields());
        (settings, secrets, server)
    }
}

/// Parses name, type and config together so every field error is reported at once. `stored`
/// fills blank secret fields on an edit of the same type.
fn parse_input(
    input: &DestinationInput,
    stored: Option<(ProviderKind, &RawFields)>,
) -> Result<(DestinationName, Parsed), DestinationError> {
    let mut errors = FieldErrors::new();
    let name = DestinationName::parse(&input.name).map_err(|m| errors.add("name", m)).ok();
    let parsed = parse_config(input, stored).map_err(|e| errors.merge(e)).ok();
    match (name, parsed) {
        (Some(name), Some(parsed)) if errors.is_empty() => Ok((name, parsed)),
        _ => Err(DestinationError::Invalid(errors)),
    }
}

pub(super) fn parse_config(
    input: &DestinationInput,
    stored: Option<(ProviderKind, &RawFields)>,
) -> Result<Parsed, FieldErrors> {
    let kind = ProviderKind::parse(input.kind.trim()).map_err(|m| FieldErrors::single("type", m))?;
    let mut fields = input.fields.clone();
    if let Some((_, stored)) = stored.filter(|(k, _)| *k == kind) {
        // A credential given replaces the one it stands instead of (an Azure SAS, the key).
        let given = &input.fields;
        let replaced = |name: &str| kind.fields().iter().any(|f| f.instead_of == Some(name) && given.contains(f.name));
        for spec in kind.fields().iter().filter(|f| f.secret && !replaced(f.name)) {
            if let Some(v) = stored.get(spec.name).filter(|_| !fields.contains(spec.name)) {
                fields.set(spec.name, v);
            }
        }
    }
    let config = ProviderConfig::parse(kind, &fields)?;
    config.check_now(chrono::Utc::now())?;
    // Stored as decided (a box not given took the service's default), so pages and the API
    // show the style in use.
    if let ProviderConfig::S3(c) = &config {
        fields.set("path_style", if c.path_style { "true" } else { "false" });
    }
    Ok(Parsed { kind, fields, config })
}

fn duplicate_name(name: &DestinationName) -> impl FnOnce(DbError) -> DestinationError + '_ {
    move |e| match e {
        DbError::Duplicate(_) => DestinationError::Invalid(FieldErrors::single(
            "name",
            format!("A destination named \"{}\" already exists in this workspace.", name.as_str()),
        )),
        other => other.into(),
    }
}
