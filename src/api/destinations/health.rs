//! `GET /api/v1/backup-destinations/{id}/tests`: a destination's health history, newest first,
//! a page at a time: each test's steps with their latency, its error, and what ran it.

use super::request::destination_id;
use crate::api::auth::ApiUser;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::pagination::{PageQuery, Paginated, page_of};
use crate::destinations::health::HealthTest;
use crate::destinations::service::DestinationService;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use utoipa::ToSchema;

/// One step of a stored test.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct HealthStep {
    /// resolve, connect, handshake, authenticate, find bucket/folder, list, write probe, read
    /// back or delete probe.
    #[schema(example = "authenticate")]
    pub step: String,
    /// passed, failed or not-run.
    #[schema(example = "passed")]
    pub state: String,
    /// How long the step took; null when it was not run, or when it happened in the same round
    /// trip as the next timed step (a provider's test is one request: its end is timed).
    pub duration_ms: Option<u64>,
}

/// What ran a test.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct HealthTrigger {
    /// manual, save, enable, host-key, google-consent, test-all or schedule.
    #[schema(example = "schedule")]
    pub kind: String,
    /// The user who ran it (null for the schedule).
    pub user_id: Option<String>,
    /// The API token it ran with: its name and shown prefix.
    pub token: Option<String>,
}

/// One connection test of the destination.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DestinationTestResource {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// passed or failed.
    #[schema(example = "failed")]
    pub status: String,
    /// A deep test (also wrote, read back and deleted a probe object).
    pub deep: bool,
    pub steps: Vec<HealthStep>,
    /// unreachable, timeout, authentication, permission, not-found or provider.
    #[schema(example = "authentication")]
    pub error_class: Option<String>,
    /// The provider's message and a hint (never a secret).
    pub error_message: Option<String>,
    pub trigger: HealthTrigger,
    /// The destination's status before the test and after it.
    #[schema(example = "active")]
    pub status_before: String,
    #[schema(example = "failed")]
    pub status_after: String,
}

impl From<HealthTest> for DestinationTestResource {
    fn from(t: HealthTest) -> Self {
        DestinationTestResource {
            id: t.id,
            started_at: t.started_at.and_utc(),
            finished_at: t.finished_at.and_utc(),
            duration_ms: t.duration_ms,
            status: if t.ok { "passed" } else { "failed" }.to_owned(),
            deep: t.deep,
            steps: t
                .steps
                .into_iter()
                .map(|s| HealthStep { step: s.name, state: s.status, duration_ms: s.duration_ms })
                .collect(),
            error_class: t.error_class,
            error_message: t.error_message,
            trigger: HealthTrigger {
                kind: t.trigger.as_str().to_owned(),
                user_id: t.triggered_by,
                token: t.triggered_token,
            },
            status_before: t.status_before.as_str().to_owned(),
            status_after: t.status_after.as_str().to_owned(),
        }
    }
}

/// A destination's connection tests, newest first (the newest 200 are kept).
#[utoipa::path(
    get,
    operation_id = "listBackupDestinationTests",
    path = "/api/v1/backup-destinations/{id}/tests",
    tag = "Backup destinations",
    params(("id" = String, Path, format = Uuid, description = "Destination UUID"), PageQuery),
    responses(
        (status = 200, description = "A page of the destination's tests", body = Paginated<DestinationTestResource>),
        (status = 400, description = "A page parameter is not a number", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such destination in this workspace", body = ErrorBody),
        (status = 422, description = "A page parameter is out of range", body = ErrorBody),
    )
)]
pub async fn list(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = destination_id(&path)?;
    page_of(
        &req,
        &query,
        |page, per_page| service.test_history(&user.workspace_id, &id, page, per_page),
        DestinationTestResource::from,
    )
    .await
}
