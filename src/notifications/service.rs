//! The rules of notification channels: a kind's fields checked, secrets sealed (never shown
//! again; a webhook's signing secret is made here and shown once), every host the channel
//! reaches checked against the outbound policy, names unique in a workspace; "Send test"; the
//! delivery log; plans' heartbeat URLs.

use super::channels::{Attempt, ChannelKind, Transport};
use super::domain::{ChannelInput, EventKind, Named, check_name_and_kind, events_from_db, events_to_db};
use super::store::{self, ChannelChange, ChannelRow, DeliveryRow, PingRow};
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::config::NotificationSettings;
use crate::crypto::CredentialCipher;
use crate::db::schema::plans;
use crate::db::{Db, DbError, write_transaction};
use crate::fields::{FieldErrors, RawFields};
use crate::providers::outbound::AddressPolicy;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use secrecy::SecretString;
use std::sync::Arc;

/// The field a channel's settings keep its target host in (derived, for lists; never a secret).
const HOST_KEY: &str = "target_host";

/// Binds a channel's sealed secrets to its workspace and row.
pub fn associated_data(workspace: &str, id: &str) -> String {
    format!("devpilot:notification-channel:{workspace}:{id}")
}

/// Binds a plan's sealed heartbeat URL to its workspace and plan.
pub fn ping_associated_data(workspace: &str, plan: &str) -> String {
    format!("devpilot:plan-ping:{workspace}:{plan}")
}

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("Notification channel not found")]
    NotFound,
    #[error("the channel is invalid")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Db(DbError),
    #[error("stored secrets cannot be read: {0}")]
    Secrets(String),
}

impl From<DbError> for NotificationError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => NotificationError::NotFound,
            other => NotificationError::Db(other),
        }
    }
}

/// A channel as pages and the API show it: its secrets only as the names of those stored.
#[derive(Debug, Clone)]
pub struct ChannelView {
    pub id: String,
    pub name: String,
    pub kind: ChannelKind,
    /// Where it goes, without a secret (a host, addresses, a chat).
    pub target: String,
    pub events: Vec<EventKind>,
    pub enabled: bool,
    /// The fields that are not secret, as entered.
    pub settings: RawFields,
    pub stored_secrets: Vec<&'static str>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A plan and its heartbeat URL's host, if it has one.
#[derive(Debug, Clone)]
pub struct PlanPing {
    pub plan: Named,
    pub host: Option<String>,
}

#[derive(Clone)]
pub struct NotificationService {
    pub(super) db: Db,
    pub(super) cipher: Arc<CredentialCipher>,
    pub(super) transport: Transport,
    pub(super) settings: NotificationSettings,
    pub(super) instance: Arc<str>,
}

impl NotificationService {
    pub fn new(
        db: Db,
        cipher: Arc<CredentialCipher>,
        settings: NotificationSettings,
        policy: AddressPolicy,
        instance: Arc<str>,
    ) -> anyhow::Result<NotificationService> {
        let transport = Transport::new(&settings, policy)?;
        Ok(NotificationService { db, cipher, transport, settings, instance })
    }

    pub async fn list(&self, workspace: &str) -> Result<Vec<ChannelView>, NotificationError> {
        let ws = workspace.to_owned();
        let rows = self.db.run(move |c| store::list(c, &ws)).await?;
        Ok(rows.into_iter().map(|r| self.view(r)).collect())
    }

    pub async fn get(&self, workspace: &str, id: &str) -> Result<ChannelView, NotificationError> {
        Ok(self.view(self.row(workspace, id).await?))
    }

    async fn row(&self, workspace: &str, id: &str) -> Result<ChannelRow, NotificationError> {
        let (ws, id) = (workspace.to_owned(), id.to_owned());
        Ok(self.db.run(move |c| store::find(c, &ws, &id)).await?)
    }

    fn view(&self, row: ChannelRow) -> ChannelView {
        let kind = ChannelKind::parse(&row.kind).unwrap_or(ChannelKind::Webhook);
        let mut settings = RawFields::from_json(&row.settings).unwrap_or_default();
        let host = settings.get(HOST_KEY).map(str::to_owned);
        settings = RawFields::from_pairs(settings.iter().filter(|(k, _)| *k != HOST_KEY));
        let stored_secrets = kind.fields().iter().filter(|f| f.secret).map(|f| f.name).collect();
        ChannelView {
            target: kind.target(&settings, host.as_deref()),
            id: row.id,
            name: row.name,
            kind,
            events: events_from_db(&row.events),
            enabled: row.enabled,
            settings,
            stored_secrets,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }

    fn open_secrets(&self, row: &ChannelRow) -> Result<RawFields, NotificationError> {
        let plain = self
            .cipher
            .open(&row.secrets, &associated_data(&row.workspace_id, &row.id))
            .map_err(|e| NotificationError::Secrets(e.to_string()))?;
        std::str::from_utf8(&plain)
            .ok()
            .and_then(|t| RawFields::from_json(t).ok())
            .ok_or_else(|| NotificationError::Secrets("the stored secrets are malformed".into()))
    }

    /// Checks the input against the kind (and, editing, the stored secrets it keeps); returns
    /// the settings to store (with the target host), the secrets to seal, and the kind.
    async fn validate(
        &self,
        workspace: &str,
        input: &ChannelInput,
        existing: Option<(&ChannelRow, RawFields)>,
    ) -> Result<(RawFields, RawFields, ChannelKind), NotificationError> {
        let kind = check_name_and_kind(input).map_err(NotificationError::Invalid)?;
        let mut errors = FieldErrors::new();
        if let Some((row, _)) = &existing
            && row.kind != kind.code()
        {
            errors.add("kind", "A channel's kind cannot change; make a new channel instead.");
        }
        let (mut settings, mut secrets) = input.fields.split(kind.fields());
        match &existing {
            Some((_, stored)) => secrets.fill_from(stored),
            None if kind == ChannelKind::Webhook => {
                secrets.set(super::channels::SECRET_FIELD, &format!("whsec_{}", crate::crypto::random_token()));
            }
            None => {}
        }
        let mut all = settings.clone();
        all.fill_from(&secrets);
        match kind.build(&all) {
            Ok(channel) => {
                for (field, host) in channel.hosts() {
                    if let Err(refused) = self.transport.policy.check_host(&host).await {
                        errors.add(field, format!("Devpilot does not send there: {refused}"));
                    }
                }
                if let Some((_, host)) = channel.hosts().first() {
                    settings.set(HOST_KEY, host);
                }
            }
            Err(field_errors) => errors.merge(field_errors),
        }
        let (ws, name, except) =
            (workspace.to_owned(), input.name.trim().to_owned(), existing.map(|(r, _)| r.id.clone()));
        if self.db.run(move |c| store::name_taken(c, &ws, &name, except.as_deref())).await? {
            errors.add("name", "Another channel of this workspace has that name.");
        }
        if !errors.is_empty() {
            return Err(NotificationError::Invalid(errors));
        }
        Ok((settings, secrets, kind))
    }

    /// Saves a new channel. A webhook's signing secret comes back here, once.
    pub async fn create(
        &self,
        workspace: &str,
        input: &ChannelInput,
        by: &Actor,
    ) -> Result<(ChannelView, Option<SecretString>), NotificationError> {
        let (settings, secrets, kind) = self.validate(workspace, input, None).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = Utc::now().naive_utc();
        let row = ChannelRow {
            id: id.clone(),
            workspace_id: workspace.to_owned(),
            name: input.name.trim().to_owned(),
            kind: kind.code().to_owned(),
            settings: settings.to_json(),
            secrets: self.cipher.seal(secrets.to_json().as_bytes(), &associated_data(workspace, &id)),
            events: events_to_db(&input.events),
            enabled: input.enabled,
            created_at: now,
            updated_at: now,
        };
        let insert = row.clone();
        let detail = format!("A {} channel for {}.", kind.label(), events_to_db(&input.events).replace(',', ", "));
        let entry = Entry::new(by, workspace, Subject::channel(&id, &row.name), Action::Created, detail);
        self.db.write(move |c| audit::store::with_entry(c, &entry, |c| store::insert(c, &insert))).await?;
        let shown = secrets.get(super::channels::SECRET_FIELD).map(|s| SecretString::from(s.to_owned()));
        Ok((self.view(row), shown))
    }

    /// Saves a channel's changes; secrets left blank keep their stored values.
    pub async fn update(
        &self,
        workspace: &str,
        id: &str,
        input: &ChannelInput,
        by: &Actor,
    ) -> Result<ChannelView, NotificationError> {
        let row = self.row(workspace, id).await?;
        let stored = self.open_secrets(&row)?;
        let (settings, secrets, _) = self.validate(workspace, input, Some((&row, stored))).await?;
        let change = ChannelChange {
            name: input.name.trim().to_owned(),
            settings: settings.to_json(),
            secrets: self.cipher.seal(secrets.to_json().as_bytes(), &associated_data(workspace, id)),
            events: events_to_db(&input.events),
            enabled: input.enabled,
            updated_at: Utc::now().naive_utc(),
        };
        // Which settings changed, never their values (secrets among them).
        let detail = format!(
            "Saved: events {}, {}.",
            change.events.replace(',', ", "),
            if change.enabled { "enabled" } else { "disabled" }
        );
        let entry = Entry::new(by, workspace, Subject::channel(id, &change.name), Action::Updated, detail);
        let (ws, cid) = (workspace.to_owned(), id.to_owned());
        self.db.write(move |c| audit::store::with_entry(c, &entry, |c| store::update(c, &ws, &cid, &change))).await?;
        self.get(workspace, id).await
    }

    pub async fn delete(&self, workspace: &str, id: &str, by: &Actor) -> Result<(), NotificationError> {
        let row = self.row(workspace, id).await?;
        let entry = Entry::new(by, workspace, Subject::channel(id, &row.name), Action::Deleted, "Deleted.");
        let (ws, cid) = (workspace.to_owned(), id.to_owned());
        Ok(self
            .db
            .write(move |c| {
                write_transaction(c, |c| audit::store::with_entry(c, &entry, |c| store::delete(c, &ws, &cid)))
            })
            .await?)
    }

    /// Sends a test message to the channel now and logs the attempt; the answer is the result.
    pub async fn send_test(&self, workspace: &str, id: &str) -> Result<Attempt, NotificationError> {
        let row = self.row(workspace, id).await?;
        let mut fields = RawFields::from_json(&row.settings).unwrap_or_default();
        fields.fill_from(&self.open_secrets(&row)?);
        let kind = ChannelKind::parse(&row.kind).ok_or(NotificationError::NotFound)?;
        let channel =
            kind.build(&fields).map_err(|_| NotificationError::Secrets("the stored channel is invalid".into()))?;
        let event = super::emit::Event::new(
            EventKind::Test,
            workspace,
            format!("Test notification from Devpilot: {}", row.name),
            "This is a test. When a backup fails, a message like this one tells you.".into(),
        );
        let ws = workspace.to_owned();
        let payload = self.db.run(move |c| event.payload(c)).await?;
        let attempt = channel.send(&self.transport, &payload).await.redacted(&channel.secrets());
        let log = DeliveryRow {
            id: uuid::Uuid::new_v4().to_string(),
            workspace_id: ws,
            outbox_id: format!("test-{}", payload.id),
            channel_id: Some(row.id.clone()),
            plan_id: None,
            event: EventKind::Test.code().into(),
            attempt: 1,
            attempted_at: Utc::now().naive_utc(),
            ok: attempt.ok,
            outcome: attempt.outcome.clone(),
            answer: attempt.answer.clone(),
            instance_id: self.instance.to_string(),
        };
        self.db.write(move |c| store::log(c, &log)).await?;
        Ok(attempt)
    }

    /// A channel's delivery log, newest first (its attempts; nothing secret in it).
    pub async fn deliveries(&self, workspace: &str, id: &str) -> Result<Vec<DeliveryRow>, NotificationError> {
        let row = self.row(workspace, id).await?;
        let ws = workspace.to_owned();
        Ok(self.db.run(move |c| store::deliveries(c, &ws, &row.id, 200)).await?)
    }

    pub async fn pending(&self, workspace: &str, id: &str) -> Result<i64, NotificationError> {
        let (ws, cid) = (workspace.to_owned(), id.to_owned());
        Ok(self.db.run(move |c| store::pending_for_channel(c, &ws, &cid)).await?)
    }

    // ---- heartbeat pings ----

    /// Every plan of the workspace with its heartbeat URL's host.
    pub async fn plan_pings(&self, workspace: &str) -> Result<Vec<PlanPing>, NotificationError> {
        let ws = workspace.to_owned();
        let (plans, pings) = self
            .db
            .run(move |c| {
                let plans: Vec<(String, String)> = plans::table
                    .filter(plans::workspace_id.eq(&ws))
                    .order(plans::name.asc())
                    .select((plans::id, plans::name))
                    .load(c)?;
                Ok((plans, store::pings(c, &ws)?))
            })
            .await?;
        Ok(plans
            .into_iter()
            .map(|(id, name)| {
                let host = pings.iter().find(|p| p.plan_id == id).map(|p| p.host.clone());
                PlanPing { plan: Named { id, name }, host }
            })
            .collect())
    }

    pub async fn plan_ping(&self, workspace: &str, plan: &str) -> Result<PlanPing, NotificationError> {
        self.plan_pings(workspace).await?.into_iter().find(|p| p.plan.id == plan).ok_or(NotificationError::NotFound)
    }

    /// Sets (or, with an empty URL, removes) a plan's heartbeat URL.
    pub async fn set_plan_ping(&self, workspace: &str, plan: &str, url: &str) -> Result<PlanPing, NotificationError> {
        self.plan_ping(workspace, plan).await?;
        let url = url.trim().trim_end_matches('/');
        let (ws, pid) = (workspace.to_owned(), plan.to_owned());
        if url.is_empty() {
            self.db.write(move |c| store::clear_ping(c, &ws, &pid)).await?;
            return self.plan_ping(workspace, plan).await;
        }
        let invalid = |m: String| NotificationError::Invalid(FieldErrors::single("ping_url", m));
        super::domain::channel_url("Heartbeat URL", url).map_err(invalid)?;
        if url::Url::parse(url).is_ok_and(|u| u.query().is_some() || u.fragment().is_some()) {
            return Err(invalid("Heartbeat URL must not have a query string (/start and /fail are appended).".into()));
        }
        let host = super::domain::host_of(url);
        if let Err(refused) = self.transport.policy.check_host(&host).await {
            return Err(invalid(format!("Devpilot does not send there: {refused}")));
        }
        let row = PingRow {
            plan_id: plan.to_owned(),
            workspace_id: workspace.to_owned(),
            url_sealed: self.cipher.seal(url.as_bytes(), &ping_associated_data(workspace, plan)),
            host,
            updated_at: Utc::now().naive_utc(),
        };
        self.db.write(move |c| store::set_ping(c, &row)).await?;
        self.plan_ping(workspace, plan).await
    }

    /// A plan's heartbeat attempts, newest first.
    pub async fn ping_deliveries(&self, workspace: &str, plan: &str) -> Result<Vec<DeliveryRow>, NotificationError> {
        self.plan_ping(workspace, plan).await?;
        let (ws, pid) = (workspace.to_owned(), plan.to_owned());
        Ok(self.db.run(move |c| store::ping_deliveries(c, &ws, &pid, 200)).await?)
    }

    pub(super) fn open_ping(&self, row: &PingRow) -> Result<SecretString, String> {
        let plain = self
            .cipher
            .open(&row.url_sealed, &ping_associated_data(&row.workspace_id, &row.plan_id))
            .map_err(|e| e.to_string())?;
        String::from_utf8(plain).map(SecretString::from).map_err(|_| "the stored URL is malformed".to_owned())
    }

    pub(super) fn channel_of(&self, row: &ChannelRow) -> Result<Box<dyn super::channels::Channel>, String> {
        let mut fields = RawFields::from_json(&row.settings).unwrap_or_default();
        fields.fill_from(&self.open_secrets(row).map_err(|e| e.to_string())?);
        let kind = ChannelKind::parse(&row.kind).ok_or("unknown channel kind")?;
        kind.build(&fields).map_err(|_| "the stored channel is invalid".to_owned())
    }
}
