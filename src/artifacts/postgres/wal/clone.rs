//! A PostgreSQL cluster Devpilot starts on its own host from a base backup: extracted (checked
//! as every archive is) and owned by an unprivileged OS user, recovered through `restore_command`
//! to a target time or the end of the archive, then promoted. It listens on 127.0.0.1 and in a
//! socket folder of its own, archives nothing, and never streams from the source. `initdb` and
//! `postgres` refuse to run as root, so the processes run as that user (uid and gid set on the
//! spawned process; no `su`).

use super::binaries::PgBinaries;
use crate::artifacts::ByteStream;
use crate::artifacts::postgres::{DatabaseAccess, DatabaseServer, PostgresUrl};
use crate::artifacts::unpack::{Owner, unpack_tar};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// How long `pg_ctl` waits for the server to be ready; a longer recovery goes on after it.
const START_WAIT_SECONDS: &str = "300";
/// How much of the server's log an error message quotes.
const LOG_TAIL: u64 = 2048;
/// PostgreSQL's words when the archive ends before the target time: nothing after the target was
/// committed that the archive holds.
pub const TARGET_NOT_REACHED: &str = "recovery ended before configured recovery target was reached";

/// The OS user a cluster runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

fn id(args: &[&str]) -> Result<String, String> {
    let output = std::process::Command::new("id")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run id: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && !text.is_empty() {
        Ok(text)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

fn number(text: &str) -> Result<u32, String> {
    text.parse().map_err(|_| format!("id answered “{text}”, not a number"))
}

impl OsUser {
    pub fn lookup(name: &str) -> Result<OsUser, String> {
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if name.is_empty() || name.starts_with('-') || !name.chars().all(plain) {
            return Err(format!("“{}” is not a user name", name.escape_debug()));
        }
        let unknown = |e: String| format!("there is no OS user {name} on this host ({e})");
        let uid = number(&id(&["-u", "--", name]).map_err(unknown)?)?;
        let gid = number(&id(&["-g", "--", name]).map_err(unknown)?)?;
        Ok(OsUser { name: name.to_owned(), uid, gid })
    }

    /// The configured user; else `postgres` when Devpilot runs as root; else Devpilot's own user.
    pub fn for_clusters(configured: Option<&str>) -> Result<OsUser, String> {
        if let Some(name) = configured {
            return OsUser::lookup(name);
        }
        let uid = number(&id(&["-u"])?)?;
        if uid == 0 {
            return OsUser::lookup("postgres").map_err(|e| {
                format!("{e}: PostgreSQL does not run as root; install PostgreSQL's server package or configure a user")
            });
        }
        Ok(OsUser { name: id(&["-un"])?, uid, gid: number(&id(&["-g"])?)? })
    }

    fn owner(&self) -> Owner {
        Owner { uid: self.uid, gid: self.gid }
    }
}

/// Extracts a base backup's tar into `dir` (made here, mode 0700, owned by `owner`).
pub async fn extract(dir: &Path, tar: ByteStream, owner: &OsUser) -> Result<(), String> {
    let shown = dir.display().to_string();
    std::fs::DirBuilder::new().mode(0o700).create(dir).map_err(|e| format!("could not make {shown}: {e}"))?;
    std::os::unix::fs::chown(dir, Some(owner.uid), Some(owner.gid)).map_err(|e| format!("{shown}: {e}"))?;
    let reader = tokio_util::io::StreamReader::new(tar.map_err(std::io::Error::other));
    let mut reader = tokio_util::io::SyncIoBridge::new(reader);
    let (dir, owner) = (dir.to_path_buf(), owner.owner());
    let unpacked = tokio::task::spawn_blocking(move || {
        let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::NOFOLLOW;
        let fd = rustix::fs::open(&dir, flags, rustix::fs::Mode::empty()).map_err(|e| format!("{shown}: {e}"))?;
        unpack_tar(&mut reader, &fd, Some(owner))
            .map_err(|e| format!("the base backup could not be extracted: {e}"))?;
        // The stream's end may still carry the tool's or the transfer's error.
        std::io::copy(&mut reader, &mut std::io::sink()).map_err(|e| format!("the base backup is incomplete: {e}"))?;
        rustix::fs::fchmod(&fd, rustix::fs::Mode::from_raw_mode(0o700)).map_err(|e| format!("{shown}: {e}"))
    })
    .await;
    unpacked.map_err(|e| format!("extracting stopped: {e}"))?
}

/// Where recovery stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The last commit at or before this second (`recovery_target_time`).
    Time(DateTime<Utc>),
    /// As soon as the base backup is consistent: the cluster as it was when the backup stopped
    /// (`recovery_target = 'immediate'`).
    Immediate,
    /// The end of the archive.
    End,
}

impl From<Option<DateTime<Utc>>> for Target {
    fn from(time: Option<DateTime<Utc>>) -> Target {
        time.map_or(Target::End, Target::Time)
    }
}

/// How the cluster recovers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverySettings {
    /// Run by the server for each file it needs (`%f` the name, `%p` where to put it).
    pub restore_command: String,
    pub target: Target,
    pub port: u16,
}

/// A value of postgresql.conf, quoted (no line breaks: one setting must stay one line).
fn conf_value(value: &str) -> Result<String, String> {
    if value.chars().any(char::is_control) {
        return Err(format!("“{}” cannot be a setting: it has control characters", value.escape_debug()));
    }
    Ok(format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''")))
}

/// Where the clone's Unix socket goes: its own folder when the socket's path fits in the 107
/// bytes a socket address holds, else nowhere (TCP on loopback only, which is how Devpilot and
/// its users reach a clone; a deep `DEVPILOT_CLONE_DIR` would otherwise keep it from starting).
fn socket_dir(dir: &str, port: u16) -> &str {
    const SOCKET_PATH_MAX: usize = 107;
    let socket = format!("{dir}/.s.PGSQL.{port}.lock");
    if socket.len() <= SOCKET_PATH_MAX { dir } else { "" }
}

/// The settings a restored cluster starts with (after whatever the backup brought).
fn recovery_lines(dir: &Path, settings: &RecoverySettings) -> Result<String, String> {
    let dir_text = dir.to_str().ok_or("the clone's folder is not valid UTF-8")?;
    let mut lines = vec![
        "# Devpilot: a cluster restored from a base backup".to_owned(),
        format!("restore_command = {}", conf_value(&settings.restore_command)?),
    ];
    // Both written out every time (a later line overrides what an earlier attempt wrote), the
    // one that is set last: PostgreSQL refuses a second kind of target set after a first.
    match settings.target {
        Target::Time(time) => lines.extend([
            "recovery_target = ''".to_owned(),
            format!("recovery_target_time = '{}'", time.format("%Y-%m-%d %H:%M:%S%.6f+00")),
        ]),
        Target::Immediate => {
            lines.extend(["recovery_target_time = ''".to_owned(), "recovery_target = 'immediate'".to_owned()]);
        }
        Target::End => lines.extend(["recovery_target_time = ''".to_owned(), "recovery_target = ''".to_owned()]),
    }
    lines.extend([
        "recovery_target_action = 'promote'".to_owned(),
        "recovery_target_timeline = 'latest'".to_owned(),
        format!("port = {}", settings.port),
        "listen_addresses = '127.0.0.1'".to_owned(),
        format!("unix_socket_directories = {}", conf_value(socket_dir(dir_text, settings.port))?),
        "archive_mode = 'off'".to_owned(),
        format!("hba_file = {}", conf_value(&format!("{dir_text}/pg_hba.conf"))?),
        format!("ident_file = {}", conf_value(&format!("{dir_text}/pg_ident.conf"))?),
        // Never the source's pid file (a setting its postgresql.conf may carry): none at all.
        "external_pid_file = ''".to_owned(),
        "primary_conninfo = ''".to_owned(),
        "primary_slot_name = ''".to_owned(),
        "ssl = 'off'".to_owned(),
        "logging_collector = 'off'".to_owned(),
        "log_destination = 'stderr'".to_owned(),
        // No connections before promotion: nothing to pause for when the source ran with larger
        // max_connections (and the like) than this host can give.
        "hot_standby = 'off'".to_owned(),
    ]);
    Ok(lines.join("\n") + "\n")
}

const PG_HBA: &str = "# Devpilot: the restored cluster is reached on this host only\n\
    local all all peer\n\
    host all all 127.0.0.1/32 md5\n\
    host replication all 127.0.0.1/32 md5\n";

/// Writes `recovery.signal` and the settings; gives the cluster its own pg_hba.conf (and a
/// postgresql.conf and pg_ident.conf when the backup has none: Debian keeps them in /etc).
pub fn configure_recovery(dir: &Path, settings: &RecoverySettings, owner: &OsUser) -> Result<(), String> {
    let lines = recovery_lines(dir, settings)?;
    for stale in ["postmaster.pid", "standby.signal"] {
        match std::fs::remove_file(dir.join(stale)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(format!("{stale}: {e}")),
            _ => {}
        }
    }
    write_owned(&dir.join("recovery.signal"), "", false, owner)?;
    write_owned(&dir.join("pg_hba.conf"), PG_HBA, false, owner)?;
    for (name, text) in [("postgresql.conf", "# Devpilot: see postgresql.auto.conf\n"), ("pg_ident.conf", "")] {
        if !dir.join(name).exists() {
            write_owned(&dir.join(name), text, false, owner)?;
        }
    }
    write_owned(&dir.join("postgresql.auto.conf"), &format!("\n{lines}"), true, owner)
}

fn write_owned(path: &Path, text: &str, append: bool, owner: &OsUser) -> Result<(), String> {
    let shown = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut options = std::fs::OpenOptions::new();
    options.create(true).mode(0o600).custom_flags(libc_nofollow());
    if append {
        options.append(true)
    } else {
        options.write(true).truncate(true)
    };
    let mut file = options.open(path).map_err(shown)?;
    file.write_all(text.as_bytes()).map_err(shown)?;
    std::os::unix::fs::fchown(&file, Some(owner.uid), Some(owner.gid)).map_err(shown)
}

/// `O_NOFOLLOW`: a link planted in the backup is never written through.
fn libc_nofollow() -> i32 {
    i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0)
}

/// The server's log: `log` beside the cluster's folder.
pub fn log_path(dir: &Path) -> PathBuf {
    dir.parent().unwrap_or(dir).join("log")
}

/// A PostgreSQL tool run as `owner`, with nothing of Devpilot's environment.
fn as_owner(bins: &PgBinaries, program: &str, dir: &Path, owner: &OsUser) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(bins.program(program));
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LC_ALL", "C")
        .current_dir(dir)
        .uid(owner.uid)
        .gid(owner.gid)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Starts the cluster; a recovery longer than `pg_ctl`'s wait goes on (see [`wait_promoted`]).
pub async fn start(bins: &PgBinaries, dir: &Path, owner: &OsUser) -> Result<(), String> {
    let log = log_path(dir);
    write_owned(&log, "", true, owner)?;
    let output = as_owner(bins, "pg_ctl", dir, owner)
        .args(["start", "--wait", "--timeout", START_WAIT_SECONDS, "--pgdata"])
        .arg(dir)
        .arg("--log")
        .arg(&log)
        .output()
        .await
        .map_err(|e| format!("could not run pg_ctl: {e}"))?;
    if output.status.success() || running(dir) {
        return Ok(());
    }
    Err(format!("the cluster did not start: {}", log_tail(&log)))
}

pub async fn stop(bins: &PgBinaries, dir: &Path, owner: &OsUser) -> Result<(), String> {
    if !running(dir) {
        return Ok(());
    }
    let output = as_owner(bins, "pg_ctl", dir, owner)
        .args(["stop", "--wait", "--timeout", "60", "--mode", "fast", "--pgdata"])
        .arg(dir)
        .output()
        .await
        .map_err(|e| format!("could not run pg_ctl: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("pg_ctl stop failed: {}", String::from_utf8_lossy(&output.stderr).trim()))
    }
}

/// Whether a postmaster holds the folder (its pid file is there).
fn running(dir: &Path) -> bool {
    dir.join("postmaster.pid").exists()
}

/// Waits until recovery has ended and the cluster was promoted; answers the timeline it is on.
/// `url` is how to sign in to the clone (the source's role and password; 127.0.0.1, its port).
pub async fn wait_promoted(dir: &Path, url: &PostgresUrl, timeout: Duration) -> Result<u32, String> {
    let access =
        DatabaseAccess { granted: vec![DatabaseServer::Tcp { host: "127.0.0.1".into(), port: url.port }], own: None };
    let clone = url.reach(&access).await.map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if !running(dir) {
            return Err(format!("the cluster stopped: {}", log_tail(&log_path(dir))));
        }
        let asked = clone
            .text_row(
                "SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL \
                 ELSE substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8) END",
                &[],
            )
            .await;
        let last = match asked.map(|row| row.and_then(|r| r.into_iter().next().flatten())) {
            Ok(Some(timeline)) => {
                return u32::from_str_radix(&timeline, 16).map_err(|_| format!("timeline “{timeline}” is not hex"));
            }
            Ok(None) => "still recovering".to_owned(),
            Err(error) => error.to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("not promoted within {} s ({last})", timeout.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The end of the server's log, where it says why it stopped.
fn log_tail(log: &Path) -> String {
    let Ok(mut file) = std::fs::File::open(log) else { return format!("no log at {}", log.display()) };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::new();
    let _ = std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(length.saturating_sub(LOG_TAIL)))
        .and_then(|_| file.read_to_end(&mut bytes));
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let wanted: Vec<&str> = lines.iter().copied().filter(|l| l.contains("FATAL") || l.contains("PANIC")).collect();
    let shown = if wanted.is_empty() { &lines[lines.len().saturating_sub(5)..] } else { &wanted[..] };
    shown.join(" / ")
}

#[cfg(test)]
#[path = "clone_tests.rs"]
mod tests;
