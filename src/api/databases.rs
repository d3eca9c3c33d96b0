//! `/api/v1/databases`: PostgreSQL databases protected with continuous WAL archiving, their base
//! backups, recovery window and clones at a point in time (spec 002). The rules are
//! `DatabaseService`'s; a connection URL is only ever shown without its password.

use super::auth::ApiUser;
use super::error::{ApiError, ErrorBody};
use super::pagination::{PageQuery, Paginated, page_of, slice};
use super::responses::{JsonBodyErrors, PageErrors};
use crate::artifacts::postgres::wal::continuity::{GapKind, Report};
use crate::artifacts::postgres::wal::prereq::{Outcome, Step};
use crate::databases::archive_store::BaseBackupRow;
use crate::databases::backups::Backup;
use crate::databases::domain::DatabaseInput;
use crate::databases::service::{Database, DatabaseError, DatabaseService};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

mod clones;
mod restores;
pub use clones::{CloneEnvelope, CloneResource, PitrCloneBody};
pub use restores::{ImportQuery, PitrBody, RestoreBody, RestoreFromPathBody, SwitchBody};

#[derive(OpenApi)]
#[openapi(
    paths(
        list, create, show, update, delete, backups, backup_now, recovery_window,
        clones::pitr_clone, clones::clones, clones::clone_action, clones::delete_clone,
        restores::pitr, restores::switch, restores::restore, restores::import, restores::restore_from_path
    ),
    components(schemas(
        DatabaseResource, DatabaseEnvelope, Paginated<DatabaseResource>, DatabaseBody, StepResource,
        BaseBackupResource, RecoveryWindow, GapResource, PitrCloneBody, CloneResource, CloneEnvelope, Deleted,
        PitrBody, SwitchBody, RestoreBody, RestoreFromPathBody, restores::ImportedResource
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
        .route("/databases/{id}/pitr-clone", web::post().to(clones::pitr_clone))
        .route("/databases/{id}/clones", web::get().to(clones::clones))
        .route("/database-clones/{id}/{action}", web::post().to(clones::clone_action))
        .route("/database-clones/{id}", web::delete().to(clones::delete_clone))
        .route("/databases/{id}/pitr", web::post().to(restores::pitr))
        .route("/databases/{id}/switch", web::post().to(restores::switch))
        .route("/databases/{id}/restore", web::post().to(restores::restore))
        .route("/databases/{id}/import", web::post().to(restores::import))
        .route("/databases/{id}/restore-from-path", web::post().to(restores::restore_from_path));
}

impl From<DatabaseError> for ApiError {
    fn from(e: DatabaseError) -> Self {
        if let Some(fields) = e.field_errors() {
            return ApiError::invalid(&fields);
        }
        match e {
            DatabaseError::NotFound => ApiError::not_found("Database not found"),
            DatabaseError::Refused(m) => ApiError::new(StatusCode::CONFLICT, m),
            DatabaseError::Unprocessable(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            DatabaseError::Db(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<DatabaseError> for actix_web::Error {
    fn from(e: DatabaseError) -> Self {
        ApiError::from(e).into()
    }
}

/// A JSON body, read only once the database is known to be the workspace's: another
/// workspace's id answers 404 whatever its body holds.
pub type Body<T> = Result<web::Json<T>, actix_web::Error>;

pub(super) async fn owned_body<T>(
    service: &DatabaseService,
    user: &ApiUser,
    id: &Uuid,
    body: Body<T>,
) -> Result<T, actix_web::Error> {
    service.get(&user.workspace_id, &id.to_string()).await?;
    Ok(body?.into_inner())
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

/// A database as sent.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct DatabaseBody {
    pub name: String,
    /// A role with REPLICATION, password included; never shown again. On an update a missing or
    /// blank URL keeps the stored one.
    #[serde(default)]
    #[schema(example = "postgres://replicator:secret@db.internal:5432/shop")]
    pub url: Option<String>,
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
            destination_id: self.destination_id.to_string(),
            base_schedule: self.base_schedule.unwrap_or(defaults.base_schedule),
            window_days: self.window_days.map_or(defaults.window_days, |d| d.to_string()),
            min_base_backups: self.min_base_backups.map_or(defaults.min_base_backups, |d| d.to_string()),
            encrypt: self.encrypt,
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct Deleted {
    #[schema(example = "Clone stopped and removed.")]
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
    body: Body<DatabaseBody>,
) -> Result<HttpResponse, actix_web::Error> {
    user.require_write()?;
    let body = owned_body(&service, &user, &id, body).await?;
    let input = body.into_input();
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

/// A backup of the database: a base backup (`kind: base`, with its WAL positions) or a run of a
/// `pg_dump` schedule of the same database (`kind: dump`, with the schedule).
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct BaseBackupResource {
    #[schema(format = "uuid")]
    pub id: String,
    /// `base` (pg_basebackup) or `dump` (a pg_dump run, restored with
    /// `POST /api/v1/backups/database/{id}/restore`).
    pub kind: String,
    /// `running`, `succeeded` or `failed` (dumps: also `queued`, `skipped`, `interrupted`).
    pub status: String,
    /// `manual` or `schedule`.
    pub trigger: String,
    /// Dumps: the schedule that made it.
    pub schedule_id: Option<String>,
    pub schedule_name: Option<String>,
    pub timeline: Option<i32>,
    pub start_lsn: Option<String>,
    pub stop_lsn: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
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
            schedule_id: None,
            schedule_name: None,
            timeline: b.timeline,
            start_lsn: b.start_lsn,
            stop_lsn: b.stop_lsn,
            started_at: Some(b.started_at.and_utc()),
            stopped_at: b.stopped_at.map(|t| t.and_utc()),
            bytes: b.bytes,
            sha256: b.sha256,
            error: b.error,
        }
    }
}

impl From<Backup> for BaseBackupResource {
    fn from(backup: Backup) -> Self {
        match backup {
            Backup::Base(b) => b.into(),
            Backup::Dump(run, schedule) => BaseBackupResource {
                id: run.id,
                kind: "dump".into(),
                status: run.status,
                trigger: run.trigger,
                schedule_id: Some(run.plan_id),
                schedule_name: Some(schedule),
                timeline: None,
                start_lsn: None,
                stop_lsn: None,
                started_at: run.started_at.map(|t| t.and_utc()),
                stopped_at: run.finished_at.map(|t| t.and_utc()),
                bytes: run.bytes,
                sha256: run.sha256,
                error: run.error,
            },
        }
    }
}

/// The database's backups, newest first: base backups and the runs of `pg_dump` schedules of
/// the same database.
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
    let all = service.backups(&user.workspace_id, &id);
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
