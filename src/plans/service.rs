//! The rules of plans: validation, the destination must be the workspace's own, the next due
//! time follows the schedule while the plan is enabled.

use super::domain::{NewPlan, PlanInput, Source};
use super::schedule::Schedule;
use super::store::{self, PlanChange, PlanRow};
use crate::db::{Db, DbError};
use crate::destinations::fields::FieldErrors;
use chrono::{NaiveDateTime, Utc};

/// A plan as pages show it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub source: Source,
    pub destination_id: Option<String>,
    pub destination_name: Option<String>,
    pub schedule: String,
    pub schedule_preview: String,
    pub retention: i64,
    pub enabled: bool,
    pub next_run_at: Option<NaiveDateTime>,
}

impl Plan {
    /// The form's values for an edit.
    pub fn input(&self) -> PlanInput {
        PlanInput {
            name: self.name.clone(),
            source_kind: self.source.kind().to_owned(),
            source_path: self.source.location(),
            destination_id: self.destination_id.clone().unwrap_or_default(),
            schedule: self.schedule.clone(),
            retention: self.retention.to_string(),
            enabled: self.enabled,
        }
    }
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

#[derive(Clone)]
pub struct PlanService {
    db: Db,
}

impl PlanService {
    pub fn new(db: Db) -> PlanService {
        PlanService { db }
    }

    pub async fn list(&self, workspace: &str) -> Result<Vec<Plan>, PlanError> {
        let ws = workspace.to_owned();
        let rows = self.db.run(move |c| store::list(c, &ws)).await?;
        Ok(rows.into_iter().map(|(row, dest)| to_plan(row, dest)).collect())
    }

    pub async fn get(&self, workspace: &str, id: &str) -> Result<Plan, PlanError> {
        self.list(workspace).await?.into_iter().find(|p| p.id == id).ok_or(PlanError::NotFound)
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

    async fn validate(&self, workspace: &str, input: &PlanInput, now: NaiveDateTime) -> Result<NewPlan, PlanError> {
        let parsed = NewPlan::parse(input, now);
        let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
        let chosen = input.destination_id.trim().to_owned();
        if !chosen.is_empty() {
            let ws = workspace.to_owned();
            if !self.db.run(move |c| store::destination_exists(c, &ws, &chosen)).await? {
                errors.add("destination_id", "That destination does not exist in this workspace.");
            }
        }
        match parsed {
            Ok(plan) if errors.is_empty() => Ok(plan),
            _ => Err(PlanError::Invalid(errors)),
        }
    }

    pub async fn create(&self, workspace: &str, input: &PlanInput) -> Result<Plan, PlanError> {
        let now = Utc::now().naive_utc();
        let plan = self.validate(workspace, input, now).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let row = PlanRow {
            id: id.clone(),
            workspace_id: workspace.to_owned(),
            name: plan.name.as_str().to_owned(),
            slug: plan.name.slug(),
            source_kind: plan.source.kind().to_owned(),
            source_path: plan.source.location(),
            destination_id: plan.destination_id.clone(),
            schedule: plan.schedule.as_str().to_owned(),
            retention: i64::from(plan.retention.get()),
            enabled: plan.enabled,
            next_run_at: next_run(&plan.schedule, plan.enabled, now),
            created_at: now,
            updated_at: now,
        };
        self.db.run(move |c| store::insert(c, &row)).await.map_err(duplicate_name(plan.name.as_str()))?;
        self.get(workspace, &id).await
    }

    pub async fn update(&self, workspace: &str, id: &str, input: &PlanInput) -> Result<Plan, PlanError> {
        self.get(workspace, id).await?;
        let now = Utc::now().naive_utc();
        let plan = self.validate(workspace, input, now).await?;
        let change = PlanChange {
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
        };
        let (ws, pid) = (workspace.to_owned(), id.to_owned());
        self.db.run(move |c| store::update(c, &ws, &pid, change)).await.map_err(duplicate_name(plan.name.as_str()))?;
        self.get(workspace, id).await
    }

    /// Enabling needs a destination (a plan whose destination was deleted has none).
    pub async fn set_enabled(&self, workspace: &str, id: &str, enabled: bool) -> Result<Plan, PlanError> {
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
        let (ws, pid) = (workspace.to_owned(), id.to_owned());
        self.db.run(move |c| store::set_enabled(c, &ws, &pid, enabled, next)).await?;
        self.get(workspace, id).await
    }

    pub async fn delete(&self, workspace: &str, id: &str) -> Result<(), PlanError> {
        let (ws, pid) = (workspace.to_owned(), id.to_owned());
        Ok(self.db.run(move |c| store::delete(c, &ws, &pid)).await?)
    }
}

fn to_plan(row: PlanRow, destination_name: Option<String>) -> Plan {
    let preview = Schedule::parse(&row.schedule).map_or_else(|e| format!("invalid schedule: {e}"), |s| s.preview());
    Plan {
        source: Source::from_db(&row.source_kind, &row.source_path),
        id: row.id,
        name: row.name,
        slug: row.slug,
        destination_id: row.destination_id,
        destination_name,
        schedule: row.schedule,
        schedule_preview: preview,
        retention: row.retention,
        enabled: row.enabled,
        next_run_at: row.next_run_at,
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
