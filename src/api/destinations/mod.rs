//! `/api/v1/backup-destinations` (also at `/api/v1/settings/backup-destinations`, the path of
//! spec 002): the destinations of the caller's workspace as JSON, credentials redacted. Reads
//! are open to every member; every write needs an owner or admin.

mod connection;
mod health;
mod oauth;
mod outcome;
mod read;
mod request;
mod resource;
mod write;

pub use outcome::{CredentialsTested, DestinationTested, TestFailed, TestResult};
pub use request::DestinationRequest;
pub use resource::{DestinationEnvelope, DestinationResource, REDACTED, SettingValue};

use crate::api::pagination::Paginated;
use actix_web::web;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    paths(
        read::list,
        write::create,
        connection::test_credentials,
        read::show,
        write::update,
        write::delete,
        connection::test_saved,
        write::make_default,
        oauth::start,
        health::list,
    ),
    components(schemas(
        DestinationResource,
        DestinationEnvelope,
        Paginated<DestinationResource>,
        SettingValue,
        DestinationRequest,
        DestinationTested,
        CredentialsTested,
        TestFailed,
        TestResult,
        outcome::TestStep,
        outcome::StepOutcome,
        write::Deleted,
        write::InUse,
        oauth::AuthorizationUrl,
        health::DestinationTestResource,
        health::HealthStep,
        health::HealthTrigger,
        Paginated<health::DestinationTestResource>,
    ))
)]
pub struct DestinationsApi;

/// The OpenAPI document lists the first; the second is the same handlers under spec 002's path.
const BASES: [&str; 2] = ["/backup-destinations", "/settings/backup-destinations"];

pub fn routes(cfg: &mut web::ServiceConfig) {
    for base in BASES {
        cfg.route(base, web::get().to(read::list))
            .route(base, web::post().to(write::create))
            .route(&format!("{base}/test"), web::post().to(connection::test_credentials))
            .route(&format!("{base}/{{id}}"), web::get().to(read::show))
            .route(&format!("{base}/{{id}}"), web::put().to(write::update))
            .route(&format!("{base}/{{id}}"), web::delete().to(write::delete))
            .route(&format!("{base}/{{id}}/test"), web::post().to(connection::test_saved))
            .route(&format!("{base}/{{id}}/default"), web::post().to(write::make_default))
            .route(&format!("{base}/{{id}}/oauth"), web::post().to(oauth::start))
            .route(&format!("{base}/{{id}}/tests"), web::get().to(health::list));
    }
    // The health history also at the shorter path issue 18 names.
    cfg.route("/destinations/{id}/tests", web::get().to(health::list));
}
