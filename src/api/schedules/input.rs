//! A schedule as sent: the JSON bodies of create and update turned into the plan form's input,
//! and the plan service's field errors named as the JSON names them.

use super::SourceType;
use crate::api::error::ApiError;
use crate::fields::FieldErrors;
use crate::plans::domain::PlanInput;
use crate::plans::gfs::Tiers;
use crate::plans::retention::{OwnRetentionFields, RetentionFields, RetentionPolicy};
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
    /// bucket: an S3 destination of the workspace whose service and keys read the bucket,
    /// instead of keys in `url` (`https://ACCESS_KEY:SECRET_KEY@host/bucket/prefix?region=…`);
    /// with it, `path` is `bucket/prefix`.
    #[serde(default)]
    pub destination_id: Option<String>,
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
    /// How many successful backups to keep: the newest N. Kept for older clients: the same as
    /// `retention.keep_last`. Sent alone, nothing else is kept (no tiers); with neither this
    /// nor `retention`, Kopia's defaults apply (10 newest, 7 daily, 4 weekly, 24 monthly, 3 yearly).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 365, example = 7)]
    pub retention_count: Option<i64>,
    /// GFS retention and Object Lock; tiers left out are off (0).
    #[serde(default)]
    pub retention: Option<RetentionInput>,
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
    /// Up to two more destinations of the workspace every run writes at the same time as
    /// `destination_id` (3-2-1): none twice, not `destination_id` itself.
    #[serde(default)]
    pub copies: Vec<CopyInput>,
    /// Not taken here: an application's volumes are folders on the server, backed up as a
    /// `source` of type `directory` (answered with a 422 that says so).
    #[serde(default)]
    pub application_id: Option<Uuid>,
}

/// A copy as sent: a destination of the workspace, and optionally its own retention.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct CopyInput {
    #[schema(format = "uuid")]
    pub destination_id: String,
    /// The copy's own GFS tiers and lock, each field left out taken from the schedule's retention;
    /// null or left out: the schedule's retention applies to this copy.
    #[serde(default)]
    pub retention: Option<RetentionInput>,
}

impl CopyInput {
    /// The copy's own retention over the schedule's (`keep_last`, `tiers`); None: it follows them.
    fn own(&self, keep_last: &str, tiers: &RetentionFields) -> Option<OwnRetentionFields> {
        let sent = self.retention.as_ref()?;
        let mut own = OwnRetentionFields { keep_last: keep_last.to_owned(), tiers: tiers.clone() };
        sent.apply(&mut own.keep_last, &mut own.tiers);
        Some(own)
    }
}

/// The copies sent, as the plan's input: their ids and own retentions.
fn copies_input(
    copies: &[CopyInput],
    keep_last: &str,
    tiers: &RetentionFields,
) -> (Vec<String>, Vec<Option<OwnRetentionFields>>) {
    let ids = copies.iter().map(|c| c.destination_id.clone()).collect();
    (ids, copies.iter().map(|c| c.own(keep_last, tiers)).collect())
}

fn enabled_by_default() -> bool {
    true
}

/// A schedule's retention as sent: GFS tiers beyond the newest `keep_last`, and the Object Lock
/// each upload carries (S3 buckets with Object Lock only).
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
pub struct RetentionInput {
    /// The newest N (the same as `retention_count`).
    #[schema(minimum = 1, maximum = 365, example = 10)]
    pub keep_last: Option<i64>,
    /// The newest backup of each of the N most recent hours (UTC) that have one; 0 is off.
    #[schema(minimum = 0, maximum = 1000, example = 0)]
    pub keep_hourly: Option<i64>,
    #[schema(minimum = 0, maximum = 3660, example = 7)]
    pub keep_daily: Option<i64>,
    /// ISO weeks (Monday first).
    #[schema(minimum = 0, maximum = 520, example = 4)]
    pub keep_weekly: Option<i64>,
    #[schema(minimum = 0, maximum = 1200, example = 24)]
    pub keep_monthly: Option<i64>,
    #[schema(minimum = 0, maximum = 100, example = 3)]
    pub keep_yearly: Option<i64>,
    /// `governance` or `compliance`; null or "" for none.
    #[schema(example = "governance")]
    pub lock_mode: Option<String>,
    /// How long each backup stays locked after it is written.
    #[schema(minimum = 1, maximum = 3650, example = 30)]
    pub lock_days: Option<i64>,
}

impl RetentionInput {
    /// Writes the fields sent over `fields` (those left out keep what `fields` holds).
    fn apply(&self, keep_last: &mut String, fields: &mut RetentionFields) {
        if let Some(n) = self.keep_last {
            *keep_last = n.to_string();
        }
        let tiers = [
            ("keep_hourly", self.keep_hourly),
            ("keep_daily", self.keep_daily),
            ("keep_weekly", self.keep_weekly),
            ("keep_monthly", self.keep_monthly),
            ("keep_yearly", self.keep_yearly),
        ];
        for (name, value) in tiers {
            if let Some(n) = value {
                fields.set(name, n.to_string());
            }
        }
        if let Some(mode) = &self.lock_mode {
            fields.set("lock_mode", mode.clone());
            if mode.trim().is_empty() && self.lock_days.is_none() {
                fields.lock_days.clear();
            }
        }
        if let Some(days) = self.lock_days {
            fields.set("lock_days", days.to_string());
        }
    }
}

impl NewSchedule {
    /// The retention the body asks for (see `retention_count`).
    fn retention(&self) -> (String, RetentionFields) {
        let (mut keep_last, mut fields) = match (&self.retention, self.retention_count) {
            (None, None) => (
                Tiers::DEFAULT.keep_last.to_string(),
                RetentionFields::of(&RetentionPolicy { tiers: Tiers::DEFAULT, lock: None }),
            ),
            (_, Some(n)) => (n.to_string(), RetentionFields::default()),
            (Some(_), None) => (Tiers::DEFAULT.keep_last.to_string(), RetentionFields::default()),
        };
        if let Some(retention) = &self.retention {
            retention.apply(&mut keep_last, &mut fields);
        }
        (keep_last, fields)
    }

    /// Whether field errors about the newest N are named `retention.keep_last`.
    pub(super) fn keep_last_in_object(&self) -> bool {
        self.retention.as_ref().is_some_and(|r| r.keep_last.is_some())
    }

    pub(super) fn into_input(self, source: SourceInput, destination_id: String) -> PlanInput {
        let (retention, tiers) = self.retention();
        let (copies, copy_retention) = copies_input(&self.copies, &retention, &tiers);
        PlanInput {
            name: self.name.unwrap_or_default(),
            source_kind: source.kind.as_str().to_owned(),
            source_path: source.path.unwrap_or_default(),
            source_url: source.url.unwrap_or_default(),
            source_destination_id: source.destination_id.unwrap_or_default(),
            destination_id,
            copies,
            copy_retention,
            schedule: self.cron_expression,
            retention,
            tiers,
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
    /// The newest N (the same as `retention.keep_last`).
    #[schema(minimum = 1, maximum = 365, example = 14)]
    pub retention_count: Option<i64>,
    /// GFS tiers and Object Lock: fields left out keep their values.
    pub retention: Option<RetentionInput>,
    pub enabled: Option<bool>,
    pub encrypt: Option<bool>,
    /// The whole source; with an unchanged type a missing `path` keeps the stored one.
    pub source: Option<SourceInput>,
    /// The whole list of copies (`[]` removes them); left out keeps them.
    pub copies: Option<Vec<CopyInput>>,
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
        if let Some(retention) = &self.retention {
            retention.apply(&mut input.retention, &mut input.tiers);
        }
        if let Some(copies) = &self.copies {
            (input.copies, input.copy_retention) = copies_input(copies, &input.retention, &input.tiers);
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
            input.source_destination_id = source.destination_id.unwrap_or_default();
        }
    }
}

impl ScheduleChange {
    /// Whether field errors about the newest N are named `retention.keep_last`.
    pub(super) fn keep_last_in_object(&self) -> bool {
        self.retention.as_ref().is_some_and(|r| r.keep_last.is_some())
    }
}

/// The service's field names as the API's JSON names them (`copy_1` is `copies[0].destination_id`).
fn api_field(field: &str) -> std::borrow::Cow<'_, str> {
    if let Some(rest) = field.strip_prefix("copy_") {
        let (n, own) = rest.split_once('_').unwrap_or((rest, ""));
        if let Ok(n) = n.parse::<usize>() {
            let copy = format!("copies[{}]", n.saturating_sub(1));
            return match own {
                "" => format!("{copy}.destination_id"),
                "retention" => format!("{copy}.retention.keep_last"),
                tier => format!("{copy}.retention.{tier}"),
            }
            .into();
        }
    }
    match field {
        "keep_hourly" => "retention.keep_hourly",
        "keep_daily" => "retention.keep_daily",
        "keep_weekly" => "retention.keep_weekly",
        "keep_monthly" => "retention.keep_monthly",
        "keep_yearly" => "retention.keep_yearly",
        "lock_mode" => "retention.lock_mode",
        "lock_days" => "retention.lock_days",
        "source_kind" => "source.type",
        "source_path" => "source.path",
        "source_url" => "source.url",
        "source_destination_id" => "source.destination_id",
        "schedule" => "cron_expression",
        "retention" => "retention_count",
        other => other,
    }
    .into()
}

/// [`plan_error`], naming the newest N's errors `retention.keep_last` when it was sent there.
pub(super) fn plan_error_named(e: PlanError, keep_last_in_object: bool) -> ApiError {
    match e {
        PlanError::Invalid(errors) => {
            let mut renamed = FieldErrors::new();
            for (field, message) in errors.iter() {
                let name = match field {
                    "retention" if keep_last_in_object => "retention.keep_last".into(),
                    _ => api_field(field),
                };
                renamed.add(&name, message);
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
        let renamed = plan_error_named(PlanError::Invalid(errors), false).fields.expect("fields");
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
