//! The artifact library on its own: real PostgreSQL at 127.0.0.1:5432 (scratch databases with
//! unique names, dropped afterwards), real `pg_dump`/`pg_restore`, SQLite files, tar + zstd.

use crate::helpers::postgres_base_url;
use bytes::Bytes;
use devpilot::artifacts::ByteStream;
use devpilot::artifacts::checksum::Digesting;
use devpilot::artifacts::encryption::{decrypt, encrypt, generate_key};
use devpilot::artifacts::postgres::client::Address;
use devpilot::artifacts::postgres::{Checked, DatabaseAccess, PostgresError, PostgresUrl, tools};
use devpilot::artifacts::restore::{self, RestoreError};
use devpilot::artifacts::sqlite;
use devpilot::hostfs::{Located, Place};
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use futures::{StreamExt, TryStreamExt};
use std::path::Path;
use std::sync::Arc;

/// The file or folder at `path` (its folder exists) as a located place, as a workspace's grant
/// check would give it.
fn place_at(path: &Path) -> Place {
    let folder = std::fs::canonicalize(path.parent().expect("a folder")).expect("resolved");
    Place {
        folder: Located { root: folder, relative: Default::default() },
        name: path.file_name().expect("name").into(),
    }
}

fn located(path: &Path) -> Located {
    let place = place_at(path);
    Located { root: place.folder.root, relative: place.name.into() }
}

/// A database of our own, dropped when the test ends.
pub struct ScratchDb {
    name: String,
}

impl ScratchDb {
    pub fn new() -> ScratchDb {
        let name = format!("devpilot_artifact_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut admin()).expect("create database");
        ScratchDb { name }
    }

    /// A database something else created, to be dropped when the test ends.
    pub fn adopt(name: &str) -> ScratchDb {
        ScratchDb { name: name.to_owned() }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", postgres_base_url(), self.name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url()).expect("connect to scratch database")
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let _ =
            diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)).execute(&mut admin());
    }
}

fn admin() -> PgConnection {
    PgConnection::establish(&format!("{}/postgres", postgres_base_url())).expect("PostgreSQL at 127.0.0.1:5432")
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Every row of a table as JSON text, in id order.
pub fn rows(connection: &mut PgConnection, table: &str) -> Vec<String> {
    diesel::sql_query(format!("SELECT row_to_json(t)::text AS line FROM {table} t ORDER BY id"))
        .load::<Line>(connection)
        .expect("read rows")
        .into_iter()
        .map(|l| l.line)
        .collect()
}

async fn collect(stream: ByteStream) -> std::io::Result<Vec<u8>> {
    let parts: Vec<Bytes> = stream.try_collect().await?;
    Ok(parts.concat())
}

fn stream_of(data: Vec<u8>) -> ByteStream {
    let chunks: Vec<std::io::Result<Bytes>> = data.chunks(100_000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures::stream::iter(chunks).boxed()
}

/// A URL checked as a workspace that was granted its server would have it checked.
async fn checked(url: &str) -> Result<Checked, PostgresError> {
    let url = PostgresUrl::parse(url)?;
    let server = devpilot::grants::DatabaseServer::Tcp { host: url.host.to_string(), port: url.port };
    url.reach(&DatabaseAccess { granted: vec![server], own: None }).await?.check().await
}

/// What the tools would get for `url` had it passed the check (to see what they say themselves).
fn unchecked(url: &str) -> Checked {
    let url = PostgresUrl::parse(url).expect("parse");
    let at = Address::Tcp(std::net::SocketAddr::new(url.host.to_string().parse().expect("an address"), url.port));
    Checked { url, at }
}

fn with_password(url: &str, password: &str) -> String {
    url.replacen("postgres://postgres@", &format!("postgres://postgres:{password}@"), 1)
}

#[tokio::test]
async fn postgres_round_trip_through_encryption_is_row_for_row() {
    let source_db = ScratchDb::new();
    let mut connection = source_db.connect();
    for statement in [
        "CREATE TABLE people (id serial PRIMARY KEY, name text NOT NULL, photo bytea, born date)",
        "CREATE TABLE notes (id serial PRIMARY KEY, person int REFERENCES people(id), body text)",
        "INSERT INTO people (name, photo, born) VALUES
            ('Zoë Ångström', '\\x00ff10deadbeef'::bytea, '1990-02-03'),
            ('李小龍', decode(repeat('ab', 5000), 'hex'), NULL),
            ('emoji 🚀 and ''quotes''', NULL, '2000-01-01')",
        "INSERT INTO notes (person, body) SELECT 1 + (i % 3), 'note ' || i || ' — ünïcödé' FROM generate_series(1, 500) i",
    ] {
        diesel::sql_query(statement).execute(&mut connection).expect(statement);
    }
    let source = checked(&with_password(&source_db.url(), "not-needed")).await.expect("source answers");

    let key = generate_key();
    let (dump, plain_digest) = Digesting::new(tools::dump(&source).expect("start pg_dump"));
    let (sealed, sealed_digest) = Digesting::new(encrypt(dump, &key));
    let artifact = collect(sealed).await.expect("dump and encrypt");
    let (sealed_sha, sealed_size) = sealed_digest.finish();
    let (_, plain_size) = plain_digest.finish();
    assert_eq!(sealed_size, artifact.len() as u64);
    assert!(plain_size > 1000 && sealed_size > plain_size, "plain {plain_size}, sealed {sealed_size}");
    assert!(!artifact.windows(5).any(|w| w == b"notes"), "the artifact must not show plaintext");

    restore::verify(stream_of(artifact.clone()), &sealed_sha).await.expect("checksum matches");
    let target_db = ScratchDb::new();
    let target = checked(&target_db.url()).await.expect("target answers");
    restore::into_postgres(decrypt(stream_of(artifact), &key), &target, false, restore::open_gate())
        .await
        .expect("restore");

    let mut restored = target_db.connect();
    for table in ["people", "notes"] {
        let original = rows(&mut connection, table);
        assert!(!original.is_empty());
        assert_eq!(rows(&mut restored, table), original, "table {table}");
    }
    // The sequence came along too: the next id follows on.
    let next: Vec<Count> =
        diesel::sql_query("SELECT nextval('people_id_seq') AS n").load(&mut restored).expect("nextval");
    assert_eq!(next[0].n, 4);
}

#[tokio::test]
async fn restoring_over_an_existing_database_replaces_its_tables() {
    let source_db = ScratchDb::new();
    let mut connection = source_db.connect();
    diesel::sql_query("CREATE TABLE t (id int PRIMARY KEY, v text)").execute(&mut connection).expect("create");
    diesel::sql_query("INSERT INTO t VALUES (1, 'from the backup')").execute(&mut connection).expect("insert");
    let source = checked(&source_db.url()).await.expect("source answers");
    let artifact = collect(tools::dump(&source).expect("dump")).await.expect("dump");
    // Changes made after the backup are undone by --clean.
    diesel::sql_query("UPDATE t SET v = 'changed later'").execute(&mut connection).expect("update");
    tools::restore(&source, stream_of(artifact), true).await.expect("restore in place");
    assert_eq!(rows(&mut connection, "t"), vec![r#"{"id":1,"v":"from the backup"}"#.to_string()]);
}

#[tokio::test]
async fn connection_problems_have_clear_messages_without_the_password() {
    let password = "hunter2-very-secret";
    let port_closed = format!("postgres://postgres:{password}@127.0.0.1:1/postgres");
    let error = checked(&port_closed).await.expect_err("closed port");
    assert!(matches!(error, PostgresError::Connect { .. }), "{error:?}");
    assert!(error.to_string().starts_with("could not connect to 127.0.0.1:1"), "{error}");

    let missing_db = with_password(
        &format!("{}/devpilot_no_such_db_{}", postgres_base_url(), uuid::Uuid::new_v4().simple()),
        password,
    );
    let error = checked(&missing_db).await.expect_err("missing database");
    assert!(matches!(error, PostgresError::NoDatabase(_)), "{error:?}");
    assert!(error.to_string().contains("does not exist"), "{error}");
    let source = unchecked(&missing_db);
    let dump_error = collect(tools::dump(&source).expect("pg_dump starts")).await.expect_err("pg_dump must fail");
    assert!(
        dump_error.to_string().contains("pg_dump failed") && dump_error.to_string().contains("does not exist"),
        "{dump_error}"
    );

    let no_role = format!("postgres://devpilot_nobody:{password}@127.0.0.1:5432/postgres");
    let error = checked(&no_role).await.expect_err("unknown role");
    assert!(matches!(error, PostgresError::Authentication { .. }), "{error:?}");
    assert!(error.to_string().contains("authentication failed for user \"devpilot_nobody\""), "{error}");

    let wrong_scheme = PostgresUrl::parse(&format!("mysql://root:{password}@127.0.0.1/db")).expect_err("scheme");
    for message in [wrong_scheme.to_string(), dump_error.to_string(), error.to_string(), format!("{source:?}")] {
        assert!(!message.contains(password), "password leaked: {message}");
    }
}

#[tokio::test]
async fn pg_dump_failing_part_way_ends_the_stream_in_an_error() {
    let db = ScratchDb::new();
    let mut connection = db.connect();
    diesel::sql_query(
        "CREATE TABLE big AS SELECT i AS id, md5(i::text) || md5((i * 7)::text) AS v FROM generate_series(1, 300000) i",
    )
    .execute(&mut connection)
    .expect("fill");
    // Trust auth ignores the password, but it must still never reach pg_dump's command line.
    let password = "cmdline-must-not-show-this";
    let source = checked(&with_password(&db.url(), password)).await.expect("source answers");
    let mut dump = tools::dump(&source).expect("start");
    let first = dump.next().await.expect("a first chunk").expect("first chunk is fine");
    assert!(!first.is_empty());
    let command_lines = pg_dump_command_lines(&db.name);
    assert_eq!(command_lines.len(), 1, "our pg_dump is running");
    assert!(!command_lines[0].contains(password), "password on the command line: {}", command_lines[0]);
    // We stopped reading, so pg_dump is stuck mid-table; cut its server connection.
    let mut terminated = 0;
    for _ in 0..50 {
        terminated = diesel::sql_query(format!(
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'pg_dump'",
            db.name
        ))
        .load::<Count>(&mut admin())
        .expect("terminate")[0]
            .n;
        if terminated > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(terminated, 1, "pg_dump's connection was found");
    let rest = collect(dump).await;
    let error = rest.expect_err("the stream must end in an error");
    assert!(error.to_string().contains("pg_dump failed"), "{error}");
}

/// The command lines of running `pg_dump` processes that name `database`.
fn pg_dump_command_lines(database: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|entry| std::fs::read(entry.ok()?.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        // Debian's /usr/bin/pg_dump is a wrapper that execs the versioned binary.
        .filter(|line| {
            line.split(' ').next().is_some_and(|program| program.ends_with("pg_dump")) && line.contains(database)
        })
        .collect()
}

#[tokio::test]
async fn a_restore_whose_artifact_fails_part_way_is_an_error() {
    let source_db = ScratchDb::new();
    let mut connection = source_db.connect();
    diesel::sql_query("CREATE TABLE t AS SELECT i AS id, md5(i::text) AS v FROM generate_series(1, 50000) i")
        .execute(&mut connection)
        .expect("fill");
    let source = checked(&source_db.url()).await.expect("source answers");
    let artifact = collect(tools::dump(&source).expect("dump")).await.expect("dump");
    let half = artifact[..artifact.len() / 2].to_vec();
    let failing: ByteStream =
        stream_of(half).chain(futures::stream::iter(vec![Err(std::io::Error::other("destination went away"))])).boxed();
    let target_db = ScratchDb::new();
    let target = checked(&target_db.url()).await.expect("target answers");
    let error = restore::into_postgres(failing, &target, true, restore::open_gate()).await.expect_err("must fail");
    // The artifact's read failed, whatever pg_restore made of the half it got: another copy may be whole.
    assert!(matches!(error, RestoreError::Read(_)), "{error:?}");
    assert!(error.to_string().contains("destination went away"), "{error}");

    // A truncated dump fed whole is refused by pg_restore itself.
    let truncated = stream_of(artifact[..artifact.len() / 2].to_vec());
    let error = restore::into_postgres(truncated, &target, true, restore::open_gate()).await.expect_err("truncated");
    assert!(error.to_string().contains("pg_restore failed"), "{error}");

    // A target database that does not exist is named as such before pg_restore runs.
    let missing = format!("{}/devpilot_missing_{}", postgres_base_url(), uuid::Uuid::new_v4().simple());
    let error = checked(&missing).await.expect_err("missing");
    assert!(matches!(error, PostgresError::NoDatabase(_)), "{error:?}");
}

fn sqlite_exec(connection: &mut SqliteConnection, sql: &str) {
    diesel::sql_query(sql).execute(connection).expect(sql);
}

fn sqlite_count(connection: &mut SqliteConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).load::<Count>(connection).expect(sql)[0].n
}

#[tokio::test]
async fn sqlite_snapshot_while_another_connection_writes_is_consistent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("app.db");
    let db_text = db.to_str().expect("utf-8").to_string();
    let mut connection = SqliteConnection::establish(&db_text).expect("open");
    sqlite_exec(&mut connection, "CREATE TABLE orders (id INTEGER PRIMARY KEY, blob BLOB)");
    sqlite_exec(&mut connection, "CREATE TABLE lines (order_id INTEGER, name TEXT)");
    sqlite_exec(
        &mut connection,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) INSERT INTO orders (blob) SELECT randomblob(20000) FROM n",
    );
    sqlite_exec(&mut connection, "INSERT INTO lines SELECT id, 'ünïcödé ' || id FROM orders");

    // Each write adds an order and its line in one transaction: a consistent copy has as many of each.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut connection = SqliteConnection::establish(&db_text).expect("writer opens");
            sqlite_exec(&mut connection, "PRAGMA busy_timeout = 10000");
            let mut writes = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                connection
                    .immediate_transaction(|c| {
                        diesel::sql_query("INSERT INTO orders (blob) VALUES (randomblob(20000))").execute(c)?;
                        diesel::sql_query("INSERT INTO lines SELECT max(id), 'late' FROM orders").execute(c)
                    })
                    .expect("write");
                writes += 1;
            }
            writes
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let snapshot = sqlite::snapshot(&located(&db), Arc::default()).await.expect("snapshot");
    let copy = dir.path().join("restored.db");
    restore::into_sqlite_file(snapshot, &place_at(&copy), Arc::default()).await.expect("restore");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.join().expect("writer") > 0, "the writer really wrote");

    let mut restored = SqliteConnection::establish(copy.to_str().expect("utf-8")).expect("open copy");
    let integrity: Vec<Line> =
        diesel::sql_query("PRAGMA integrity_check AS line").load(&mut restored).unwrap_or_default();
    assert!(integrity.iter().all(|l| l.line == "ok"));
    let orders = sqlite_count(&mut restored, "SELECT count(*) AS n FROM orders");
    let lines = sqlite_count(&mut restored, "SELECT count(*) AS n FROM lines");
    assert!(orders >= 200);
    assert_eq!(orders, lines, "a snapshot never holds half a transaction");

    // Restoring onto an existing file is refused and leaves it alone.
    let error = restore::into_sqlite_file(
        sqlite::snapshot(&located(&db), Arc::default()).await.expect("snapshot"),
        &place_at(&copy),
        Arc::default(),
    )
    .await
    .expect_err("exists");
    assert!(error.to_string().contains("already exists"), "{error}");
    assert_eq!(sqlite_count(&mut restored, "SELECT count(*) AS n FROM orders"), orders);
}

#[tokio::test]
async fn sqlite_source_validation_and_bad_restores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("plain.txt");
    std::fs::write(&text, "this is not a database, just some words that fill a page. ".repeat(100)).expect("write");
    let error = sqlite::snapshot(&located(&text), Arc::default()).await.err().expect("not a database").to_string();
    assert!(error.contains("is not a SQLite database"), "{error}");
    // A restore whose bytes are not SQLite fails and leaves no file behind.
    let target = dir.path().join("restored.db");
    let error = restore::into_sqlite_file(stream_of(b"garbage".repeat(1000)), &place_at(&target), Arc::default())
        .await
        .expect_err("garbage");
    assert!(error.to_string().contains("not a SQLite database"), "{error}");
    assert!(!target.exists());
}

/// A tar + zstd archive built in memory: (path, target) symlinks first, then (path, contents) files.
fn tar_zst(files: &[(&str, &[u8])], symlinks: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(zstd::Encoder::new(Vec::new(), 3).expect("zstd"));
    for (path, target) in symlinks {
        let mut header = tar::Header::new_gnu();
        raw_name(&mut header, path);
        header.as_gnu_mut().expect("gnu").linkname[..target.len()].copy_from_slice(target.as_bytes());
        header.set_size(0);
        header.set_mode(0o777);
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_cksum();
        builder.append(&header, std::io::empty()).expect("append");
    }
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        raw_name(&mut header, path);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, *data).expect("append");
    }
    builder.into_inner().expect("tar").finish().expect("zstd")
}

/// Writes the name field directly: `set_path` would (rightly) refuse the hostile names we test.
fn raw_name(header: &mut tar::Header, path: &str) {
    header.as_gnu_mut().expect("gnu").name[..path.len()].copy_from_slice(path.as_bytes());
}

fn files_in(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn a_directory_artifact_restores_into_an_empty_folder_only() {
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let archive = tar_zst(
        &[("docs/readme.txt", "héllo".as_bytes()), ("docs/big.bin", &big), ("top.txt", b"top")],
        &[("docs/link", "readme.txt")],
    );
    let (stream, digest) = Digesting::new(stream_of(archive.clone()));
    assert_eq!(collect(stream).await.expect("read").len(), archive.len());
    let (sha, _) = digest.finish();

    let place = tempfile::tempdir().expect("tempdir");
    let target = place.path().join("restore-here");
    restore::verify(stream_of(archive.clone()), &sha).await.expect("verified");
    restore::into_directory(stream_of(archive.clone()), &place_at(&target), Arc::default(), restore::open_gate())
        .await
        .expect("restore into a new folder");
    assert_eq!(std::fs::read(target.join("docs/readme.txt")).expect("readme"), "héllo".as_bytes());
    assert_eq!(std::fs::read(target.join("docs/big.bin")).expect("big"), big);
    assert_eq!(std::fs::read_link(target.join("docs/link")).expect("link"), Path::new("readme.txt"));

    // The same folder is no longer empty: refused, nothing touched.
    std::fs::write(target.join("top.txt"), b"edited").expect("edit");
    let error =
        restore::into_directory(stream_of(archive.clone()), &place_at(&target), Arc::default(), restore::open_gate())
            .await
            .expect_err("not empty");
    assert!(matches!(error, RestoreError::Target(_)) && error.to_string().contains("not empty"), "{error}");
    assert_eq!(std::fs::read(target.join("top.txt")).expect("top"), b"edited");

    // Streamed in unverified: put in place only when the gate, run after the very last byte, says
    // the artifact is the recorded one — here it does not, and nothing is left.
    let (stream, digest) = Digesting::new(stream_of(archive_with_tail(&archive)));
    let other = place.path().join("gated");
    let error =
        restore::into_directory(stream, &place_at(&other), Arc::default(), restore::checksum_gate(digest, &sha))
            .await
            .expect_err("the checksum of the whole stream");
    assert!(matches!(error, RestoreError::ChecksumMismatch { .. }), "{error}");
    assert!(!other.exists(), "nothing restored");
    assert_eq!(files_in(place.path()), ["restore-here"], "no staging folder left");
}

/// The archive with bytes after its end, which neither zstd nor tar reads.
fn archive_with_tail(archive: &[u8]) -> Vec<u8> {
    let mut tailed = archive.to_vec();
    tailed.extend_from_slice(&[0u8; 1024]);
    tailed
}

#[tokio::test]
async fn path_escaping_entries_are_refused_and_nothing_is_left() {
    let place = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, Vec<u8>); 4] = [
        ("dot-dot", tar_zst(&[("ok.txt", b"fine"), ("../escaped.txt", b"evil")], &[])),
        ("absolute", tar_zst(&[("ok.txt", b"fine"), ("/tmp/devpilot-escaped.txt", b"evil")], &[])),
        ("symlink out", tar_zst(&[("ok.txt", b"fine")], &[("out", "../")])),
        ("through a symlink", tar_zst(&[("ok.txt", b"fine"), ("inner/x", b"evil")], &[("inner", ".")])),
    ];
    for (name, archive) in cases {
        let target = place.path().join(name.replace(' ', "-"));
        let error =
            restore::into_directory(stream_of(archive), &place_at(&target), Arc::default(), restore::open_gate())
                .await
                .expect_err(name);
        assert!(matches!(error, RestoreError::Archive(_)), "{name}: {error}");
        assert_eq!(files_in(&target), Vec::<String>::new(), "{name}: the folder is emptied again");
    }
    assert_eq!(files_in(place.path()), Vec::<String>::new(), "nothing landed beside the folders, no staging left");
    assert!(!Path::new("/tmp/devpilot-escaped.txt").exists());
}

#[tokio::test]
async fn verify_catches_a_wrong_checksum_before_anything_is_written() {
    let archive = tar_zst(&[("a.txt", b"alpha")], &[]);
    let (stream, digest) = Digesting::new(stream_of(archive.clone()));
    collect(stream).await.expect("read");
    let (sha, size) = digest.finish();
    assert_eq!(size, archive.len() as u64);
    let mut damaged = archive.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    let error = restore::verify(stream_of(damaged), &sha).await.expect_err("damaged");
    assert!(matches!(error, RestoreError::ChecksumMismatch { .. }), "{error}");
    let failing: ByteStream =
        futures::stream::iter(vec![Ok(Bytes::from_static(b"x")), Err(std::io::Error::other("connection reset"))])
            .boxed();
    let error = restore::verify(failing, &sha).await.expect_err("read error");
    assert!(error.to_string().contains("connection reset"), "{error}");
}

/// Every file, folder and symlink below `root` with its contents or target, in path order.
pub fn tree(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).expect("read folder") {
            let path = entry.expect("entry").path();
            let name = path.strip_prefix(root).expect("inside").to_string_lossy().into_owned();
            let kind = std::fs::symlink_metadata(&path).expect("metadata").file_type();
            if kind.is_symlink() {
                out.push((name, format!("-> {}", std::fs::read_link(&path).expect("link").display())));
            } else if kind.is_dir() {
                out.push((name, "dir".into()));
                pending.push(path);
            } else {
                out.push((name, hex::encode(std::fs::read(&path).expect("file"))));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_directory_archived_by_the_tar_builder_comes_back_identical() {
    let place = tempfile::tempdir().expect("tempdir");
    let source = place.path().join("source");
    let deep = source.join("a-rather-long-folder-name-".repeat(4)).join("ünïcödé 文件夹");
    std::fs::create_dir_all(&deep).expect("deep folder");
    std::fs::create_dir_all(source.join("empty")).expect("empty folder");
    std::fs::write(deep.join("x".repeat(120) + ".txt"), "long name").expect("long file");
    std::fs::write(source.join("data.bin"), (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect::<Vec<u8>>())
        .expect("data");
    std::os::unix::fs::symlink("data.bin", source.join("alias")).expect("symlink");

    let mut builder = tar::Builder::new(zstd::Encoder::new(Vec::new(), 3).expect("zstd"));
    builder.follow_symlinks(false);
    builder.append_dir_all(".", &source).expect("archive");
    let archive = builder.into_inner().expect("tar").finish().expect("zstd");

    let target = place.path().join("restored");
    std::fs::create_dir(&target).expect("empty target");
    restore::into_directory(stream_of(archive), &place_at(&target), Arc::default(), restore::open_gate())
        .await
        .expect("restore");
    assert_eq!(tree(&target), tree(&source));
}

/// Against the PostgreSQL that checks passwords (scram-sha-256), which `scripts/test` starts.
#[tokio::test]
async fn a_wrong_password_is_refused_by_a_server_that_checks_it() {
    let url = std::env::var("DEVPILOT_TEST_PG_SCRAM").expect("DEVPILOT_TEST_PG_SCRAM: run the tests with scripts/test");
    let right = checked(&url).await.expect("the right password connects");
    let dumped =
        collect(tools::dump(&right).expect("pg_dump starts")).await.expect("pg_dump with the password from PGPASSWORD");
    assert!(dumped.starts_with(b"PGDMP"), "a custom-format dump");

    let password = url::Url::parse(&url).expect("url").password().unwrap_or_default().to_owned();
    let wrong_password = "not-the-password-0123";
    let mut wrong_url = url::Url::parse(&url).expect("url");
    wrong_url.set_password(Some(wrong_password)).expect("a URL with a host");
    let error = checked(wrong_url.as_str()).await.expect_err("a wrong password is refused");
    let wrong = unchecked(wrong_url.as_str());
    assert!(matches!(error, PostgresError::Authentication { .. }), "{error:?}");
    assert!(error.to_string().contains("authentication failed"), "{error}");
    let dump_error = collect(tools::dump(&wrong).expect("pg_dump starts")).await.expect_err("pg_dump must fail");
    for message in [error.to_string(), dump_error.to_string(), format!("{wrong:?}")] {
        assert!(!message.contains(wrong_password) && !message.contains(&password), "password leaked: {message}");
    }
}

/// The machine's PostgreSQL has TLS on with a self-signed certificate: `require` encrypts without
/// verifying (the check and pg_dump alike), `verify-full` refuses a certificate nobody vouches for.
#[tokio::test]
async fn sslmode_means_what_libpq_says() {
    let db = ScratchDb::new();
    for mode in ["disable", "prefer", "require"] {
        let source = checked(&format!("{}?sslmode={mode}", db.url())).await.unwrap_or_else(|e| panic!("{mode}: {e}"));
        let dumped = collect(tools::dump(&source).expect("pg_dump starts")).await.expect("pg_dump");
        assert!(dumped.starts_with(b"PGDMP"), "{mode}");
    }
    let error = checked(&format!("{}?sslmode=verify-full", db.url())).await.expect_err("self-signed");
    assert!(matches!(error, PostgresError::Connect { .. }) && error.to_string().contains("TLS failed"), "{error}");
}
