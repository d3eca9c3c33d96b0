//! A PostgreSQL database as an artifact: `pg_dump --format=custom` out, `pg_restore` back in.
//!
//! The connection URL's password never reaches a command line, a log line or an error message:
//! the tools get the URL without it and the password through `PGPASSWORD`.

use super::ByteStream;
use diesel::{Connection, PgConnection, RunQueryDsl};
use futures::{StreamExt, TryStreamExt};
use secrecy::{ExposeSecret, SecretString};
use std::process::Stdio;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use url::Url;

/// How much of a tool's stderr we keep for the error message.
const STDERR_LIMIT: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostgresError {
    #[error("{0}")]
    InvalidUrl(String),
    #[error("could not connect to {target}: {detail}")]
    Connect { target: String, detail: String },
    #[error("authentication failed for user \"{user}\": {detail}")]
    Authentication { user: String, detail: String },
    #[error("database \"{0}\" does not exist")]
    NoDatabase(String),
    #[error("{0}")]
    Other(String),
}

/// A parsed connection URL; the password is kept apart from the rest.
pub struct PostgresSource {
    /// The URL without its password: safe to show and to pass on a command line.
    url: Url,
    password: Option<SecretString>,
}

impl std::fmt::Debug for PostgresSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSource").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

impl PostgresSource {
    /// Parses `postgres://user:password@host:port/database?…`; says what is wrong otherwise.
    pub fn parse(input: &str) -> Result<PostgresSource, PostgresError> {
        let invalid = |m: &str| PostgresError::InvalidUrl(m.to_string());
        let mut url = Url::parse(input.trim()).map_err(|e| {
            invalid(&format!("not a valid URL ({e}); expected postgres://user:password@host:5432/database"))
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(invalid(&format!(
                "the URL must start with postgres:// or postgresql://, not {}://",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("the URL has no host"));
        }
        if url.path().trim_start_matches('/').is_empty() {
            return Err(invalid("the URL has no database name (…/database at the end)"));
        }
        let password = url.password().map(|p| {
            let decoded = percent_decode(p);
            SecretString::from(decoded)
        });
        url.set_password(None).map_err(|()| invalid("the URL cannot carry a user and password"))?;
        Ok(PostgresSource { url, password })
    }

    /// The URL without its password, for display.
    pub fn display_url(&self) -> &str {
        self.url.as_str()
    }

    pub fn database(&self) -> String {
        percent_decode(self.url.path().trim_start_matches('/'))
    }

    fn user(&self) -> String {
        if self.url.username().is_empty() { "(default)".into() } else { percent_decode(self.url.username()) }
    }

    fn target(&self) -> String {
        format!("{}:{}", self.url.host_str().unwrap_or_default(), self.url.port().unwrap_or(5432))
    }

    /// Connects and runs `SELECT 1`, turning libpq's failures into a clear message.
    pub async fn check(&self) -> Result<(), PostgresError> {
        let mut url = self.url.clone();
        if !url.query_pairs().any(|(k, _)| k == "connect_timeout") {
            url.query_pairs_mut().append_pair("connect_timeout", "5");
        }
        if let Some(password) = &self.password {
            // Only this in-memory copy handed to libpq ever holds the password.
            let _ = url.set_password(Some(password.expose_secret()));
        }
        let url = SecretString::from(url.to_string());
        let outcome = tokio::task::spawn_blocking(move || {
            let mut connection = PgConnection::establish(url.expose_secret()).map_err(|e| e.to_string())?;
            diesel::sql_query("SELECT 1").execute(&mut connection).map(drop).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| PostgresError::Other(format!("the connection check stopped: {e}")))?;
        outcome.map_err(|detail| self.classify(&self.redact(&detail)))
    }

    fn classify(&self, detail: &str) -> PostgresError {
        let detail = detail.trim().to_string();
        if detail.contains("password authentication failed")
            || detail.contains("no password supplied")
            || detail.contains("authentication failed")
            || (detail.contains("role") && detail.contains("does not exist"))
        {
            PostgresError::Authentication { user: self.user(), detail }
        } else if detail.contains("database") && detail.contains("does not exist") {
            PostgresError::NoDatabase(self.database())
        } else if detail.contains("could not connect")
            || detail.contains("Connection refused")
            || detail.contains("could not translate host name")
            || detail.contains("timeout expired")
            || detail.contains("connection to server")
        {
            PostgresError::Connect { target: self.target(), detail }
        } else {
            PostgresError::Other(detail)
        }
    }

    /// Removes the password from a message, in case a tool ever echoes it.
    fn redact(&self, message: &str) -> String {
        match &self.password {
            Some(password) if !password.expose_secret().is_empty() => message.replace(password.expose_secret(), "***"),
            _ => message.to_string(),
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env_remove("PGPASSWORD").kill_on_drop(true).stdin(Stdio::null()).stderr(Stdio::piped());
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password.expose_secret());
        }
        command
    }

    /// Streams `pg_dump --format=custom --no-owner`. A failing `pg_dump` (at start or part-way)
    /// ends the stream in an error carrying its stderr, so a run cannot record success.
    pub fn dump(&self) -> Result<ByteStream, PostgresError> {
        let mut command = self.command("pg_dump");
        command.args(["--format=custom", "--no-owner", "--dbname"]).arg(self.url.as_str()).stdout(Stdio::piped());
        let mut child = command.spawn().map_err(|e| PostgresError::Other(format!("could not start pg_dump: {e}")))?;
        let stdout = child.stdout.take().ok_or_else(|| PostgresError::Other("pg_dump has no stdout".into()))?;
        let stderr = capture(child.stderr.take());
        let password = self.password.clone();
        let ending = futures::stream::once(async move {
            let message = finish(child, stderr, "pg_dump").await.err()?;
            let message = match &password {
                Some(p) if !p.expose_secret().is_empty() => message.replace(p.expose_secret(), "***"),
                _ => message,
            };
            Some(Err(std::io::Error::other(message)))
        })
        .filter_map(futures::future::ready);
        Ok(tokio_util::io::ReaderStream::with_capacity(stdout, 64 * 1024).chain(ending).boxed())
    }

    /// Feeds a custom-format dump to `pg_restore --no-owner --clean --if-exists` on this database.
    pub async fn restore(&self, mut input: ByteStream) -> Result<(), PostgresError> {
        let mut command = self.command("pg_restore");
        command
            .args(["--no-owner", "--clean", "--if-exists", "--dbname"])
            .arg(self.url.as_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        let mut child =
            command.spawn().map_err(|e| PostgresError::Other(format!("could not start pg_restore: {e}")))?;
        let stderr = capture(child.stderr.take());
        let mut stdin = child.stdin.take().ok_or_else(|| PostgresError::Other("pg_restore has no stdin".into()))?;
        let fed: std::io::Result<()> = async {
            while let Some(chunk) = input.try_next().await? {
                stdin.write_all(&chunk).await?;
            }
            stdin.shutdown().await
        }
        .await;
        drop(stdin);
        let input_error = fed.err().filter(|e| e.kind() != std::io::ErrorKind::BrokenPipe);
        if let Some(error) = input_error {
            // The artifact itself failed: stop pg_restore rather than let it finish half a restore.
            let _ = child.kill().await;
            return Err(PostgresError::Other(format!("reading the artifact failed: {error}")));
        }
        finish(child, stderr, "pg_restore").await.map_err(|m| PostgresError::Other(self.redact(&m)))
    }
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Reads a child's stderr concurrently (so it can never fill its pipe and stall the child),
/// keeping the first [`STDERR_LIMIT`] bytes.
fn capture(stderr: Option<impl AsyncRead + Unpin + Send + 'static>) -> tokio::task::JoinHandle<String> {
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
async fn finish(mut child: Child, stderr: tokio::task::JoinHandle<String>, tool: &str) -> Result<(), String> {
    let status = child.wait().await.map_err(|e| format!("{tool} did not finish: {e}"))?;
    let stderr = stderr.await.unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let detail = if stderr.is_empty() { status.to_string() } else { stderr };
    Err(format!("{tool} failed: {detail}"))
}

impl From<PostgresError> for std::io::Error {
    fn from(error: PostgresError) -> Self {
        std::io::Error::other(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_hides_the_password() {
        let source =
            PostgresSource::parse("postgres://app:s%40cret@db.example:6543/prod?sslmode=require").expect("parse");
        assert_eq!(source.display_url(), "postgres://app@db.example:6543/prod?sslmode=require");
        assert_eq!(source.password.as_ref().map(|p| p.expose_secret().to_string()), Some("s@cret".into()));
        assert_eq!(source.database(), "prod");
        assert!(!format!("{source:?}").contains("cret"));
    }

    #[test]
    fn libpq_failures_are_classified() {
        let source = PostgresSource::parse("postgres://app:pw@127.0.0.1:5432/shop").expect("parse");
        let prefix = "connection to server at \"127.0.0.1\", port 5432 failed: ";
        let auth = source.classify(&format!("{prefix}FATAL:  password authentication failed for user \"app\""));
        assert!(matches!(auth, PostgresError::Authentication { ref user, .. } if user == "app"), "{auth:?}");
        let no_password = source.classify(&format!("{prefix}fe_sendauth: no password supplied"));
        assert!(matches!(no_password, PostgresError::Authentication { .. }), "{no_password:?}");
        let missing = source.classify(&format!("{prefix}FATAL:  database \"shop\" does not exist"));
        assert_eq!(missing, PostgresError::NoDatabase("shop".into()));
        assert_eq!(missing.to_string(), "database \"shop\" does not exist");
        let refused = source.classify(&format!("{prefix}Connection refused\n\tIs the server running on that host?"));
        assert!(refused.to_string().starts_with("could not connect to 127.0.0.1:5432: "), "{refused}");
        let unknown_host =
            source.classify("could not translate host name \"db\" to address: Name or service not known");
        assert!(matches!(unknown_host, PostgresError::Connect { .. }), "{unknown_host:?}");
        assert_eq!(source.redact("echoed pw here"), "echoed *** here");
    }

    #[test]
    fn refuses_what_is_not_a_postgres_url() {
        for (input, expected) in [
            ("mysql://u:p@h/db", "must start with postgres://"),
            ("not a url", "not a valid URL"),
            ("postgres://u:p@h:5432", "no database name"),
            ("postgres://u:p@h:5432/", "no database name"),
        ] {
            let error = PostgresSource::parse(input).expect_err(input).to_string();
            assert!(error.contains(expected), "{input}: {error}");
            assert!(!error.contains(":p@"), "{error}");
        }
    }
}
