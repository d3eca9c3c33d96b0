//! `/api/v1/databases`: PostgreSQL databases protected with continuous WAL archiving, their base
//! backups, recovery window and clones at a point in time (spec 002). The rules are
//! `DatabaseService`'s; a connection URL is only ever shown without its password.

use super::auth::ApiUser;
use super::error::{ApiError, ErrorBody};
use super::pagination::{PageQuery, Paginated, page_of, slice};
use super::responses::{JsonBodyErrors, PageErrors};
use crate::artifacts::postgres::wal::continuity::{GapKind, Report};
use crate::artifacts::postgres::wal::prereq::{Outcome, Step};
use crate::databases::archive_store::{BaseBackupRow, CloneRow};
use crate::databases::domain::DatabaseInput;
use crate::databases::service::{Database, DatabaseError, DatabaseService};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

#[derive(OpenApi)]
#[openapi(
    paths(list, create, show, update, delete, backups, backup_now, recovery_window, pitr_clone, clones, clone_action, delete_clone),
    components(schemas(
        DatabaseResource, DatabaseEnvelope, Paginated<DatabaseResource>, DatabaseBody, StepResource,
        BaseBackupResource, RecoveryWindow, GapResource, PitrCloneBody, CloneResource, CloneEnvelope, Deleted
    )),
    tags((name = "Databases", description = "PostgreSQL point-in-time recovery"))
)]
pub struct DatabasesApi;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/databases", web::get().to(list))
        .route("/databases", web::post().to(create))
        .route("/databases/{id}", web::get().to(show))
        .route("/databases/{id}", web::put().to(update))
        .route("/databases/{id}", web::delete().to(delete))
        .route("/databases/{id}/backups", web::get().to(backups))
        .route("/databases/{id}/backups", web::post().to(backup_now))
        .route("/databases/{id}/recovery-window", web::get().to(recovery_window))
        .route("/databases/{id}/pitr-clone", web::post().to(pitr_clone))
        .route("/databases/{id}/clones", web::get().to(clones))
        .route("/database-clones/{id}/{action}", web::post().to(clone_action))
        .route("/database-clones/{id}", web::delete().to(delete_clone));
}

impl From<DatabaseError> for ApiError {
    fn from(e: DatabaseError) -> Self {
        if let Some(fields) = e.field_errors() {
            return ApiError::invalid(&fields);
        }
        match e {
            DatabaseError::NotFound => ApiError::not_found("Database not found"),
            DatabaseError::Refused(m) => ApiError::new(StatusCode::CONFLICT, m),
            DatabaseError::Db(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

/// A protected database.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DatabaseResource {
    #[schema(format = "uuid")]
    pub id: String,
    pub name: String,
    /// Without its password.
    #[schema(example = "postgres://replicator@db.internal:5432/shop")]
    pub url: String,
    pub destination_id: Option<String>,
    pub destination_name: Option<String>,
    /// Five-field cron in UTC: when base backups are taken.
    pub base_schedule: String,
    pub schedule_preview: String,
    /// Base backups and WAL are kept for this many days…
    pub window_days: i64,
    /// …and at least this many base backups.
    pub min_base_backups: i64,
    pub encrypt: bool,
    /// Whether WAL is archived now.
    pub archiving: bool,
    /// `starting`, `ok`, `failed` or `stopped`.
    pub status: String,
    pub status_message: Option<String>,
    /// PostgreSQL's version, e.g. 15.4.
    pub server_version: String,
    /// WAL segment size in bytes.
    pub wal_segment_size: i64,
    /// When WAL was last received.
    pub last_received_at: Option<DateTime<Utc>>,
    /// Bytes of WAL the source has written that the slot has not yet confirmed.
    pub lag_bytes: Option<i64>,
    /// The replication slot's `wal_status` (reserved, extended, unreserved, lost).
    pub slot_wal_status: Option<String>,
    /// The replication slot Devpilot keeps on the source.
    pub slot: String,
    /// After a switch: the database that replaced this one.
    pub replaced_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Database> for DatabaseResource {
    fn from(d: Database) -> Self {
        let row = d.row;
        DatabaseResource {
            slot: crate::databases::domain::slot_name(&row.id),
            server_version: crate::databases::service::version(u32::try_from(row.server_version).unwrap_or(0)),
            id: row.id,
            name: row.name,
            url: d.url,
            destination_id: row.destination_id,
            destination_name: d.destination_name,
            base_schedule: row.base_schedule,
            schedule_preview: d.schedule_preview,
            window_days: row.window_days,
            min_base_backups: row.min_base_backups,
            encrypt: row.encrypt,
            archiving: row.archiving,
            status: row.status,
            status_message: row.status_message,
            wal_segment_size: row.seg_size,
            last_received_at: row.last_received_at.map(|t| t.and_utc()),
            lag_bytes: row.lag_bytes,
            slot_wal_status: row.slot_wal_status,
            replaced_by: row.replaced_by,
            created_at: row.created_at.and_utc(),
        }
    }
}

/// One step of the prerequisite check.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct StepResource {
    pub name: String,
    /// `pass`, `warn`, `fail` or `not_checked` (an earlier step failed).
    pub outcome: String,
    pub message: String,
}

fn steps(steps: Vec<Step>) -> Vec<StepResource> {
    steps
        .into_iter()
        .map(|s| StepResource {
            name: s.name.to_owned(),
            outcome: match s.outcome {
                Outcome::Pass => "pass",
                Outcome::Warn => "warn",
                Outcome::Fail => "fail",
                Outcome::NotChecked => "not_checked",
            }
            .into(),
            message: s.message,
        })
        .collect()
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DatabaseEnvelope {
    pub data: DatabaseResource,
    /// What the prerequisite check found (on create and update).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<StepResource>,
}

/// A database as sent. Every field parses (a missing one is an empty value, refused by the
/// service next to its field), so that another workspace's database is 404 whatever the body.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct DatabaseBody {
    #[serde(default)]
    #[schema(required = true)]
    pub name: String,
    /// A role with REPLICATION, password included; never shown again. On an update a missing or
    /// blank URL keeps the stored one.
    #[serde(default)]
    #[schema(example = "postgres://replicator:secret@db.internal:5432/shop")]
    pub url: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub destination_id: Uuid,
    /// Default: every day at 03:00 UTC.
    #[serde(default)]
    #[schema(example = "0 3 * * *")]
    pub base_schedule: Option<String>,
    /// Default 7.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub window_days: Option<u16>,
    /// Default 2.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub min_base_backups: Option<u16>,
    #[serde(default)]
    pub encrypt: bool,
}

impl DatabaseBody {
    fn into_input(self) -> DatabaseInput {
        let defaults = DatabaseInput::defaults();
        DatabaseInput {
            name: self.name,
            url: self.url.unwrap_or_default(),
            // Missing: none chosen, which the service says.
            destination_id: if self.destination_id.is_nil() { String::new() } else { self.destination_id.to_string() },
            base_schedule: self.base_schedule.unwrap_or(defaults.base_schedule),
            window_days: self.window_days.map_or(defaults.window_days, |d| d.to_string()),
            min_base_backups: self.min_base_backups.map_or(defaults.min_base_backups, |d| d.to_string()),
            encrypt: self.encrypt,
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct Deleted {
    pub message: String,
}

/// The workspace's databases by name, a page at a time.
#[utoipa::path(get, path = "/api/v1/databases", tag = "Databases", params(PageQuery),
    responses((status = 200, description = "A page of databases", body = Paginated<DatabaseResource>), PageErrors))]
pub async fn list(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<DatabaseService>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let all = service.list(&user.workspace_id);
    let fetch = |page, per_page| async move { Ok::<_, ApiError>(slice(all.await?, page, per_page)) };
    page_of(&req, &query, fetch, DatabaseResource::from).await
}

/// Protects a database: checks what PITR needs step by step, then starts archiving its WAL.
#[utoipa::path(post, path = "/api/v1/databases", tag = "Databases", request_body = DatabaseBody,
    responses((status = 201, description = "Created; archiving starts", body = DatabaseEnvelope),
        (status = 403, description = "Viewers cannot add databases", body = ErrorBody), JsonBodyErrors))]
pub async fn create(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    body: web::Json<DatabaseBody>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let (database, checks) = service.create(&user.workspace_id, &body.into_inner().into_input(), &user.actor()).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/databases/{}", database.id())))
        .json(DatabaseEnvelope { data: database.into(), checks: steps(checks) }))
}

#[utoipa::path(get, path = "/api/v1/databases/{id}", tag = "Databases", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The database", body = DatabaseEnvelope),
        (status = 404, description = "No such database in this workspace", body = ErrorBody)))]
pub async fn show(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let database = service.get(&user.workspace_id, &id.to_string()).await?;
    Ok(HttpResponse::Ok().json(DatabaseEnvelope { data: database.into(), checks: Vec::new() }))
}

#[utoipa::path(put, path = "/api/v1/databases/{id}", tag = "Databases", params(("id" = Uuid, Path)), request_body = DatabaseBody,
    responses((status = 200, description = "Updated", body = DatabaseEnvelope),
        (status = 403, description = "Viewers cannot change databases", body = ErrorBody),
        (status = 404, description = "No such database in this workspace", body = ErrorBody), JsonBodyErrors))]
pub async fn update(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
    body: web::Json<DatabaseBody>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let input = body.into_inner().into_input();
    let (database, checks) = service.update(&user.workspace_id, &id.to_string(), &input, &user.actor()).await?;
    Ok(HttpResponse::Ok().json(DatabaseEnvelope { data: database.into(), checks: steps(checks) }))
}

/// Stops archiving, drops the replication slot on the source and removes the database. Its
/// archive stays in the destination.
#[utoipa::path(delete, path = "/api/v1/databases/{id}", tag = "Databases", params(("id" = Uuid, Path)),
    responses((status = 200, description = "Deleted", body = Deleted),
        (status = 403, description = "Viewers cannot delete databases", body = ErrorBody),
        (status = 404, description = "No such database in this workspace", body = ErrorBody)))]
pub async fn delete(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let problem = service.delete(&user.workspace_id, &id.to_string(), &user.actor()).await?;
    let message = match problem {
        None => "Database deleted; its replication slot was dropped. The archive stays in the destination.".to_owned(),
        Some(p) => {
            format!("Database deleted, but its replication slot could not be dropped ({p}); drop it on the source.")
        }
    };
    Ok(HttpResponse::Ok().json(Deleted { message }))
}

/// A base backup.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct BaseBackupResource {
    #[schema(format = "uuid")]
    pub id: String,
    /// `base` (pg_basebackup).
    pub kind: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// `manual` or `schedule`.
    pub trigger: String,
    pub timeline: Option<i32>,
    pub start_lsn: Option<String>,
    pub stop_lsn: Option<String>,
    pub started_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub bytes: i64,
    pub sha256: Option<String>,
    pub error: Option<String>,
}

impl From<BaseBackupRow> for BaseBackupResource {
    fn from(b: BaseBackupRow) -> Self {
        BaseBackupResource {
            id: b.id,
            kind: "base".into(),
            status: b.status,
            trigger: b.trigger,
            timeline: b.timeline,
            start_lsn: b.start_lsn,
            stop_lsn: b.stop_lsn,
            started_at: b.started_at.and_utc(),
            stopped_at: b.stopped_at.map(|t| t.and_utc()),
            bytes: b.bytes,
            sha256: b.sha256,
            error: b.error,
        }
    }
}

/// The database's base backups, newest first.
#[utoipa::path(get, path = "/api/v1/databases/{id}/backups", tag = "Databases", params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "A page of backups", body = Paginated<BaseBackupResource>),
        (status = 404, description = "No such database in this workspace", body = ErrorBody), PageErrors))]
pub async fn backups(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.to_string();
    let all = service.base_backups(&user.workspace_id, &id);
    let fetch = |page, per_page| async move { Ok::<_, ApiError>(slice(all.await?, page, per_page)) };
    page_of(&req, &query, fetch, BaseBackupResource::from).await
}

/// Takes a base backup now (in the background); its id, to follow in the list.
#[utoipa::path(post, path = "/api/v1/databases/{id}/backups", tag = "Databases", params(("id" = Uuid, Path)),
    responses((status = 202, description = "Started", body = BaseBackupResource),
        (status = 403, description = "Viewers cannot start backups", body = ErrorBody),
        (status = 404, description = "No such database in this workspace", body = ErrorBody),
        (status = 409, description = "The database has no destination", body = ErrorBody)))]
pub async fn backup_now(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let (ws, id) = (user.workspace_id.clone(), id.to_string());
    let base = service.start_base_backup(&ws, &id, Some(&user.actor())).await?;
    let started =
        service.base_backups(&ws, &id).await?.into_iter().find(|b| b.id == base).ok_or(DatabaseError::NotFound)?;
    Ok(HttpResponse::Accepted().json(BaseBackupResource::from(started)))
}

/// A stretch of archive that recovery cannot cross.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct GapResource {
    pub timeline: u32,
    /// The first and last missing WAL file.
    pub from: String,
    pub to: String,
    /// `uploading`, `delayed` or `lost`.
    pub kind: String,
}

/// Any second from `earliest` to `latest` can be restored.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct RecoveryWindow {
    pub earliest: Option<DateTime<Utc>>,
    pub latest: Option<DateTime<Utc>>,
    pub gaps: Vec<GapResource>,
    /// The timeline a restore ends on.
    pub timeline: u32,
}

impl From<Report> for RecoveryWindow {
    fn from(r: Report) -> Self {
        RecoveryWindow {
            earliest: r.earliest,
            latest: r.latest,
            timeline: r.newest_timeline,
            gaps: r
                .gaps
                .into_iter()
                .map(|g| GapResource {
                    timeline: g.timeline,
                    from: g.first_name,
                    to: g.last_name,
                    kind: match g.kind {
                        GapKind::Uploading => "uploading",
                        GapKind::Delayed => "delayed",
                        GapKind::Lost => "lost",
                    }
                    .into(),
                })
                .collect(),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/databases/{id}/recovery-window", tag = "Databases", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The recovery window", body = RecoveryWindow),
        (status = 404, description = "No such database in this workspace", body = ErrorBody),
        (status = 409, description = "The archive cannot be read", body = ErrorBody)))]
pub async fn recovery_window(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let report = service.recovery_window(&user.workspace_id, &id.to_string()).await?;
    Ok(HttpResponse::Ok().json(RecoveryWindow::from(report)))
}

#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct PitrCloneBody {
    /// Any second of the recovery window; absent: the end of the archive.
    #[serde(default)]
    pub target_time: Option<DateTime<Utc>>,
    /// Required (checked after the database is found, so that another workspace's is 404
    /// whatever the body).
    #[serde(default)]
    #[schema(required = true)]
    pub new_name: String,
}

/// A cluster Devpilot restored from the archive.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct CloneResource {
    #[schema(format = "uuid")]
    pub id: String,
    pub database_id: String,
    pub name: String,
    /// `restoring`, `running`, `stopped` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub target_time: Option<DateTime<Utc>>,
    pub timeline: Option<i32>,
    /// Where it listens, on Devpilot's host; the source's roles and passwords apply.
    #[schema(example = "postgres://127.0.0.1:55000/shop")]
    pub connection_url: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct CloneEnvelope {
    pub data: CloneResource,
}

async fn clone_resource(service: &DatabaseService, clone: CloneRow) -> CloneResource {
    CloneResource {
        connection_url: service.clone_url(&clone).await,
        id: clone.id,
        database_id: clone.database_id,
        name: clone.name,
        status: clone.status,
        error: clone.error,
        target_time: clone.target_time.map(|t| t.and_utc()),
        timeline: clone.timeline,
        created_at: clone.created_at.and_utc(),
    }
}

/// Restores the database as a new cluster at `target_time` (in the background: follow its
/// status); a time outside the recovery window is refused with the window in the message.
#[utoipa::path(post, path = "/api/v1/databases/{id}/pitr-clone", tag = "Databases", params(("id" = Uuid, Path)), request_body = PitrCloneBody,
    responses((status = 202, description = "Restoring", body = CloneEnvelope),
        (status = 403, description = "Viewers cannot restore", body = ErrorBody),
        (status = 404, description = "No such database in this workspace", body = ErrorBody),
        (status = 409, description = "No clone can be made now", body = ErrorBody), JsonBodyErrors))]
pub async fn pitr_clone(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
    body: web::Json<PitrCloneBody>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let body = body.into_inner();
    let clone = service
        .pitr_clone(&user.workspace_id, &id.to_string(), body.target_time, &body.new_name, &user.actor())
        .await?;
    Ok(HttpResponse::Accepted().json(CloneEnvelope { data: clone_resource(&service, clone).await }))
}

#[utoipa::path(get, path = "/api/v1/databases/{id}/clones", tag = "Databases", params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "The database's clones", body = Paginated<CloneResource>),
        (status = 404, description = "No such database in this workspace", body = ErrorBody), PageErrors))]
pub async fn clones(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let database = service.get(&user.workspace_id, &id.to_string()).await?;
    let mut all = Vec::new();
    for clone in service.clones(&user.workspace_id, Some(database.id())).await? {
        all.push(clone_resource(&service, clone).await);
    }
    let fetch = |page, per_page| async move { Ok::<_, ApiError>(slice(all, page, per_page)) };
    page_of(&req, &query, fetch, |c| c).await
}

/// `stop` or `start` a clone's cluster.
#[utoipa::path(post, path = "/api/v1/database-clones/{id}/{action}", tag = "Databases",
    params(("id" = Uuid, Path), ("action" = String, Path, description = "stop or start")),
    responses((status = 200, description = "Done", body = CloneEnvelope),
        (status = 403, description = "Viewers cannot change clones", body = ErrorBody),
        (status = 404, description = "No such clone or action", body = ErrorBody),
        (status = 409, description = "Not possible in the clone's state", body = ErrorBody)))]
pub async fn clone_action(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let (id, action) = path.into_inner();
    let run = match action.as_str() {
        "start" => true,
        "stop" => false,
        _ => return Err(ApiError::not_found("No such action: use stop or start.")),
    };
    let clone = service.set_clone_running(&user.workspace_id, &id.to_string(), run, &user.actor()).await?;
    Ok(HttpResponse::Ok().json(CloneEnvelope { data: clone_resource(&service, clone).await }))
}

#[utoipa::path(delete, path = "/api/v1/database-clones/{id}", tag = "Databases", params(("id" = Uuid, Path)),
    responses((status = 200, description = "Stopped and removed", body = Deleted),
        (status = 403, description = "Viewers cannot delete clones", body = ErrorBody),
        (status = 404, description = "No such clone in this workspace", body = ErrorBody),
        (status = 409, description = "Still restoring", body = ErrorBody)))]
pub async fn delete_clone(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    service.delete_clone(&user.workspace_id, &id.to_string(), &user.actor()).await?;
    Ok(HttpResponse::Ok().json(Deleted { message: "Clone stopped and removed.".into() }))
}
