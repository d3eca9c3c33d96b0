//! Spec 003's dialect of the destinations API, at `/api/backup-destinations`: another product's
//! field names (`label`, `type: s3|custom_s3|local`, `s3_bucket_name`, …), integer ids, its
//! pages, error and delete bodies, so scripts written against it work unchanged. It is only a
//! translation: the same bearer tokens and workspace as `/api/v1`, the same
//! `DestinationService` calls underneath, no rule of its own.

mod error;
mod guard;
mod ids;
mod page;
mod read;
mod request;
mod resource;
mod write;

pub use error::DialectErrorBody;

use actix_web::{HttpResponse, web};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    paths(read::list, write::create, read::show, write::update, write::delete),
    components(schemas(
        resource::DialectDestination,
        resource::DialectEnvelope,
        page::DialectPage,
        request::DialectRequest,
        error::DialectErrorBody,
        write::DialectDeleted,
    )),
    tags((name = "Backup destinations (spec 003)", description = "The destinations API in spec 003's dialect"))
)]
pub struct Dialect003Api;

pub const BASE: &str = "/api/backup-destinations";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE)
            .wrap(actix_web::middleware::from_fn(guard::guard))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                error::DialectError::new(
                    actix_web::http::StatusCode::BAD_REQUEST,
                    format!("The query string is not valid: {e}."),
                )
                .into()
            }))
            .route("", web::get().to(read::list))
            .route("", web::post().to(write::create))
            .route("/{id}", web::get().to(read::show))
            .route("/{id}", web::put().to(write::update))
            .route("/{id}", web::delete().to(write::delete))
            .default_service(web::to(|| async { Err::<HttpResponse, _>(error::DialectError::not_found()) })),
    );
}
