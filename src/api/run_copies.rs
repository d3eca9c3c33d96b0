//! A run's copies as the API shows them (in a run's `copies`).

use crate::runs::copies_store::RunCopyRow;
use utoipa::ToSchema;

/// One copy of a run: the primary (position 0) or one of the plan's copies (1, 2).
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct RunCopyResource {
    /// 0: the primary; 1, 2: the plan's copies.
    pub position: i64,
    #[schema(format = "uuid")]
    pub destination_id: Option<String>,
    /// `succeeded`, `failed` or `skipped` (its destination was disabled).
    #[schema(example = "succeeded")]
    pub status: String,
    /// What this copy's destination received.
    pub bytes: i64,
    /// SHA-256 (hex) of the bytes this copy received.
    pub sha256: Option<String>,
    /// Why this copy failed or was skipped.
    pub error: Option<String>,
    /// Whether this copy still holds the artifact (succeeded, not pruned).
    pub artifact_available: bool,
}

impl From<RunCopyRow> for RunCopyResource {
    fn from(row: RunCopyRow) -> RunCopyResource {
        RunCopyResource {
            artifact_available: row.holds_artifact(),
            position: row.position,
            destination_id: row.destination_id,
            status: row.status,
            bytes: row.bytes,
            sha256: row.sha256,
            error: row.error,
        }
    }
}
