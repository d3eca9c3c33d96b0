//! A folder restore streams the artifact straight into a staging folder (download, checksum,
//! decryption and unpacking overlap) and puts it in place only once the whole artifact's SHA-256
//! matched the run's record. Bytes appended after the archive's end — which tar and zstd never
//! read — still fail the checksum, and nothing appears at the target or beside it. A restore into
//! a new PostgreSQL or MariaDB database streams into the restoring tool the same way when the
//! artifact is encrypted (only authenticated bytes reach the tool), and the database is dropped
//! again when the checksum does not match; a plain one is checked whole first, and no database is
//! made for bytes that do not match.

use crate::artifacts::ScratchDb;
use crate::helpers::Backend;
use crate::on_both_backends;
use crate::plans::fixture;
use crate::runs::{fill, settled};
use std::path::Path;

on_both_backends!(
    a_streamed_restore_is_put_in_place_only_once_its_checksum_matched,
    a_new_database_is_kept_only_once_its_checksum_matched
);

/// What `folder` holds (its names only).
fn names_in(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .expect("read the folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn a_streamed_restore_is_put_in_place_only_once_its_checksum_matched(backend: Backend) {
    let f = fixture(backend).await;
    let app = &f.app;
    fill(f.source.path());
    let place = tempfile::tempdir().expect("restore place");
    app.grant_folder(place.path(), "read_write").await;
    for (name, encrypt) in [("Plain", false), ("Sealed", true)] {
        // A checkbox that is not ticked is not sent at all.
        let form: &[(&str, &str)] = if encrypt { &[("encrypt", "on")] } else { &[] };
        assert_eq!(f.save_plan("/plans", name, form).await.status, 303, "{name}");
        let plan = crate::plans::plan(app, name).await.id;
        let count = crate::runs::run_rows(app).await.len() + 1;
        assert_eq!(app.post(&format!("/plans/{plan}/run"), &[]).await.status, 303);
        let run = settled(app, count).await.into_iter().rfind(|r| r.plan_id == plan).expect("the run");
        assert_eq!(run.status, "succeeded", "{name}: {run:?}");
        let artifact = f.target_path().join(run.object_key.as_deref().expect("the artifact's key"));

        // Whole and matching: restored, read from the primary.
        let into = place.path().join(format!("{name}-good"));
        let page = app.post(&format!("/runs/{}/restore", run.id), &[("target", &into.to_string_lossy())]).await;
        assert_eq!(page.status, 200, "{name}: {}", page.body);
        assert!(page.body.contains("the checksum matched"), "{name}: {}", page.body);
        assert_eq!(crate::artifacts::tree(&into), crate::artifacts::tree(f.source.path()), "{name}");

        // Bytes appended after the archive: the unpacking is done before it meets them, but the
        // artifact is read to its end and its checksum refuses it.
        let mut bytes = std::fs::read(&artifact).expect("the artifact");
        bytes.extend_from_slice(&[0x5a; 4096]);
        std::fs::write(&artifact, &bytes).expect("append to the artifact");
        let into = place.path().join(format!("{name}-appended"));
        let page = app.post(&format!("/runs/{}/restore", run.id), &[("target", &into.to_string_lossy())]).await;
        assert_eq!(page.status, 422, "{name}: {}", page.body);
        assert!(page.body.contains("checksum mismatch"), "{name}: {}", page.body);
        assert!(!into.exists(), "{name}: nothing restored from bytes that do not match");

        // A byte flipped inside: the archive (or its decryption) fails part-way; the copy is read
        // again whole, and the answer is the checksum's.
        bytes.truncate(bytes.len() - 4096);
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&artifact, &bytes).expect("flip a byte");
        let page = app.post(&format!("/runs/{}/restore", run.id), &[("target", &into.to_string_lossy())]).await;
        assert_eq!(page.status, 422, "{name}: {}", page.body);
        assert!(page.body.contains("checksum mismatch"), "{name}: {}", page.body);
        assert!(!into.exists(), "{name}: nothing restored from a damaged artifact");
    }
    // Only the two good restores: no staging folder was left beside them.
    assert_eq!(names_in(place.path()), ["Plain-good", "Sealed-good"]);
}

/// A database engine's side of the new-database test.
struct Engine {
    kind: &'static str,
    source_url: String,
    /// The URL of the database `name` on the source's server.
    url_of: Box<dyn Fn(&str) -> String>,
    exists: fn(&str) -> bool,
    /// What a database holds, to compare with the source.
    content: fn(&str) -> String,
    drop: fn(&str),
}

async fn a_new_database_is_kept_only_once_its_checksum_matched(backend: Backend) {
    let f = fixture(backend).await;
    let source = crate::api_database_restores::shop(&f).await;
    let postgres = Engine {
        kind: "postgres",
        source_url: source.url(),
        url_of: Box::new(|name| format!("{}/{name}", crate::helpers::postgres_base_url())),
        exists: crate::api_database_restores::database_exists,
        content: |name| {
            let url = format!("{}/{name}", crate::helpers::postgres_base_url());
            let mut connection = <diesel::PgConnection as diesel::Connection>::establish(&url).expect(name);
            format!("{:?}", crate::artifacts::rows(&mut connection, "people"))
        },
        // A scratch database drops its database as it goes.
        drop: |name| drop(ScratchDb::adopt(name)),
    };
    kept_only_once_matched(&f, &postgres, source.name()).await;

    crate::mariadb_sources::grant_server(&f.app).await;
    let (_, _, root_password) = crate::mariadb_sources::server();
    let shop = format!("dp_streamed_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    crate::mariadb_sources::sql(None, &format!("CREATE DATABASE {shop}"));
    crate::mariadb_sources::sql(
        Some(&shop),
        "CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(64)) ENGINE=InnoDB; \
         INSERT INTO people VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Linus')",
    );
    let password = root_password.clone();
    let mariadb = Engine {
        kind: "mariadb",
        source_url: crate::mariadb_sources::url_of("root", &root_password, &shop),
        url_of: Box::new(move |name| crate::mariadb_sources::url_of("root", &password, name)),
        exists: |name| {
            let sql = format!("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'");
            crate::mariadb_sources::sql(None, &sql).trim() == "1"
        },
        content: |name| crate::mariadb_sources::sql(Some(name), "SELECT id, name FROM people ORDER BY id"),
        drop: |name| drop(crate::mariadb_sources::sql(None, &format!("DROP DATABASE IF EXISTS {name}"))),
    };
    kept_only_once_matched(&f, &mariadb, &shop).await;
    (mariadb.drop)(&shop);
}

/// Plain and sealed backups of `engine`'s source (the database `source`), each restored into a
/// new database whole, then served damaged: nothing of them is kept.
async fn kept_only_once_matched(f: &crate::plans::Fixture, engine: &Engine, source: &str) {
    let app = &f.app;
    let original = (engine.content)(source);
    for (plain, encrypt) in [("Plain", false), ("Sealed", true)] {
        let name = format!("{plain} {}", engine.kind);
        let mut form = vec![("source_kind", engine.kind), ("source_url", engine.source_url.as_str())];
        if encrypt {
            form.push(("encrypt", "on"));
        }
        assert_eq!(f.save_plan("/plans", &name, &form).await.status, 303, "{name}");
        let plan = crate::plans::plan(app, &name).await.id;
        let run = run_of(app, &plan).await;
        assert_eq!(run.status, "succeeded", "{name}: {run:?}");
        let artifact = f.target_path().join(run.object_key.as_deref().expect("the artifact's key"));
        let restore = Restore { app, engine, path: format!("/runs/{}/restore", run.id), artifact: &artifact };

        let good = new_name();
        let page = restore.new_database(&good).await;
        assert_eq!(page.status, 200, "{name}: {}", page.body);
        assert!(page.body.contains("the checksum matched"), "{name}: {}", page.body);
        assert_eq!((engine.content)(&good), original, "{name}: row for row");
        (engine.drop)(&good);

        // What a damaged artifact is told by: a plain one is checked whole before any database is
        // made; a sealed one streams, and its decryption meets the damage first.
        let damaged = match encrypt {
            true => "the encrypted artifact is damaged, truncated or was encrypted with another key",
            false => "checksum mismatch",
        };
        let whole = std::fs::read(&artifact).expect("the artifact");
        // Bytes appended after the dump's end, which the tool does not need.
        let mut appended = whole.clone();
        appended.extend_from_slice(&[0x5a; 4096]);
        restore.refused(&appended, damaged, &format!("{name}, appended")).await;
        // A byte flipped inside.
        let mut flipped = whole.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0xff;
        restore.refused(&flipped, damaged, &format!("{name}, flipped")).await;
        if encrypt {
            // Another backup of the same workspace in its place: it decrypts, so the tool restores
            // it as it streams, and only the checksum refuses it — the new database goes again.
            let other = run_of(app, &plan).await;
            let other = f.target_path().join(other.object_key.as_deref().expect("the other artifact's key"));
            let substitute = std::fs::read(other).expect("the other artifact");
            restore.refused(&substitute, "checksum mismatch", &format!("{name}, another backup")).await;
        }
        std::fs::write(&artifact, &whole).expect("put the artifact back");
    }
}

/// Runs the plan now and waits for its run to end.
async fn run_of(app: &crate::helpers::TestApp, plan: &str) -> crate::runs::RunRow {
    let count = crate::runs::run_rows(app).await.len() + 1;
    assert_eq!(app.post(&format!("/plans/{plan}/run"), &[]).await.status, 303);
    settled(app, count).await.into_iter().rfind(|r| r.plan_id == plan).expect("the run")
}

fn new_name() -> String {
    format!("dp_streamed_{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// A run's restore into new databases of `engine`'s server, its artifact at `artifact`.
struct Restore<'a> {
    app: &'a crate::helpers::TestApp,
    engine: &'a Engine,
    path: String,
    artifact: &'a Path,
}

impl Restore<'_> {
    async fn new_database(&self, database: &str) -> crate::helpers::Page {
        let url = (self.engine.url_of)(database);
        self.app.post(&self.path, &[("target", url.as_str()), ("into", "new")]).await
    }

    /// Serves `bytes` as the artifact: the restore is refused with `says`, and the new database
    /// it was to fill does not exist.
    async fn refused(&self, bytes: &[u8], says: &str, what: &str) {
        std::fs::write(self.artifact, bytes).expect("serve the bytes");
        let database = new_name();
        let page = self.new_database(&database).await;
        assert_eq!(page.status, 422, "{what}: {}", page.body);
        assert!(page.body.contains(says), "{what}: {}", page.body);
        assert!(!(self.engine.exists)(&database), "{what}: the new database went");
        (self.engine.drop)(&database);
    }
}
