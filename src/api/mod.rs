//! The JSON API under `/api/v1`: bearer tokens (a JWT from `/auth/token` or a long-lived API
//! token), one error shape, paginated lists as the spec shows them, and an OpenAPI document
//! generated from the handlers at `/api/v1/openapi.json`.

pub mod auth;
pub mod destinations;
pub mod error;
pub mod pagination;
pub mod runs;
pub mod schedules;
pub mod tokens;

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

/// The whole document: the parts each module declares, merged.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(destinations::DestinationsApi::openapi());
    doc.merge(schedules::SchedulesApi::openapi());
    doc.merge(runs::RunsApi::openapi());
    doc
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .app_data(error::json_config())
            .app_data(error::query_config())
            .app_data(error::path_config())
            .route("/auth/token", web::post().to(auth::issue_token))
            .route("/openapi.json", web::get().to(document))
            .configure(destinations::routes)
            .configure(schedules::routes)
            .configure(runs::routes)
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(ApiError::not_found("There is no such API endpoint."))
            })),
    );
}

async fn document() -> HttpResponse {
    HttpResponse::Ok().json(openapi())
}
