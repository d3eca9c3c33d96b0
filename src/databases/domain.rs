//! A protected database as it is entered: name, connection, destination, base-backup schedule,
//! recovery window, encryption — parsed with an error per field.

use crate::artifacts::postgres::PostgresUrl;
use crate::fields::FieldErrors;
use crate::plans::domain::PlanName;
use crate::plans::schedule::Schedule;
use secrecy::SecretString;

/// The form's (or JSON body's) fields, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct DatabaseInput {
    #[serde(default)]
    pub name: String,
    /// The connection URL, password included; blank on an edit keeps the stored one.
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub destination_id: String,
    #[serde(default)]
    pub base_schedule: String,
    #[serde(default)]
    pub window_days: String,
    #[serde(default)]
    pub min_base_backups: String,
    #[serde(default)]
    pub encrypt: bool,
}

impl DatabaseInput {
    /// What a new database's form starts with.
    pub fn defaults() -> DatabaseInput {
        DatabaseInput {
            base_schedule: "0 3 * * *".into(),
            window_days: "7".into(),
            min_base_backups: "2".into(),
            ..DatabaseInput::default()
        }
    }
}

/// A valid database, its URL still to be checked against the grants and the server.
pub struct NewDatabase {
    pub name: PlanName,
    pub url: PostgresUrl,
    pub url_secret: SecretString,
    pub destination_id: Option<String>,
    pub base_schedule: Schedule,
    pub window_days: u16,
    pub min_base_backups: u16,
}

impl NewDatabase {
    pub fn parse(input: &DatabaseInput) -> Result<NewDatabase, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = PlanName::parse(&input.name).map_err(|m| errors.add("name", m)).ok();
        let url = match input.url.trim() {
            "" => {
                errors.add("url", "Enter the connection URL of a role with the REPLICATION attribute.");
                None
            }
            typed => PostgresUrl::parse(typed)
                .map_err(|e| errors.add("url", format!("The connection URL is not usable: {e}.")))
                .ok(),
        };
        let base_schedule = Schedule::parse(&input.base_schedule).map_err(|m| errors.add("base_schedule", m)).ok();
        let window_days = whole(&input.window_days, 1..=3650, "The recovery window", "days")
            .map_err(|m| errors.add("window_days", m))
            .ok();
        let min_base_backups = whole(&input.min_base_backups, 1..=100, "The minimum of base backups", "backups")
            .map_err(|m| errors.add("min_base_backups", m))
            .ok();
        let destination_id = Some(input.destination_id.trim().to_owned()).filter(|d| !d.is_empty());
        match (name, url, base_schedule, window_days, min_base_backups) {
            (Some(name), Some(url), Some(base_schedule), Some(window_days), Some(min_base_backups))
                if errors.is_empty() =>
            {
                Ok(NewDatabase {
                    name,
                    url_secret: url.to_secret(),
                    url,
                    destination_id,
                    base_schedule,
                    window_days,
                    min_base_backups,
                })
            }
            _ => Err(errors),
        }
    }
}

fn whole(typed: &str, range: std::ops::RangeInclusive<u16>, what: &str, unit: &str) -> Result<u16, String> {
    let (low, high) = (range.start(), range.end());
    match typed.trim().parse::<u16>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ if typed.trim().is_empty() => Err(format!("{what} is required ({low}–{high} {unit}).")),
        _ => Err(format!("{what} must be a whole number from {low} to {high} {unit}, not “{}”.", typed.trim())),
    }
}

/// The replication slot Devpilot keeps on the source for this database.
pub fn slot_name(database_id: &str) -> String {
    let simple: String = database_id.chars().filter(char::is_ascii_alphanumeric).take(32).collect();
    format!("devpilot_{}", simple.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_form_parses_and_each_field_says_what_is_wrong() {
        let mut input = DatabaseInput::defaults();
        input.name = "Shop".into();
        input.url = "postgres://repl:pw@db.example:5432/shop".into();
        let parsed = NewDatabase::parse(&input).expect("valid");
        assert_eq!((parsed.window_days, parsed.min_base_backups), (7, 2));
        let bad = DatabaseInput { window_days: "0".into(), min_base_backups: "x".into(), ..DatabaseInput::default() };
        let errors = NewDatabase::parse(&bad).err().expect("invalid");
        for field in ["name", "url", "base_schedule", "window_days", "min_base_backups"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn slot_names_are_what_postgresql_accepts() {
        let slot = slot_name("0193f0a2-7c4e-7d1b-9a3e-2f6b1c0d9e8f");
        assert!(slot.len() <= 63 && slot.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        assert!(slot.starts_with("devpilot_0193f0a2"));
    }
}
