//! Recovery without Devpilot: an encrypted artifact downloaded through the run's Download, the
//! workspace's recovery key exported by its owner (password again, shown once, audited, never in
//! logs or later pages), then `devpilot recover` run as its own process with a fresh HOME, no
//! DEVPILOT_* variable and a bare working folder: byte-identical files; a wrong key, a flipped
//! byte, a cut file and a file that is no artifact each refused with its own message.

use crate::helpers::{Backend, TestApp, captured_logs, csrf_from};
use crate::plans::{fixture, plan};
use crate::runs::{fill, settled};
use devpilot::artifacts::{encryption, recovery_key};
use secrecy::ExposeSecret;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `devpilot recover ARGS` where Devpilot was never set up: its own HOME, no variables but
/// PATH, in `work`; `stdin` is fed to it.
fn recover(work: &Path, args: &[&str], stdin: &str) -> Output {
    let home = tempfile::tempdir().expect("home");
    let mut child = Command::new(env!("CARGO_BIN_EXE_devpilot"))
        .arg("recover")
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("devpilot recover starts");
    use std::io::Write;
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("stdin");
    let output = child.wait_with_output().expect("devpilot recover ends");
    assert!(!home.path().join(".devpilot").exists() && std::fs::read_dir(home.path()).expect("home").next().is_none());
    output
}

/// Runs the Python decoder that docs/ARTIFACT_FORMAT.md prints on `artifact` in `work` (with
/// `recovery-key.txt` there), as a reader without Devpilot would: the page's program, verbatim.
fn documented_python_decoder(work: &Path, artifact: &str) -> Output {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ARTIFACT_FORMAT.md")).expect("page");
    let program = page.split("```python\n").nth(1).and_then(|rest| rest.split("```").next()).expect("the program");
    std::fs::write(work.join("dpbe.py"), program).expect("write");
    let python = std::env::var("DEVPILOT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    Command::new(python)
        .args(["dpbe.py", "recovery-key.txt", artifact])
        .current_dir(work)
        .output()
        .expect("python runs")
}

fn said(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Backs the fixture's source up through an encrypted plan of `kind` and downloads the artifact
/// through the run's Download link: (bytes, recorded SHA-256).
async fn encrypted_backup(
    app: &TestApp,
    save: impl std::future::Future<Output = crate::helpers::Page>,
    name: &str,
) -> (Vec<u8>, String, String) {
    let saved = save.await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let id = plan(app, name).await.id;
    assert_eq!(app.post(&format!("/plans/{id}/run"), &[]).await.status, 303);
    let runs = settled(app, 1).await;
    let run = runs.iter().find(|r| r.plan_id == id).expect("the run");
    assert_eq!(run.status, "succeeded", "{run:?}");
    assert!(run.object_key.as_deref().is_some_and(|k| k.ends_with(".dpbe")), "{run:?}");
    let response = app.client.get(app.url(&format!("/runs/{}/download", run.id))).send().await.expect("download");
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.expect("body").to_vec();
    assert_eq!(&bytes[..4], b"DPBE", "the download is the encrypted artifact");
    let sha = run.sha256.clone().expect("sha");
    assert_eq!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)), sha);
    (bytes, sha, run.id.clone())
}

/// The owner's export: wrong password refused next to the field, then the key, shown once.
async fn export_key(app: &TestApp) -> String {
    let form = app.get("/workspace/recovery-key").await;
    assert_eq!(form.status, 200);
    assert!(!form.body.contains(&format!("<code>{}", recovery_key::PREFIX)), "nothing is shown before the password");
    let wrong = app.post("/workspace/recovery-key", &[("password", "not my password")]).await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.body.contains("field-error") && wrong.body.contains("This is not your password."), "{}", wrong.body);
    let token = csrf_from(&form.body);
    let response = app
        .client
        .post(app.url("/workspace/recovery-key"))
        .form(&[("password", crate::helpers::ADMIN_PASSWORD), ("csrf_token", &token)])
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let body = response.text().await.expect("body");
    let start = body.find(&format!("<code>{}", recovery_key::PREFIX)).expect("the key is shown") + "<code>".len();
    let key = body[start..].split('<').next().expect("key").to_owned();
    recovery_key::decode(&key).expect("the shown key decodes");
    key
}

/// A database backed up through an encrypted plan of `fields`, its artifact downloaded as `artifact`
/// beside the exported key in a new work folder, and `devpilot recover --sha256` run on it into
/// `out`: (the work folder, the artifact's size, what recover said), once it succeeded.
async fn recovered_database(
    f: &crate::plans::Fixture,
    name: &str,
    fields: &[(&str, &str)],
    artifact: &str,
    out: &str,
) -> (tempfile::TempDir, usize, String) {
    let (bytes, sha, _) = encrypted_backup(&f.app, f.save_plan("/plans", name, fields), name).await;
    let key = export_key(&f.app).await;
    let work = tempfile::tempdir().expect("work");
    std::fs::write(work.path().join(artifact), &bytes).expect("artifact");
    std::fs::write(work.path().join("key"), &key).expect("key");
    let done = recover(work.path(), &["--key-file", "key", "--sha256", &sha, artifact, "--out", out], "");
    assert!(done.status.success(), "{}", said(&done));
    (work, bytes.len(), said(&done))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_folder_is_recovered_by_devpilot_recover_alone() {
    let f = fixture(Backend::Sqlite).await;
    fill(f.source.path());
    std::fs::write(f.source.path().join("nested/ünïcode name.txt"), "ü\n").expect("write");
    // Incompressible bytes, so the artifact has many 64 KiB segments and a flipped byte in its
    // middle lands after the first (where only --sha256 can tell damage from a wrong key).
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..400_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    std::fs::write(f.source.path().join("random.bin"), noise).expect("write");
    let (artifact, sha, _) =
        encrypted_backup(&f.app, f.save_plan("/plans", "Sealed files", &[("encrypt", "on")]), "Sealed files").await;
    let key = export_key(&f.app).await;

    // Audited (who and when), never the key: not in the audit page, logs or later pages.
    let audit = f.app.get("/audit").await.body;
    assert!(audit.contains("Exported the recovery key") && audit.contains(crate::helpers::ADMIN_EMAIL), "{audit}");
    for page in ["/audit", "/workspace/recovery-key", "/overview", "/runs"] {
        assert!(!f.app.get(page).await.body.contains(&key), "{page} shows the key");
    }
    assert!(!captured_logs().contains(&key[recovery_key::PREFIX.len()..]), "the key is in the logs");

    let work = tempfile::tempdir().expect("work");
    std::fs::write(work.path().join("artifact.tar.zst.dpbe"), &artifact).expect("artifact");
    std::fs::write(work.path().join("recovery-key.txt"), format!("{key}\n")).expect("key file");
    let done = recover(
        work.path(),
        &["--key-file", "recovery-key.txt", "--sha256", &sha, "artifact.tar.zst.dpbe", "--out", "restored"],
        "",
    );
    assert!(done.status.success(), "{}", said(&done));
    assert!(said(&done).contains("SHA-256 matched"), "{}", said(&done));
    assert_eq!(crate::artifacts::tree(&work.path().join("restored")), crate::artifacts::tree(f.source.path()));

    // With standard tools only: the Python decoder docs/ARTIFACT_FORMAT.md prints (on the
    // `cryptography` package), then zstd and tar; Devpilot's manifest is the one extra file.
    let by_hand = documented_python_decoder(work.path(), "artifact.tar.zst.dpbe");
    assert!(by_hand.status.success(), "{}", said(&by_hand));
    let unpacked = work.path().join("by-hand");
    tar::Archive::new(zstd::Decoder::new(&by_hand.stdout[..]).expect("zstd")).unpack(&unpacked).expect("tar -x");
    std::fs::remove_dir_all(unpacked.join(".devpilot")).expect("the manifest");
    assert_eq!(crate::artifacts::tree(&unpacked), crate::artifacts::tree(f.source.path()));

    // The key on standard input works as well.
    let piped = recover(work.path(), &["artifact.tar.zst.dpbe", "--out", "from-stdin"], &key);
    assert!(piped.status.success(), "{}", said(&piped));
    assert_eq!(crate::artifacts::tree(&work.path().join("from-stdin")), crate::artifacts::tree(f.source.path()));

    // Another workspace's key: refused as a wrong key, nothing written.
    let other = recovery_key::encode(&encryption::generate_key());
    let wrong = recover(work.path(), &["artifact.tar.zst.dpbe", "--out", "wrong-key"], other.expose_secret());
    assert_eq!(wrong.status.code(), Some(1), "{}", said(&wrong));
    assert!(said(&wrong).contains("the key does not open this artifact"), "{}", said(&wrong));
    assert!(!work.path().join("wrong-key").exists());

    // A mistyped key: its checksum says so.
    let mut typo = key.clone().into_bytes();
    let at = typo.len() - 10;
    typo[at] = if typo[at] == b'a' { b'b' } else { b'a' };
    let typo =
        recover(work.path(), &["artifact.tar.zst.dpbe", "--out", "typo"], &String::from_utf8(typo).expect("ascii"));
    assert!(said(&typo).contains("checksum does not match"), "{}", said(&typo));

    // One byte flipped in the middle: damage, the key is right.
    let mut flipped = artifact.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x20;
    std::fs::write(work.path().join("flipped.dpbe"), &flipped).expect("write");
    let damaged = recover(work.path(), &["--key-file", "recovery-key.txt", "flipped.dpbe", "--out", "flipped"], "");
    assert_eq!(damaged.status.code(), Some(1));
    assert!(
        said(&damaged).contains("the artifact is damaged") && said(&damaged).contains("the key is right"),
        "{}",
        said(&damaged)
    );
    assert!(!work.path().join("flipped").exists(), "nothing is left of a refused recovery");
    let by_hand = documented_python_decoder(work.path(), "flipped.dpbe");
    assert!(!by_hand.status.success() && said(&by_hand).contains("InvalidTag"), "{}", said(&by_hand));
    // With the run's checksum it is caught before decryption.
    let checked =
        recover(work.path(), &["--key-file", "recovery-key.txt", "--sha256", &sha, "flipped.dpbe", "--out", "x"], "");
    assert!(said(&checked).contains("is damaged or is another artifact"), "{}", said(&checked));

    // Cut short.
    std::fs::write(work.path().join("cut.dpbe"), &artifact[..artifact.len() - 100]).expect("write");
    let cut = recover(work.path(), &["--key-file", "recovery-key.txt", "cut.dpbe", "--out", "cut"], "");
    assert!(said(&cut).contains("truncated"), "{}", said(&cut));
    assert!(!work.path().join("cut").exists());

    // Not an artifact at all.
    std::fs::write(work.path().join("notes.txt"), "just some text, nothing Devpilot made").expect("write");
    let foreign = recover(work.path(), &["notes.txt", "--out", "notes"], "");
    assert!(said(&foreign).contains("is not a Devpilot artifact"), "{}", said(&foreign));

    // Into a folder that holds something: refused.
    let full =
        recover(work.path(), &["--key-file", "recovery-key.txt", "artifact.tar.zst.dpbe", "--out", "restored"], "");
    assert!(said(&full).contains("is not empty"), "{}", said(&full));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_sqlite_backup_is_recovered_as_its_database() {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let f = fixture(Backend::Sqlite).await;
    let database = f.source.path().join("app.db");
    let mut connection = SqliteConnection::establish(&database.to_string_lossy()).expect("create");
    diesel::sql_query("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .execute(&mut connection)
        .expect("table");
    for i in 0..250 {
        diesel::sql_query(format!("INSERT INTO notes (body) VALUES ('note {i}')"))
            .execute(&mut connection)
            .expect("row");
    }
    let path = database.to_string_lossy().into_owned();
    let fields = [("source_kind", "sqlite"), ("source_path", path.as_str()), ("encrypt", "on")];
    let (work, _, said_done) = recovered_database(&f, "App db", &fields, "app.sqlite3.dpbe", "app.db").await;
    assert!(said_done.contains("integrity check ok"), "{said_done}");
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut restored = SqliteConnection::establish(&work.path().join("app.db").to_string_lossy()).expect("open");
    let count: Count = diesel::sql_query("SELECT count(*) AS n FROM notes").get_result(&mut restored).expect("count");
    assert_eq!(count.n, 250);
    // A file that is there already is never overwritten.
    let again = recover(work.path(), &["--key-file", "key", "app.sqlite3.dpbe", "--out", "app.db"], "");
    assert!(said(&again).contains("already exists"), "{}", said(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_owners_export_the_recovery_key() {
    let f = fixture(Backend::Sqlite).await;
    let admin = f.app.add_member("Ann Admin", "ann@example.com", "ann password 12", "admin").await;
    assert_eq!(f.app.get_with(&admin, "/workspace/recovery-key").await.status, 403);
    let refused = f.app.post_with(&admin, "/workspace/recovery-key", &[("password", "ann password 12")]).await;
    assert_eq!(refused.status, 403);
    assert!(!refused.body.contains(recovery_key::PREFIX));
}

/// A PostgreSQL plan's artifact (`pg_dump` uncompressed, zstd by Devpilot, encrypted) comes back
/// through `devpilot recover` as a custom-format dump that `pg_restore` loads: the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_postgres_backup_is_recovered_as_a_dump_pg_restore_loads() {
    use crate::artifacts::ScratchDb;
    use diesel::connection::SimpleConnection;
    let f = fixture(Backend::Sqlite).await;
    crate::database_grants::grant_test_postgres(&f.app).await;
    let source = ScratchDb::new();
    let fill = "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL); \
                INSERT INTO notes (body) SELECT 'note ' || i || ' ünïcödé' FROM generate_series(1, 5000) i";
    source.connect().batch_execute(fill).expect("fill");
    let url = source.url();
    let fields = [("source_kind", "postgres"), ("source_url", url.as_str()), ("encrypt", "on")];
    let (work, stored, said_done) =
        recovered_database(&f, "Notes", &fields, "notes.pgdump.zst.dpbe", "notes.pgdump").await;
    assert!(said_done.contains("pg_dump custom format") && said_done.contains("pg_restore"), "{said_done}");
    let dump = std::fs::read(work.path().join("notes.pgdump")).expect("the dump");
    assert!(dump.starts_with(b"PGDMP"), "unpacked from zstd into pg_dump's own format");
    assert!(stored * 4 < dump.len(), "the artifact is compressed: {stored} of {} bytes", dump.len());

    let target = ScratchDb::new();
    let loaded = Command::new("pg_restore")
        .args(["--no-owner", "--dbname", &target.url()])
        .arg(work.path().join("notes.pgdump"))
        .output()
        .expect("pg_restore runs");
    assert!(loaded.status.success(), "{}", said(&loaded));
    let rows = |db: &ScratchDb| crate::artifacts::rows(&mut db.connect(), "notes");
    assert_eq!(rows(&target), rows(&source));
}

/// A MariaDB plan's artifact (SQL in zstd, encrypted) comes back through `devpilot recover` as the
/// dump's SQL, which `mariadb` loads: the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_mariadb_backup_is_recovered_as_the_sql_mariadb_loads() {
    use crate::mariadb_sources::{grant_server, sql};
    let f = fixture(Backend::Sqlite).await;
    grant_server(&f.app).await;
    let database = format!("recover_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    sql(None, &format!("CREATE DATABASE {database} CHARACTER SET utf8mb4"));
    let fill = "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT NOT NULL); \
                INSERT INTO notes SELECT seq, CONCAT('note ', seq, ' ünïcödé') FROM seq_1_to_5000;";
    sql(Some(&database), fill);
    let (host, port, password) = crate::mariadb_sources::server();
    let url = format!("mariadb://root:{password}@{host}:{port}/{database}");
    let fields = [("source_kind", "mariadb"), ("source_url", url.as_str()), ("encrypt", "on")];
    let (work, _, said_done) = recovered_database(&f, "Shop", &fields, "shop.sql.zst.dpbe", "shop.sql").await;
    assert!(said_done.contains("MariaDB dump") && said_done.contains("mariadb"), "{said_done}");
    let dump = std::fs::read_to_string(work.path().join("shop.sql")).expect("SQL text");
    assert!(dump.contains("CREATE TABLE `notes`") && dump.contains("note 4999 ünïcödé"), "the dump's SQL");

    let copy = format!("{database}_copy");
    sql(None, &format!("CREATE DATABASE {copy} CHARACTER SET utf8mb4"));
    let loaded = Command::new("mariadb")
        .args(["--no-defaults", "--protocol=TCP", "-uroot", &format!("-h{host}"), &format!("-P{port}"), &copy])
        .env("MYSQL_PWD", &password)
        .stdin(std::fs::File::open(work.path().join("shop.sql")).expect("the dump"))
        .output()
        .expect("mariadb runs");
    assert!(loaded.status.success(), "{}", said(&loaded));
    let digest = "SELECT COUNT(*), BIT_XOR(CRC32(CONCAT(id, body))) FROM notes";
    assert_eq!(sql(Some(&copy), digest), sql(Some(&database), digest));
    sql(None, &format!("DROP DATABASE {database}; DROP DATABASE {copy}"));
}
