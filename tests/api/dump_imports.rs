//! Importing a dump into PostgreSQL at 127.0.0.1:5432 through the runner's pieces (the database
//! API's `import` and `restore-from-path` call them): `pg_dump`'s plain SQL and custom format,
//! gzip- and zstd-compressed, from a file in a granted folder and from an upload, row for row. A
//! hostile tenant's paths (not granted, `..`, links to Devpilot's data folder and database, a
//! folder), files that are not dumps, SQL that fails or calls psql's shell: each refused with a
//! clear message, nothing created, an existing database as it was. An upload over the limit is
//! 413 and leaves no file.

use crate::artifacts::{ScratchDb, rows};
use crate::helpers::{Backend, TestApp, postgres_base_url, spawn_with, test_settings};
use devpilot::artifacts::postgres::import::{Compression, DumpFormat};
use devpilot::config::{AllowedPaths, ProviderSettings};
use devpilot::crypto::{CredentialCipher, MasterKey};
use devpilot::destinations::service::DestinationService;
use devpilot::grants::{DatabaseServer, GrantService};
use devpilot::hostfs::DevpilotFiles;
use devpilot::hostfs::private::PrivateTemp;
use devpilot::providers::ProviderContext;
use devpilot::runs::imports::{DumpSource, ImportError, Imported};
use devpilot::runs::runner::Runner;
use diesel::RunQueryDsl;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A workspace granted `root/granted` and `root/srv` (which holds Devpilot's data folder) for
/// reading and the PostgreSQL server at 127.0.0.1:5432; the runner as the server builds it.
struct Machine {
    root: tempfile::TempDir,
    app: TestApp,
    runner: Runner,
    workspace: String,
}

impl Machine {
    fn at(&self, path: &str) -> PathBuf {
        self.root.path().join(path)
    }

    fn data(&self) -> &Path {
        self.app.data_dir.path()
    }

    /// Imports `source` into the new database `name` (or the existing one).
    async fn import(&self, source: DumpSource, name: &str, into: &str) -> Result<Imported, ImportError> {
        let url = format!("{}/{name}", postgres_base_url());
        let target = self.runner.database_target(&self.workspace, &url, into, name).await.expect("a target");
        self.runner.import_dump(&self.workspace, source, &target).await
    }

    async fn import_file(&self, path: &Path, name: &str) -> Result<Imported, ImportError> {
        self.import(DumpSource::HostFile(path.to_string_lossy().into_owned()), name, "new").await
    }
}

async fn machine() -> Machine {
    let root = tempfile::tempdir().expect("root");
    for folder in ["srv", "granted/sub", "outside"] {
        std::fs::create_dir_all(root.path().join(folder)).expect("mkdir");
    }
    let (mut settings, _unused, pg) = test_settings(Backend::Sqlite);
    let data = tempfile::TempDir::new_in(root.path().join("srv")).expect("data folder");
    settings.database_url = format!("sqlite://{}/devpilot.db", data.path().display());
    settings.data_dir = data.path().to_path_buf();
    settings.local_backup_dir = data.path().join("backups");
    let app = spawn_with(settings, data, pg).await;
    app.setup_admin().await;
    app.grant_folder(&root.path().join("granted"), "read").await;
    app.grant_folder(&root.path().join("srv"), "read").await;
    let workspace = app.workspace_id("Acme").await;
    let server = DatabaseServer::Tcp { host: "127.0.0.1".into(), port: 5432 };
    crate::database_grants::grant_database(&app, &workspace, server).await;
    let runner = runner(&app);
    Machine { root, app, runner, workspace }
}

/// The runner on the test server's database and data folder, built as the server builds it.
fn runner(app: &TestApp) -> Runner {
    let db = app.db();
    let cipher = Arc::new(CredentialCipher::new(MasterKey::from_base64(&app.master_key).expect("the key")));
    let data = app.data_dir.path();
    let database = devpilot::db::sqlite_file(&app.database_url);
    let own = DevpilotFiles::new(data, &data.join("backups"), &data.join("master.key"), database.as_deref());
    let grants = GrantService::new(db.clone(), Arc::new(own), AllowedPaths::default(), data.join("backups"));
    let providers = ProviderContext::new(ProviderSettings::default(), data.join("backups")).expect("providers");
    let instance: Arc<str> = Arc::from("dump-imports");
    let destinations = DestinationService::new(db.clone(), cipher.clone(), providers, grants.clone(), instance.clone());
    Runner::new(db, destinations, cipher, grants, data.to_path_buf(), instance)
}

/// A database of people to dump.
fn shop() -> ScratchDb {
    let source = ScratchDb::new();
    let mut connection = source.connect();
    for statement in [
        "CREATE TABLE people (id serial PRIMARY KEY, name text NOT NULL, note text)",
        "INSERT INTO people (name, note) VALUES ('Ada', E'tab\\there'), ('Grace', NULL), ('Linus', '\\restrict x')",
    ] {
        diesel::sql_query(statement).execute(&mut connection).expect(statement);
    }
    source
}

/// `pg_dump` of `db` in `format` (`plain` or `custom`).
fn pg_dump(db: &ScratchDb, format: &str) -> Vec<u8> {
    let output = std::process::Command::new("pg_dump")
        .args([&format!("--format={format}"), "--no-owner", "--dbname", &db.url()])
        .output()
        .expect("pg_dump runs");
    assert!(output.status.success(), "pg_dump: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

fn new_name() -> String {
    format!("devpilot_import_{}", uuid::Uuid::new_v4().simple())
}

fn exists(name: &str) -> bool {
    <diesel::PgConnection as diesel::Connection>::establish(&format!("{}/{name}", postgres_base_url())).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_and_custom_dumps_are_imported_row_for_row() {
    let m = machine().await;
    let source = shop();
    let original = rows(&mut source.connect(), "people");
    let plain = pg_dump(&source, "plain");
    let custom = pg_dump(&source, "custom");
    assert!(String::from_utf8_lossy(&plain).contains("\\restrict "), "pg_dump restricts its own output");
    std::fs::write(m.at("granted/shop.sql"), &plain).expect("write");
    std::fs::write(m.at("granted/sub/shop.sql.gz"), gzip(&plain)).expect("write");
    std::fs::write(m.at("granted/shop.dump.zst"), zstd::encode_all(&custom[..], 3).expect("zstd")).expect("write");

    let cases = [
        ("granted/shop.sql", DumpFormat::PlainSql, None),
        ("granted/sub/../sub/shop.sql.gz", DumpFormat::PlainSql, Some(Compression::Gzip)),
        ("granted/shop.dump.zst", DumpFormat::Custom, Some(Compression::Zstd)),
    ];
    for (path, format, compression) in cases {
        let name = new_name();
        let imported = ScratchDb::adopt(&name);
        let outcome = m.import_file(&m.at(path), &name).await.unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(outcome, Imported { format, compression }, "{path}");
        assert_eq!(rows(&mut imported.connect(), "people"), original, "{path}: row for row");
    }

    // An upload, kept in Devpilot's private temporary folder; into a new database, then over it.
    let name = new_name();
    let imported = ScratchDb::adopt(&name);
    let folder = PrivateTemp::create(m.data()).expect("private folder");
    let (upload, mut file) = folder.new_file("upload").expect("file");
    file.write_all(&custom).expect("write");
    let outcome = m.import(DumpSource::Upload(upload.clone()), &name, "new").await.expect("custom upload");
    assert_eq!(outcome.format, DumpFormat::Custom);
    diesel::sql_query("DELETE FROM people").execute(&mut imported.connect()).expect("empty the copy");
    m.import(DumpSource::Upload(upload), &name, "existing").await.expect("over the existing database");
    assert_eq!(rows(&mut imported.connect(), "people"), original, "replaced");

    // Only an upload where uploads are kept is read as one.
    let elsewhere = m.at("granted/shop.sql");
    let refused = m.import(DumpSource::Upload(elsewhere), &new_name(), "new").await.expect_err("not an upload");
    assert!(matches!(refused, ImportError::Internal(_)), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_tenants_paths_are_refused_before_anything_is_read() {
    let m = machine().await;
    std::fs::write(m.at("outside/shop.sql"), b"CREATE TABLE stolen (id int);").expect("write");
    std::fs::write(m.data().join("master.key"), b"the key").expect("key");
    symlink(m.data(), m.at("granted/data")).expect("symlink");
    symlink(m.data().join("master.key"), m.at("granted/key.sql")).expect("symlink");
    symlink(m.at("outside/shop.sql"), m.at("granted/escape.sql")).expect("symlink");
    let database = m.data().join("devpilot.db").to_string_lossy().into_owned();
    let shown = |path: &str| m.at(path).to_string_lossy().into_owned();
    for (path, words) in [
        (shown("outside/shop.sql"), "not granted to this workspace"),
        (shown("granted/../outside/shop.sql"), "not granted to this workspace"),
        (shown("granted/escape.sql"), "a symbolic link leads out of the granted folder"),
        (shown("granted/key.sql"), "Devpilot's master key file"),
        (shown("granted/data/devpilot.db"), "Devpilot's data folder"),
        (database, "Devpilot's data folder"),
        (shown("granted"), "is a folder; name the dump file in it"),
        (shown("granted/sub"), "is not a regular file"),
        (shown("granted/missing.sql"), "does not exist"),
        ("granted/shop.sql".to_owned(), "not an absolute path"),
        ("/etc/passwd".to_owned(), "not granted to this workspace"),
    ] {
        let name = new_name();
        let _cleanup = ScratchDb::adopt(&name);
        let refused = m.import(DumpSource::HostFile(path.clone()), &name, "new").await.expect_err(&path);
        assert!(matches!(&refused, ImportError::Path(m) if m.contains(words)), "{path}: {refused:?}");
        assert!(!exists(&name), "{path}: no database was made");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_not_a_dump_or_fails_leaves_nothing_behind() {
    let m = machine().await;
    let marker = m.at("outside/shell-ran");
    let files: [(&str, Vec<u8>, &str); 6] = [
        ("readme.txt", b"Hello! This folder holds our backups.\n".to_vec(), "does not start with an SQL statement"),
        ("image.png", vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0], "neither a pg_dump"),
        ("empty.sql", Vec::new(), "it is empty"),
        ("failing.sql", b"CREATE TABLE a (id int);\nSELECT * FROM no_such_table;\n".to_vec(), "no_such_table"),
        (
            "shell.sql",
            format!("CREATE TABLE a (id int);\n\\! touch {}\n", marker.display()).into_bytes(),
            "backslash commands are restricted",
        ),
        ("cut.dump", b"PGDMP\x01\x0f\x00\x04\x08\x01\x01\x00\x00".to_vec(), "pg_restore failed"),
    ];
    for (file, bytes, words) in files {
        std::fs::write(m.at("granted").join(file), &bytes).expect("write");
        let name = new_name();
        let _cleanup = ScratchDb::adopt(&name);
        let refused = m.import_file(&m.at("granted").join(file), &name).await.expect_err(file);
        assert!(refused.to_string().contains(words), "{file}: {refused}");
        let ran = matches!(refused, ImportError::Failed(_));
        assert!(!ran || refused.to_string().contains("the new database was removed"), "{file}: {refused}");
        assert!(!exists(&name), "{file}: no database is left");
    }
    assert!(!marker.exists(), "psql ran no shell command");

    // Into an existing database: a statement that fails undoes the ones before it.
    let existing = ScratchDb::new();
    diesel::connection::SimpleConnection::batch_execute(
        &mut existing.connect(),
        "CREATE TABLE keep (id int); INSERT INTO keep VALUES (1)",
    )
    .expect("fill");
    std::fs::write(m.at("granted/partial.sql"), b"INSERT INTO keep VALUES (2);\nSELECT 1/0;\n").expect("write");
    let source = DumpSource::HostFile(m.at("granted/partial.sql").to_string_lossy().into_owned());
    let refused = m.import(source, existing.name(), "existing").await.expect_err("division by zero");
    assert!(refused.to_string().contains("division by zero"), "{refused}");
    assert_eq!(rows(&mut existing.connect(), "keep"), ["{\"id\":1}"], "nothing of the failed import stayed");
}

#[actix_web::test]
async fn an_upload_over_the_limit_is_413_and_leaves_no_file() {
    use actix_web::{App, HttpRequest, HttpResponse, test, web};
    use devpilot::api::error::ApiError;
    use devpilot::web::upload::{UploadLimits, receive};
    let data = tempfile::tempdir().expect("data");
    std::fs::create_dir(data.path().join("tmp")).expect("tmp");
    async fn save(
        req: HttpRequest,
        body: web::Payload,
        limits: web::Data<UploadLimits>,
    ) -> Result<HttpResponse, ApiError> {
        let upload = receive(&req, body, &limits).await?;
        Ok(HttpResponse::Ok().body(std::fs::read(upload.path()).expect("saved")))
    }
    let limits = web::Data::new(UploadLimits::new(data.path().to_path_buf(), 1024));
    let app = test::init_service(App::new().app_data(limits).route("/upload", web::post().to(save))).await;
    let post = |content_type: &str, body: Vec<u8>| {
        test::TestRequest::post().uri("/upload").insert_header(("content-type", content_type)).set_payload(body)
    };

    let saved = test::call_service(&app, post("application/sql", b"select 1;".to_vec()).to_request()).await;
    assert_eq!(saved.status(), 200);
    assert_eq!(test::read_body(saved).await, &b"select 1;"[..]);
    let over = test::call_service(&app, post("application/octet-stream", vec![b'x'; 2048]).to_request()).await;
    assert_eq!(over.status(), 413);
    let body: serde_json::Value = test::read_body_json(over).await;
    assert_eq!(body["error"], "Payload Too Large");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("1.0 KiB")), "{body}");
    let json = test::call_service(&app, post("application/json", b"{}".to_vec()).to_request()).await;
    assert_eq!(json.status(), 415);
    assert_eq!(std::fs::read_dir(data.path().join("tmp")).expect("tmp").count(), 0, "no upload is left");
}
