//! `/api/v1/backup-destinations`: the destinations of the caller's workspace as JSON, with
//! credentials redacted.

use super::auth::ApiUser;
use super::error::{ApiError, ErrorBody};
use super::pagination::{PageQuery, Paginated};
use crate::destinations::service::{Destination, DestinationService};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use utoipa::{OpenApi, ToSchema};

/// What a redacted credential looks like: present, never shown.
pub const REDACTED: &str = "••••";

#[derive(OpenApi)]
#[openapi(
    paths(list, show),
    components(schemas(DestinationResource, DestinationEnvelope, Paginated<DestinationResource>))
)]
pub struct DestinationsApi;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/backup-destinations", web::get().to(list)).route("/backup-destinations/{id}", web::get().to(show));
}

/// A destination as the API shows it.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DestinationResource {
    #[schema(format = "uuid")]
    pub id: String,
    pub name: String,
    /// `local`, `s3`, `azure_blob`, `sftp`, `gcs`, `google_drive` or `cloudinary`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type for people: "Amazon S3", "Cloudflare R2", "Azure Blob Storage", …
    pub type_human: String,
    /// The non-secret settings.
    pub settings: BTreeMap<String, String>,
    /// The secret fields that are stored, each shown as "••••".
    pub credentials: BTreeMap<String, String>,
    /// `active`, `testing`, `failed` or `disabled`.
    pub status: String,
    pub last_tested_at: Option<DateTime<Utc>>,
    pub last_test_message: Option<String>,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Destination> for DestinationResource {
    fn from(d: Destination) -> Self {
        DestinationResource {
            id: d.id,
            name: d.name,
            kind: d.kind.as_str().to_owned(),
            type_human: d.type_label.to_owned(),
            settings: d.settings.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            credentials: d.stored_secrets.iter().map(|k| ((*k).to_owned(), REDACTED.to_owned())).collect(),
            status: d.status.as_str().to_owned(),
            last_tested_at: d.last_tested_at.map(|t| t.and_utc()),
            last_test_message: d.last_test_message,
            is_default: d.is_default,
            created_at: d.created_at.and_utc(),
            updated_at: d.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DestinationEnvelope {
    pub data: DestinationResource,
}

/// The workspace's destinations, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/backup-destinations",
    tag = "Backup destinations",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of destinations", body = Paginated<DestinationResource>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 422, description = "A bad page parameter", body = ErrorBody),
    )
)]
pub async fn list(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<DestinationService>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (page, per_page) = query.parse()?;
    let found = service.list(&user.workspace_id, page, per_page).await?;
    let data = found.items.into_iter().map(DestinationResource::from).collect();
    Ok(HttpResponse::Ok().json(Paginated::new(&req, data, page, per_page, found.total)))
}

/// One destination, credentials redacted.
#[utoipa::path(
    get,
    path = "/api/v1/backup-destinations/{id}",
    tag = "Backup destinations",
    params(("id" = String, Path, description = "Destination UUID")),
    responses(
        (status = 200, description = "The destination", body = DestinationEnvelope),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such destination in this workspace", body = ErrorBody),
    )
)]
pub async fn show(
    user: ApiUser,
    service: web::Data<DestinationService>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let destination = service.get(&user.workspace_id, &id).await?;
    Ok(HttpResponse::Ok().json(DestinationEnvelope { data: destination.into() }))
}
