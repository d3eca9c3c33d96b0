//! Restore drills in the API: a schedule's drills (newest first), "drill now", one drill to
//! poll, and the drill schedule (`GET`/`PUT`).

use super::auth::ApiUser;
use super::error::{ApiError, ErrorBody};
use crate::fields::FieldErrors;
use crate::plans::service::PlanService;
use crate::runs::drills::DrillError;
use crate::runs::drills_store::DrillRow;
use crate::runs::runner::Runner;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

#[derive(OpenApi)]
#[openapi(
    paths(list, start, show, schedule, set_schedule),
    components(schemas(DrillResource, DrillList, DrillEnvelope, DrillScheduleResource, DrillScheduleInput)),
    tags((name = "Restore drills", description = "Proof that a schedule's newest backup restores"))
)]
pub struct DrillsApi;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/backup-schedules/{id}/drills", web::get().to(list))
        .route("/backup-schedules/{id}/drills", web::post().to(start))
        .route("/backup-schedules/{id}/drill-schedule", web::get().to(schedule))
        .route("/backup-schedules/{id}/drill-schedule", web::put().to(set_schedule))
        .route("/restore-drills/{id}", web::get().to(show));
}

/// A restore drill.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DrillResource {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = "uuid")]
    pub schedule_id: String,
    /// The run whose artifact was drilled.
    #[schema(format = "uuid")]
    pub run_id: Option<String>,
    /// Which copy of the artifact was read: 0 is the primary destination.
    pub copy_position: i64,
    /// `running`, `passed` or `failed`.
    #[schema(example = "passed")]
    pub status: String,
    /// `manual` or `schedule`.
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Seconds it took, once finished.
    pub duration_seconds: Option<f64>,
    /// What was checked, e.g. "1,204 files, 3.1 GiB, every hash matched", "integrity_check ok",
    /// "12 tables, 48,211 rows".
    pub checked: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Bytes of the artifact read from the destination.
    pub bytes_read: i64,
}

impl From<DrillRow> for DrillResource {
    fn from(d: DrillRow) -> DrillResource {
        DrillResource {
            duration_seconds: d.finished_at.map(|f| (f - d.started_at).num_milliseconds() as f64 / 1000.0),
            id: d.id,
            schedule_id: d.plan_id,
            run_id: d.run_id,
            copy_position: d.copy_position,
            status: d.status,
            trigger: d.trigger_kind,
            started_at: d.started_at.and_utc(),
            finished_at: d.finished_at.map(|t| t.and_utc()),
            checked: d.checked,
            error: d.error,
            bytes_read: d.bytes_read,
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DrillList {
    pub data: Vec<DrillResource>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DrillEnvelope {
    pub data: DrillResource,
}

/// A schedule's drill schedule.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DrillScheduleResource {
    /// A 5-field cron expression, UTC (weekly by default).
    #[schema(example = "30 4 * * 0")]
    pub schedule: String,
    pub enabled: bool,
    pub next_drill_at: Option<DateTime<Utc>>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DrillScheduleInput {
    #[schema(example = "30 4 * * 0")]
    #[serde(default)]
    pub schedule: String,
    #[serde(default)]
    pub enabled: bool,
}

async fn plan_of(plans: &PlanService, user: &ApiUser, id: &Uuid) -> Result<String, ApiError> {
    Ok(plans.get(&user.workspace_id, &id.to_string()).await?.id)
}

/// A schedule's drills, newest first (the last 50).
#[utoipa::path(
    get,
    path = "/api/v1/backup-schedules/{id}/drills",
    tag = "Restore drills",
    params(("id" = Uuid, Path, description = "Schedule UUID")),
    responses(
        (status = 200, description = "Its drills", body = DrillList),
        (status = 404, description = "No such schedule in this workspace", body = ErrorBody),
    )
)]
pub async fn list(
    user: ApiUser,
    plans: web::Data<PlanService>,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let plan = plan_of(&plans, &user, &id).await?;
    let drills = runner.drills_of_plan(&user.workspace_id, &plan, 50).await?;
    Ok(HttpResponse::Ok().json(DrillList { data: drills.into_iter().map(DrillResource::from).collect() }))
}

/// Drill now: starts a drill of the schedule's newest successful backup (audited); poll it at
/// `/api/v1/restore-drills/{id}`.
#[utoipa::path(
    post,
    path = "/api/v1/backup-schedules/{id}/drills",
    tag = "Restore drills",
    params(("id" = Uuid, Path, description = "Schedule UUID")),
    responses(
        (status = 202, description = "The drill, running", body = DrillEnvelope),
        (status = 403, description = "Viewers cannot start drills", body = ErrorBody),
        (status = 404, description = "No such schedule in this workspace", body = ErrorBody),
        (status = 422, description = "The schedule has no successful backup to drill", body = ErrorBody),
    )
)]
pub async fn start(
    user: ApiUser,
    plans: web::Data<PlanService>,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let plan = plan_of(&plans, &user, &id).await?;
    let drill = match runner.drill_now(&user.workspace_id, &plan, &user.actor()).await {
        Ok(drill) => drill,
        Err(DrillError::Db(e)) => return Err(e.into()),
        Err(e) => return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())),
    };
    let row = runner.drill(&user.workspace_id, &drill).await?;
    Ok(HttpResponse::Accepted().json(DrillEnvelope { data: row.into() }))
}

/// One drill: poll it until its status is `passed` or `failed`.
#[utoipa::path(
    get,
    path = "/api/v1/restore-drills/{id}",
    tag = "Restore drills",
    params(("id" = Uuid, Path, description = "Drill UUID")),
    responses(
        (status = 200, description = "The drill", body = DrillEnvelope),
        (status = 404, description = "No such drill in this workspace", body = ErrorBody),
    )
)]
pub async fn show(user: ApiUser, runner: web::Data<Runner>, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let row = runner.drill(&user.workspace_id, &id.to_string()).await.map_err(|e| match e {
        crate::db::DbError::NotFound => ApiError::not_found("Restore drill not found"),
        other => other.into(),
    })?;
    Ok(HttpResponse::Ok().json(DrillEnvelope { data: row.into() }))
}

/// The schedule's drill schedule.
#[utoipa::path(
    get,
    path = "/api/v1/backup-schedules/{id}/drill-schedule",
    tag = "Restore drills",
    params(("id" = Uuid, Path, description = "Schedule UUID")),
    responses(
        (status = 200, description = "Its drill schedule", body = DrillScheduleResource),
        (status = 404, description = "No such schedule in this workspace", body = ErrorBody),
    )
)]
pub async fn schedule(
    user: ApiUser,
    plans: web::Data<PlanService>,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let plan = plan_of(&plans, &user, &id).await?;
    let s = runner.drill_schedule(&user.workspace_id, &plan).await?;
    Ok(HttpResponse::Ok().json(DrillScheduleResource {
        schedule: s.schedule,
        enabled: s.enabled,
        next_drill_at: s.next_drill_at.map(|t| t.and_utc()),
    }))
}

/// Changes the drill schedule (audited).
#[utoipa::path(
    put,
    path = "/api/v1/backup-schedules/{id}/drill-schedule",
    tag = "Restore drills",
    params(("id" = Uuid, Path, description = "Schedule UUID")),
    request_body = DrillScheduleInput,
    responses(
        (status = 200, description = "The drill schedule", body = DrillScheduleResource),
        (status = 403, description = "Viewers cannot change it", body = ErrorBody),
        (status = 404, description = "No such schedule in this workspace", body = ErrorBody),
        (status = 422, description = "`schedule` is not a valid cron expression", body = ErrorBody),
    )
)]
pub async fn set_schedule(
    user: ApiUser,
    plans: web::Data<PlanService>,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
    body: web::Json<DrillScheduleInput>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let plan = plan_of(&plans, &user, &id).await?;
    let saved = runner.set_drill_schedule(&user.workspace_id, &plan, &body.schedule, body.enabled, &user.actor()).await;
    let s = match saved {
        Ok(s) => s,
        Err(DrillError::Schedule(m)) => return Err(ApiError::invalid(&FieldErrors::single("schedule", m))),
        Err(DrillError::Db(e)) => return Err(e.into()),
        Err(e) => return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())),
    };
    Ok(HttpResponse::Ok().json(DrillScheduleResource {
        schedule: s.schedule,
        enabled: s.enabled,
        next_drill_at: s.next_drill_at.map(|t| t.and_utc()),
    }))
}
