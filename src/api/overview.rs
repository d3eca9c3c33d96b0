//! `/api/v1/overview`: the overview page as JSON, for a dashboard or a script that asks "are my
//! backups working?": each schedule's last and next run and whether it is stale, destinations
//! failing first with what they hold, the last failures, protected databases' windows.

use super::auth::ApiUser;
use super::error::{ApiError, ErrorBody};
use crate::overview::service::{
    DatabaseSummary, DestinationSummary, Failure, OverviewError, OverviewService, PlanSummary, Window,
};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(show),
    components(schemas(
        OverviewEnvelope,
        OverviewResource,
        ScheduleHealth,
        LastRunResource,
        DestinationHealthResource,
        StoragePoint,
        FailureResource,
        DatabaseHealthResource
    )),
    tags((name = "Overview", description = "Whether the workspace's backups work, at a glance"))
)]
pub struct OverviewApi;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/overview", web::get().to(show));
}

impl From<OverviewError> for ApiError {
    fn from(e: OverviewError) -> Self {
        match e {
            OverviewError::Db(e) => e.into(),
            OverviewError::Internal(e) => ApiError::internal(e),
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct OverviewEnvelope {
    pub data: OverviewResource,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct OverviewResource {
    /// When it was computed.
    pub generated_at: DateTime<Utc>,
    pub schedules: Vec<ScheduleHealth>,
    /// Failing first, then being tested, active, disabled.
    pub destinations: Vec<DestinationHealthResource>,
    /// The newest failed or interrupted runs, newest first (at most 10).
    pub failures: Vec<FailureResource>,
    /// Databases protected with point-in-time recovery.
    pub databases: Vec<DatabaseHealthResource>,
}

/// A schedule (plan) with its last and next run.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct ScheduleHealth {
    #[schema(format = "uuid")]
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub destination_name: Option<String>,
    pub last_run: Option<LastRunResource>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub next_run_at: Option<DateTime<Utc>>,
    /// True once it has gone two scheduled times without a success (enabled schedules only).
    pub stale: bool,
    /// Since when it is stale: the second due time missed.
    pub stale_since: Option<DateTime<Utc>>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct LastRunResource {
    #[schema(format = "uuid")]
    pub id: String,
    /// `queued`, `running`, `succeeded`, `failed`, `skipped` or `interrupted`.
    #[schema(example = "succeeded")]
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The artifact's size; while running, the bytes written so far.
    pub bytes: u64,
    pub duration_seconds: Option<f64>,
    pub error: Option<String>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DestinationHealthResource {
    #[schema(format = "uuid")]
    pub id: String,
    pub name: String,
    /// `active`, `testing`, `failed` or `disabled`.
    #[schema(example = "active")]
    pub status: String,
    pub is_default: bool,
    pub last_tested_at: Option<DateTime<Utc>>,
    /// The last test's message, while the destination is failing.
    pub last_error: Option<String>,
    /// The bytes of the backups it holds (successful runs retention has not deleted).
    pub stored_bytes: u64,
    pub stored_backups: u64,
    /// Change of `stored_bytes` over the last 30 days.
    pub growth_bytes: i64,
    /// What it held a day at a time over the last 30 days, and now.
    pub storage: Vec<StoragePoint>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct StoragePoint {
    pub at: DateTime<Utc>,
    pub bytes: u64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct FailureResource {
    #[schema(format = "uuid")]
    pub run_id: String,
    #[schema(format = "uuid")]
    pub schedule_id: String,
    pub schedule_name: String,
    /// `failed` or `interrupted`.
    pub status: String,
    pub at: DateTime<Utc>,
    pub error: String,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DatabaseHealthResource {
    #[schema(format = "uuid")]
    pub id: String,
    pub name: String,
    pub status: String,
    pub status_message: Option<String>,
    pub archiving: bool,
    /// How far the archive is behind the server, in bytes of WAL.
    pub wal_lag_bytes: Option<i64>,
    pub last_wal_received_at: Option<DateTime<Utc>>,
    /// The recovery window: any second from `window_start` to `window_end` can be restored.
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    /// Why the window is unknown (the archive could not be listed in time).
    pub window_error: Option<String>,
}

fn schedule(p: PlanSummary) -> ScheduleHealth {
    ScheduleHealth {
        last_run: p.last_run.map(|r| LastRunResource {
            duration_seconds: r.duration.map(|d| d.num_milliseconds() as f64 / 1000.0),
            created_at: r.created_at.and_utc(),
            finished_at: r.finished_at.map(|t| t.and_utc()),
            bytes: r.bytes,
            error: r.error,
            status: r.status,
            id: r.id,
        }),
        last_success_at: p.last_success_at.map(|t| t.and_utc()),
        next_run_at: p.next_run_at.map(|t| t.and_utc()),
        stale: p.stale_since.is_some(),
        stale_since: p.stale_since.map(|t| t.and_utc()),
        destination_name: p.destination_name,
        enabled: p.enabled,
        name: p.name,
        id: p.id,
    }
}

fn destination(d: DestinationSummary) -> DestinationHealthResource {
    DestinationHealthResource {
        storage: d.growth.iter().map(|p| StoragePoint { at: p.at.and_utc(), bytes: p.bytes }).collect(),
        status: d.status.as_str().to_owned(),
        last_tested_at: d.last_tested_at.map(|t| t.and_utc()),
        stored_backups: d.artifacts as u64,
        stored_bytes: d.stored_bytes,
        growth_bytes: d.growth_bytes,
        last_error: d.last_error,
        is_default: d.is_default,
        name: d.name,
        id: d.id,
    }
}

fn failure(f: Failure) -> FailureResource {
    FailureResource {
        at: f.at.and_utc(),
        run_id: f.run_id,
        schedule_id: f.plan_id,
        schedule_name: f.plan_name,
        status: f.status,
        error: f.error,
    }
}

fn database(d: DatabaseSummary) -> DatabaseHealthResource {
    let (window_start, window_end, window_error) = match d.window {
        Window::Range(from, to) => (Some(from), Some(to), None),
        Window::Empty => (None, None, None),
        Window::Unknown(why) => (None, None, Some(why)),
    };
    DatabaseHealthResource {
        last_wal_received_at: d.last_received_at.map(|t| t.and_utc()),
        wal_lag_bytes: d.lag_bytes,
        status_message: d.status_message,
        archiving: d.archiving,
        status: d.status,
        name: d.name,
        id: d.id,
        window_start,
        window_end,
        window_error,
    }
}

/// The workspace at a glance, computed now.
#[utoipa::path(
    get,
    path = "/api/v1/overview",
    tag = "Overview",
    responses(
        (status = 200, description = "The overview", body = OverviewEnvelope),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
pub async fn show(user: ApiUser, overview: web::Data<OverviewService>) -> Result<HttpResponse, ApiError> {
    let o = overview.overview(&user.workspace_id).await?;
    let data = OverviewResource {
        generated_at: o.now.and_utc(),
        schedules: o.plans.into_iter().map(schedule).collect(),
        destinations: o.destinations.into_iter().map(destination).collect(),
        failures: o.failures.into_iter().map(failure).collect(),
        databases: o.databases.into_iter().map(database).collect(),
    };
    Ok(HttpResponse::Ok().json(OverviewEnvelope { data }))
}
