//! `devpilot restore-instance ARCHIVE --passphrase-file FILE`: an archive of Devpilot's own
//! backup loaded into a fresh install, the one `DATABASE_URL` and `DEVPILOT_DATA_DIR` name. It
//! refuses a database that holds anything already, a data folder that has a master key file,
//! and `DEVPILOT_MASTER_KEY` set (the restored keys go to the key file, which that would hide);
//! it opens the keys with the passphrase before it writes anything, loads the database, then
//! writes the key file (0600). Start Devpilot afterwards as usual: migrations bring an older
//! backup's database up to date.

use super::archive::{self, ARCHIVE_KEY, INFO, Info, KEYS};
use super::passphrase;
use crate::artifacts::encryption::ArtifactKey;
use crate::config::Settings;
use crate::crypto::{CredentialCipher, KeyRing, write_key_file};
use crate::db::Backend;
use crate::recover::decrypt::{DecryptReader, FailureSlot};
use anyhow::{Context, bail};
use diesel::{Connection, RunQueryDsl};
use secrecy::SecretString;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const USAGE: &str = "usage: devpilot restore-instance ARCHIVE --passphrase-file FILE
       (DATABASE_URL and DEVPILOT_DATA_DIR name the fresh install to restore into; `-` reads the
       passphrase from standard input)";

struct Args {
    archive: PathBuf,
    passphrase_file: PathBuf,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let (mut archive, mut passphrase_file) = (None, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--passphrase-file" => passphrase_file = rest.next().map(PathBuf::from),
            "--passphrase" => return Err("the passphrase is never an argument: use --passphrase-file".into()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            path if archive.is_none() => archive = Some(PathBuf::from(path)),
            extra => return Err(format!("one archive at a time (also got {extra})")),
        }
    }
    Ok(Args {
        archive: archive.ok_or("name the archive to restore")?,
        passphrase_file: passphrase_file.ok_or("give the passphrase with --passphrase-file FILE")?,
    })
}

/// Runs the subcommand; the process's exit code.
pub fn run(args: &[String], settings: &Settings) -> i32 {
    let args = match parse(args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("devpilot restore-instance: {e}\n\n{USAGE}");
            return 2;
        }
    };
    match restore(&args, settings) {
        Ok(message) => {
            println!("{message}");
            0
        }
        Err(e) => {
            eprintln!("devpilot restore-instance: {e:#}");
            1
        }
    }
}

fn read_passphrase(path: &Path) -> anyhow::Result<SecretString> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin().lock().take(4096).read_to_string(&mut text)?;
    } else {
        std::fs::File::open(path)
            .with_context(|| format!("opening the passphrase file {}", path.display()))?
            .take(4096)
            .read_to_string(&mut text)?;
    }
    // The line end a text editor adds is not part of the passphrase.
    let trimmed = text.strip_suffix('\n').unwrap_or(&text);
    Ok(SecretString::from(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned()))
}

fn restore(args: &Args, settings: &Settings) -> anyhow::Result<String> {
    if settings.master_key.is_some() {
        bail!(
            "DEVPILOT_MASTER_KEY is set: unset it (and DEVPILOT_PREVIOUS_MASTER_KEYS); the restored keys are written to the key file"
        );
    }
    let key_file = settings.master_key_file();
    if key_file.exists() {
        bail!("{} exists: this is not a fresh install (restore into an empty data folder)", key_file.display());
    }
    let passphrase = read_passphrase(&args.passphrase_file)?;
    let backend = Backend::of(&settings.database_url);
    refuse_non_empty(&settings.database_url, backend)?;
    let file = std::fs::File::open(&args.archive).with_context(|| format!("opening {}", args.archive.display()))?;
    let decoder = zstd::Decoder::new(file).context("the archive is not zstd-compressed")?;
    let mut tar = tar::Archive::new(decoder);
    let mut entries = tar.entries().context("the archive cannot be read")?;
    let info: Info = serde_json::from_slice(&archive::small(&mut expect_entry(&mut entries, INFO)?, 64 * 1024)?)
        .context("not a backup of Devpilot: its description does not parse")?;
    if !(1..=archive::FORMAT).contains(&info.format) {
        bail!("the archive's format {} is not one this devpilot reads (1 to {})", info.format, archive::FORMAT);
    }
    if info.backend != archive::backend_name(backend) {
        bail!(
            "the archive holds a {} database and DATABASE_URL names a {} one: restore it into the same kind",
            info.backend,
            archive::backend_name(backend)
        );
    }
    let sealed = archive::small(&mut expect_entry(&mut entries, KEYS)?, 64 * 1024)?;
    let text = passphrase::open(&sealed, &passphrase).map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = String::from_utf8_lossy(&text).into_owned();
    let ring = KeyRing::parse(&text).context("the sealed master keys")?;
    let mut database: Box<dyn Read> = if info.format == 1 {
        // Format 1 (before 2026-12-10) kept the database in the clear.
        Box::new(expect_entry(&mut entries, archive::database_entry(backend).trim_end_matches(".dpbe"))?)
    } else {
        let sealed_key = archive::small(&mut expect_entry(&mut entries, ARCHIVE_KEY)?, 64 * 1024)?;
        let key = archive_key(&text, &sealed_key)?;
        let entry = expect_entry(&mut entries, archive::database_entry(backend))?;
        Box::new(DecryptReader::new(entry, &key, FailureSlot::default()))
    };
    crate::data_dir::secure(settings)?;
    match backend {
        Backend::Sqlite => load_sqlite(&mut database, &settings.database_url)?,
        Backend::Postgres => load_postgres(&mut database, &settings.database_url)?,
    }
    write_key_file(&key_file, &ring)?;
    Ok(format!(
        "Restored Devpilot's backup of {} ({} database, master keys {}) into this install; the key file is {}. \
         Start Devpilot as usual.",
        info.created_at,
        info.backend,
        ring.ids().join(", "),
        key_file.display()
    ))
}

/// The archive's own key, opened with the master keys the passphrase opened.
fn archive_key(ring_text: &str, sealed: &[u8]) -> anyhow::Result<ArtifactKey> {
    let cipher = CredentialCipher::from_ring(KeyRing::parse(ring_text)?, None);
    let opened = cipher.open(sealed, archive::ARCHIVE_KEY_AAD).context("the archive's key does not open")?;
    let bytes: [u8; 32] = opened.try_into().map_err(|_| anyhow::anyhow!("the archive's key is damaged"))?;
    Ok(ArtifactKey::new(Box::new(bytes)))
}

/// The archive's next entry, which must be `name`.
fn expect_entry<'a, R: 'a + Read>(entries: &mut tar::Entries<'a, R>, name: &str) -> anyhow::Result<tar::Entry<'a, R>> {
    let entry = entries.next().with_context(|| format!("the archive ends before {name}"))??;
    let path = entry.path()?.to_string_lossy().into_owned();
    if path != name {
        bail!("not a backup of Devpilot: expected {name}, found {path}");
    }
    Ok(entry)
}

/// A fresh install only: no table in the database (SQLite: a missing or empty file).
fn refuse_non_empty(url: &str, backend: Backend) -> anyhow::Result<()> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count = match backend {
        Backend::Sqlite => {
            let path = PathBuf::from(crate::db::sqlite_path(url));
            if std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) == 0 {
                return Ok(());
            }
            let mut c = diesel::SqliteConnection::establish(crate::db::sqlite_path(url))?;
            diesel::sql_query("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'")
                .get_result::<Count>(&mut c)?
        }
        Backend::Postgres => {
            let mut c = diesel::PgConnection::establish(url).context("connecting to DATABASE_URL")?;
            diesel::sql_query(
                "SELECT count(*) AS n FROM information_schema.tables \
                 WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
            )
            .get_result::<Count>(&mut c)?
        }
    };
    if count.n > 0 {
        bail!("the database DATABASE_URL names is not empty ({} tables): restore into a new, empty database", count.n);
    }
    Ok(())
}

/// The snapshot written beside the database file, then renamed over it (an empty file from a
/// first start, or nothing).
fn load_sqlite(entry: &mut impl Read, url: &str) -> anyhow::Result<()> {
    let path = PathBuf::from(crate::db::sqlite_path(url));
    let temporary = path.with_extension("restoring");
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary)?;
    std::io::copy(entry, &mut file).context("writing the database")?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path).with_context(|| format!("moving the database to {}", path.display()))?;
    Ok(())
}

/// `pg_restore --no-owner` of the dump, fed on its standard input.
fn load_postgres(entry: &mut impl Read, url: &str) -> anyhow::Result<()> {
    let (url, password) = super::snapshot::without_password(url)?;
    let mut command = std::process::Command::new("pg_restore");
    command
        .args(["--no-owner", "--exit-on-error", "--dbname"])
        .arg(&url)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let mut child = command.spawn().context("could not start pg_restore (is it on PATH?)")?;
    let mut stdin = child.stdin.take().context("pg_restore has no stdin")?;
    let fed = std::io::copy(entry, &mut stdin);
    drop(stdin);
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("pg_restore failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    fed.context("feeding pg_restore")?;
    Ok(())
}
