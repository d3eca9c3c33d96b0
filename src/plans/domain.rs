//! A plan as it is entered: name, source, destination, schedule, retention, enabled — parsed
//! with an error per field.

use super::retention::{OwnRetentionFields, RetentionFields, RetentionPolicy};
use super::schedule::Schedule;
use crate::artifacts::postgres::PostgresUrl;
use crate::destinations::domain::DestinationName;
use crate::fields::FieldErrors;
use secrecy::SecretString;
use std::path::{Path, PathBuf};

/// A plan's name: the same rules as a destination's, unique (case-insensitively) in a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanName(String);

impl PlanName {
    pub fn parse(value: &str) -> Result<PlanName, String> {
        DestinationName::parse(value).map(|n| PlanName(n.as_str().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name in object keys: lowercase ASCII letters, digits and single dashes.
    pub fn slug(&self) -> String {
        let mut slug = String::new();
        for c in self.0.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() { "plan".to_owned() } else { slug.chars().take(60).collect() }
    }
}

/// How many successful artifacts a plan keeps: 1–365.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(u16);

impl Retention {
    pub fn parse(value: &str) -> Result<Retention, String> {
        match value.trim().parse::<u16>() {
            Ok(n @ 1..=365) => Ok(Retention(n)),
            Ok(_) => Err("Keep between 1 and 365 backups.".into()),
            Err(_) if value.trim().is_empty() => Err("Retention is required: how many backups to keep.".into()),
            Err(_) => Err(format!("Retention must be a whole number from 1 to 365, not “{}”.", value.trim())),
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

/// What a plan backs up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Directory(PathBuf),
    /// A SQLite database file, backed up as a consistent snapshot.
    Sqlite(PathBuf),
    /// A PostgreSQL database by its connection URL without the password; the full URL is
    /// sealed apart (see [`ParsedSource::secret`]).
    Postgres(String),
    /// A MariaDB or MySQL database (or all of a server's), by its connection URL without the
    /// password; the full URL is sealed apart as a PostgreSQL one is.
    Mariadb(String),
    /// An S3-compatible bucket or a prefix of it, by its location without keys (see
    /// `plans::bucket_source`); a URL with its own keys is sealed apart.
    Bucket(String),
}

/// A source as entered: where it is, and for a database the connection URL to seal.
#[derive(Debug)]
pub struct ParsedSource {
    pub source: Source,
    pub secret: Option<SecretString>,
}

impl Source {
    pub const KINDS: &'static [(&'static str, &'static str)] = &[
        ("directory", "Directory"),
        ("postgres", "PostgreSQL database"),
        ("mariadb", "MariaDB or MySQL database"),
        ("sqlite", "SQLite database file"),
        ("bucket", "S3-compatible bucket"),
    ];

    /// `path` is the directory or file; `url` the PostgreSQL connection URL.
    pub fn parse(kind: &str, path: &str, url: &str) -> Result<ParsedSource, FieldErrors> {
        let at_path = |m| FieldErrors::single("source_path", m);
        let plain = |source| ParsedSource { source, secret: None };
        match kind {
            "" | "directory" => directory(path).map(|p| plain(Source::Directory(p))).map_err(at_path),
            "sqlite" => sqlite_file(path).map(|p| plain(Source::Sqlite(p))).map_err(at_path),
            "postgres" => postgres_url(url).map_err(|m| FieldErrors::single("source_url", m)),
            "mariadb" => mariadb_url(url).map_err(|m| FieldErrors::single("source_url", m)),
            "bucket" => super::bucket_source::parse(url, "", path),
            other => Err(FieldErrors::single("source_kind", format!("Unknown source type “{other}”."))),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Source::Directory(_) => "directory",
            Source::Sqlite(_) => "sqlite",
            Source::Postgres(_) => "postgres",
            Source::Mariadb(_) => "mariadb",
            Source::Bucket(_) => "bucket",
        }
    }

    /// The stored (and shown) form of the source's location: never a password.
    pub fn location(&self) -> String {
        match self {
            Source::Directory(p) | Source::Sqlite(p) => p.display().to_string(),
            Source::Postgres(url) | Source::Mariadb(url) | Source::Bucket(url) => url.clone(),
        }
    }

    /// The artifact's file extension.
    pub fn extension(&self) -> &'static str {
        match self {
            Source::Directory(_) => "tar.zst",
            Source::Sqlite(_) => "sqlite3",
            // zstd by Devpilot since 2026-12-07 (`pg_dump` writes it uncompressed); `pgdump` before.
            Source::Postgres(_) => "pgdump.zst",
            // A dump of every database of a server restores differently: its key says so.
            Source::Mariadb(url)
                if crate::artifacts::mariadb::MariaDbUrl::parse(url).is_ok_and(|u| u.database.is_none()) =>
            {
                "mariadb-all.sql.zst"
            }
            Source::Mariadb(_) => "mariadb.sql.zst",
            Source::Bucket(_) => "bucket.tar.zst",
        }
    }

    pub fn from_db(kind: &str, location: &str) -> Source {
        match kind {
            "sqlite" => Source::Sqlite(PathBuf::from(location)),
            "postgres" => Source::Postgres(location.to_owned()),
            "mariadb" => Source::Mariadb(location.to_owned()),
            "bucket" => Source::Bucket(location.to_owned()),
            _ => Source::Directory(PathBuf::from(location)),
        }
    }
}

/// A well-formed PostgreSQL URL (where it leads, and whether it connects, is checked by the
/// service with the workspace's grants).
fn postgres_url(url: &str) -> Result<ParsedSource, String> {
    if url.trim().is_empty() {
        return Err("Connection URL is required: postgres://user:password@host:5432/database.".into());
    }
    let parsed = PostgresUrl::parse(url).map_err(|e| format!("The connection URL is not usable: {e}."))?;
    // The sealed URL is the parsed one written out again: only the settings Devpilot supports.
    Ok(ParsedSource { source: Source::Postgres(parsed.display_url()), secret: Some(parsed.to_secret()) })
}

/// A well-formed MariaDB URL (where it leads, and what it may do there, the service checks).
fn mariadb_url(url: &str) -> Result<ParsedSource, String> {
    if url.trim().is_empty() {
        return Err("Connection URL is required: mariadb://user:password@host:3306/database (no database: all).".into());
    }
    let parsed = crate::artifacts::mariadb::MariaDbUrl::parse(url).map_err(|e| format!("{e}."))?;
    Ok(ParsedSource { source: Source::Mariadb(parsed.display_url()), secret: Some(parsed.to_secret()) })
}

/// An absolute path to a SQLite database file, by its text: whether it is granted, exists and is
/// SQLite the service checks (a path not granted is not looked at).
fn sqlite_file(path: &str) -> Result<PathBuf, String> {
    absolute(path, "Database file is required: the absolute path of the SQLite file to back up.")
}

/// An absolute path to a folder, by its text (see [`sqlite_file`]).
fn directory(path: &str) -> Result<PathBuf, String> {
    absolute(path, "Directory is required: the absolute path of the folder to back up.")
}

fn absolute(path: &str, required: &str) -> Result<PathBuf, String> {
    let path = path.trim();
    if path.is_empty() {
        return Err(required.into());
    }
    if !Path::new(path).is_absolute() {
        return Err(format!("“{path}” is not an absolute path; start it with /."));
    }
    Ok(PathBuf::from(path))
}

/// A valid plan. The destination is an id the service checks belongs to the workspace.
#[derive(Debug, Clone)]
pub struct NewPlan {
    pub name: PlanName,
    pub source: Source,
    /// The full connection URL of a database source, to be sealed.
    pub source_secret: Option<SecretString>,
    pub destination_id: Option<String>,
    /// Up to two more destinations written by every run (ids the service checks), in order.
    pub copies: Vec<String>,
    /// Each copy's own retention, by the copy's place in `copies` (None: the plan's applies).
    pub copy_policies: Vec<Option<RetentionPolicy>>,
    pub schedule: Schedule,
    pub retention: Retention,
    /// The GFS tiers (keep_last is `retention`) and the Object Lock of its uploads.
    pub policy: RetentionPolicy,
    pub enabled: bool,
    /// Encrypt artifacts with the workspace's artifact key.
    pub encrypt: bool,
}

/// The plan form as submitted.
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    pub name: String,
    pub source_kind: String,
    pub source_path: String,
    /// A PostgreSQL source's connection URL: a secret, never rendered back.
    pub source_url: String,
    /// A bucket source's S3 destination whose keys it reads with (blank: the URL's own keys).
    pub source_destination_id: String,
    pub destination_id: String,
    /// The copies' destination ids as entered (`copy_1`, `copy_2`; blank: none).
    pub copies: Vec<String>,
    /// Each entered copy's own retention (`copy_N_retention`, `copy_N_keep_daily` …), by the
    /// same index as `copies`; None or missing: the copy follows the plan's retention.
    pub copy_retention: Vec<Option<OwnRetentionFields>>,
    pub schedule: String,
    pub retention: String,
    /// The GFS tiers beyond `retention` (keep the last N) and the lock.
    pub tiers: RetentionFields,
    pub enabled: bool,
    pub encrypt: bool,
}

impl NewPlan {
    /// Parses every field, reporting all errors at once.
    pub fn parse(input: &PlanInput, now: chrono::NaiveDateTime) -> Result<NewPlan, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = PlanName::parse(&input.name).map_err(|m| errors.add("name", m)).ok();
        let source = match input.source_kind.as_str() {
            "bucket" => {
                super::bucket_source::parse(&input.source_url, &input.source_destination_id, &input.source_path)
            }
            kind => Source::parse(kind, &input.source_path, &input.source_url),
        }
        .map_err(|e| errors.merge(e))
        .ok();
        let schedule = Schedule::parse(&input.schedule)
            .and_then(|s| match s.next_after(now) {
                Some(_) => Ok(s),
                None => Err(format!("“{}” never comes due (no such date).", s.as_str())),
            })
            .map_err(|m| errors.add("schedule", m))
            .ok();
        let retention = Retention::parse(&input.retention).map_err(|m| errors.add("retention", m)).ok();
        let keep_last = retention.map_or(1, |r| u32::from(r.get()));
        let policy = RetentionPolicy::parse(keep_last, &input.tiers).map_err(|e| errors.merge(e)).ok();
        let destination_id = Some(input.destination_id.trim().to_owned()).filter(|d| !d.is_empty());
        if destination_id.is_none() {
            errors.add("destination_id", "Choose a destination.");
        }
        let copies = parse_copies(&input.copies, destination_id.as_deref()).map_err(|e| errors.merge(e)).ok();
        let copy_policies: Vec<Option<RetentionPolicy>> = copies
            .iter()
            .flatten()
            .map(|(slot, _)| {
                let own = input.copy_retention.get(*slot).cloned().flatten()?;
                parse_own_retention(&own, *slot + 1).map_err(|e| errors.merge(e)).ok()
            })
            .collect();
        match (name, source, schedule, retention, policy) {
            (Some(name), Some(source), Some(schedule), Some(retention), Some(policy)) if errors.is_empty() => {
                let ParsedSource { source, secret } = source;
                Ok(NewPlan {
                    name,
                    source,
                    source_secret: secret,
                    destination_id,
                    copies: copies.unwrap_or_default().into_iter().map(|(_, id)| id).collect(),
                    copy_policies,
                    schedule,
                    retention,
                    policy,
                    enabled: input.enabled,
                    encrypt: input.encrypt,
                })
            }
            _ => Err(errors),
        }
    }
}

/// A copy's own retention as entered, its errors named by the copy's fields (`copy_N_retention`,
/// `copy_N_keep_daily` …, N from 1).
pub fn parse_own_retention(own: &OwnRetentionFields, position: usize) -> Result<RetentionPolicy, FieldErrors> {
    let field = |name: &str| super::copies::own_field(position, name);
    let mut errors = FieldErrors::new();
    let keep_last = Retention::parse(&own.keep_last).map_err(|m| errors.add(&field("retention"), m)).ok();
    let policy = RetentionPolicy::parse(keep_last.map_or(1, |n| u32::from(n.get())), &own.tiers).map_err(|e| {
        for (name, message) in e.iter() {
            errors.add(&field(name), message);
        }
    });
    match policy {
        Ok(policy) if errors.is_empty() => Ok(policy),
        _ => Err(errors),
    }
}

/// The copies as entered, each with its slot on the form (0-based): blanks dropped; at most two,
/// none twice, none the primary. Errors are on `copy_N` (N from 1), or `copies` when there are too
/// many.
pub fn parse_copies(entered: &[String], primary: Option<&str>) -> Result<Vec<(usize, String)>, FieldErrors> {
    use super::copies::{MAX_COPIES, field};
    let mut errors = FieldErrors::new();
    let mut copies: Vec<(usize, String)> = Vec::new();
    for (i, id) in entered.iter().enumerate() {
        let id = id.trim();
        if id.is_empty() {
            continue;
        }
        if primary == Some(id) {
            errors.add(&field(i + 1), "This is the plan's primary destination; a copy must go somewhere else.");
        } else if copies.iter().any(|(_, c)| c == id) {
            errors.add(&field(i + 1), "This destination is already a copy of this plan; choose another.");
        } else {
            copies.push((i, id.to_owned()));
        }
    }
    if entered.len() > MAX_COPIES {
        errors.add("copies", format!("A plan has at most {MAX_COPIES} copies beside its destination."));
    }
    if errors.is_empty() { Ok(copies) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_two_at_most_distinct_and_not_the_primary() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_copies(&ids(&["b", " ", "c"][..2]), Some("a")), Ok(vec![(0, "b".to_owned())]));
        assert_eq!(parse_copies(&ids(&[" ", "c"]), Some("a")), Ok(vec![(1, "c".to_owned())]));
        let twice = parse_copies(&ids(&["b", "b"]), Some("a")).expect_err("twice");
        assert!(twice.get("copy_2").is_some_and(|m| m.contains("already")), "{twice:?}");
        let primary = parse_copies(&ids(&["a"]), Some("a")).expect_err("primary");
        assert!(primary.get("copy_1").is_some_and(|m| m.contains("primary")), "{primary:?}");
        let many = parse_copies(&ids(&["b", "c", "d"]), Some("a")).expect_err("three");
        assert!(many.get("copies").is_some(), "{many:?}");
    }

    #[test]
    fn slugs_are_safe_in_object_keys() {
        assert_eq!(PlanName::parse("Nightly  /etc & DB!").expect("name").slug(), "nightly-etc-db");
        assert_eq!(PlanName::parse("Ünïcode").expect("name").slug(), "n-code");
        assert_eq!(PlanName::parse("!!!").expect("name").slug(), "plan");
    }

    #[test]
    fn retention_is_1_to_365() {
        assert!(Retention::parse("0").is_err());
        assert!(Retention::parse("366").is_err());
        assert!(Retention::parse("seven").is_err());
        assert_eq!(Retention::parse(" 7 ").map(Retention::get), Ok(7));
    }

    #[test]
    fn host_paths_must_be_absolute() {
        assert!(Source::parse("directory", "/no/such/dir", "").is_ok(), "whether it exists is the service's to say");
        let relative = Source::parse("directory", "data", "").expect_err("relative");
        assert!(relative.get("source_path").is_some_and(|m| m.contains("absolute")));
        let blank = Source::parse("sqlite", "  ", "").expect_err("blank");
        assert!(blank.get("source_path").is_some_and(|m| m.contains("required")));
    }

    #[test]
    fn postgres_sources_keep_the_password_apart() {
        use secrecy::ExposeSecret;
        let parsed = Source::parse("postgres", "", " postgres://app:s3cret@db.internal:5433/shop ").expect("parses");
        assert_eq!(parsed.source, Source::Postgres("postgres://app@db.internal:5433/shop".into()));
        assert!(!parsed.source.location().contains("s3cret"));
        assert_eq!(parsed.secret.expect("secret").expose_secret(), "postgres://app:s3cret@db.internal:5433/shop");
        let socket = Source::parse("postgres", "", "postgres://app@/shop?host=/run/postgresql&hostaddr=10.0.0.1");
        let refused = socket.expect_err("hostaddr");
        assert!(refused.get("source_url").is_some_and(|m| m.contains("hostaddr")), "{refused:?}");
        let blank = Source::parse("postgres", "", "").expect_err("blank");
        assert!(blank.get("source_url").is_some_and(|m| m.contains("required")), "{blank:?}");
        let wrong = Source::parse("postgres", "", "mysql://x@y/z").expect_err("scheme");
        assert!(wrong.get("source_url").is_some_and(|m| m.contains("postgres://")), "{wrong:?}");
    }
}
