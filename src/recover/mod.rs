//! `devpilot recover`: an artifact file back into files, with no server, database, master key or
//! data folder — only the workspace's recovery key (when the artifact is encrypted). The file is
//! checked against `--sha256` first when given; then decrypted segment by segment (each one
//! authenticated before a byte of it is used), its kind told from its first bytes, and written:
//! a folder (its manifest's hashes checked when it has one), a SQLite file (integrity-checked), a
//! `pg_dump` file for `pg_restore` or a MariaDB dump for `mariadb` (each unpacked from zstd when it
//! is). Memory stays at a segment and a few buffers.

pub mod args;
pub mod decrypt;
pub mod manifest;
pub mod output;
pub mod unpacked;

use crate::artifacts::compression::ZSTD_MAGIC;
use crate::artifacts::dpbe::MAGIC;
use crate::artifacts::encryption::ArtifactKey;
use crate::artifacts::head_text;
use crate::artifacts::recovery_key;
use args::{Args, KeySource, USAGE};
use decrypt::{DecryptReader, FailureSlot};
use sha2::{Digest, Sha256};
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Seek};
use unpacked::Unpacked;

const BUFFER: usize = 256 * 1024;
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
const PGDUMP_MAGIC: &[u8; 5] = b"PGDMP";

/// What an artifact holds, told by its (decrypted) first bytes — for a zstd payload, by the first
/// bytes it unpacks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A folder or a bucket: a tar, always in zstd.
    Directory,
    Sqlite,
    /// A `pg_dump` custom-format file: in zstd since 2026-12-07, as `pg_dump` wrote it before.
    Postgres,
    /// A MariaDB or MySQL dump: SQL text, in zstd.
    Sql,
}

impl Kind {
    /// What a payload that is not zstd holds.
    pub fn sniff(head: &[u8]) -> Option<Kind> {
        if head.starts_with(SQLITE_MAGIC) {
            Some(Kind::Sqlite)
        } else if head.starts_with(PGDUMP_MAGIC) {
            Some(Kind::Postgres)
        } else {
            None
        }
    }

    /// What a zstd payload holds, by the first bytes it unpacks to: a tar header (or a tar's
    /// end, an empty archive), a `pg_dump` file, or text.
    pub fn sniff_unpacked(head: &[u8]) -> Option<Kind> {
        let tar = head.get(257..262) == Some(b"ustar") || (head.len() == 512 && head.iter().all(|b| *b == 0));
        if tar {
            Some(Kind::Directory)
        } else if head.starts_with(PGDUMP_MAGIC) {
            Some(Kind::Postgres)
        } else if head_text(head, false).is_some_and(|t| !t.is_empty() && !t.contains('\0')) {
            Some(Kind::Sql)
        } else {
            None
        }
    }
}

/// Runs the subcommand; the process's exit code.
pub fn run(arguments: &[String]) -> i32 {
    let args = match args::parse(arguments) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("devpilot recover: {e}\n\n{USAGE}");
            return 2;
        }
    };
    match recover(&args) {
        Ok(done) => {
            println!("{done}");
            0
        }
        Err(e) => {
            eprintln!("devpilot recover: {e}");
            eprintln!("Nothing was written to {}.", args.out.display());
            1
        }
    }
}

fn recover(args: &Args) -> Result<String, String> {
    let shown = args.artifact.display();
    let open = || std::fs::File::open(&args.artifact).map_err(|e| format!("cannot open {shown}: {e}"));
    let mut checked = String::new();
    if let Some(expected) = &args.sha256 {
        let mut file = open()?;
        let actual = sha256_of(&mut file).map_err(|e| format!("reading {shown} failed: {e}"))?;
        if &actual != expected {
            return Err(format!(
                "{shown} is damaged or is another artifact: its SHA-256 is {actual}, the run recorded {expected}"
            ));
        }
        file.rewind().map_err(|e| e.to_string())?;
        checked = " Its SHA-256 matched the run's.".into();
    }
    let mut input = BufReader::with_capacity(BUFFER, open()?);
    let head = input.fill_buf().map_err(|e| format!("reading {shown} failed: {e}"))?;
    let encrypted = head.starts_with(MAGIC);
    let failure = FailureSlot::default();
    let plain: Box<dyn Read> = if encrypted {
        let key = read_key(&args.key)?;
        Box::new(DecryptReader::new(input, &key, failure.clone()))
    } else {
        Box::new(input)
    };
    let explain = |e: io::Error| match failure.lock().ok().and_then(|f| f.clone()) {
        Some(failure) => failure.to_string(),
        None if args.sha256.is_some() => format!("the artifact cannot be read: {e}"),
        None => format!("the artifact is damaged or truncated: {e}"),
    };
    let mut plain = BufReader::with_capacity(BUFFER, plain);
    let head = plain.fill_buf().map_err(explain)?;
    let (kind, payload) = if head.starts_with(&ZSTD_MAGIC) {
        let unpacked = Unpacked::open(plain).map_err(explain)?;
        (Kind::sniff_unpacked(unpacked.head()), Payload::Zstd(unpacked))
    } else {
        (Kind::sniff(head), Payload::Plain(plain))
    };
    let kind = kind.ok_or_else(|| match encrypted {
        true => "the artifact decrypted, but holds none of the kinds devpilot recover knows (a folder, a SQLite \
                 database, a PostgreSQL or MariaDB dump)"
            .to_string(),
        false => format!(
            "{shown} is not a Devpilot artifact: it is neither encrypted by Devpilot (DPBE) nor a .tar.zst folder, \
             a SQLite database, a pg_dump custom-format file or a zstd-compressed dump"
        ),
    })?;
    let sealed = if encrypted { " Every encrypted segment's authentication tag checked out." } else { "" };
    let out = args.out.display();
    match (kind, payload) {
        (Kind::Directory, Payload::Zstd(tar)) => {
            let manifest = match output::directory(tar, &args.out, &explain)? {
                Some(m) => format!(
                    " {} files, {} folders and {} links matched the manifest recorded at backup.",
                    m.files, m.folders, m.symlinks
                ),
                None => " The artifact has no manifest (it predates them); no per-file hashes were checked.".into(),
            };
            Ok(format!("Recovered the folder into {out}.{checked}{sealed}{manifest}"))
        }
        (Kind::Sqlite, payload) => {
            let bytes = output::file(payload, &args.out, &explain)?;
            let integrity = sqlite_integrity(&args.out).inspect_err(|_| {
                let _ = std::fs::remove_file(&args.out);
            })?;
            Ok(format!("Recovered the SQLite database into {out} ({bytes} bytes, {integrity}).{checked}{sealed}"))
        }
        (Kind::Postgres, payload) => {
            let bytes = output::file(payload, &args.out, &explain)?;
            Ok(format!(
                "Recovered the PostgreSQL dump into {out} ({bytes} bytes, pg_dump custom format).{checked}{sealed}\n\
                 Load it with: pg_restore --no-owner --dbname=postgres://USER@HOST/NEW_DATABASE {out}"
            ))
        }
        (Kind::Sql, payload) => {
            let bytes = output::file(payload, &args.out, &explain)?;
            Ok(format!(
                "Recovered the MariaDB dump into {out} ({bytes} bytes of SQL).{checked}{sealed}\n\
                 Load it with: mariadb --host=HOST --user=USER -p NEW_DATABASE < {out} \
                 (a dump of every database: mariadb --host=HOST --user=USER -p < {out})"
            ))
        }
        // `Kind::sniff` never tells a folder: its tar is always in zstd.
        (Kind::Directory, Payload::Plain(_)) => Err("a folder's archive that is not zstd-compressed".into()),
    }
}

/// An artifact's payload after decryption: as stored, or unpacked from zstd.
enum Payload<R: BufRead> {
    Plain(R),
    Zstd(Unpacked<R>),
}

impl<R: BufRead> Read for Payload<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Payload::Plain(plain) => plain.read(buf),
            Payload::Zstd(unpacked) => unpacked.read(buf),
        }
    }
}

fn sha256_of(file: &mut impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; BUFFER];
    loop {
        match file.read(&mut buffer)? {
            0 => return Ok(hex::encode(hasher.finalize())),
            n => hasher.update(&buffer[..n]),
        }
    }
}

fn read_key(source: &KeySource) -> Result<ArtifactKey, String> {
    let mut text = String::new();
    // A key is 73 characters; a few KiB allows for comments and line ends, and no more is read.
    let limit = 4096;
    let (read, from) = match source {
        KeySource::File(path) => {
            let file =
                std::fs::File::open(path).map_err(|e| format!("cannot open the key file {}: {e}", path.display()))?;
            (file.take(limit).read_to_string(&mut text), format!("the key file {}", path.display()))
        }
        KeySource::Stdin => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                eprint!("The artifact is encrypted. Paste the workspace's recovery key and press Enter: ");
            }
            (stdin.lock().take(limit).read_line(&mut text), "standard input".to_string())
        }
    };
    read.map_err(|e| format!("reading the recovery key from {from} failed: {e}"))?;
    let line = text.lines().map(str::trim).find(|l| l.starts_with(recovery_key::PREFIX)).unwrap_or(text.trim());
    if line.is_empty() {
        return Err(format!(
            "the artifact is encrypted and no recovery key came from {from}: give it with --key-file FILE"
        ));
    }
    recovery_key::decode(line).map_err(|e| format!("{from}: {e}"))
}

#[derive(diesel::QueryableByName)]
struct IntegrityCheck {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

/// `PRAGMA integrity_check` on the recovered file, opened read-only.
fn sqlite_integrity(path: &std::path::Path) -> Result<String, String> {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let absolute = std::path::absolute(path).map_err(|e| e.to_string())?;
    let location = absolute.to_str().ok_or("the target path is not UTF-8")?;
    let location = location.replace('%', "%25").replace('?', "%3f").replace('#', "%23");
    let mut connection = SqliteConnection::establish(&format!("file:{location}?mode=ro"))
        .map_err(|e| format!("the recovered file does not open as a SQLite database: {e}"))?;
    let rows: Vec<IntegrityCheck> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut connection)
        .map_err(|e| format!("the recovered database fails its integrity check: {e}"))?;
    match rows.first().map(|r| r.integrity_check.as_str()) {
        Some("ok") => Ok("integrity check ok".into()),
        other => Err(format!("the recovered database fails its integrity check: {}", other.unwrap_or("no answer"))),
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn a_payload_is_told_by_its_first_bytes_and_a_zstd_one_by_what_it_unpacks_to() {
        assert_eq!(Kind::sniff(b"SQLite format 3\0...."), Some(Kind::Sqlite));
        assert_eq!(Kind::sniff(b"PGDMP\x01\x0f\x00"), Some(Kind::Postgres));
        assert_eq!(Kind::sniff(b"-- MariaDB dump"), None, "SQL is only ever stored in zstd");

        let mut tar = vec![0u8; 512];
        tar[..5].copy_from_slice(b"notes");
        tar[257..263].copy_from_slice(b"ustar ");
        assert_eq!(Kind::sniff_unpacked(&tar), Some(Kind::Directory));
        assert_eq!(Kind::sniff_unpacked(&[0u8; 512]), Some(Kind::Directory), "an empty archive's end");
        assert_eq!(Kind::sniff_unpacked(b"PGDMP\x01\x0f\x00\x04\x08\x01"), Some(Kind::Postgres));
        let sql = "/*M!999999\\- enable the sandbox mode */\n-- MariaDB dump 10.19 ü";
        assert_eq!(Kind::sniff_unpacked(sql.as_bytes()), Some(Kind::Sql));
        // A character cut in two where the head ends is still text.
        assert_eq!(Kind::sniff_unpacked(&"-- ü".as_bytes()[..4]), Some(Kind::Sql));
        assert_eq!(Kind::sniff_unpacked(b"\x00\x01binary\xff\xfe"), None);
        assert_eq!(Kind::sniff_unpacked(b"text with a \0 in it"), None);
        assert_eq!(Kind::sniff_unpacked(b""), None);
    }
}
