//! `pg_dump` and `pg_restore` on a checked database. They connect only at the address the check
//! connected to (`hostaddr`, with `host` kept for TLS), with a cleared environment: no `PG*`
//! variable, and every file libpq would read from a home folder (`~/.pgpass`, client
//! certificates, roots) pointed at a path that cannot exist. The password travels in `PGPASSWORD`,
//! never on a command line.

use super::client::{Address, Checked};
use super::url::SslMode;
use super::{PostgresError, programs};
use crate::artifacts::{ByteStream, compression, then_at_end};
use futures::TryStreamExt;
use secrecy::ExposeSecret;
use std::process::Stdio;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// How much of a tool's stderr we keep for the error message.
const STDERR_LIMIT: usize = 8 * 1024;
/// Under `/dev/null` nothing can ever exist: every file libpq looks for there is simply absent.
const NOWHERE: &str = "/dev/null/devpilot-none";

/// A libpq connection-string value, quoted.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The connection string the tools get: only what was parsed and checked, nothing defaulted.
pub(in crate::artifacts::postgres) fn conninfo(checked: &Checked) -> String {
    let url = &checked.url;
    let mut parts = vec![("user", url.user.clone()), ("dbname", url.dbname.clone()), ("port", url.port.to_string())];
    match &checked.at {
        Address::Tcp(addr) => {
            parts.push(("host", url.host.to_string().trim_start_matches('[').trim_end_matches(']').to_owned()));
            parts.push(("hostaddr", addr.ip().to_string()));
            parts.push(("sslmode", url.sslmode.as_str().to_owned()));
        }
        Address::Socket(file) => {
            let dir = file.parent().map(|d| d.display().to_string()).unwrap_or_default();
            parts.push(("host", dir));
        }
    }
    let roots = match url.sslmode {
        SslMode::VerifyCa | SslMode::VerifyFull => system_roots(),
        _ => NOWHERE.to_owned(),
    };
    if let Some(name) = &url.application_name {
        parts.push(("application_name", name.clone()));
    }
    parts.extend([
        ("connect_timeout", url.connect_timeout.as_secs().to_string()),
        ("passfile", NOWHERE.into()),
        ("sslcert", NOWHERE.into()),
        ("sslkey", NOWHERE.into()),
        ("sslcrl", NOWHERE.into()),
        ("sslrootcert", roots),
        ("gssencmode", "disable".into()),
    ]);
    parts.iter().map(|(key, value)| format!("{key}={}", quoted(value))).collect::<Vec<_>>().join(" ")
}

/// The system's CA bundle (libpq before 16 knows no `sslrootcert=system`).
fn system_roots() -> String {
    openssl_probe::probe().cert_file.map_or_else(|| NOWHERE.to_owned(), |f| f.display().to_string())
}

/// A PostgreSQL tool with a cleared environment, the password (if any) in `PGPASSWORD`.
pub(in crate::artifacts::postgres) fn command(checked: &Checked, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()))
        .env("HOME", NOWHERE)
        .env("LC_ALL", "C")
        // No Kerberos ticket of this server's user for a server a workspace named.
        .env("KRB5CCNAME", format!("FILE:{NOWHERE}"))
        .kill_on_drop(true)
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(password) = checked.url.password() {
        command.env("PGPASSWORD", password.expose_secret());
    }
    command
}

/// Streams `pg_dump --format=custom --compress=0 --no-owner`: uncompressed, for whoever reads it
/// to compress (a run, with zstd on its own thread: `pg_dump`'s zlib, on the thread that also reads
/// the rows, made a dump slower and three times larger) or not at all (a copy piped straight into
/// `pg_restore`). A failing `pg_dump` (at start or part-way) ends the stream in an error carrying
/// its stderr, so a run cannot record success.
pub fn dump(checked: &Checked) -> Result<ByteStream, PostgresError> {
    let mut command = command(checked, programs::program("pg_dump"));
    command
        .args(["--format=custom", "--compress=0", "--no-owner", "--dbname"])
        .arg(conninfo(checked))
        .stdout(Stdio::piped());
    let mut child = command.spawn().map_err(|e| PostgresError::Other(format!("could not start pg_dump: {e}")))?;
    let stdout = child.stdout.take().ok_or_else(|| PostgresError::Other("pg_dump has no stdout".into()))?;
    let stderr = capture(child.stderr.take());
    let url = checked.url.clone();
    Ok(then_at_end(crate::artifacts::tool_output(stdout), async move {
        let message = finish(child, stderr, "pg_dump").await.err()?;
        Some(std::io::Error::other(url.redact(&message)))
    }))
}

/// Feeds a custom-format dump to `pg_restore --no-owner`; `replace` adds `--clean --if-exists`
/// (the backed-up objects of an existing database are dropped first). A run's dump is in zstd
/// (`….pgdump.zst`), one made before 2026-12-07 or piped from [`dump`] is not: its first bytes
/// tell. Bytes that do not decompress are `pg_restore`'s failure (a restore's checksum then
/// explains it).
pub async fn restore(checked: &Checked, input: ByteStream, replace: bool) -> Result<(), PostgresError> {
    let dump = compression::decompress_if_zstd(input)
        .await
        .map_err(|e| PostgresError::Other(format!("reading what pg_restore restores failed: {e}")))?;
    feed(checked, pg_restore(checked, replace), "pg_restore", dump).await
}

/// `pg_restore --no-owner` of stdin into the checked database, `--clean --if-exists` to replace.
pub(super) fn pg_restore(checked: &Checked, replace: bool) -> Command {
    let mut command = command(checked, programs::program("pg_restore"));
    command.arg("--no-owner");
    if replace {
        command.args(["--clean", "--if-exists"]);
    }
    command.arg("--dbname").arg(conninfo(checked));
    command
}

/// Runs a tool that reads `input` on its stdin, and waits for it. Should the input fail part-way
/// the tool is stopped rather than left to finish half a restore.
pub(super) async fn feed(
    checked: &Checked,
    mut command: Command,
    tool: &str,
    input: ByteStream,
) -> Result<(), PostgresError> {
    command.stdin(Stdio::piped()).stdout(Stdio::null());
    let mut child = command.spawn().map_err(|e| PostgresError::Other(format!("could not start {tool}: {e}")))?;
    let stderr = capture(child.stderr.take());
    let stdin = child.stdin.take().ok_or_else(|| PostgresError::Other(format!("{tool} has no stdin")))?;
    if let Some(error) = write_stdin(stdin, input).await {
        let _ = child.kill().await;
        return Err(PostgresError::Other(format!("reading what {tool} restores failed: {error}")));
    }
    finish(child, stderr, tool).await.map_err(|m| PostgresError::Other(checked.url.redact(&m)))
}

/// Writes `input` to a child's stdin and closes it; the input's error, if it failed part-way (a
/// tool that stopped reading early, a broken pipe, is the tool's own error to report).
pub(in crate::artifacts) async fn write_stdin(
    mut stdin: tokio::process::ChildStdin,
    mut input: ByteStream,
) -> Option<std::io::Error> {
    crate::artifacts::widen_tool_pipe(&stdin);
    let fed: std::io::Result<()> = async {
        while let Some(chunk) = input.try_next().await? {
            stdin.write_all(&chunk).await?;
        }
        stdin.shutdown().await
    }
    .await;
    fed.err().filter(|e| e.kind() != std::io::ErrorKind::BrokenPipe)
}

/// Reads a child's stderr concurrently (so it can never fill its pipe and stall the child),
/// keeping the first [`STDERR_LIMIT`] bytes.
pub(in crate::artifacts) fn capture(
    stderr: Option<impl AsyncRead + Unpin + Send + 'static>,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let Some(mut stderr) = stderr else { return String::new() };
        let mut kept = Vec::new();
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            let room = STDERR_LIMIT.saturating_sub(kept.len());
            kept.extend_from_slice(&buffer[..n.min(room)]);
        }
        String::from_utf8_lossy(&kept).trim().to_string()
    })
}

/// Waits for a tool; a non-zero exit becomes its stderr as the message.
pub(in crate::artifacts) async fn finish(
    mut child: Child,
    stderr: tokio::task::JoinHandle<String>,
    tool: &str,
) -> Result<(), String> {
    let status = child.wait().await.map_err(|e| format!("{tool} did not finish: {e}"))?;
    let stderr = stderr.await.unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let detail = if stderr.is_empty() { status.to_string() } else { stderr };
    Err(format!("{tool} failed: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::postgres::PostgresUrl;

    #[test]
    fn the_tools_get_only_the_checked_address_and_no_home_files() {
        let url = PostgresUrl::parse("postgres://app:pw@db.example:6543/sh'op?sslmode=require").expect("parse");
        let checked = Checked { url, at: Address::Tcp("203.0.113.7:6543".parse().expect("addr")) };
        let info = conninfo(&checked);
        for part in [
            "host='db.example'",
            "hostaddr='203.0.113.7'",
            "port='6543'",
            "dbname='sh\\'op'",
            "sslmode='require'",
            "passfile='/dev/null/devpilot-none'",
            "sslcert='/dev/null/devpilot-none'",
            "gssencmode='disable'",
        ] {
            assert!(info.contains(part), "{part} in {info}");
        }
        assert!(!info.contains("pw"), "{info}");
    }

    #[tokio::test]
    async fn the_tools_inherit_no_environment() {
        let url = PostgresUrl::parse("postgres://app:pw@db.example/shop").expect("parse");
        let checked = Checked { url, at: Address::Tcp("203.0.113.7:5432".parse().expect("addr")) };
        let output = command(&checked, "env").stdout(Stdio::piped()).output().await.expect("run env");
        let mut names: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once('=').map(|(name, _)| name.to_owned()))
            .collect();
        names.sort();
        assert_eq!(names, ["HOME", "KRB5CCNAME", "LC_ALL", "PATH", "PGPASSWORD"]);
    }
}
