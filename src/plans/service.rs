//! The rules of plans: validation, the destination must be the workspace's own, the next due
//! time follows the schedule while the plan is enabled.

use super::domain::{NewPlan, PlanInput, Source};
use super::gfs::Tiers;
use super::retention::{OwnRetentionFields, RetentionFields, RetentionPolicy};
use super::retention_store;
use super::schedule::Schedule;
use super::store::{self, PlanChange, PlanRow};
use crate::artifacts::postgres::PostgresUrl;
use crate::audit::domain::describe_changes;
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::crypto::CredentialCipher;
use crate::db::page::Page;
use crate::db::{Db, DbError, write_transaction};
use crate::fields::FieldErrors;
use crate::grants::GrantService;
use chrono::{NaiveDateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::Arc;

/// A plan as pages show it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub source: Source,
    pub destination_id: Option<String>,
    pub destination_name: Option<String>,
    /// Up to two more destinations every run writes, in order (see `runs/copies.rs`).
    pub copies: Vec<PlanCopy>,
    pub schedule: String,
    pub schedule_preview: String,
    pub retention: i64,
    /// The GFS tiers (keep_last is `retention`) and the lock its uploads carry.
    pub policy: RetentionPolicy,
    pub enabled: bool,
    pub encrypt: bool,
    pub next_run_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Plan {
    /// The form's values for an edit.
    pub fn input(&self) -> PlanInput {
        PlanInput {
            name: self.name.clone(),
            source_kind: self.source.kind().to_owned(),
            source_path: match &self.source {
                Source::Postgres(_) | Source::Mariadb(_) => String::new(),
                Source::Bucket(location) => {
                    super::bucket_source::destination_of(location).map(|(_, p)| p.shown()).unwrap_or_default()
                }
                _ => self.source.location(),
            },
            source_url: String::new(),
            source_destination_id: match &self.source {
                Source::Bucket(location) => {
                    super::bucket_source::destination_of(location).map(|(id, _)| id.to_owned()).unwrap_or_default()
                }
                _ => String::new(),
            },
            destination_id: self.destination_id.clone().unwrap_or_default(),
            copies: self.copies.iter().map(|c| c.destination_id.clone()).collect(),
            copy_retention: self.copies.iter().map(|c| c.policy.as_ref().map(OwnRetentionFields::of)).collect(),
            schedule: self.schedule.clone(),
            retention: self.retention.to_string(),
            tiers: RetentionFields::of(&self.policy),
            enabled: self.enabled,
            encrypt: self.encrypt,
        }
    }
}

/// One of a plan's copies: a destination beside its primary one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanCopy {
    pub destination_id: String,
    pub destination_name: String,
    /// The copy's own retention; None: the plan's applies.
    pub policy: Option<RetentionPolicy>,
}

/// A destination the plan form offers.
#[derive(Debug, Clone)]
pub struct DestinationChoice {
    pub id: String,
    pub name: String,
    pub is_default: bool,
    pub status: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("Plan not found")]
    NotFound,
    #[error("the plan is invalid")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Db(DbError),
}

impl From<DbError> for PlanError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => PlanError::NotFound,
            other => PlanError::Db(other),
        }
    }
}

/// When an enabled plan is next due; None while disabled.
pub fn next_run(schedule: &Schedule, enabled: bool, now: NaiveDateTime) -> Option<NaiveDateTime> {
    if enabled { schedule.next_after(now) } else { None }
}

/// A database source's sealed connection URL is bound to its workspace and plan.
pub fn source_associated_data(workspace: &str, plan: &str) -> String {
    format!("devpilot:plan-source:{workspace}:{plan}")
}

/// The full connection URL of the plan's database source.
pub fn open_source_secret(cipher: &CredentialCipher, plan: &PlanRow) -> Result<SecretString, String> {
    let sealed = plan.source_secret.as_deref().ok_or("the plan's connection URL is missing; edit the plan")?;
    let plain = cipher
        .open(sealed, &source_associated_data(&plan.workspace_id, &plan.id))
        .map_err(|e| format!("the plan's connection URL cannot be opened ({e}); enter it again"))?;
    String::from_utf8(plain).map(SecretString::from).map_err(|_| "the plan's connection URL is damaged".into())
}

#[derive(Clone)]
pub struct PlanService {
    db: Db,
    cipher: Arc<CredentialCipher>,
    grants: GrantService,
    /// A bucket source's S3 provider is built through the destinations' (their policy and clients).
    destinations: Option<crate::destinations::service::DestinationService>,
}

impl PlanService {
    pub fn new(db: Db, cipher: Arc<CredentialCipher>, grants: GrantService) -> PlanService {
        PlanService { db, cipher, grants, destinations: None }
    }

    /// With the destinations a bucket source reads through (startup sets them).
    pub fn with_destinations(self, destinations: crate::destinations::service::DestinationService) -> PlanService {
        PlanService { destinations: Some(destinations), ..self }
    }

    /// Every plan of the workspace, by name.
    pub async fn list(&self, workspace: &str) -> Result<Vec<Plan>, PlanError> {
        self.load(workspace, store::Selection::All).await
    }

    /// One page of the workspace's plans by name (`page` from 1), and how many there are in all.
    pub async fn page(&self, workspace: &str, page: i64, per_page: i64) -> Result<Page<Plan>, PlanError> {
        let (ws, page) = (workspace.to_owned(), page.max(1));
        let total = self.db.run(move |c| store::count(c, &ws)).await?;
        let selection = store::Selection::Page { limit: per_page, offset: (page - 1) * per_page };
        Ok(Page { items: self.load(workspace, selection).await?, page, per_page, total })
    }

    pub async fn get(&self, workspace: &str, id: &str) -> Result<Plan, PlanError> {
        self.load(workspace, store::Selection::One(id.to_owned())).await?.into_iter().next().ok_or(PlanError::NotFound)
    }

    /// The selected plans with their copies and retention policies, in four queries whatever
    /// their number (a page reads only its own plans' rows).
    async fn load(&self, workspace: &str, selection: store::Selection) -> Result<Vec<Plan>, PlanError> {
        let ws = workspace.to_owned();
        let (rows, copies, names, policies) = self
            .db
            .run(move |c| {
                let rows = store::list(c, &ws, &selection)?;
                // The whole workspace's copies and policies for every plan; only the plans' own otherwise.
                let ids: Option<Vec<String>> = (!matches!(selection, store::Selection::All))
                    .then(|| rows.iter().map(|(r, _)| r.id.clone()).collect());
                let copies = super::copies::of_plans(c, &ws, ids.as_deref())?;
                let policies = retention_store::plans_policies(c, &ws, ids.as_deref())?;
                let mut wanted: Vec<String> = copies.iter().map(|(_, _, d)| d.clone()).collect();
                wanted.sort();
                wanted.dedup();
                let names = crate::destinations::store::names_of(c, &ws, &wanted)?;
                Ok((rows, copies, names, policies))
            })
            .await?;
        let names: HashMap<String, String> = names.into_iter().collect();
        let mut copies_of: HashMap<String, Vec<PlanCopy>> = HashMap::new();
        for (plan, position, destination) in copies {
            let copy = PlanCopy {
                destination_name: names.get(&destination).cloned().unwrap_or_default(),
                destination_id: destination,
                policy: policies.get(&(plan.clone(), position)).copied(),
            };
            copies_of.entry(plan).or_default().push(copy);
        }
        Ok(rows
            .into_iter()
            .map(|(row, dest)| {
                let copies = copies_of.remove(&row.id).unwrap_or_default();
                let policy = policies.get(&(row.id.clone(), 0)).copied();
                Plan { copies, ..to_plan(row, dest, policy) }
            })
            .collect())
    }

    /// The workspace's destinations, the default first.
    pub async fn destination_choices(&self, workspace: &str) -> Result<Vec<DestinationChoice>, PlanError> {
        let ws = workspace.to_owned();
        let rows = self.db.run(move |c| crate::destinations::store::list(c, &ws, 10_000, 0)).await?;
        let mut choices: Vec<DestinationChoice> = rows
            .into_iter()
            .map(|r| DestinationChoice { id: r.id, name: r.name, is_default: r.is_default, status: r.status })
            .collect();
        choices.sort_by_key(|c| !c.is_default);
        Ok(choices)
    }

    /// Parses the form, checks the destination is the workspace's own and that a database
    /// source answers. On an edit a blank connection URL keeps the stored one.
    async fn validate(
        &self,
        workspace: &str,
        input: &PlanInput,
        existing: Option<&PlanRow>,
        now: NaiveDateTime,
    ) -> Result<NewPlan, PlanError> {
        let mut input = input.clone();
        let bucket_with_url = input.source_kind == "bucket" && input.source_destination_id.trim().is_empty();
        let database_kind = matches!(input.source_kind.as_str(), "postgres" | "mariadb") || bucket_with_url;
        let keeps_stored_url = database_kind && input.source_url.trim().is_empty();
        if let Some(row) =
            existing.filter(|r| r.source_kind == input.source_kind && keeps_stored_url && r.source_secret.is_some())
        {
            let stored = open_source_secret(&self.cipher, row)
                .map_err(|m| PlanError::Invalid(FieldErrors::single("source_url", m)))?;
            input.source_url = stored.expose_secret().to_owned();
        }
        let mut parsed = NewPlan::parse(&input, now);
        let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
        if let Ok(plan) = &mut parsed
            && matches!(plan.source, Source::Directory(_) | Source::Sqlite(_))
        {
            let access = self.grants.access(workspace).await?;
            let source = plan.source.clone();
            let checked = tokio::task::spawn_blocking(move || super::host_source::check(&access, source))
                .await
                .unwrap_or_else(|e| Err(format!("The check of the source stopped: {e}.")));
            match checked {
                Ok(resolved) => plan.source = resolved,
                Err(m) => errors.add("source_path", m),
            }
        }
        if let Ok(NewPlan { source: Source::Mariadb(_), source_secret: Some(url), .. }) = &parsed
            && let Err(problem) = super::mariadb_source::check(&self.db, workspace, url).await?
        {
            errors.add("source_url", format!("The database cannot be backed up: {problem}."));
        } else if let Ok(NewPlan { source: Source::Postgres(_), source_secret: Some(url), .. }) = &parsed
            && let Err(problem) = self.check_database(workspace, url).await?
        {
            errors.add("source_url", format!("The database cannot be backed up: {problem}."));
        }
        if let Ok(NewPlan { source: Source::Bucket(location), source_secret, .. }) = &parsed
            && let Err((field, problem)) = self.check_bucket(workspace, location, source_secret.as_ref()).await?
        {
            errors.add(field, problem);
        }
        let chosen = input.destination_id.trim().to_owned();
        if !chosen.is_empty() {
            let ws = workspace.to_owned();
            let kind = self.db.run(move |c| retention_store::destination_kind(c, &ws, &chosen)).await?;
            match (kind, &parsed) {
                (None, _) => errors.add("destination_id", "That destination does not exist in this workspace."),
                (Some(kind), Ok(plan)) if plan.policy.lock.is_some() => {
                    if let Err(m) = super::retention::lock_capable(&kind) {
                        errors.add("lock_mode", m);
                    }
                }
                _ => {}
            }
        }
        // Each copy must be a destination of this same workspace (another's id reads as unknown),
        // one that can hold the lock its retention (its own, else the plan's) puts on uploads.
        for (i, id) in input.copies.iter().enumerate() {
            let (ws, id) = (workspace.to_owned(), id.trim().to_owned());
            if id.is_empty() {
                continue;
            }
            let (field, chosen) = (super::copies::field(i + 1), id.clone());
            let Some(kind) = self.db.run(move |c| retention_store::destination_kind(c, &ws, &chosen)).await? else {
                errors.add(&field, "That destination does not exist in this workspace.");
                continue;
            };
            let Ok(plan) = &parsed else { continue };
            let own =
                plan.copies.iter().position(|c| *c == id).and_then(|j| plan.copy_policies.get(j)).copied().flatten();
            let (lock, lock_field, hint) = match own {
                Some(own) => (own.lock, super::copies::own_field(i + 1, "lock_mode"), ""),
                None => (
                    plan.policy.lock,
                    field,
                    " The plan's Object Lock applies to each copy without its own retention: give this copy \
                     its own retention without a lock.",
                ),
            };
            if lock.is_some()
                && let Err(m) = super::retention::lock_capable(&kind)
            {
                errors.add(&lock_field, format!("{m}{hint}"));
            }
        }
        match parsed {
            Ok(plan) if errors.is_empty() => Ok(plan),
            _ => Err(PlanError::Invalid(errors)),
        }
    }

    /// Where the URL leads must be granted (or public and allowed), and answer as a database
    /// that is not Devpilot's own; the message for the field otherwise.
    async fn check_database(&self, workspace: &str, url: &SecretString) -> Result<Result<(), String>, PlanError> {
        let access = crate::grants::databases::access(&self.db, workspace).await?;
        let checked = match PostgresUrl::parse(url.expose_secret()) {
            Ok(url) => match url.reach(&access).await {
                Ok(reachable) => reachable.check().await.map(drop),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        Ok(checked.map_err(|e| e.to_string()))
    }

    /// A bucket source opened and checked step by step (`plans::bucket_source::check`); the
    /// field and message otherwise.
    async fn check_bucket(
        &self,
        workspace: &str,
        location: &str,
        secret: Option<&SecretString>,
    ) -> Result<Result<(), (&'static str, String)>, PlanError> {
        let destinations = self.destinations.as_ref().ok_or_else(|| {
            PlanError::Invalid(FieldErrors::single("source_kind", "Bucket sources are not available on this server."))
        })?;
        let opened =
            super::bucket_source::open(destinations, workspace, location, secret).await.map_err(bucket_error)?;
        let (provider, prefix) = match opened {
            Ok(opened) => opened,
            Err((message, field)) => return Ok(Err((field, message))),
        };
        let field = if super::bucket_source::destination_of(location).is_some() { "source_path" } else { "source_url" };
        Ok(super::bucket_source::check(&provider, &prefix)
            .await
            .map_err(|problem| (field, format!("The bucket cannot be backed up: {problem}."))))
    }

    pub async fn create(&self, workspace: &str, input: &PlanInput, by: &Actor) -> Result<Plan, PlanError> {
        let now = Utc::now().naive_utc();
        let plan = self.validate(workspace, input, None, now).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let row = PlanRow::new(id.clone(), workspace.to_owned(), now, self.change(workspace, &id, &plan, now));
        let mut detail = format!("{} source, {}.", row.source_kind, plan.schedule.preview());
        if !plan.copies.is_empty() {
            detail.push_str(&format!(" Copies: {}.", self.copy_names(workspace, &plan.copies).await?));
        }
        let entry = Entry::new(by, workspace, Subject::plan(&id, plan.name.as_str()), Action::Created, detail);
        let (ws, copies, policy, own) =
            (workspace.to_owned(), plan.copies.clone(), plan.policy, plan.copy_policies.clone());
        self.db
            .run(move |c| {
                audit::store::with_entry(c, &entry, |c| {
                    store::insert(c, &row)?;
                    super::copies::replace(c, &row.id, &copies, now)?;
                    retention_store::save_all(c, &ws, &row.id, &policy, &own)
                })
            })
            .await
            .map_err(duplicate_name(plan.name.as_str()))?;
        self.get(workspace, &id).await
    }

    pub async fn update(&self, workspace: &str, id: &str, input: &PlanInput, by: &Actor) -> Result<Plan, PlanError> {
        let (ws, pid) = (workspace.to_owned(), id.to_owned());
        let existing = self.db.run(move |c| store::find(c, &ws, &pid)).await?;
        let now = Utc::now().naive_utc();
        let plan = self.validate(workspace, input, Some(&existing), now).await?;
        let change = self.change(workspace, id, &plan, now);
        let url_changed = match (&plan.source_secret, open_source_secret(&self.cipher, &existing).ok()) {
            (Some(new), Some(old)) => new.expose_secret() != old.expose_secret(),
            (new, old) => new.is_some() != old.is_some(),
        };
        let mut fields = changed(&existing, &change, url_changed);
        // The plan as stored: its copies and their own retentions, for what the edit changes.
        let before_plan = self.get(workspace, id).await?;
        let before: Vec<String> = before_plan.copies.iter().map(|c| c.destination_id.clone()).collect();
        let before_own: Vec<Option<RetentionPolicy>> = before_plan.copies.iter().map(|c| c.policy).collect();
        // A copy without its own retention is no change of retention, whether it was added or removed.
        let own = |v: &[Option<RetentionPolicy>]| v.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
        let retention_changed = before_plan.policy != plan.policy
            || before_own[..own(&before_own)] != plan.copy_policies[..own(&plan.copy_policies)];
        if retention_changed && !fields.iter().any(|f| f == "retention") {
            fields.push("retention".into());
        }
        let mut detail = describe_changes(&fields);
        if before != plan.copies {
            fields.push("copies".into());
            let now_copies = match plan.copies.is_empty() {
                true => "none".to_owned(),
                false => self.copy_names(workspace, &plan.copies).await?,
            };
            detail = format!("{} Copies: {now_copies}.", describe_changes(&fields));
        }
        let entry = Entry::new(by, workspace, Subject::plan(id, plan.name.as_str()), Action::Updated, detail);
        let (ws, pid, copies, policy, own) =
            (workspace.to_owned(), id.to_owned(), plan.copies.clone(), plan.policy, plan.copy_policies.clone());
        self.db
            .run(move |c| {
                audit::store::with_entry(c, &entry, |c| {
                    store::update(c, &ws, &pid, change)?;
                    super::copies::replace(c, &pid, &copies, now)?;
                    retention_store::save_all(c, &ws, &pid, &policy, &own)
                })
            })
            .await
            .map_err(duplicate_name(plan.name.as_str()))?;
        self.get(workspace, id).await
    }

    /// Enabling needs a destination (a plan whose destination was deleted has none).
    pub async fn set_enabled(&self, workspace: &str, id: &str, enabled: bool, by: &Actor) -> Result<Plan, PlanError> {
        let plan = self.get(workspace, id).await?;
        if enabled && plan.destination_id.is_none() {
            return Err(PlanError::Invalid(FieldErrors::single(
                "destination_id",
                "This plan has no destination: edit it and choose one first.",
            )));
        }
        let schedule =
            Schedule::parse(&plan.schedule).map_err(|m| PlanError::Invalid(FieldErrors::single("schedule", m)))?;
        let next = next_run(&schedule, enabled, Utc::now().naive_utc());
        let action = if enabled { Action::Enabled } else { Action::Disabled };
        let entry = Entry::new(by, workspace, Subject::plan(id, &plan.name), action, "");
        let (ws, pid) = (workspace.to_owned(), id.to_owned());
        self.db
            .run(move |c| audit::store::with_entry(c, &entry, |c| store::set_enabled(c, &ws, &pid, enabled, next)))
            .await?;
        self.get(workspace, id).await
    }

    /// The destinations' names, in order, for the audit entry: “Disk”, “Offsite”.
    async fn copy_names(&self, workspace: &str, ids: &[String]) -> Result<String, PlanError> {
        let choices = self.destination_choices(workspace).await?;
        let name = |id: &String| choices.iter().find(|c| &c.id == id).map_or(id.clone(), |c| c.name.clone());
        Ok(ids.iter().map(|id| format!("“{}”", name(id))).collect::<Vec<_>>().join(", "))
    }

    /// The stored form of a valid plan (its connection URL sealed).
    fn change(&self, workspace: &str, id: &str, plan: &NewPlan, now: NaiveDateTime) -> PlanChange {
        PlanChange {
            name: plan.name.as_str().to_owned(),
            slug: plan.name.slug(),
            source_kind: plan.source.kind().to_owned(),
            source_path: plan.source.location(),
            destination_id: plan.destination_id.clone(),
            schedule: plan.schedule.as_str().to_owned(),
            retention: i64::from(plan.retention.get()),
            enabled: plan.enabled,
            next_run_at: next_run(&plan.schedule, plan.enabled, now),
            updated_at: now,
            source_secret: self.seal_source(workspace, id, plan),
            encrypt: plan.encrypt,
        }
    }

    fn seal_source(&self, workspace: &str, id: &str, plan: &NewPlan) -> Option<Vec<u8>> {
        let url = plan.source_secret.as_ref()?;
        Some(self.cipher.seal(url.expose_secret().as_bytes(), &source_associated_data(workspace, id)))
    }

    pub async fn delete(&self, workspace: &str, id: &str, by: &Actor) -> Result<(), PlanError> {
        let (ws, pid, by) = (workspace.to_owned(), id.to_owned(), by.clone());
        Ok(self
            .db
            .run(move |c| {
                write_transaction(c, |c| {
                    let name = store::find(c, &ws, &pid)?.name;
                    store::delete(c, &ws, &pid)?;
                    audit::store::record(c, &Entry::new(&by, &ws, Subject::plan(&pid, &name), Action::Deleted, ""))
                })
            })
            .await?)
    }
}

/// The names of the fields an edit changes (the connection URL's only as "source_url").
fn changed(before: &PlanRow, after: &PlanChange, url_changed: bool) -> Vec<String> {
    let fields = [
        ("name", before.name != after.name),
        ("source_kind", before.source_kind != after.source_kind),
        ("source_path", before.source_path != after.source_path),
        ("source_url", url_changed),
        ("destination_id", before.destination_id != after.destination_id),
        ("schedule", before.schedule != after.schedule),
        ("retention", before.retention != after.retention),
        ("enabled", before.enabled != after.enabled),
        ("encrypt", before.encrypt != after.encrypt),
    ];
    fields.into_iter().filter(|(_, differs)| *differs).map(|(name, _)| name.to_owned()).collect()
}

fn to_plan(row: PlanRow, destination_name: Option<String>, policy: Option<RetentionPolicy>) -> Plan {
    // A plan without a row (none should remain after the migration) keeps its newest N.
    let last = Tiers::last(u32::try_from(row.retention.max(1)).unwrap_or(1));
    let policy = policy.unwrap_or(RetentionPolicy { tiers: last, lock: None });
    let preview = Schedule::parse(&row.schedule).map_or_else(|e| format!("invalid schedule: {e}"), |s| s.preview());
    Plan {
        source: Source::from_db(&row.source_kind, &row.source_path),
        id: row.id,
        name: row.name,
        slug: row.slug,
        destination_id: row.destination_id,
        destination_name,
        copies: Vec::new(),
        schedule: row.schedule,
        schedule_preview: preview,
        retention: row.retention,
        policy,
        enabled: row.enabled,
        encrypt: row.encrypt,
        next_run_at: row.next_run_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn duplicate_name(name: &str) -> impl FnOnce(DbError) -> PlanError + '_ {
    move |e| match e {
        DbError::Duplicate(_) => PlanError::Invalid(FieldErrors::single(
            "name",
            format!("A plan named \"{name}\" already exists in this workspace."),
        )),
        other => other.into(),
    }
}

/// A destination lookup's failure while a bucket source is checked.
fn bucket_error(e: crate::destinations::service::DestinationError) -> PlanError {
    use crate::destinations::service::DestinationError;
    match e {
        DestinationError::Db(e) => PlanError::from(e),
        other => PlanError::Invalid(FieldErrors::single("source_destination_id", other.to_string())),
    }
}
