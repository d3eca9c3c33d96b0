//! Importing a dump someone hands in (an upload, a file in a granted folder) into a checked
//! PostgreSQL database: a custom-format archive through `pg_restore`, plain SQL through `psql`.
//!
//! The file is hostile until read. Its first bytes say what it is ([`DumpFormat::sniff`]), and
//! anything else is refused before a database is touched. gzip and zstd are unpacked as they
//! stream (never to disk, so a small file that unpacks to a lot costs the target database's space,
//! not ours); other compressions and archives are refused by name. Both tools run in one
//! transaction that stops at the first error, so a failed import leaves nothing behind. Plain SQL
//! runs under psql's `\restrict` with a key the file cannot know ([`super::psql_input`]): psql's
//! own commands (`\!` would run a shell command on this server; `\copy`, `\o`, `\i` read and write
//! its files) are refused.

use super::{Checked, PostgresError, psql_input, tools};
use crate::artifacts::compression::ZSTD_MAGIC;
use crate::artifacts::{ByteStream, head_text, peek};
use bytes::Bytes;
use futures::StreamExt;
use std::io::Read;

/// How many first bytes tell what a file is.
pub const HEAD: usize = 8 * 1024;

/// What a dump holds, as its first bytes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// `pg_dump --format=custom`: fed to `pg_restore`.
    Custom,
    /// SQL text (`pg_dump`'s plain format, or any script): fed to `psql`.
    PlainSql,
}

/// A compression Devpilot unpacks while it streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// Not something Devpilot imports; nothing was touched. The message says what it is.
    #[error("the file is not a PostgreSQL dump Devpilot can import: {0}")]
    NotADump(String),
    #[error("reading the dump failed: {0}")]
    Read(std::io::Error),
    #[error(transparent)]
    Postgres(#[from] PostgresError),
}

/// Statements a SQL script may start with (after comments).
const STATEMENTS: &str = "ABORT ALTER ANALYZE BEGIN CALL CHECKPOINT CLOSE CLUSTER COMMENT COMMIT COPY CREATE \
     DEALLOCATE DECLARE DELETE DISCARD DO DROP END EXECUTE EXPLAIN GRANT IMPORT INSERT \
     LOCK MERGE NOTIFY PREPARE REFRESH REINDEX RESET REVOKE ROLLBACK SAVEPOINT SECURITY \
     SELECT SET SHOW START TABLE TRUNCATE UPDATE VACUUM VALUES WITH";

impl Compression {
    pub fn sniff(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(&ZSTD_MAGIC) {
            Some(Compression::Zstd)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

impl DumpFormat {
    /// What `head`, a file's first [`HEAD`] bytes (fewer only when the file is shorter), is.
    pub fn sniff(head: &[u8]) -> Result<DumpFormat, DumpError> {
        let refuse = |why: &str| Err(DumpError::NotADump(why.to_owned()));
        if head.is_empty() {
            return refuse("it is empty");
        }
        if head.starts_with(b"PGDMP") {
            // The archive's format byte: 1 is custom; directory and tar need more than a stream.
            return match head.get(10) {
                Some(1) | None => Ok(DumpFormat::Custom),
                Some(_) => refuse(
                    "it is a pg_dump archive that cannot be read as one stream; make it with pg_dump --format=custom",
                ),
            };
        }
        if let Some(compression) = Compression::sniff(head) {
            return Err(DumpError::NotADump(format!("it is still {}-compressed", compression.as_str())));
        }
        if let Some(what) = other_format(head) {
            return Err(DumpError::NotADump(format!(
                "it is {what}; send a pg_dump custom-format archive or SQL (gzip or zstd compressed, or not)"
            )));
        }
        plain_sql(head, head.len() < HEAD)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DumpFormat::Custom => "custom",
            DumpFormat::PlainSql => "sql",
        }
    }
}

/// Formats people send by mistake, named so they know what to do.
fn other_format(head: &[u8]) -> Option<&'static str> {
    let bzip2 = head.len() >= 10 && head.starts_with(b"BZh") && head[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
    let known: [(bool, &'static str); 8] = [
        (head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]), "xz-compressed, which Devpilot does not unpack"),
        (bzip2, "bzip2-compressed, which Devpilot does not unpack"),
        (head.starts_with(&[0x04, 0x22, 0x4d, 0x18]), "lz4-compressed, which Devpilot does not unpack"),
        (head.starts_with(b"PK\x03\x04"), "a zip archive"),
        (head.starts_with(&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c]), "a 7-Zip archive"),
        (head.get(257..262) == Some(b"ustar"), "a tar archive"),
        (head.starts_with(b"SQLite format 3\0"), "a SQLite database"),
        (head.starts_with(b"PGCOPY\n"), "a binary COPY file"),
    ];
    known.into_iter().find_map(|(is, what)| is.then_some(what))
}

/// SQL text: UTF-8 without control characters, whose first statement (past comments) is one.
/// `whole` says `head` is the whole file.
fn plain_sql(head: &[u8], whole: bool) -> Result<DumpFormat, DumpError> {
    let binary = || DumpError::NotADump("it is neither a pg_dump custom-format archive nor SQL text".into());
    let Some(text) = head_text(head, whole) else { return Err(binary()) };
    if text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c')) {
        return Err(binary());
    }
    let mut rest = text.trim_start_matches('\u{feff}');
    loop {
        rest = rest.trim_start();
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_ascii_uppercase();
    match rest.chars().next() {
        // Comments all the way through the head: a long preamble.
        None if !whole => Ok(DumpFormat::PlainSql),
        None => Err(DumpError::NotADump("it holds no SQL statement".into())),
        // A psql command: psql refuses it (restricted) unless it is pg_dump's own.
        Some('\\') => Ok(DumpFormat::PlainSql),
        Some(_) if STATEMENTS.split_whitespace().any(|s| s == word) => Ok(DumpFormat::PlainSql),
        Some(_) => Err(DumpError::NotADump("it is text that does not start with an SQL statement".into())),
    }
}

/// A dump whose format is known, ready to be loaded.
pub struct Dump {
    pub format: DumpFormat,
    /// How the file was compressed; the body is already unpacked.
    pub compression: Option<Compression>,
    body: ByteStream,
}

impl Dump {
    /// Reads the first bytes of `stream` (unpacked, when compressed) and tells what it holds;
    /// anything but a dump is refused here, before any database is touched.
    pub async fn read(stream: ByteStream) -> Result<Dump, DumpError> {
        let (head, stream) = peek(stream, HEAD).await.map_err(DumpError::Read)?;
        let compression = Compression::sniff(&head);
        let (head, body) = match compression {
            None => (head, stream),
            Some(compression) => {
                let (inner, body) = peek(unpacked(stream, compression), HEAD).await.map_err(DumpError::Read)?;
                if Compression::sniff(&inner).is_some() {
                    return Err(DumpError::NotADump("it is compressed twice".into()));
                }
                (inner, body)
            }
        };
        let format = DumpFormat::sniff(&head)?;
        Ok(Dump { format, compression, body })
    }

    /// Loads the dump into the checked database; `replace` (custom format only) drops the
    /// dump's objects first. All or nothing: one transaction, stopped at the first error.
    pub async fn load(self, checked: &Checked, replace: bool) -> Result<(), DumpError> {
        match self.format {
            DumpFormat::Custom => restore_custom(checked, self.body, replace).await?,
            DumpFormat::PlainSql => restore_sql(checked, self.body).await?,
        }
        Ok(())
    }
}

/// Tells what `stream` holds and loads it into the checked database (see [`Dump::load`]).
pub async fn import(checked: &Checked, stream: ByteStream, replace: bool) -> Result<DumpFormat, DumpError> {
    let dump = Dump::read(stream).await?;
    let format = dump.format;
    dump.load(checked, replace).await?;
    Ok(format)
}

/// Runs SQL text with `psql` in one transaction that stops at the first error, with psql's own
/// commands refused (see [`psql_input::restricted`]).
pub async fn restore_sql(checked: &Checked, stream: ByteStream) -> Result<(), PostgresError> {
    let mut command = tools::command(checked, super::programs::program("psql"));
    // Notices would fill the stderr kept for the message before the error that matters.
    command.env("PGOPTIONS", "-c client_min_messages=warning");
    command
        .args(["--no-psqlrc", "--quiet", "--single-transaction", "--set", "ON_ERROR_STOP=1", "--file", "-"])
        .arg("--dbname")
        .arg(tools::conninfo(checked));
    tools::feed(checked, command, "psql", psql_input::restricted(stream)).await.map_err(|e| match e {
        PostgresError::Other(message) if message.contains("backslash commands are restricted") => {
            PostgresError::Other(format!(
                "{}; an import runs SQL only, never psql's own commands (lines starting with a backslash)",
                lines_of_the_file(&message)
            ))
        }
        PostgresError::Other(message) => PostgresError::Other(lines_of_the_file(&message)),
        other => other,
    })
}

/// psql's `psql:<stdin>:N:` as `line N:` of the file (psql counted our `\restrict` line too).
fn lines_of_the_file(message: &str) -> String {
    const MARK: &str = "psql:<stdin>:";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let after = &rest[at + MARK.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        match after[..digits].parse::<u64>() {
            Ok(line) if after[digits..].starts_with(':') => {
                out.push_str(&format!("line {}:", line.saturating_sub(1)));
                rest = &after[digits + 1..];
            }
            _ => {
                out.push_str(MARK);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Restores a custom-format archive with `pg_restore` in one transaction.
pub async fn restore_custom(checked: &Checked, stream: ByteStream, replace: bool) -> Result<(), PostgresError> {
    let mut command = tools::pg_restore(checked, replace);
    command.arg("--single-transaction");
    tools::feed(checked, command, "pg_restore", stream).await
}

/// The stream unpacked as it is read, on a blocking thread, a few chunks ahead at most.
fn unpacked(stream: ByteStream, compression: Compression) -> ByteStream {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    tokio::task::spawn_blocking(move || {
        let decoder: Box<dyn Read> = match compression {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(reader))),
            Compression::Zstd => match zstd::stream::read::Decoder::new(reader) {
                Ok(decoder) => Box::new(decoder),
                Err(e) => {
                    let _ = sender.blocking_send(Err(e));
                    return;
                }
            },
        };
        pump(decoder, &sender, compression);
    });
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)).boxed()
}

/// Sends what `decoder` gives until it ends, fails, or no one reads any more.
fn pump(mut decoder: impl Read, sender: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>, c: Compression) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let sent = match decoder.read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => sender.blocking_send(Ok(Bytes::copy_from_slice(&buffer[..n]))),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = sender
                    .blocking_send(Err(std::io::Error::new(e.kind(), format!("unpacking {} failed: {e}", c.as_str()))));
                return;
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
