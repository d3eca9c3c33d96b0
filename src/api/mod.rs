//! The JSON API under `/api/v1`: bearer tokens (a JWT from `/auth/token` or a long-lived API
//! token), one error shape, paginated lists as the spec shows them, and an OpenAPI document
//! generated from the handlers at `/api/v1/openapi.json`.

pub mod audit;
pub mod auth;
pub mod backups;
mod backups_bucket;
mod backups_mariadb;
pub mod databases;
pub mod destinations;
pub mod dialect_003;
pub mod drills;
pub mod error;
pub mod html;
pub mod notifications;
pub mod overview;
pub mod pagination;
pub mod reference;
pub mod responses;
pub mod restored;
pub mod run_copies;
pub mod run_files;
pub mod runs;
pub mod schedules;
pub mod volumes;

use actix_web::{HttpResponse, web};
use error::ApiError;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Devpilot Backups API", description = "Backup destinations, schedules and runs of a workspace."),
    paths(auth::issue_token),
    components(schemas(error::ErrorBody, auth::TokenRequest, auth::TokenResponse, pagination::Links, pagination::Meta)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "Auth", description = "Tokens for the API"),
        (name = "Backup destinations", description = "Where backups are stored"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some("A JWT from POST /api/v1/auth/token, or an API token (dpk_…)".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Answers every operation can give whatever its handler does: a body or query string that does
/// not parse (400), a body that is not JSON (415), a write's body over the limit (413), no valid
/// token (401).
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder};
        let error = |description: &str| -> RefOr<utoipa::openapi::Response> {
            let schema = utoipa::openapi::Ref::from_schema_name("ErrorBody");
            let json = ContentBuilder::new().schema(Some(schema)).build();
            RefOr::T(ResponseBuilder::new().description(description).content("application/json", json).build())
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (false, &mut item.get),
                (true, &mut item.post),
                (true, &mut item.put),
                (true, &mut item.delete),
                (true, &mut item.patch),
            ];
            for (writes, operation) in operations.into_iter().filter_map(|(w, op)| op.as_mut().map(|op| (w, op))) {
                let public = operation.security.as_ref().is_some_and(|s| s.is_empty());
                let responses = &mut operation.responses.responses;
                responses.entry("400".into()).or_insert_with(|| error("The query string or body does not parse"));
                if operation.request_body.is_some() {
                    responses.entry("415".into()).or_insert_with(|| error("The body is not application/json"));
                }
                if writes {
                    responses.entry("413".into()).or_insert_with(|| error("The body is larger than 256 KiB"));
                }
                if !public {
                    responses.entry("401".into()).or_insert_with(|| error("No valid bearer token"));
                }
            }
        }
    }
}

/// The whole document: the parts each module declares, merged, with the common answers added.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(destinations::DestinationsApi::openapi());
    doc.merge(databases::DatabasesApi::openapi());
    doc.merge(schedules::SchedulesApi::openapi());
    doc.merge(runs::RunsApi::openapi());
    doc.merge(audit::AuditApi::openapi());
    doc.merge(backups::BackupsApi::openapi());
    doc.merge(volumes::VolumesApi::openapi());
    doc.merge(overview::OverviewApi::openapi());
    doc.merge(notifications::NotificationsApi::openapi());
    doc.merge(dialect_003::Dialect003Api::openapi());
    doc.merge(drills::DrillsApi::openapi());
    doc.merge(run_files::RunFilesApi::openapi());
    doc.merge(backups_bucket::BucketRestoreApi::openapi());
    CommonResponses.modify(&mut doc);
    doc
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(dialect_003::routes);
    cfg.service(
        web::scope("/api/v1")
            .wrap(actix_web::middleware::from_fn(auth::guard))
            .app_data(error::json_config())
            .app_data(error::query_config())
            .app_data(error::path_config())
            .route("/auth/token", web::post().to(auth::issue_token))
            .route("/openapi.json", web::get().to(document))
            .configure(destinations::routes)
            .configure(databases::routes)
            .configure(schedules::routes)
            .configure(runs::routes)
            .configure(audit::routes)
            .configure(backups::routes)
            .configure(volumes::routes)
            .configure(overview::routes)
            .configure(notifications::routes)
            .configure(drills::routes)
            .configure(run_files::routes)
            .configure(backups_bucket::routes)
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(ApiError::not_found("There is no such API endpoint."))
            })),
    );
}

async fn document() -> HttpResponse {
    HttpResponse::Ok().json(openapi())
}
