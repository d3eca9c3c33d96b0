//! `mariadb` and `mariadb-dump` on a checked server. Every command reads no option file
//! (`--no-defaults`, with `HOME` pointed nowhere), connects only to the address the check
//! connected to (for `verify-full` TLS the host's name, which the certificate must carry), gets
//! the password in `MYSQL_PWD` and never sends a local file to the server (`--local-infile=0`: a
//! hostile server may ask for one). A tool's failure is told by its error code in our words; its
//! output, which repeats what the server said, is not shown.

use super::MariaDbError;
use super::checked::Checked;
use super::handshake::Address;
use super::url::{SYSTEM_SCHEMAS, TlsMode};
use crate::artifacts::postgres::tools::{capture, write_stdin};
use crate::artifacts::{ByteStream, then_at_end};
use secrecy::ExposeSecret;
use std::process::Stdio;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// Under `/dev/null` nothing can exist: no option file is ever found there.
const NOWHERE: &str = "/dev/null/devpilot-none";
/// What a query may answer (lists of privileges, tables, databases).
const QUERY_OUTPUT_LIMIT: u64 = 4 * 1024 * 1024;

/// A client tool for the checked server, with a cleared environment.
fn command(checked: &Checked, program: &str) -> Command {
    let url = &checked.url;
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()))
        .env("HOME", NOWHERE)
        .env("LC_ALL", "C")
        .kill_on_drop(true)
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    // --no-defaults must come first: no /etc/mysql, no ~/.my.cnf, no [client] group of this server.
    command.arg("--no-defaults").arg(format!("--user={}", url.user));
    command.arg("--default-character-set=utf8mb4");
    match &checked.at {
        Address::Tcp(addr) => {
            let host = match (&url.tls, &url.host) {
                (TlsMode::VerifyFull, crate::artifacts::postgres::DatabaseHost::Name(name)) => name.clone(),
                _ => addr.ip().to_string(),
            };
            command.args(["--protocol=TCP", &format!("--host={host}"), &format!("--port={}", addr.port())]);
        }
        Address::Socket(path) => {
            command.arg("--protocol=SOCKET").arg(format!("--socket={}", path.display()));
        }
    }
    match url.tls {
        TlsMode::Disable => {
            command.arg("--skip-ssl");
        }
        TlsMode::Require => {
            command.args(["--ssl", "--skip-ssl-verify-server-cert"]);
        }
        TlsMode::VerifyFull => {
            command.args(["--ssl", "--ssl-verify-server-cert"]);
            if let Some(roots) = openssl_probe::probe().cert_file {
                command.arg(format!("--ssl-ca={}", roots.display()));
            }
        }
    }
    if let Some(password) = url.password() {
        command.env("MYSQL_PWD", password.expose_secret());
    }
    command
}

/// `mariadb` for SQL: batch mode, no local files.
fn client(checked: &Checked) -> Command {
    let mut command = command(checked, "mariadb");
    command.args(["--local-infile=0", "--connect-timeout=10", "--batch", "--skip-column-names", "--raw"]);
    command
}

/// The rows `sql` answers (tab-separated columns), run in `database` (or none).
pub async fn query(checked: &Checked, database: Option<&str>, sql: &str) -> Result<Vec<Vec<String>>, MariaDbError> {
    let mut command = client(checked);
    command.arg(format!("--execute={sql}"));
    if let Some(database) = database {
        command.arg(format!("--database={database}"));
    }
    command.stdout(Stdio::piped());
    let mut child = command.spawn().map_err(|e| MariaDbError::Other(format!("could not start mariadb: {e}")))?;
    let stderr = capture(child.stderr.take());
    let stdout = child.stdout.take().ok_or_else(|| MariaDbError::Other("mariadb has no stdout".into()))?;
    let mut output = Vec::new();
    let read = stdout.take(QUERY_OUTPUT_LIMIT).read_to_end(&mut output).await;
    finish(child, stderr, "mariadb", checked).await?;
    read.map_err(|e| MariaDbError::Other(format!("reading mariadb's answer failed: {e}")))?;
    let text = String::from_utf8_lossy(&output);
    Ok(text.lines().map(|line| line.split('\t').map(str::to_owned).collect()).collect())
}

/// The databases an "all databases" source backs up: every one but the server's own schemas.
pub async fn user_databases(checked: &Checked) -> Result<Vec<String>, MariaDbError> {
    let rows = query(checked, None, "SHOW DATABASES").await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .filter(|name| !SYSTEM_SCHEMAS.contains(&name.as_str()))
        .collect())
}

/// Streams `mariadb-dump` of the source's database (or `databases`, each with its `CREATE
/// DATABASE`): one transaction (`--single-transaction`), routines, triggers and events, binary
/// columns in hex. A failing dump ends the stream in an error, so a run cannot record success.
pub fn dump(checked: &Checked, databases: &[String]) -> Result<ByteStream, MariaDbError> {
    let mut command = command(checked, "mariadb-dump");
    command.args([
        "--single-transaction",
        "--routines",
        "--triggers",
        "--events",
        "--hex-blob",
        "--add-drop-trigger",
        "--no-tablespaces",
        "--skip-dump-date",
    ]);
    match &checked.url.database {
        Some(database) => {
            command.arg("--").arg(database);
        }
        None => {
            command.arg("--databases").arg("--").args(databases);
        }
    }
    command.stdout(Stdio::piped());
    let mut child = command.spawn().map_err(|e| MariaDbError::Other(format!("could not start mariadb-dump: {e}")))?;
    let stdout = child.stdout.take().ok_or_else(|| MariaDbError::Other("mariadb-dump has no stdout".into()))?;
    let stderr = capture(child.stderr.take());
    let checked = checked.clone();
    Ok(then_at_end(crate::artifacts::tool_output(stdout), async move {
        let error = finish(child, stderr, "mariadb-dump", &checked).await.err()?;
        Some(std::io::Error::from(error))
    }))
}

/// Feeds a dump to `mariadb` in `database` (none: the dump names its databases). Should the input
/// fail part-way the client is stopped rather than left to finish half a restore.
pub async fn restore(checked: &Checked, database: Option<&str>, input: ByteStream) -> Result<(), MariaDbError> {
    let mut command = client(checked);
    command.arg("--binary-mode");
    if let Some(database) = database {
        command.arg(format!("--database={database}"));
    }
    command.stdin(Stdio::piped()).stdout(Stdio::null());
    let mut child = command.spawn().map_err(|e| MariaDbError::Other(format!("could not start mariadb: {e}")))?;
    let stderr = capture(child.stderr.take());
    let stdin = child.stdin.take().ok_or_else(|| MariaDbError::Other("mariadb has no stdin".into()))?;
    if let Some(error) = write_stdin(stdin, input).await {
        let _ = child.kill().await;
        return Err(MariaDbError::Other(format!("reading what mariadb restores failed: {error}")));
    }
    finish(child, stderr, "mariadb", checked).await
}

/// Waits for a tool; a failure becomes a typed error by its code.
async fn finish(
    mut child: Child,
    stderr: tokio::task::JoinHandle<String>,
    tool: &str,
    checked: &Checked,
) -> Result<(), MariaDbError> {
    let status = child.wait().await.map_err(|e| MariaDbError::Other(format!("{tool} did not finish: {e}")))?;
    let stderr = stderr.await.unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    tracing::debug!(tool, status = %status, "a MariaDB tool failed");
    Err(classify(&stderr, tool, checked))
}

/// The error a tool's stderr reports, by its MariaDB error code only.
pub(super) fn classify(stderr: &str, tool: &str, checked: &Checked) -> MariaDbError {
    let url = &checked.url;
    let database = || url.database.clone().unwrap_or_default();
    match error_code(stderr) {
        Some(1045) | Some(1698) => MariaDbError::Authentication { user: url.user.clone() },
        Some(1044) => MariaDbError::NoAccess { user: url.user.clone(), database: database() },
        Some(1049) => MariaDbError::NoDatabase(database()),
        Some(1007) => MariaDbError::DatabaseExists(database()),
        Some(2002 | 2003 | 2005) => MariaDbError::Unreachable { target: url.target(), detail: "no connection".into() },
        Some(2026) => MariaDbError::Tls("the server's certificate or TLS setup was not accepted".into()),
        Some(2006 | 2013) => MariaDbError::Other(format!("{tool} lost its connection to the server")),
        Some(2027 | 2012) => MariaDbError::NotMySql { target: url.target() },
        Some(1142 | 1143 | 1227 | 1370) => MariaDbError::Privileges(format!(
            "{tool} was refused a privilege it needs (server error {})",
            error_code(stderr).unwrap_or_default()
        )),
        Some(code) => MariaDbError::Other(format!("{tool} failed with server error {code}")),
        None => MariaDbError::Other(format!("{tool} failed")),
    }
}

/// The first MariaDB error code in a tool's stderr: `ERROR 1045 (28000): …` (mariadb),
/// `Got error: 1045: …` or `… (1142)` (mariadb-dump).
fn error_code(stderr: &str) -> Option<u16> {
    let four_digits = |s: &str| {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        (digits.len() == 4).then(|| digits.parse().ok()).flatten()
    };
    for marker in ["ERROR ", "Got error: ", "error: "] {
        if let Some(code) = stderr.split(marker).skip(1).find_map(four_digits) {
            return Some(code);
        }
    }
    stderr.split('(').skip(1).find_map(|s| four_digits(s).filter(|_| s.get(4..5) == Some(")")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_read_from_either_tool() {
        assert_eq!(error_code("ERROR 1045 (28000): Access denied for user"), Some(1045));
        assert_eq!(error_code("mariadb-dump: Got error: 1044: \"Access denied\" when selecting"), Some(1044));
        assert_eq!(error_code("mariadb-dump: Couldn't execute 'SHOW x': SHOW VIEW command denied (1142)"), Some(1142));
        assert_eq!(error_code("ERROR 2002 (HY000): Can't connect"), Some(2002));
        assert_eq!(error_code("something else"), None);
    }

    #[test]
    fn the_tools_read_no_option_file_and_inherit_no_environment() {
        let url = super::super::MariaDbUrl::parse("mariadb://app:pw@db.example/shop").expect("url");
        let checked =
            Checked { url, at: Address::Tcp("203.0.113.7:3306".parse().expect("addr")), version: "10.11".into() };
        // The environment is cleared (`env_clear`); these are all it is given.
        let built = command(&checked, "mariadb");
        let mut names: Vec<String> =
            built.as_std().get_envs().map(|(name, _)| name.to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["HOME", "LC_ALL", "MYSQL_PWD", "PATH"]);
        let args: Vec<String> =
            command(&checked, "x").as_std().get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args.first().map(String::as_str), Some("--no-defaults"));
        assert!(args.contains(&"--host=203.0.113.7".to_owned()), "{args:?}");
        assert!(!args.iter().any(|a| a.contains("pw")), "{args:?}");
        let client: Vec<String> =
            client(&checked).as_std().get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert!(client.contains(&"--local-infile=0".to_owned()));
    }
}
