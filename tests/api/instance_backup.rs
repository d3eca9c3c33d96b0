//! Devpilot's own backup: the operator backs Devpilot up to a folder of theirs, and
//! `devpilot restore-instance` loads the archive into a fresh install (SQLite and PostgreSQL):
//! every destination still decrypts (a local folder's and an S3 bucket's tests pass) and a
//! member signs in with their password; a wrong passphrase is refused; a workspace admin reaches
//! none of it.

use crate::helpers::{Backend, TestApp, fresh_install_settings, moto, spawn_app, spawn_with};
use crate::on_both_backends;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

on_both_backends!(
    devpilot_is_backed_up_and_restored_onto_a_fresh_install,
    devpilot_backs_up_to_sftp_and_thins_old_backups
);

const PASSPHRASE: &str = "a long passphrase for the vault";

fn restore_instance(archive: &Path, passphrase: &str, data_dir: &Path, database_url: &str) -> Output {
    let work = tempfile::tempdir().expect("work");
    let file = work.path().join("passphrase");
    std::fs::write(&file, format!("{passphrase}\n")).expect("passphrase file");
    Command::new(env!("CARGO_BIN_EXE_devpilot"))
        .arg("restore-instance")
        .arg(archive)
        .arg("--passphrase-file")
        .arg(&file)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", work.path())
        .env("DEVPILOT_DATA_DIR", data_dir)
        .env("DATABASE_URL", database_url)
        // How the tests reach PostgreSQL (e.g. PGSSLMODE), as the server's own pg_dump had it.
        .envs(std::env::vars().filter(|(k, _)| k.starts_with("PG")))
        .current_dir(work.path())
        .output()
        .expect("devpilot restore-instance runs")
}

fn said(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn archive_in(folder: &Path) -> PathBuf {
    let inner = folder.join("devpilot-instance");
    std::fs::read_dir(&inner)
        .expect("the operator's folder has the backups")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.zst"))
        .expect("an archive")
}

/// The archive's entry names, and every byte of its entries (small test databases).
fn archive_entries(archive: &Path) -> (Vec<String>, Vec<u8>) {
    let decoder = zstd::Decoder::new(std::fs::File::open(archive).expect("archive")).expect("zstd");
    let mut tar = tar::Archive::new(decoder);
    let (mut names, mut bytes) = (Vec::new(), Vec::new());
    for entry in tar.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        names.push(entry.path().expect("path").to_string_lossy().into_owned());
        std::io::Read::read_to_end(&mut entry, &mut bytes).expect("read");
    }
    (names, bytes)
}

async fn destinations_pass_their_test(app: &TestApp) {
    for name in ["Disk", "Bucket"] {
        let id = app.destination(name).await.id;
        let tested = app.htmx_post(&format!("/destinations/{id}/test"), &[]).await;
        assert_eq!(tested.status, 200, "{}", tested.body);
        let after = app.destination(name).await;
        assert_eq!(after.status, "active", "{name} still decrypts and works: {}", after.message);
    }
}

async fn devpilot_is_backed_up_and_restored_onto_a_fresh_install(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let disk = tempfile::tempdir().expect("disk");
    app.grant_folder(disk.path(), "read_write").await;
    let disk_path = disk.path().to_string_lossy().into_owned();
    assert_eq!(app.create_destination("Disk", "local", &[("path", &disk_path)]).await.status, 303);
    let m = moto();
    assert_eq!(
        app.create_destination("Bucket", "s3", &m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket))
            .await
            .status,
        303
    );
    destinations_pass_their_test(&app).await;

    // A workspace admin reaches none of the operator's pages.
    let ann = app.add_member("Ann Admin", "ann@example.com", "ann password 12", "admin").await;
    assert_eq!(app.get_with(&ann, "/admin/backup").await.status, 403);
    assert_eq!(app.post_with(&ann, "/admin/backup/run", &[]).await.status, 403);
    let vault = tempfile::tempdir().expect("vault");
    let vault_path = vault.path().to_string_lossy().into_owned();
    let theirs =
        [("kind", "local"), ("config.path", vault_path.as_str()), ("passphrase", PASSPHRASE), ("confirm", PASSPHRASE)];
    assert_eq!(app.post_with(&ann, "/admin/backup", &theirs).await.status, 403);

    // Bad input: a message next to the field.
    let short = app
        .post(
            "/admin/backup",
            &[("kind", "local"), ("config.path", &vault_path), ("passphrase", "short"), ("confirm", "short")],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short.body.contains("at least 12 characters"), "{}", short.body);
    let no_path =
        app.post("/admin/backup", &[("kind", "local"), ("passphrase", PASSPHRASE), ("confirm", PASSPHRASE)]).await;
    assert_eq!(no_path.status, 422);
    assert!(no_path.body.contains("Enter the folder"), "{}", no_path.body);

    let saved = app
        .post(
            "/admin/backup",
            &[
                ("kind", "local"),
                ("config.path", &vault_path),
                ("passphrase", PASSPHRASE),
                ("confirm", PASSPHRASE),
                ("schedule", "0 3 * * *"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let ran = app.post("/admin/backup/run", &[]).await;
    assert_eq!(ran.status, 303);
    let page = app.get("/admin/backup").await.body;
    assert!(page.contains("Backed up Devpilot") && page.contains("succeeded"), "{page}");
    assert!(!page.contains(PASSPHRASE) && !crate::helpers::captured_logs().contains(PASSPHRASE));
    let archive = archive_in(vault.path());
    // The archive's database is encrypted: no account, hash or name of it in the clear.
    let (names, clear) = archive_entries(&archive);
    assert_eq!(
        names[..3],
        ["devpilot-instance.json", "master-keys.sealed", "archive-key.sealed"],
        "the description and the keys come first"
    );
    assert!(names[3].starts_with("database.") && names[3].ends_with(".dpbe"), "{names:?}");
    assert!(!clear.windows(b"ann@example.com".len()).any(|w| w == b"ann@example.com"), "an email in the clear");
    assert!(!clear.windows(b"$argon2".len()).any(|w| w == b"$argon2"), "a password hash in the clear");

    // A fresh install: its own data folder and empty database, keys from the key file.
    let (mut settings, data_dir, pg_database) = fresh_install_settings(backend);
    settings.master_key = None;
    let wrong = restore_instance(&archive, "not the passphrase at all", data_dir.path(), &settings.database_url);
    assert_eq!(wrong.status.code(), Some(1), "{}", said(&wrong));
    assert!(said(&wrong).contains("the passphrase does not open"), "{}", said(&wrong));
    assert!(!settings.master_key_file().exists(), "nothing written for a wrong passphrase");
    let done = restore_instance(&archive, PASSPHRASE, data_dir.path(), &settings.database_url);
    assert!(done.status.success(), "{}", said(&done));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(settings.master_key_file()).expect("key file").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let again = restore_instance(&archive, PASSPHRASE, data_dir.path(), &settings.database_url);
    assert!(!again.status.success() && said(&again).contains("not a fresh install"), "{}", said(&again));

    let restored = spawn_with(settings, data_dir, pg_database).await;
    restored.sign_in_admin().await;
    destinations_pass_their_test(&restored).await;
    let ann_again = crate::helpers::new_client();
    let login = restored
        .post_with(&ann_again, "/login", &[("email", "ann@example.com"), ("password", "ann password 12")])
        .await;
    assert_eq!(login.location.as_deref(), Some("/overview"), "a member's password sign-in works: {}", login.body);
}

/// Any destination type, not only a folder: an SFTP server (its host key pinned when saved and
/// shown), and the operator's "keep" thins older backups off it.
async fn devpilot_backs_up_to_sftp_and_thins_old_backups(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let form = app.get("/admin/backup").await;
    for kind in ["local", "s3", "azure_blob", "sftp", "gcs", "cloudinary"] {
        assert!(form.body.contains(&format!("<option value=\"{kind}\"")), "{kind} offered");
    }
    let sftp_fields = app.get("/admin/backup/fields?kind=sftp").await;
    assert_eq!(sftp_fields.status, 200);
    assert!(sftp_fields.body.contains("name=\"config.private_key\"") && !sftp_fields.body.contains("server_id"));

    let s = crate::provider_sftp::sftp();
    let bad_keep = [("kind", "sftp"), ("keep", "0"), ("passphrase", PASSPHRASE), ("confirm", PASSPHRASE)];
    let page = app.post("/admin/backup", &bad_keep).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("id=\"f-keep-error\""), "{}", page.body);

    let port = s.port.to_string();
    let fields = [
        ("kind", "sftp"),
        ("config.host", s.host.as_str()),
        ("config.port", port.as_str()),
        ("config.username", s.username.as_str()),
        ("config.password", s.password.as_str()),
        ("config.directory", s.directory.as_str()),
        ("keep", "2"),
        ("passphrase", PASSPHRASE),
        ("confirm", PASSPHRASE),
    ];
    let saved = app.post("/admin/backup", &fields).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = app.get("/admin/backup").await.body;
    assert!(page.contains(&s.host_key_fingerprint), "the pinned host key is shown: {page}");
    assert!(!page.contains(&s.password), "the password is never shown");
    for _ in 0..3 {
        assert_eq!(app.post("/admin/backup/run", &[]).await.status, 303);
        let flash = app.get("/admin/backup").await.body;
        assert!(flash.contains("Backed up Devpilot"), "{flash}");
    }
    let history = app.get("/admin/backup").await.body;
    assert_eq!(history.matches("removed by retention").count(), 1, "the oldest of three goes: {history}");
    // On the server: the two newest, the oldest deleted.
    let provider = crate::conformance::provider(
        &crate::conformance::Fixture::new(devpilot::providers::ProviderKind::Sftp, s.password_fields()),
        &s.password_fields(),
        tempfile::tempdir().expect("dir").path(),
    );
    let listed = provider.list("devpilot-instance/").await.expect("list");
    let ours: Vec<_> = listed.iter().filter(|o| history.contains(&o.key)).collect();
    assert_eq!(ours.len(), 2, "{listed:?}");
}
