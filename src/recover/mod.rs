//! `devpilot recover`: an artifact file back into files, with no server, database, master key or
//! data folder — only the workspace's recovery key (when the artifact is encrypted). The file is
//! checked against `--sha256` first when given; then decrypted segment by segment (each one
//! authenticated before a byte of it is used), its kind told from its first bytes, and written:
//! a folder (its manifest's hashes checked when it has one), a SQLite file (integrity-checked), or
//! a `pg_dump` file for `pg_restore`. Memory stays at a segment and a few buffers.

pub mod args;
pub mod decrypt;
pub mod manifest;
pub mod output;

use crate::artifacts::dpbe::MAGIC;
use crate::artifacts::encryption::ArtifactKey;
use crate::artifacts::recovery_key;
use args::{Args, KeySource, USAGE};
use decrypt::{DecryptReader, FailureSlot};
use sha2::{Digest, Sha256};
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Seek};

const BUFFER: usize = 256 * 1024;
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
const PGDUMP_MAGIC: &[u8; 5] = b"PGDMP";

/// What an artifact holds, told by its (decrypted) first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Directory,
    Sqlite,
    Postgres,
}

impl Kind {
    pub fn sniff(head: &[u8]) -> Option<Kind> {
        if head.starts_with(&ZSTD_MAGIC) {
            Some(Kind::Directory)
        } else if head.starts_with(SQLITE_MAGIC) {
            Some(Kind::Sqlite)
        } else if head.starts_with(PGDUMP_MAGIC) {
            Some(Kind::Postgres)
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
    let kind = Kind::sniff(head).ok_or_else(|| match encrypted {
        true => "the artifact decrypted, but holds none of the kinds devpilot recover knows (a folder, a SQLite \
                 database, a PostgreSQL dump)"
            .to_string(),
        false => format!(
            "{shown} is not a Devpilot artifact: it is neither encrypted by Devpilot (DPBE) nor a .tar.zst folder, \
             a SQLite database or a pg_dump custom-format file"
        ),
    })?;
    let sealed = if encrypted { " Every encrypted segment's authentication tag checked out." } else { "" };
    let out = args.out.display();
    match kind {
        Kind::Directory => {
            let manifest = match output::directory(plain, &args.out, &explain)? {
                Some(m) => format!(
                    " {} files, {} folders and {} links matched the manifest recorded at backup.",
                    m.files, m.folders, m.symlinks
                ),
                None => " The artifact has no manifest (it predates them); no per-file hashes were checked.".into(),
            };
            Ok(format!("Recovered the folder into {out}.{checked}{sealed}{manifest}"))
        }
        Kind::Sqlite => {
            let bytes = output::file(plain, &args.out, &explain)?;
            let integrity = sqlite_integrity(&args.out).inspect_err(|_| {
                let _ = std::fs::remove_file(&args.out);
            })?;
            Ok(format!("Recovered the SQLite database into {out} ({bytes} bytes, {integrity}).{checked}{sealed}"))
        }
        Kind::Postgres => {
            let bytes = output::file(plain, &args.out, &explain)?;
            Ok(format!(
                "Recovered the PostgreSQL dump into {out} ({bytes} bytes, pg_dump custom format).{checked}{sealed}\n\
                 Load it with: pg_restore --no-owner --dbname=postgres://USER@HOST/NEW_DATABASE {out}"
            ))
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
