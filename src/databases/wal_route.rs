//! `GET /internal/wal/{clone}/{name}`: the route `devpilot wal-fetch` calls for a clone's
//! `restore_command`. No session: the bearer token the clone holds (see [`super::fetch`]).

use super::fetch::FetchError;
use super::service::DatabaseService;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/internal/wal/{clone}/{name}", web::get().to(fetch));
}

async fn fetch(
    req: HttpRequest,
    service: web::Data<DatabaseService>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (clone, name) = path.into_inner();
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match service.fetch_for_clone(&clone, token, &name).await {
        Ok(fetched) => HttpResponse::Ok()
            .insert_header(("X-Devpilot-Sha256", fetched.sha256))
            .insert_header((header::CONTENT_TYPE, "application/octet-stream"))
            .no_chunking(fetched.size)
            .streaming(fetched.body),
        Err(FetchError::Unauthorized) => HttpResponse::build(StatusCode::UNAUTHORIZED).body("not allowed\n"),
        Err(FetchError::NotInArchive) => HttpResponse::NotFound().body("not in the archive\n"),
        Err(FetchError::Failed(message)) => {
            tracing::warn!(clone = %clone, file = %name, error = %message, "a clone's WAL fetch failed");
            HttpResponse::InternalServerError().body(format!("{message}\n"))
        }
    }
}
