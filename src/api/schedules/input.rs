//! A schedule as sent: the JSON bodies of create and update turned into the plan form's input,
//! and the plan service's field errors named as the JSON names them.

use super::SourceType;
use crate::api::error::ApiError;
use crate::fields::FieldErrors;
use crate::plans::domain::PlanInput;
use crate::plans::service::PlanError;
use utoipa::ToSchema;
use uuid::Uuid;

/// A source as sent.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct SourceInput {
    #[serde(rename = "type")]
    pub kind: SourceType,
    /// directory, sqlite: the absolute path of the folder or database file on the server.
    #[serde(default)]
    #[schema(example = "/var/lib/app")]
    pub path: Option<String>,
    /// postgres, mariadb: the connection URL, password included
    /// (`mariadb://user:password@host:3306/database?tls=require`; no database: all of them). Never shown again; on an update a missing
    /// or blank URL keeps the stored one.
    #[serde(default)]
    #[schema(example = "postgres://app:secret@db.internal:5432/shop")]
    pub url: Option<String>,
}

/// A new schedule: of a `source`, or of a database of the workspace (`database_id`).
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct NewSchedule {
    /// Unique in the workspace (case-insensitively), at most 100 characters. Required with a
    /// `source`.
    #[serde(default)]
    #[schema(example = "Nightly database")]
    pub name: Option<String>,
    /// Default: the workspace's default destination.
    #[serde(default)]
    pub destination_id: Option<Uuid>,
    /// Five-field cron in UTC (minute hour day-of-month month day-of-week), or @hourly, @daily,
    /// @weekly.
    #[schema(example = "0 2 * * *")]
    pub cron_expression: String,
    /// How many successful backups to keep.
    #[schema(minimum = 1, maximum = 365, example = 7)]
    pub retention_count: i64,
    #[serde(default = "enabled_by_default")]
    #[schema(default = true)]
    pub enabled: bool,
    /// Encrypt backups with the workspace's artifact key.
    #[serde(default)]
    #[schema(default = false)]
    pub encrypt: bool,
    /// What to back up; or give `database_id` instead.
    #[serde(default)]
    pub source: Option<SourceInput>,
    /// A database of the workspace, backed up with `pg_dump` (instead of `source`).
    #[serde(default)]
    pub database_id: Option<Uuid>,
    /// Not taken here: an application's volumes are folders on the server, backed up as a
    /// `source` of type `directory` (answered with a 422 that says so).
    #[serde(default)]
    pub application_id: Option<Uuid>,
}

fn enabled_by_default() -> bool {
    true
}

impl NewSchedule {
    pub(super) fn into_input(self, source: SourceInput, destination_id: String) -> PlanInput {
        PlanInput {
            name: self.name.unwrap_or_default(),
            source_kind: source.kind.as_str().to_owned(),
            source_path: source.path.unwrap_or_default(),
            source_url: source.url.unwrap_or_default(),
            destination_id,
            schedule: self.cron_expression,
            retention: self.retention_count.to_string(),
            enabled: self.enabled,
            encrypt: self.encrypt,
        }
    }
}

/// Changes to a schedule: a field left out keeps its stored value.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct ScheduleChange {
    #[schema(example = "Nightly database")]
    pub name: Option<String>,
    pub destination_id: Option<Uuid>,
    #[schema(example = "30 3 * * 1")]
    pub cron_expression: Option<String>,
    #[schema(minimum = 1, maximum = 365, example = 14)]
    pub retention_count: Option<i64>,
    pub enabled: Option<bool>,
    pub encrypt: Option<bool>,
    /// The whole source; with an unchanged type a missing `path` keeps the stored one.
    pub source: Option<SourceInput>,
}

impl ScheduleChange {
    pub(super) fn apply(self, input: &mut PlanInput) {
        if let Some(name) = self.name {
            input.name = name;
        }
        if let Some(id) = self.destination_id {
            input.destination_id = id.to_string();
        }
        if let Some(cron) = self.cron_expression {
            input.schedule = cron;
        }
        if let Some(n) = self.retention_count {
            input.retention = n.to_string();
        }
        input.enabled = self.enabled.unwrap_or(input.enabled);
        input.encrypt = self.encrypt.unwrap_or(input.encrypt);
        if let Some(source) = self.source {
            if source.kind.as_str() != input.source_kind {
                input.source_path.clear();
            }
            input.source_kind = source.kind.as_str().to_owned();
            if let Some(path) = source.path {
                input.source_path = path;
            }
            // Blank keeps the stored URL (the service's rule, as on the edit form).
            input.source_url = source.url.unwrap_or_default();
        }
    }
}

/// The service's field names as the API's JSON names them.
fn api_field(field: &str) -> &str {
    match field {
        "source_kind" => "source.type",
        "source_path" => "source.path",
        "source_url" => "source.url",
        "schedule" => "cron_expression",
        "retention" => "retention_count",
        other => other,
    }
}

pub(super) fn plan_error(e: PlanError) -> ApiError {
    match e {
        PlanError::Invalid(errors) => {
            let mut renamed = FieldErrors::new();
            for (field, message) in errors.iter() {
                renamed.add(api_field(field), message);
            }
            ApiError::invalid(&renamed)
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> PlanInput {
        PlanInput {
            name: "Files".into(),
            source_kind: "directory".into(),
            source_path: "/srv/files".into(),
            destination_id: "d1".into(),
            schedule: "0 2 * * *".into(),
            retention: "7".into(),
            enabled: true,
            ..PlanInput::default()
        }
    }

    fn change(json: serde_json::Value) -> ScheduleChange {
        serde_json::from_value(json).expect("a change")
    }

    #[test]
    fn fields_left_out_keep_their_values() {
        let mut input = stored();
        change(serde_json::json!({"retention_count": 3, "enabled": false})).apply(&mut input);
        assert_eq!((input.retention.as_str(), input.enabled), ("3", false));
        assert_eq!((input.name.as_str(), input.source_path.as_str()), ("Files", "/srv/files"));
        assert_eq!((input.schedule.as_str(), input.destination_id.as_str()), ("0 2 * * *", "d1"));
    }

    #[test]
    fn a_source_path_is_kept_only_while_the_type_is_unchanged() {
        let mut same = stored();
        change(serde_json::json!({"source": {"type": "directory"}})).apply(&mut same);
        assert_eq!(same.source_path, "/srv/files");
        let mut other = stored();
        change(serde_json::json!({"source": {"type": "sqlite"}})).apply(&mut other);
        assert_eq!((other.source_kind.as_str(), other.source_path.as_str()), ("sqlite", ""));
    }

    #[test]
    fn field_errors_take_the_json_names() {
        let mut errors = FieldErrors::new();
        for field in ["source_path", "source_url", "source_kind", "schedule", "retention", "name", "destination_id"] {
            errors.add(field, "bad");
        }
        let renamed = plan_error(PlanError::Invalid(errors)).fields.expect("fields");
        let names: Vec<&str> = renamed.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "cron_expression",
                "destination_id",
                "name",
                "retention_count",
                "source.path",
                "source.type",
                "source.url"
            ]
        );
    }
}
