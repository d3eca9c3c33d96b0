//! `GET /api/v1/audit-events`: the workspace's audit log, newest first, a page at a time, for
//! owners and admins (a viewer gets 403, like the page).

use super::auth::ApiUser;
use super::error::{ApiError, ErrorBody};
use super::pagination::{PageQuery, Paginated};
use crate::audit::domain::SubjectKind;
use crate::audit::service::{AuditService, Event};
use crate::audit::store::Filter;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(list),
    components(schemas(AuditEventResource, AuditActor, AuditSubject, AuditChannel, AuditSubjectType, Paginated<AuditEventResource>)),
    tags((name = "Audit log", description = "Who changed or tested what, and when"))
)]
pub struct AuditApi;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit-events", web::get().to(list));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditChannel {
    Web,
    Api,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditSubjectType {
    Destination,
    Plan,
    Server,
    Grant,
    Database,
    Clone,
    Channel,
}

impl AuditSubjectType {
    fn kind(self) -> SubjectKind {
        match self {
            AuditSubjectType::Destination => SubjectKind::Destination,
            AuditSubjectType::Plan => SubjectKind::Plan,
            AuditSubjectType::Server => SubjectKind::Server,
            AuditSubjectType::Grant => SubjectKind::Grant,
            AuditSubjectType::Database => SubjectKind::Database,
            AuditSubjectType::Clone => SubjectKind::Clone,
            AuditSubjectType::Channel => SubjectKind::Channel,
        }
    }
}

/// Who did it.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct AuditActor {
    #[schema(example = "admin@example.com")]
    pub email: String,
    /// The API token used, by name and prefix (absent for the web pages and JWTs).
    #[schema(example = "nightly (dpk_1a2b3c4d)")]
    pub api_token: Option<String>,
    pub channel: AuditChannel,
}

/// What it was done to, with its name at the time.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct AuditSubject {
    #[serde(rename = "type")]
    pub kind: AuditSubjectType,
    pub id: String,
    pub name: String,
}

/// One entry of the audit log.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct AuditEventResource {
    #[schema(format = "uuid")]
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: AuditActor,
    /// created, updated, tested, deep_tested, disabled, enabled, made_default, deleted,
    /// host_key_accepted, run_started, restored, switched, started or stopped.
    #[schema(example = "updated")]
    pub action: String,
    pub subject: AuditSubject,
    /// Short and never secret: the names of the fields that changed, a test's result.
    #[schema(example = "Changed: endpoint, secret_access_key.")]
    pub detail: String,
}

impl From<Event> for AuditEventResource {
    fn from(e: Event) -> Self {
        AuditEventResource {
            id: e.id,
            occurred_at: e.at.and_utc(),
            actor: AuditActor {
                email: e.actor_email,
                api_token: e.actor_token,
                channel: if e.channel == "api" { AuditChannel::Api } else { AuditChannel::Web },
            },
            action: e.action,
            subject: AuditSubject {
                kind: match SubjectKind::parse(&e.subject_type) {
                    Some(SubjectKind::Plan) => AuditSubjectType::Plan,
                    Some(SubjectKind::Server) => AuditSubjectType::Server,
                    Some(SubjectKind::Grant) => AuditSubjectType::Grant,
                    Some(SubjectKind::Database) => AuditSubjectType::Database,
                    Some(SubjectKind::Clone) => AuditSubjectType::Clone,
                    Some(SubjectKind::Channel) => AuditSubjectType::Channel,
                    _ => AuditSubjectType::Destination,
                },
                id: e.subject_id,
                name: e.subject_name,
            },
            detail: e.detail,
        }
    }
}

#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries about this kind of subject.
    pub subject_type: Option<AuditSubjectType>,
    /// Only entries about this destination, plan or server.
    pub subject_id: Option<String>,
}

/// The workspace's audit log, newest first.
#[utoipa::path(
    get,
    operation_id = "listAuditEvents",
    path = "/api/v1/audit-events",
    tag = "Audit log",
    params(PageQuery, AuditQuery),
    responses(
        (status = 200, description = "A page of entries, newest first", body = Paginated<AuditEventResource>),
        (status = 400, description = "A parameter that does not parse", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Viewers cannot read the audit log", body = ErrorBody),
        (status = 422, description = "A page parameter out of range", body = ErrorBody),
    )
)]
pub async fn list(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<AuditService>,
    page: web::Query<PageQuery>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    if !user.role.can_write() {
        return Err(ApiError::forbidden("Only owners and admins of this workspace can read its audit log."));
    }
    let (page, per_page) = page.parse()?;
    let filter = Filter {
        subject_type: query.subject_type.map(AuditSubjectType::kind),
        subject_id: query.subject_id.clone().filter(|s| !s.is_empty()),
    };
    let found = service.page(&user.workspace_id, filter, page, per_page).await?;
    let data = found.items.into_iter().map(AuditEventResource::from).collect();
    Ok(HttpResponse::Ok().json(Paginated::new(&req, data, page, per_page, found.total)))
}
