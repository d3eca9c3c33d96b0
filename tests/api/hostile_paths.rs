//! A hostile tenant against the host's folders, over HTTP against the real binary, on SQLite and
//! PostgreSQL. Mallory has an account and owns a workspace of her own; the operator granted it
//! `granted/` (read and write) and `srv/` for reading, which holds Devpilot's data folder. She
//! tries Devpilot's data folder, key file and database as sources, folders not granted (`/`,
//! `/etc`, `outside/`) as sources, local destinations and restore targets, and symbolic-link and
//! `..` escapes out of `granted/`. Each is refused with a clear message next to the field and
//! nothing is read, written or changed: every table and every file under the data folder is the
//! same before and after. (Swaps between check and use, hostile downloads and same-named plans
//! are in `hostile_runs.rs`; Devpilot's own locks in `sqlite_lock.rs`.)

use crate::fingerprint;
use crate::helpers::{Backend, Page, TestApp, test_settings};
use crate::on_both_backends;
use crate::server_process::ServerProcess;
use crate::standins::cloudinary::Cloudinary;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

on_both_backends!(devpilot_itself_and_ungranted_folders_are_refused);

pub const MALLORY: (&str, &str) = ("mallory@example.com", "mallory password 1");

/// The machine: `root/srv/<data>` is Devpilot's data folder, `root/srv/app` files beside it,
/// `root/granted/docs` Mallory's files, `root/outside` a folder nobody was granted.
pub struct Machine {
    pub root: tempfile::TempDir,
    pub app: TestApp,
    pub server: ServerProcess,
    pub settings: devpilot::config::Settings,
    pub mallory: reqwest::Client,
    pub cloudinary: Cloudinary,
}

impl Machine {
    pub fn at(&self, path: &str) -> PathBuf {
        self.root.path().join(path)
    }

    pub fn data(&self) -> &Path {
        self.app.data_dir.path()
    }

    /// A form posted by Mallory.
    pub async fn mallory_posts(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.app.post_with(&self.mallory, path, form).await
    }

    /// The id of Mallory's workspace.
    pub async fn mallory_workspace(&self) -> String {
        self.app.workspace_id("Mallory").await
    }
}

/// Starts the real binary on the machine above (the master key in a key file, so there is one
/// to attack), sets up the operator, and Mallory with her workspace and its grants.
pub async fn machine(backend: Backend) -> Machine {
    let root = tempfile::tempdir().expect("root");
    for folder in ["srv/app", "granted/docs", "outside"] {
        std::fs::create_dir_all(root.path().join(folder)).expect("mkdir");
    }
    std::fs::write(root.path().join("srv/app/config.txt"), b"app config").expect("write");
    std::fs::write(root.path().join("granted/docs/report.txt"), b"quarterly numbers").expect("write");
    std::fs::write(root.path().join("outside/secret.txt"), b"not for tenants").expect("write");
    let (mut settings, _unused, pg) = test_settings(backend);
    let data = tempfile::TempDir::new_in(root.path().join("srv")).expect("data folder");
    if backend == Backend::Sqlite {
        settings.database_url = format!("sqlite://{}/devpilot.db", data.path().display());
    }
    settings.data_dir = data.path().to_path_buf();
    settings.local_backup_dir = data.path().join("backups");
    settings.master_key = None;
    let cloudinary = Cloudinary::start(
        crate::provider_cloudinary::CLOUD,
        crate::provider_cloudinary::API_KEY,
        crate::provider_cloudinary::API_SECRET,
    );
    let server = start(&settings, &cloudinary).await;
    let app = TestApp::attach(server.address.clone(), &settings, data, pg);
    app.setup_admin().await;
    let mallory = tenant(&app).await;
    let machine = Machine { root, app, server, settings, mallory, cloudinary };
    machine.app.grant_folder_to("Mallory", &machine.at("granted"), "read_write").await;
    machine.app.grant_folder_to("Mallory", &machine.at("srv"), "read").await;
    machine
}

pub async fn start(settings: &devpilot::config::Settings, cloudinary: &Cloudinary) -> ServerProcess {
    ServerProcess::start(settings, &[("DEVPILOT_CLOUDINARY_API_URL", cloudinary.api())]).await
}

/// Mallory: an account (made by the operator) that creates and owns a workspace of its own.
async fn tenant(app: &TestApp) -> reqwest::Client {
    let (email, password) = MALLORY;
    crate::admin_area::tenant_owner(app, "Mallory", email, password, "Mallory").await
}

/// The page's text with the entities the templates write turned back into characters.
pub fn text(page: &Page) -> String {
    page.body.replace("&#8220;", "“").replace("&#8221;", "”").replace("&#39;", "'").replace("&#34;", "\"")
}

/// Asserts the attempt was refused with `words` (and, to a tenant, no link to the grant page).
pub fn refused(what: &str, page: Page, words: &str) {
    assert_eq!(page.status, 422, "{what}: {}", page.body);
    assert!(text(&page).contains(words), "{what}: expected {words:?} in {}", text(&page));
    assert!(!text(&page).contains("/admin/grants?"), "{what}: no grant link for a tenant");
}

/// A directory or SQLite plan form of Mallory's.
pub fn plan_form<'a>(name: &'a str, kind: &'a str, path: &'a str, destination: &'a str) -> Vec<(&'a str, &'a str)> {
    crate::every_destination::plan_form(name, destination, &[("source_kind", kind), ("source_path", path)])
}

/// Mallory's local destination in her own folder (no path), its id.
pub async fn own_destination(machine: &Machine) -> String {
    let form = [("name", "Own"), ("type", "local")];
    assert_eq!(machine.mallory_posts("/destinations", &form).await.status, 303);
    machine.app.destination("Own").await.id
}

async fn devpilot_itself_and_ungranted_folders_are_refused(backend: Backend) {
    let m = machine(backend).await;
    let destination = own_destination(&m).await;
    // A backup of hers to restore, made before the attacks.
    let docs = m.at("granted/docs").display().to_string();
    assert_eq!(m.mallory_posts("/plans", &plan_form("Docs", "directory", &docs, &destination)).await.status, 303);
    let run = crate::hostile_runs::run_plan(&m, "Docs").await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    symlink(m.at("outside"), m.at("granted/escape")).expect("symlink");
    symlink(m.data(), m.at("granted/data-link")).expect("symlink");
    let before = fingerprint::state(&m.app).await;

    let data = m.data().display().to_string();
    let shown = |p: PathBuf| p.display().to_string();
    let (key, database) = (shown(m.data().join("master.key")), shown(m.data().join("devpilot.db")));
    let (outside, escape, dots) =
        (shown(m.at("outside")), shown(m.at("granted/escape")), format!("{}/../outside", m.at("granted").display()));
    let in_data = "is in Devpilot's data folder";
    let (backups, data_link, app_folder) =
        (shown(m.data().join("backups")), shown(m.at("granted/data-link")), shown(m.at("srv/app")));
    let sources: Vec<(&str, &str, &str)> = vec![
        ("directory", &data, in_data),
        ("directory", &backups, in_data),
        ("sqlite", &key, in_data),
        ("sqlite", &database, in_data),
        ("directory", &data_link, in_data),
        ("directory", &outside, "is not granted to this workspace"),
        ("directory", "/", "is not granted to this workspace"),
        ("directory", "/etc", "is not granted to this workspace"),
        ("sqlite", "/etc/passwd", "is not granted to this workspace"),
        ("directory", &escape, "a symbolic link leads out of the granted folder"),
        ("directory", &dots, "is not granted to this workspace"),
    ];
    for (kind, path, words) in &sources {
        let page = m.mallory_posts("/plans", &plan_form("Attack", kind, path, &destination)).await;
        refused(&format!("{kind} source {path}"), page, words);
        assert_eq!(fingerprint::state(&m.app).await, before, "{kind} source {path} changed something");
    }

    let acme_folder = shown(m.data().join("backups").join(m.app.workspace_id("Acme").await));
    let folders: Vec<(&str, &str)> = vec![
        (&data, in_data),
        (&acme_folder, in_data),
        (&outside, "is not granted to this workspace"),
        ("/", "is not granted to this workspace"),
        ("/etc", "is not granted to this workspace"),
        (&escape, "a symbolic link leads out of the granted folder"),
        (&dots, "must not contain \"..\""),
        (&app_folder, "for reading only"),
    ];
    for (path, words) in &folders {
        let form = [("name", "Attack"), ("type", "local"), ("config.path", path)];
        let page = m.mallory_posts("/destinations", &form).await;
        refused(&format!("destination {path}"), page, words);
        assert_eq!(fingerprint::state(&m.app).await, before, "destination {path} changed something");
    }

    let restore = format!("/runs/{}/restore", run.id);
    let targets: Vec<(String, &str)> = vec![
        (format!("{data}/restored"), in_data),
        (format!("{outside}/restored"), "is not granted to this workspace"),
        ("/restored".into(), "is not granted to this workspace"),
        ("/etc/cron.d".into(), "is not granted to this workspace"),
        (format!("{escape}/restored"), "a symbolic link leads out of the granted folder"),
        (format!("{dots}/restored"), "is not granted to this workspace"),
        (shown(m.at("srv/app/restored")), "for reading only"),
        (shown(m.at("granted/no/such/folder")), "does not exist"),
        (shown(m.at("granted")), "is a granted folder itself"),
        (docs.clone(), "is not empty"),
    ];
    for (target, words) in &targets {
        let page = m.mallory_posts(&restore, &[("target", target)]).await;
        refused(&format!("restore into {target}"), page, words);
        assert_eq!(fingerprint::state(&m.app).await, before, "restore into {target} changed something");
    }
    assert_eq!(std::fs::read_dir(m.at("outside")).expect("outside").count(), 1, "nothing written outside");
    assert!(!m.at("granted/no").exists(), "no missing parent folder was made");
}
