//! What point-in-time recovery needs from a source, checked one step at a time and said in
//! PostgreSQL's own terms: it connects; its major version is 13 or later and the same as Devpilot's
//! binaries (a clone runs on them); `wal_level`, `max_wal_senders`, `max_replication_slots`; the
//! role's REPLICATION attribute; a replication connection is accepted (`pg_hba.conf`); and
//! `max_slot_wal_keep_size`, whose default lets an unread slot fill the source's disk.

use super::binaries::PgBinaries;
use super::names::SegmentSize;
use crate::artifacts::postgres::client::Checked;
use crate::artifacts::postgres::{PostgresError, Reachable, tools};
use std::time::Duration;

/// Backup manifests and `wal_status` came in PostgreSQL 13.
const OLDEST_MAJOR: u32 = 13;
/// Past the connect timeout, how long `IDENTIFY_SYSTEM` may take.
const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
    /// Not checked because an earlier step failed.
    NotChecked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: &'static str,
    pub outcome: Outcome,
    pub message: String,
}

/// What the source is, once connected (both connections worked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub server_version_num: u32,
    pub seg_size: SegmentSize,
    pub system_identifier: String,
    pub timeline: u32,
    pub in_recovery: bool,
}

pub const CONNECTS: &str = "connects";
pub const SERVER_VERSION: &str = "server version";
pub const WAL_LEVEL: &str = "wal_level";
pub const MAX_WAL_SENDERS: &str = "max_wal_senders";
pub const MAX_REPLICATION_SLOTS: &str = "max_replication_slots";
pub const REPLICATION_ROLE: &str = "REPLICATION role";
pub const REPLICATION_CONNECTION: &str = "replication connection";
pub const MAX_SLOT_WAL_KEEP_SIZE: &str = "max_slot_wal_keep_size";

const AFTER_CONNECT: [&str; 7] = [
    SERVER_VERSION,
    WAL_LEVEL,
    MAX_WAL_SENDERS,
    MAX_REPLICATION_SLOTS,
    REPLICATION_ROLE,
    REPLICATION_CONNECTION,
    MAX_SLOT_WAL_KEEP_SIZE,
];

/// The settings, read in one query (text columns, in this order).
const SETTINGS: &str = "SELECT current_setting('server_version_num'), current_setting('server_version'), \
    current_setting('wal_level'), current_setting('max_wal_senders'), \
    (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'walsender' AND pid IS DISTINCT FROM \
      (SELECT active_pid FROM pg_catalog.pg_replication_slots WHERE slot_name = $1))::text, \
    current_setting('max_replication_slots'), \
    (SELECT count(*) FROM pg_catalog.pg_replication_slots)::text, \
    (SELECT count(*) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)::text, \
    current_setting('max_slot_wal_keep_size', true), \
    (SELECT (rolreplication OR rolsuper)::text FROM pg_catalog.pg_roles WHERE rolname = current_user), \
    (SELECT setting FROM pg_catalog.pg_settings WHERE name = 'wal_segment_size'), \
    pg_catalog.pg_is_in_recovery()::text, host(inet_client_addr()), current_user::text";

fn not_postgres(checked: &Checked) -> PostgresError {
    PostgresError::NotPostgres { target: checked.url.server() }
}

fn step(name: &'static str, outcome: Outcome, message: impl Into<String>) -> Step {
    Step { name, outcome, message: message.into() }
}

/// Runs every step; `slot` is the replication slot Devpilot uses (or will create) for this source.
pub async fn check(bins: &PgBinaries, reachable: &Reachable, slot: &str) -> (Vec<Step>, Option<Facts>) {
    let not_checked =
        |why: &str| -> Vec<Step> { AFTER_CONNECT.iter().map(|name| step(name, Outcome::NotChecked, why)).collect() };
    let checked = match reachable.check().await {
        Ok(checked) => checked,
        Err(error) => {
            let mut steps = vec![step(CONNECTS, Outcome::Fail, error.to_string())];
            steps.extend(not_checked("not checked: Devpilot could not connect"));
            return (steps, None);
        }
    };
    let connected = format!("connected to {} as {}", checked.url.server(), checked.url.user);
    let mut steps = vec![step(CONNECTS, Outcome::Pass, connected)];
    let read = checked.reachable().text_row(SETTINGS, &[slot]).await;
    let row = match read.and_then(|row| row.filter(|r| r.len() == 14).ok_or_else(|| not_postgres(&checked))) {
        Ok(row) => row,
        Err(error) => {
            steps.push(step(
                SERVER_VERSION,
                Outcome::Fail,
                format!("the server's settings could not be read: {error}"),
            ));
            steps.extend(not_checked("not checked: the server's settings could not be read").into_iter().skip(1));
            return (steps, None);
        }
    };
    let text = |i: usize| row[i].clone().unwrap_or_default();
    let number = |i: usize| text(i).parse::<u64>().unwrap_or(0);
    let version_num = u32::try_from(number(0)).unwrap_or(0);
    steps.push(version_step(version_num, &text(1), bins).await);
    steps.push(wal_level_step(&text(2)));
    steps.push(senders_step(number(3), number(4)));
    steps.push(slots_step(number(5), number(6), number(7) > 0, slot));
    steps.push(role_step(&text(9) == "true", &text(13)));
    let identified = identify_system(bins, &checked).await;
    let (replication, identity) = match identified {
        Ok(identity) => {
            (step(REPLICATION_CONNECTION, Outcome::Pass, "a replication connection is accepted"), Some(identity))
        }
        Err(refusal) => (replication_refused(&refusal, &text(13), row[12].as_deref()), None),
    };
    steps.push(replication);
    steps.push(keep_size_step(row[8].as_deref()));
    let seg_size = SegmentSize::new(number(10)).ok();
    let facts = match (identity, seg_size) {
        (Some((system_identifier, timeline)), Some(seg_size)) => Some(Facts {
            server_version_num: version_num,
            seg_size,
            system_identifier,
            timeline,
            in_recovery: text(11) == "true",
        }),
        _ => None,
    };
    (steps, facts)
}

async fn version_step(version_num: u32, version: &str, bins: &PgBinaries) -> Step {
    let server = version_num / 10_000;
    if server < OLDEST_MAJOR {
        return step(
            SERVER_VERSION,
            Outcome::Fail,
            format!("PostgreSQL {version}: point-in-time recovery needs PostgreSQL {OLDEST_MAJOR} or later"),
        );
    }
    match bins.major_version().await {
        Ok(ours) if ours == server => {
            step(SERVER_VERSION, Outcome::Pass, format!("PostgreSQL {version}; Devpilot's binaries are {ours}"))
        }
        Ok(ours) => step(
            SERVER_VERSION,
            Outcome::Fail,
            format!(
                "PostgreSQL {version}, but Devpilot's binaries in {} are PostgreSQL {ours}: a restore starts a cluster \
                 on the server binaries of the same major version; install postgresql-{server} on Devpilot's host \
                 and point Devpilot at its folder",
                bins.dir.display()
            ),
        ),
        Err(error) => step(SERVER_VERSION, Outcome::Fail, error.to_string()),
    }
}

fn wal_level_step(level: &str) -> Step {
    match level {
        "replica" | "logical" => step(WAL_LEVEL, Outcome::Pass, format!("wal_level = {level}")),
        other => step(
            WAL_LEVEL,
            Outcome::Fail,
            format!(
                "wal_level = {other}: WAL for recovery needs wal_level = replica (or logical); set it in \
                 postgresql.conf and restart PostgreSQL"
            ),
        ),
    }
}

fn senders_step(max: u64, used_by_others: u64) -> Step {
    let free = max.saturating_sub(used_by_others);
    if max == 0 {
        step(
            MAX_WAL_SENDERS,
            Outcome::Fail,
            "max_wal_senders = 0: no replication connection is allowed; set it to at least 2 (the WAL receiver \
             and a base backup) and restart PostgreSQL",
        )
    } else if free == 0 {
        step(
            MAX_WAL_SENDERS,
            Outcome::Fail,
            format!(
                "max_wal_senders = {max}, and all are in use by other replication connections; raise it and \
                 restart PostgreSQL"
            ),
        )
    } else if free == 1 {
        step(
            MAX_WAL_SENDERS,
            Outcome::Warn,
            format!(
                "max_wal_senders = {max} with one free: receiving WAL and taking a base backup need two at once; \
                 raise it and restart PostgreSQL"
            ),
        )
    } else {
        step(MAX_WAL_SENDERS, Outcome::Pass, format!("max_wal_senders = {max} ({free} free)"))
    }
}

fn slots_step(max: u64, used: u64, ours_exists: bool, slot: &str) -> Step {
    if max == 0 {
        step(
            MAX_REPLICATION_SLOTS,
            Outcome::Fail,
            "max_replication_slots = 0: Devpilot needs one replication slot; set it to at least 1 and restart \
             PostgreSQL",
        )
    } else if ours_exists {
        step(MAX_REPLICATION_SLOTS, Outcome::Pass, format!("max_replication_slots = {max}; slot {slot} exists"))
    } else if used >= max {
        step(
            MAX_REPLICATION_SLOTS,
            Outcome::Fail,
            format!(
                "max_replication_slots = {max}, and all are in use: drop a slot nobody reads \
                 (pg_drop_replication_slot) or raise it and restart PostgreSQL"
            ),
        )
    } else {
        step(MAX_REPLICATION_SLOTS, Outcome::Pass, format!("max_replication_slots = {max} ({} free)", max - used))
    }
}

fn role_step(may_replicate: bool, role: &str) -> Step {
    if may_replicate {
        step(REPLICATION_ROLE, Outcome::Pass, format!("role {role} may start replication"))
    } else {
        step(
            REPLICATION_ROLE,
            Outcome::Fail,
            format!("role {role} has no REPLICATION attribute: ALTER ROLE {} REPLICATION;", quote_role(role)),
        )
    }
}

fn keep_size_step(setting: Option<&str>) -> Step {
    match setting {
        None => step(MAX_SLOT_WAL_KEEP_SIZE, Outcome::Pass, "not a setting of this PostgreSQL version"),
        Some("-1") => step(
            MAX_SLOT_WAL_KEEP_SIZE,
            Outcome::Warn,
            "max_slot_wal_keep_size = -1: an unread slot keeps WAL without limit and can fill the source's disk; \
             set it to e.g. 10GB",
        ),
        Some(size) => step(MAX_SLOT_WAL_KEEP_SIZE, Outcome::Pass, format!("max_slot_wal_keep_size = {size}")),
    }
}

/// `IDENTIFY_SYSTEM` over a replication connection (`psql` with `replication=true`, through the
/// tools' cleared environment): the system identifier and the current timeline.
async fn identify_system(bins: &PgBinaries, checked: &Checked) -> Result<(String, u32), String> {
    let mut command = tools::command(checked, bins.program("psql"));
    let conninfo = format!("{} replication='true'", tools::conninfo(checked));
    command.args(["--no-psqlrc", "--no-align", "--tuples-only", "--field-separator=|", "--no-password"]);
    command.arg("--dbname").arg(conninfo).args(["--command", "IDENTIFY_SYSTEM"]);
    command.stdout(std::process::Stdio::piped());
    let limit = checked.url.connect_timeout + IDENTIFY_TIMEOUT;
    let output = tokio::time::timeout(limit, command.output())
        .await
        .map_err(|_| format!("no answer within {} s", limit.as_secs()))?
        .map_err(|e| format!("could not run psql: {e}"))?;
    let redact = |text: &[u8]| checked.url.redact(String::from_utf8_lossy(text).trim());
    if !output.status.success() {
        return Err(redact(&output.stderr));
    }
    let answer = redact(&output.stdout);
    let mut fields = answer.split('|');
    let system = fields.next().filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    let timeline = fields.next().and_then(|t| t.parse::<u32>().ok());
    match (system, timeline) {
        (Some(system), Some(timeline)) => Ok((system.to_owned(), timeline)),
        _ => Err("the server did not identify itself on the replication connection".into()),
    }
}

/// PostgreSQL's own refusal, and the `pg_hba.conf` line that would admit Devpilot.
fn replication_refused(psql_error: &str, role: &str, seen_from: Option<&str>) -> Step {
    let said = psql_error.find("FATAL:").map_or(psql_error, |at| &psql_error[at..]);
    let said: String = said.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(400).collect();
    let mut message = format!("PostgreSQL refused a replication connection: {said}");
    if said.contains("pg_hba.conf") {
        let line = match seen_from {
            Some(ip) if ip.contains(':') => format!("host replication {} {ip}/128 scram-sha-256", quote_role(role)),
            Some(ip) => format!("host replication {} {ip}/32 scram-sha-256", quote_role(role)),
            None => format!("local replication {} scram-sha-256", quote_role(role)),
        };
        message.push_str(&format!(". Add this line to pg_hba.conf and reload PostgreSQL: {line}"));
    }
    step(REPLICATION_CONNECTION, Outcome::Fail, message)
}

/// A role name as pg_hba.conf and SQL read it: bare when plain, else in double quotes.
fn quote_role(role: &str) -> String {
    let plain = role.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && !role.is_empty() { role.to_owned() } else { format!("\"{}\"", role.replace('"', "\"\"")) }
}

#[cfg(test)]
#[path = "prereq_tests.rs"]
mod tests;
