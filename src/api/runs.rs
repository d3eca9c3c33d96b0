//! `/api/v1/backup-runs` (and a schedule's `/runs`): run history newest first, one run to poll,
//! and its artifact: a download URL (the destination's presigned one where it has one, else this
//! API's `/artifact`, which streams to a bearer-authenticated caller).

use super::auth::ApiUser;
use super::error::{ApiError, ErrorBody};
use super::pagination::{PageQuery, Paginated, page_of};
use super::responses::PageErrors;
pub use super::run_copies::RunCopyResource;
use crate::error::AppError;
use crate::plans::service::PlanService;
use crate::runs::copies_store::RunCopyRow;
use crate::runs::history::Download;
use crate::runs::html::COPY_HEADER;
use crate::runs::runner::Runner;
use crate::runs::store::RunRow;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use std::time::Duration;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

/// How long a presigned download URL stays valid.
const LINK_VALID_FOR: Duration = Duration::from_secs(300);

#[derive(OpenApi)]
#[openapi(
    paths(list_of_schedule, list, show, download, artifact),
    components(schemas(RunResource, RunEnvelope, Paginated<RunResource>, DownloadLink, CopyUsed, RunCopyResource)),
    tags((name = "Backup runs", description = "Backups that ran, and their artifacts"))
)]
pub struct RunsApi;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/backup-schedules/{id}/runs", web::get().to(list_of_schedule))
        .route("/backup-runs", web::get().to(list))
        .route("/backup-runs/{id}", web::get().to(show))
        .route("/backup-runs/{id}/download", web::get().to(download))
        .route("/backup-runs/{id}/artifact", web::get().to(artifact));
}

pub fn run_location(id: &str) -> String {
    format!("/api/v1/backup-runs/{id}")
}

/// A backup run as the API shows it.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct RunResource {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = "uuid")]
    pub schedule_id: String,
    pub schedule_name: String,
    /// `queued`, `running`, `succeeded`, `failed`, `skipped` or `interrupted` (the server running
    /// it stopped before it ended; `error` says so).
    #[schema(example = "succeeded")]
    pub status: String,
    /// `manual` or `schedule`.
    #[schema(example = "manual")]
    pub trigger: String,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The artifact's size; while running, the bytes uploaded so far (compressed, maybe
    /// encrypted).
    pub bytes: i64,
    /// How many bytes the run reads from its source (a folder's file contents, a SQLite file's
    /// size, a PostgreSQL database's size), asked before it started; null when that could not
    /// be known (progress is then `read_bytes` only) or before it started.
    pub expected_bytes: Option<i64>,
    /// Bytes read from the source so far (before compression and encryption).
    pub read_bytes: i64,
    /// 0–100: `read_bytes` of `expected_bytes`, at most 99 while running and 100 once it has
    /// succeeded; null without `expected_bytes`. A PostgreSQL dump reads less than the
    /// database's size on disk (indexes are dumped as definitions), so it may jump to 100.
    #[schema(minimum = 0, maximum = 100)]
    pub percent: Option<u8>,
    /// Source bytes read per second while it runs; null otherwise.
    pub bytes_per_second: Option<i64>,
    /// Seconds left at that rate, while it runs with a known size; null otherwise.
    pub eta_seconds: Option<i64>,
    /// The artifact's SHA-256 (hex), as stored.
    pub sha256: Option<String>,
    /// Where the artifact is on the destination.
    pub object_key: Option<String>,
    /// Why it failed, was skipped or was interrupted; after a success, what retention could not
    /// delete.
    pub error: Option<String>,
    /// What the run wants its reader to know beside its status: what a directory backup skipped
    /// (Devpilot's own files in the folder it backed up).
    pub notes: Option<String>,
    #[schema(format = "uuid")]
    pub destination_id: Option<String>,
    /// Encrypted with the workspace's artifact key.
    pub encrypted: bool,
    /// When retention deleted the artifact.
    pub pruned_at: Option<DateTime<Utc>>,
    /// Whether `/download` has an artifact to give: succeeded (or partially) and not pruned.
    pub artifact_available: bool,
    /// Every copy the run wrote, the primary (position 0) first: each with its own status, size
    /// and checksum. A run is `partial` when some failed and others hold the artifact.
    pub copies: Vec<RunCopyResource>,
}

impl RunResource {
    pub fn new(run: RunRow, schedule_name: String, runner: &Runner) -> RunResource {
        let progress = runner.run_progress(&run);
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        RunResource {
            copies: Vec::new(),
            artifact_available: [crate::runs::store::SUCCEEDED, crate::runs::store::PARTIAL]
                .contains(&run.status.as_str())
                && run.pruned_at.is_none()
                && run.object_key.is_some(),
            bytes: signed(progress.bytes),
            expected_bytes: progress.expected_bytes.map(signed),
            read_bytes: signed(progress.read_bytes),
            percent: progress.percent,
            bytes_per_second: progress.bytes_per_second.map(signed),
            eta_seconds: progress.eta_seconds.map(signed),
            id: run.id,
            schedule_id: run.plan_id,
            schedule_name,
            status: run.status,
            trigger: run.trigger,
            created_at: run.created_at.and_utc(),
            started_at: run.started_at.map(|t| t.and_utc()),
            finished_at: run.finished_at.map(|t| t.and_utc()),
            sha256: run.sha256,
            object_key: run.object_key,
            error: run.error,
            notes: run.notes,
            destination_id: run.destination_id,
            encrypted: run.encrypted,
            pruned_at: run.pruned_at.map(|t| t.and_utc()),
        }
    }
}

impl RunResource {
    /// The run's copies, read with it.
    pub fn with_copies(mut self, copies: Vec<RunCopyRow>) -> RunResource {
        self.copies = copies.into_iter().map(RunCopyResource::from).collect();
        self
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct RunEnvelope {
    pub data: RunResource,
}

/// Where to fetch a run's artifact.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DownloadLink {
    pub url: String,
    /// When a presigned URL stops working; None for the API's own `/artifact` URL, which needs
    /// the bearer token instead.
    pub expires_at: Option<DateTime<Utc>>,
    /// Send `Authorization: Bearer …` with the request (only to the API's own URL: a presigned
    /// URL must be fetched without it).
    pub requires_authorization: bool,
    /// The copy the URL reads: the primary (0) when it can give the artifact, else the first copy
    /// that can.
    pub copy: CopyUsed,
}

/// Which copy of a run an answer read.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct CopyUsed {
    /// 0: the primary; 1, 2: the plan's copies.
    pub position: i64,
    #[schema(format = "uuid")]
    pub destination_id: Option<String>,
}

/// An artifact's bytes, as the destination stores them.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ArtifactBytes(pub Vec<u8>);

/// The workspace's run, or 404.
async fn find(runner: &Runner, user: &ApiUser, id: &Uuid) -> Result<RunRow, ApiError> {
    runner.find(&user.workspace_id, &id.to_string()).await.map_err(|e| match e {
        crate::db::DbError::NotFound => ApiError::not_found("Backup run not found"),
        other => other.into(),
    })
}

/// The artifact reader's errors: a missing artifact is 404, a destination that fails to give it
/// 502.
fn artifact_error(e: AppError) -> ApiError {
    match e {
        AppError::NotFound(m) => ApiError::not_found(m),
        AppError::BadRequest(m) => ApiError::new(StatusCode::BAD_GATEWAY, m),
        AppError::Unavailable(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, m),
        AppError::Internal(e) if let Some(outage) = crate::error::outage_in(&e) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, outage.message())
        }
        other => ApiError::internal(other),
    }
}

/// A schedule's runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/backup-schedules/{id}/runs",
    tag = "Backup runs",
    params(("id" = Uuid, Path, description = "Schedule UUID"), PageQuery),
    responses(
        (status = 200, description = "A page of runs", body = Paginated<RunResource>),
        (status = 404, description = "No such schedule in this workspace", body = ErrorBody),
        PageErrors,
    )
)]
pub async fn list_of_schedule(
    req: HttpRequest,
    user: ApiUser,
    plans: web::Data<PlanService>,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let plan = plans.get(&user.workspace_id, &id.to_string()).await?;
    runs_page(&req, &user, &runner, Some(&plan.id), &query).await
}

/// The workspace's runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/backup-runs",
    tag = "Backup runs",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of runs", body = Paginated<RunResource>),
        PageErrors,
    )
)]
pub async fn list(
    req: HttpRequest,
    user: ApiUser,
    runner: web::Data<Runner>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    runs_page(&req, &user, &runner, None, &query).await
}

async fn runs_page(
    req: &HttpRequest,
    user: &ApiUser,
    runner: &Runner,
    schedule: Option<&str>,
    query: &PageQuery,
) -> Result<HttpResponse, ApiError> {
    let fetch = |page, per_page| async move {
        let (rows, total) = runner.page(&user.workspace_id, schedule, page, per_page).await?;
        let ids: Vec<String> = rows.iter().map(|(run, _)| run.id.clone()).collect();
        let mut copies = runner.copies_of_runs(&user.workspace_id, ids).await?;
        let rows: Vec<_> =
            rows.into_iter().map(|(run, name)| (copies.remove(&run.id).unwrap_or_default(), run, name)).collect();
        Ok::<_, crate::db::DbError>((rows, total))
    };
    page_of(req, query, fetch, |(copies, run, name)| RunResource::new(run, name, runner).with_copies(copies)).await
}

/// One run: poll it until its status is `succeeded`, `failed`, `skipped` or `interrupted`.
#[utoipa::path(
    get,
    path = "/api/v1/backup-runs/{id}",
    tag = "Backup runs",
    params(("id" = Uuid, Path, description = "Run UUID")),
    responses(
        (status = 200, description = "The run", body = RunEnvelope),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such run in this workspace", body = ErrorBody),
    )
)]
pub async fn show(
    user: ApiUser,
    plans: web::Data<PlanService>,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let run = find(&runner, &user, &id).await?;
    let plan = plans.get(&user.workspace_id, &run.plan_id).await?;
    let copies = runner.copies_of_runs(&user.workspace_id, vec![run.id.clone()]).await?.remove(&run.id);
    let data = RunResource::new(run, plan.name, &runner).with_copies(copies.unwrap_or_default());
    Ok(HttpResponse::Ok().json(RunEnvelope { data }))
}

/// Where to fetch a succeeded run's artifact: the destination's presigned URL (valid 5 minutes)
/// where it has one, else this API's `/artifact` URL.
#[utoipa::path(
    get,
    path = "/api/v1/backup-runs/{id}/download",
    tag = "Backup runs",
    params(("id" = Uuid, Path, description = "Run UUID")),
    responses(
        (status = 200, description = "The artifact's URL", body = DownloadLink),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such run, or it has no artifact (not succeeded, or pruned)", body = ErrorBody),
        (status = 502, description = "The destination could not sign a URL", body = ErrorBody),
    )
)]
pub async fn download(
    req: HttpRequest,
    user: ApiUser,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = find(&runner, &user, &id).await?.id;
    let (url, copy) = runner.presigned(&user.workspace_id, &id, LINK_VALID_FOR).await.map_err(artifact_error)?;
    let copy = CopyUsed { position: copy.position, destination_id: copy.destination_id };
    let link = match url {
        Some(url) => DownloadLink {
            url: url.to_string(),
            expires_at: chrono::Duration::from_std(LINK_VALID_FOR).ok().map(|d| Utc::now() + d),
            requires_authorization: false,
            copy,
        },
        None => {
            let info = req.connection_info();
            let url = format!("{}://{}{}/artifact", info.scheme(), info.host(), run_location(&id));
            DownloadLink { url, expires_at: None, requires_authorization: true, copy }
        }
    };
    Ok(HttpResponse::Ok().json(link))
}

/// A succeeded run's artifact, streamed; a destination with presigned URLs is redirected to.
#[utoipa::path(
    get,
    path = "/api/v1/backup-runs/{id}/artifact",
    tag = "Backup runs",
    params(("id" = Uuid, Path, description = "Run UUID")),
    responses(
        (status = 200, description = "The artifact as stored (encrypted ones stay encrypted)", content(
            (inline(ArtifactBytes) = "application/zstd"),
            (inline(ArtifactBytes) = "application/vnd.sqlite3"),
            (inline(ArtifactBytes) = "application/octet-stream"),
        ), headers(("Content-Disposition" = String, description = "attachment; filename=…"))),
        (status = 307, description = "The destination serves it: a presigned URL, valid 5 minutes",
            headers(("Location" = String, description = "The presigned URL"))),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such run, or it has no artifact (not succeeded, or pruned)", body = ErrorBody),
        (status = 502, description = "The destination could not give the artifact", body = ErrorBody),
    )
)]
pub async fn artifact(user: ApiUser, runner: web::Data<Runner>, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let id = find(&runner, &user, &id).await?.id;
    match runner.download(&user.workspace_id, &id, LINK_VALID_FOR).await.map_err(artifact_error)? {
        Download::Redirect { url, copy } => Ok(HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, url.to_string()))
            .insert_header((COPY_HEADER, copy.position.to_string()))
            .finish()),
        Download::Stream { body, file_name, content_type, copy } => Ok(HttpResponse::Ok()
            .content_type(content_type)
            .insert_header((COPY_HEADER, copy.position.to_string()))
            .insert_header(header::ContentDisposition::attachment(file_name))
            .streaming(body)),
    }
}
