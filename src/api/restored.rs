//! What the API's restores share: into which database a dump goes, the answer of a finished
//! restore, and how a restore's failures and field errors answer. Used by the restore endpoints
//! of spec 002 (`backups.rs`, `backups_mariadb.rs`, `volumes.rs`).

use super::error::ApiError;
use crate::error::AppError;
use crate::fields::FieldErrors;
use actix_web::http::StatusCode;
use utoipa::ToSchema;

/// Into which database a dump goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RestoreInto {
    /// Created by Devpilot for the restore; a name that exists is refused.
    #[default]
    New,
    /// An existing database whose backed-up objects are replaced; its name goes in `confirm`.
    Existing,
}

impl RestoreInto {
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreInto::New => "new",
            RestoreInto::Existing => "existing",
        }
    }
}

/// A finished restore.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct Restored {
    pub restored: bool,
    /// The copy the artifact was read from: “the primary (“Disk”)”, “copy 1 (“Offsite”)”.
    #[schema(example = "the primary (“Disk”)")]
    pub from_copy: String,
    #[schema(format = "uuid")]
    pub run_id: String,
    /// The database restored into (database restores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "shop_restored")]
    pub database: Option<String>,
    /// Into a new or an existing database (database restores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<RestoreInto>,
    /// The folder or file restored into (volume restores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "/srv/restores/app-2024-01-15")]
    pub path: Option<String>,
}

/// The target's field errors under the API's names (`target` is the field `field` here).
pub fn invalid(errors: &FieldErrors, field: &str) -> ApiError {
    let mut renamed = FieldErrors::new();
    for (name, message) in errors.iter() {
        renamed.add(if name == "target" { field } else { name }, message);
    }
    ApiError::invalid(&renamed)
}

/// The restore's own failures: a backup gone meanwhile is 409; a restore that failed (the
/// checksum, the destination, the target refusing) 422 with its reason, as the restore page says.
pub fn restore_error(e: AppError) -> ApiError {
    match e {
        AppError::NotFound(m) => ApiError::new(StatusCode::CONFLICT, m),
        AppError::BadRequest(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
        AppError::Unavailable(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, m),
        AppError::Internal(e) if let Some(outage) = crate::error::outage_in(&e) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, outage.message())
        }
        other => ApiError::internal(other),
    }
}
