//! `/api/v1/backup-schedules`: the workspace's backup plans as JSON, and "run now". The rules are
//! `PlanService`'s; this maps JSON to its input and its field errors to the API's field names. A
//! PostgreSQL source's URL is only ever shown without its password.

use super::auth::ApiUser;
use super::error::{ApiError, ErrorBody};
use super::pagination::{PageQuery, Paginated, page_of};
use super::responses::{JsonBodyErrors, PageErrors};
use super::runs::{RunEnvelope, RunResource, run_location};
use crate::databases::service::{DatabaseError, DatabaseService};
use crate::fields::FieldErrors;
use crate::plans::domain::Source;
use crate::plans::service::{Plan, PlanService};
use crate::runs::runner::{Runner, Trigger};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

mod input;
use input::plan_error_named;
pub use input::{CopyInput, NewSchedule, RetentionInput, ScheduleChange, SourceInput};

#[derive(OpenApi)]
#[openapi(
    paths(list, create, show, update, delete, run_now),
    components(schemas(
        ScheduleResource,
        ScheduleEnvelope,
        Paginated<ScheduleResource>,
        SourceResource,
        SourceType,
        SourceInput,
        NewSchedule,
        ScheduleChange,
        CopyInput,
        CopyResource,
        ScheduleDeleted,
        RetentionResource,
        RetentionInput
    )),
    tags((name = "Backup schedules", description = "What is backed up, where to and when"))
)]
pub struct SchedulesApi;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/backup-schedules", web::get().to(list))
        .route("/backup-schedules", web::post().to(create))
        .route("/backup-schedules/{id}", web::get().to(show))
        .route("/backup-schedules/{id}", web::put().to(update))
        .route("/backup-schedules/{id}", web::delete().to(delete))
        .route("/backup-schedules/{id}/run", web::post().to(run_now));
}

/// What a schedule backs up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceType {
    Directory,
    Postgres,
    Sqlite,
    /// A MariaDB or MySQL database (or every database of a server).
    Mariadb,
    /// An S3-compatible bucket or a prefix of it.
    Bucket,
}

impl SourceType {
    fn as_str(self) -> &'static str {
        match self {
            SourceType::Directory => "directory",
            SourceType::Postgres => "postgres",
            SourceType::Sqlite => "sqlite",
            SourceType::Mariadb => "mariadb",
            SourceType::Bucket => "bucket",
        }
    }
}

/// A schedule's source as the API shows it.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct SourceResource {
    #[serde(rename = "type")]
    pub kind: SourceType,
    /// The directory or SQLite file; for PostgreSQL the connection URL without its password.
    #[schema(example = "/var/lib/app")]
    pub location: String,
}

impl From<&Source> for SourceResource {
    fn from(source: &Source) -> Self {
        let kind = match source {
            Source::Directory(_) => SourceType::Directory,
            Source::Postgres(_) => SourceType::Postgres,
            Source::Sqlite(_) => SourceType::Sqlite,
            Source::Mariadb(_) => SourceType::Mariadb,
            Source::Bucket(_) => SourceType::Bucket,
        };
        SourceResource { kind, location: source.location() }
    }
}

/// A backup schedule (a plan) as the API shows it.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct ScheduleResource {
    #[schema(format = "uuid")]
    pub id: String,
    pub name: String,
    pub source: SourceResource,
    /// None when the destination was deleted (the schedule is then disabled).
    #[schema(format = "uuid")]
    pub destination_id: Option<String>,
    pub destination_name: Option<String>,
    /// Up to two more destinations every run writes beside `destination_id`, in order.
    pub copies: Vec<CopyResource>,
    /// Five-field cron, in UTC.
    #[schema(example = "0 2 * * *")]
    pub cron_expression: String,
    /// The schedule in words.
    #[schema(example = "every day at 02:00 UTC")]
    pub schedule_preview: String,
    /// How many successful backups are kept: the newest N (`retention.keep_last`).
    pub retention_count: i64,
    /// GFS tiers and Object Lock.
    pub retention: RetentionResource,
    pub enabled: bool,
    /// Backups are encrypted with the workspace's artifact key.
    pub encrypt: bool,
    /// When it next runs; None while disabled.
    pub next_run_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Plan> for ScheduleResource {
    fn from(plan: Plan) -> Self {
        ScheduleResource {
            source: SourceResource::from(&plan.source),
            id: plan.id,
            name: plan.name,
            destination_id: plan.destination_id,
            destination_name: plan.destination_name,
            copies: plan
                .copies
                .into_iter()
                .map(|c| CopyResource {
                    retention: c.policy.as_ref().map(RetentionResource::from),
                    destination_id: c.destination_id,
                })
                .collect(),
            cron_expression: plan.schedule,
            schedule_preview: plan.schedule_preview,
            retention_count: plan.retention,
            retention: RetentionResource::from(&plan.policy),
            enabled: plan.enabled,
            encrypt: plan.encrypt,
            next_run_at: plan.next_run_at.map(|t| t.and_utc()),
            created_at: plan.created_at.and_utc(),
            updated_at: plan.updated_at.and_utc(),
        }
    }
}

/// One of a schedule's copies: a destination of the workspace, and its own retention (null: the
/// schedule's applies to it).
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct CopyResource {
    #[schema(format = "uuid")]
    pub destination_id: String,
    pub retention: Option<RetentionResource>,
}

/// A schedule's retention: the newest `keep_last`, plus the newest backup of each of the most
/// recent hours, days, ISO weeks, months and years (UTC) that have one (0: the tier is off); and
/// the Object Lock each upload carries.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct RetentionResource {
    pub keep_last: i64,
    pub keep_hourly: i64,
    pub keep_daily: i64,
    pub keep_weekly: i64,
    pub keep_monthly: i64,
    pub keep_yearly: i64,
    /// `governance` or `compliance`; null when uploads are not locked.
    pub lock_mode: Option<String>,
    pub lock_days: Option<i64>,
}

impl From<&crate::plans::retention::RetentionPolicy> for RetentionResource {
    fn from(p: &crate::plans::retention::RetentionPolicy) -> Self {
        let t = &p.tiers;
        RetentionResource {
            keep_last: i64::from(t.keep_last),
            keep_hourly: i64::from(t.keep_hourly),
            keep_daily: i64::from(t.keep_daily),
            keep_weekly: i64::from(t.keep_weekly),
            keep_monthly: i64::from(t.keep_monthly),
            keep_yearly: i64::from(t.keep_yearly),
            lock_mode: p.lock.map(|l| l.mode.as_str().to_owned()),
            lock_days: p.lock.map(|l| i64::from(l.days)),
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct ScheduleEnvelope {
    pub data: ScheduleResource,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct ScheduleDeleted {
    #[schema(example = "Backup schedule successfully deleted")]
    pub message: String,
}

fn envelope(plan: Plan) -> ScheduleEnvelope {
    ScheduleEnvelope { data: plan.into() }
}

/// The workspace's schedules by name, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/backup-schedules",
    tag = "Backup schedules",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of schedules", body = Paginated<ScheduleResource>),
        PageErrors,
    )
)]
pub async fn list(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<PlanService>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let fetch = |page, per_page| async move {
        let found = service.page(&user.workspace_id, page, per_page).await?;
        Ok::<_, ApiError>((found.items, found.total))
    };
    page_of(&req, &query, fetch, ScheduleResource::from).await
}

/// Creates a schedule of a `source` (every field is checked at once; a PostgreSQL source must
/// answer) or of a database of the workspace (`database_id`). Spec 002's `application_id` is
/// answered with a 422 that points at directory sources.
#[utoipa::path(
    post,
    path = "/api/v1/backup-schedules",
    tag = "Backup schedules",
    request_body = NewSchedule,
    responses(
        (status = 201, description = "Created", body = ScheduleEnvelope,
            headers(("Location" = String, description = "The new schedule's URL"))),
        (status = 403, description = "Viewers cannot create schedules", body = ErrorBody),
        JsonBodyErrors,
    )
)]
pub async fn create(
    user: ApiUser,
    service: web::Data<PlanService>,
    databases: web::Data<DatabaseService>,
    body: web::Json<NewSchedule>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let mut body = body.into_inner();
    if body.application_id.is_some() {
        return Err(ApiError::invalid(&FieldErrors::single("application_id", APPLICATIONS_ARE_FOLDERS)));
    }
    let source = match (body.source.take(), body.database_id) {
        (Some(_), Some(_)) => {
            let message = "Give either source or database_id, not both.";
            return Err(ApiError::invalid(&FieldErrors::single("database_id", message)));
        }
        (None, Some(database_id)) => {
            let (name, source) = database_source(&databases, &user.workspace_id, database_id).await?;
            body.name = body.name.filter(|n| !n.trim().is_empty()).or(Some(name));
            source
        }
        (None, None) => {
            let message = "Say what to back up: \"source\": {\"type\": \"directory\", \"sqlite\", \"postgres\" or \"mariadb\", \
                           with its \"path\" or \"url\"}, or \"database_id\".";
            return Err(ApiError::invalid(&FieldErrors::single("source", message)));
        }
        (Some(source), None) => source,
    };
    let destination_id = match body.destination_id {
        Some(id) => id.to_string(),
        // As the plan form pre-selects it.
        None => {
            let choices = service.destination_choices(&user.workspace_id).await?;
            choices.into_iter().find(|d| d.is_default).map(|d| d.id).unwrap_or_default()
        }
    };
    let named = body.keep_last_in_object();
    let plan = service
        .create(&user.workspace_id, &body.into_input(source, destination_id), &user.actor())
        .await
        .map_err(|e| plan_error_named(e, named))?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/backup-schedules/{}", plan.id)))
        .json(envelope(plan)))
}

/// Why `application_id` is refused, and what to send instead.
const APPLICATIONS_ARE_FOLDERS: &str = "Devpilot backs up an application's volumes as the folders they are on this \
     server: send \"source\": {\"type\": \"directory\", \"path\": \"/path/of/the/volume\"} instead of \
     application_id (the folder must be granted to the workspace).";

/// Spec 002's `database_id`: a `pg_dump` schedule of a protected database of the workspace, on
/// its connection, named "<database> dump" unless a name is given.
async fn database_source(
    databases: &DatabaseService,
    workspace: &str,
    database_id: Uuid,
) -> Result<(String, SourceInput), ApiError> {
    let unknown = || {
        let message = format!("There is no database {database_id} in this workspace.");
        ApiError::invalid(&FieldErrors::single("database_id", message))
    };
    let (name, url) = match databases.dump_source(workspace, &database_id.to_string()).await {
        Ok(found) => found,
        Err(DatabaseError::NotFound) => return Err(unknown()),
        Err(other) => return Err(other.into()),
    };
    let source = SourceInput {
        kind: SourceType::Postgres,
        path: None,
        url: Some(url.expose_secret().to_owned()),
        destination_id: None,
    };
    Ok((format!("{name} dump"), source))
}

/// One schedule.
#[utoipa::path(
    get,
    path = "/api/v1/backup-schedules/{id}",
    tag = "Backup schedules",
    params(("id" = Uuid, Path, description = "Schedule UUID")),
    responses(
        (status = 200, description = "The schedule", body = ScheduleEnvelope),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such schedule in this workspace", body = ErrorBody),
    )
)]
pub async fn show(
    user: ApiUser,
    service: web::Data<PlanService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let plan = service.get(&user.workspace_id, &id.to_string()).await?;
    Ok(HttpResponse::Ok().json(envelope(plan)))
}

/// Changes a schedule; fields left out keep their values, and so does a PostgreSQL source's URL
/// when it is missing or blank.
#[utoipa::path(
    put,
    path = "/api/v1/backup-schedules/{id}",
    tag = "Backup schedules",
    params(("id" = Uuid, Path, description = "Schedule UUID")),
    request_body = ScheduleChange,
    responses(
        (status = 200, description = "The changed schedule", body = ScheduleEnvelope),
        (status = 403, description = "Viewers cannot change schedules", body = ErrorBody),
        (status = 404, description = "No such schedule in this workspace", body = ErrorBody),
        JsonBodyErrors,
    )
)]
pub async fn update(
    user: ApiUser,
    service: web::Data<PlanService>,
    id: web::Path<Uuid>,
    body: web::Json<ScheduleChange>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let plan = service.get(&user.workspace_id, &id.to_string()).await?;
    let mut input = plan.input();
    let named = body.keep_last_in_object();
    body.into_inner().apply(&mut input);
    let plan = service
        .update(&user.workspace_id, &plan.id, &input, &user.actor())
        .await
        .map_err(|e| plan_error_named(e, named))?;
    Ok(HttpResponse::Ok().json(envelope(plan)))
}

/// Deletes a schedule and its run history; its backups stay on the destination.
#[utoipa::path(
    delete,
    path = "/api/v1/backup-schedules/{id}",
    tag = "Backup schedules",
    params(("id" = Uuid, Path, description = "Schedule UUID")),
    responses(
        (status = 200, description = "Deleted", body = ScheduleDeleted),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Viewers cannot delete schedules", body = ErrorBody),
        (status = 404, description = "No such schedule in this workspace", body = ErrorBody),
    )
)]
pub async fn delete(
    user: ApiUser,
    service: web::Data<PlanService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let plan = service.get(&user.workspace_id, &id.to_string()).await?;
    service.delete(&user.workspace_id, &plan.id, &user.actor()).await?;
    Ok(HttpResponse::Ok().json(ScheduleDeleted { message: "Backup schedule successfully deleted".into() }))
}

/// Starts a backup now, whether the schedule is enabled or not; poll the run it returns.
#[utoipa::path(
    post,
    path = "/api/v1/backup-schedules/{id}/run",
    tag = "Backup schedules",
    params(("id" = Uuid, Path, description = "Schedule UUID")),
    responses(
        (status = 202, description = "The run, queued", body = RunEnvelope,
            headers(("Location" = String, description = "The run's URL, to poll"))),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Viewers cannot start runs", body = ErrorBody),
        (status = 404, description = "No such schedule in this workspace", body = ErrorBody),
    )
)]
pub async fn run_now(
    user: ApiUser,
    plans: web::Data<PlanService>,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let plan = plans.get(&user.workspace_id, &id.to_string()).await?;
    let run_id = runner.start(&user.workspace_id, &plan.id, Trigger::Manual, Some(&user.actor())).await?;
    let run = runner.find(&user.workspace_id, &run_id).await?;
    let data = RunResource::new(run, plan.name, &runner);
    Ok(HttpResponse::Accepted().insert_header((header::LOCATION, run_location(&run_id))).json(RunEnvelope { data }))
}
