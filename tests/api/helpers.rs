//! `spawn_app` and what tests need around it.

use devpilot::config::{ExternalEndpoints, IdentitySettings, PitrSettings, ProviderSettings, Settings};
use devpilot::crypto::MasterKey;
use devpilot::db::Db;
use devpilot::providers::outbound::AddressPolicy;
use devpilot::startup::Application;
use diesel::{Connection, PgConnection, RunQueryDsl};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an `async fn(Backend)` test once per backend, as two tests named `sqlite` and `postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

/// Form fields as (name, value) pairs.
pub type Form<'a> = Vec<(&'a str, &'a str)>;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

/// Everything the server logs during the tests, to check that no secret is ever written there.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,hyper=info,h2=info,rustls=info,reqwest=info,actix_server=info")
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .try_init();
    });
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub database_url: String,
    pub data_dir: tempfile::TempDir,
    pub master_key: String,
    pg_database: Option<String>,
}

pub fn postgres_base_url() -> String {
    std::env::var("DEVPILOT_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn maintenance_connection() -> PgConnection {
    PgConnection::establish(&format!("{}/postgres", postgres_base_url()))
        .expect("PostgreSQL must answer at 127.0.0.1:5432 (scripts/test checks this)")
}

/// What a test's new PostgreSQL database holds.
#[derive(Clone, Copy)]
enum Contents {
    /// Devpilot's tables, as its first start would make them (what nearly every test wants).
    Migrated,
    /// Nothing: a fresh install that `devpilot restore-instance` may load into.
    Empty,
}

/// A test's own PostgreSQL database: a copy of the migrated template (one `CREATE DATABASE`
/// instead of every migration committed one by one), whose commits do not wait for the disk
/// (nothing a test writes must survive a crash). Named with this process's id, so that a later
/// run can tell its leftovers (see [`drop_when_unused`]).
fn create_pg_database(contents: Contents) -> (String, String) {
    let name = format!("devpilot_test_{}_{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let mut conn = maintenance_connection();
    let create = match contents {
        Contents::Migrated => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{}\"", pg_template()),
        Contents::Empty => format!("CREATE DATABASE \"{name}\""),
    };
    diesel::sql_query(create).execute(&mut conn).expect("create test database");
    diesel::sql_query(format!("ALTER DATABASE \"{name}\" SET synchronous_commit = off"))
        .execute(&mut conn)
        .expect("test database without synchronous commits");
    (format!("{}/{name}", postgres_base_url()), name)
}

/// The template every test database copies: Devpilot's migrations run once on a database of its
/// own, named by the migrations' contents (so a new migration makes a new one and the old goes)
/// and kept in the cluster between runs. Built under a temporary name and renamed when complete,
/// so no test process ever copies half a template.
fn pg_template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = format!("devpilot_template_{}", migrations_digest());
        let mut conn = maintenance_connection();
        if !database_exists(&mut conn, &name) {
            let building = format!("devpilot_building_{}", uuid::Uuid::new_v4().simple());
            diesel::sql_query(format!("CREATE DATABASE \"{building}\"")).execute(&mut conn).expect("create template");
            drop(Db::connect(&format!("{}/{building}", postgres_base_url()), 1).expect("migrate the template"));
            let renamed =
                diesel::sql_query(format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\"")).execute(&mut conn);
            if renamed.is_err() {
                // Another test process made it first.
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
        for stale in databases_like(&mut conn, "devpilot_template_%").into_iter().filter(|n| *n != name) {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{stale}\" WITH (FORCE)")).execute(&mut conn);
        }
        // The last databases of earlier runs, whose processes ended before their dropper did.
        for left in databases_like(&mut conn, "devpilot_test_%").into_iter().filter(|n| !owner_alive(n)) {
            drop_when_unused(left);
        }
        name
    })
}

/// Whether the process that named a test database (`devpilot_test_<pid>_…`) still runs.
fn owner_alive(database: &str) -> bool {
    let pid = database.strip_prefix("devpilot_test_").and_then(|rest| rest.split('_').next());
    pid.is_some_and(|pid| pid.parse::<u32>().is_err() || std::path::Path::new("/proc").join(pid).exists())
}

/// Drops a test's database on a thread of its own, once its app's connections are gone (or after
/// half a minute, forcing them). Dropped at once, from the test, the app's background work —
/// still running while the test's runtime shut down — waited out its whole database timeout
/// (10 s) for a connection to a database that no longer existed: most of every PostgreSQL
/// test's time.
fn drop_when_unused(name: String) {
    static DROPPER: OnceLock<Mutex<std::sync::mpsc::Sender<String>>> = OnceLock::new();
    let sender = DROPPER.get_or_init(|| {
        let (send, receive) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut conn = maintenance_connection();
            for name in receive {
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                while connections_to(&mut conn, &name) > 0 && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ =
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn);
            }
        });
        Mutex::new(send)
    });
    let _ = sender.lock().unwrap_or_else(|e| e.into_inner()).send(name);
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn connections_to(conn: &mut PgConnection, database: &str) -> i64 {
    diesel::sql_query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(database)
        .get_result::<Count>(conn)
        .map_or(0, |c| c.n)
}

/// The SHA-256 of every PostgreSQL migration's files, in order (hex, the first 16 characters).
fn migrations_digest() -> String {
    use sha2::{Digest, Sha256};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<PathBuf> = walkdir(&root);
    files.sort();
    let mut hash = Sha256::new();
    for file in files {
        hash.update(file.strip_prefix(&root).unwrap_or(&file).to_string_lossy().as_bytes());
        hash.update(std::fs::read(&file).expect("read a migration"));
    }
    hex::encode(hash.finalize())[..16].to_owned()
}

fn walkdir(dir: &std::path::Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).expect("read the migrations folder");
    entries
        .flat_map(|e| {
            let path = e.expect("a migration entry").path();
            if path.is_dir() { walkdir(&path) } else { vec![path] }
        })
        .collect()
}

#[derive(diesel::QueryableByName)]
struct DatabaseName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

fn databases_like(conn: &mut PgConnection, pattern: &str) -> Vec<String> {
    diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE $1")
        .bind::<diesel::sql_types::Text, _>(pattern)
        .load::<DatabaseName>(conn)
        .expect("list databases")
        .into_iter()
        .map(|d| d.datname)
        .collect()
}

fn database_exists(conn: &mut PgConnection, name: &str) -> bool {
    databases_like(conn, name).iter().any(|n| n == name)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Clones live beside the data folder (the PITR settings' default).
        crate::pitr_clusters::stop_clones(&PathBuf::from(format!("{}-clones", self.data_dir.path().display())));
        if let Some(name) = self.pg_database.take() {
            drop_when_unused(name);
        }
    }
}

pub fn test_settings(backend: Backend) -> (Settings, tempfile::TempDir, Option<String>) {
    settings_on(backend, Contents::Migrated)
}

/// As [`test_settings`], on a database without a table (SQLite: no file yet), as a fresh
/// install has before its first start.
pub fn fresh_install_settings(backend: Backend) -> (Settings, tempfile::TempDir, Option<String>) {
    settings_on(backend, Contents::Empty)
}

fn settings_on(backend: Backend, contents: Contents) -> (Settings, tempfile::TempDir, Option<String>) {
    init_logs();
    let data_dir = tempfile::tempdir().expect("temp dir");
    let (database_url, pg_database) = match backend {
        Backend::Sqlite => (format!("sqlite://{}/devpilot.db", data_dir.path().display()), None),
        Backend::Postgres => {
            let (url, name) = create_pg_database(contents);
            (url, Some(name))
        }
    };
    let settings = Settings {
        host: "127.0.0.1".into(),
        port: 0,
        data_dir: data_dir.path().to_path_buf(),
        database_url,
        master_key: Some(MasterKey::generate().to_base64()),
        previous_master_keys: Vec::new(),
        local_backup_dir: data_dir.path().join("backups"),
        allowed_paths: Default::default(),
        secure_cookies: false,
        db_max_connections: 5,
        db_timeout: Duration::from_secs(10),
        scheduler_tick: Duration::from_secs(15),
        instance_timeout: Duration::from_secs(60),
        provider: ProviderSettings {
            test_deadline: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            max_retries: 0,
            stall_timeout: Duration::from_secs(30),
            // Every local test server lives on loopback.
            outbound: AddressPolicy::allowing_loopback(),
            endpoints: nowhere_endpoints(),
        },
        public_url: None,
        // Sign-in delays long enough that no loaded machine outwaits one between two requests.
        identity: IdentitySettings { sign_in_delay: Duration::from_secs(30), ..IdentitySettings::default() },
        mail: None,
        pitr: test_pitr_settings(data_dir.path()),
        import_max_bytes: devpilot::config::IMPORT_MAX_BYTES,
        // Off unless a test turns it on: scheduled tests would add to every test's history.
        revalidate_every: Duration::ZERO,
        notifications: crate::notifications_support::fast_settings(),
        clock: Default::default(),
    };
    (settings, data_dir, pg_database)
}

/// Clones beside the test's data folder (which is Devpilot's alone), each app on a block of
/// ports of its own below the kernel's ephemeral range: apps of tests running side by side would
/// otherwise pick the same free port at the same moment. WAL archiving ticks fast, so tests see
/// it within seconds.
fn test_pitr_settings(data_dir: &std::path::Path) -> PitrSettings {
    static BLOCKS: AtomicU16 = AtomicU16::new(0);
    let block = BLOCKS.fetch_add(1, Ordering::Relaxed) % 1200;
    let low = 20_000 + block * 10;
    let mut pitr = PitrSettings::from_env(data_dir).expect("PITR settings");
    pitr.clone_ports = low..=low + 9;
    pitr.tick = Duration::from_millis(500);
    pitr.partial_every = Duration::from_secs(1);
    // The tests run the server in their own process: clones fetch WAL with the real binary.
    pitr.fetch_program = Some(env!("CARGO_BIN_EXE_devpilot").into());
    pitr
}

/// A loopback port that refuses every connection for the whole test run: a socket is bound there
/// and never listens. A port merely freed again can be taken meanwhile by a server another test
/// starts, and a test of "nothing listens there" then met a handshake that failed instead.
pub fn refused_port() -> u16 {
    static HELD: OnceLock<(socket2::Socket, u16)> = OnceLock::new();
    let (_, port) = HELD.get_or_init(|| {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
        socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into()).expect("bind");
        let port = socket.local_addr().expect("addr").as_socket().expect("an inet address").port();
        (socket, port)
    });
    *port
}

/// Google and Cloudinary endpoints on a closed loopback port: tests never reach the real
/// services; those that need them point the endpoints at stand-ins.
fn nowhere_endpoints() -> ExternalEndpoints {
    let nowhere = format!("http://127.0.0.1:{}", refused_port());
    ExternalEndpoints {
        google_oauth_authorize: format!("{nowhere}/o/oauth2/v2/auth"),
        google_oauth_token: format!("{nowhere}/token"),
        google_drive_api: format!("{nowhere}/drive/v3"),
        google_drive_upload: format!("{nowhere}/upload/drive/v3"),
        gcs_api: nowhere.clone(),
        cloudinary_api: format!("{nowhere}/v1_1"),
        r2_base: nowhere.replace("127.0.0.1", "r2.localhost"),
        backblaze_base: nowhere.replace("127.0.0.1", "b2.localhost"),
        // AWS as AWS is addressed (tests that reach a local server set their own).
        aws_s3: devpilot::config::AWS_S3_ENDPOINT.into(),
        microsoft: devpilot::config::MicrosoftClouds {
            global_login: nowhere.clone(),
            global_graph: nowhere.clone(),
            us_gov_login: nowhere.clone(),
            us_gov_graph: nowhere.clone(),
            us_dod_graph: nowhere.clone(),
            china_login: nowhere.clone(),
            china_graph: nowhere.clone(),
        },
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    let (settings, data_dir, pg_database) = test_settings(backend);
    spawn_with(settings, data_dir, pg_database).await
}

pub async fn spawn_with(settings: Settings, data_dir: tempfile::TempDir, pg_database: Option<String>) -> TestApp {
    let database_url = settings.database_url.clone();
    let master_key = settings.master_key.clone().unwrap_or_default();
    let app = Application::build(settings).await.expect("the app builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: new_client(),
        database_url,
        data_dir,
        master_key,
        pg_database,
    }
}

impl TestApp {
    /// A test app for a server already listening at `address` (a child process) on the
    /// settings' database and data dir; dropping it drops the test database.
    pub fn attach(
        address: String,
        settings: &Settings,
        data_dir: tempfile::TempDir,
        pg_database: Option<String>,
    ) -> TestApp {
        TestApp {
            address,
            client: new_client(),
            database_url: settings.database_url.clone(),
            data_dir,
            master_key: settings.master_key.clone().unwrap_or_default(),
            pg_database,
        }
    }
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        // The server closes a connection idle for 5 s (actix-web's keep-alive); a pooled one idle
        // that long may be closed just as it is reused (IncompleteMessage), so drop it first.
        .pool_idle_timeout(Duration::from_secs(3))
        .build()
        .expect("client")
}

/// Pulls `csrf_token` out of a page.
pub fn csrf_from(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).map(|i| i + marker.len()).expect("page has a CSRF token");
    html[start..].split('"').next().unwrap_or_default().to_owned()
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn db(&self) -> Db {
        Db::connect(&self.database_url, 2).expect("test db connection")
    }

    pub async fn get(&self, path: &str) -> Page {
        self.get_with(&self.client, path).await
    }

    pub async fn get_with(&self, client: &reqwest::Client, path: &str) -> Page {
        let response = client.get(self.url(path)).send().await.expect("GET");
        to_page(response).await
    }

    /// A CSRF token of this client's session (from a page that always has one).
    pub async fn csrf(&self, client: &reqwest::Client) -> String {
        let page = self.get_with(client, "/login").await;
        if page.status == 200 {
            return csrf_from(&page.body);
        }
        let page = self.get_with(client, "/workspaces").await;
        if page.status == 200 {
            return csrf_from(&page.body);
        }
        csrf_from(&self.get_with(client, "/setup").await.body)
    }

    /// POSTs a form with the session's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_with(&self.client, path, fields).await
    }

    pub async fn post_with(&self, client: &reqwest::Client, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf(client).await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        let response = client.post(self.url(path)).form(&form).send().await.expect("POST");
        to_page(response).await
    }

    /// An htmx request: CSRF in the header, as the page's `hx-headers` sends it.
    pub async fn htmx_post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf(&self.client).await;
        let response = self
            .client
            .post(self.url(path))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", token)
            .form(fields)
            .send()
            .await
            .expect("POST");
        to_page(response).await
    }

    /// First-run setup: creates the admin and the workspace, and signs this client in.
    pub async fn setup_admin(&self) {
        let page = self
            .post(
                "/setup",
                &[("workspace", "Acme"), ("name", "Ada Admin"), ("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
            )
            .await;
        assert_eq!(page.status, 303, "setup failed: {}", page.body);
        assert_eq!(page.location.as_deref(), Some("/destinations"));
    }

    /// Signs this client in as the admin `setup_admin` created (for a second server on the same
    /// database).
    pub async fn sign_in_admin(&self) {
        let login = self.post("/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
        assert_eq!(login.location.as_deref(), Some("/overview"), "{}", login.body);
    }

    /// The id of the workspace named `name` (the setup workspace is "Acme").
    pub async fn workspace_id(&self, name: &str) -> String {
        let name = name.to_owned();
        self.db()
            .run(move |c| {
                use devpilot::db::schema::workspaces::dsl;
                use diesel::prelude::*;
                dsl::workspaces.filter(dsl::name.eq(&name)).select(dsl::id).first::<String>(c)
            })
            .await
            .expect("the workspace exists")
    }

    /// Grants a folder (`read` or `read_write`) to the setup workspace, as the operator this
    /// client is signed in as (a grant it already has is fine).
    pub async fn grant_folder(&self, path: &std::path::Path, access: &str) {
        self.grant_folder_to("Acme", path, access).await;
    }

    /// Grants a folder to the workspace named `workspace`, as [`TestApp::grant_folder`].
    pub async fn grant_folder_to(&self, workspace: &str, path: &std::path::Path, access: &str) {
        let workspace = self.workspace_id(workspace).await;
        let path = path.to_string_lossy();
        let form = [("kind", "folder"), ("workspace_id", &workspace), ("path", &path), ("access", access)];
        let page = self.post("/admin/grants", &form).await;
        if page.status != 303 && !page.body.contains("Already granted to this workspace") {
            let errors: Vec<&str> = page.body.lines().filter(|l| l.contains("field-error")).collect();
            panic!("granting {path}: {} {errors:?}", page.status);
        }
    }

    /// Creates a destination through the form; `config` names fields without the `config.` prefix.
    pub async fn create_destination(&self, name: &str, kind: &str, config: &[(&str, &str)]) -> Page {
        let keys: Vec<String> = config.iter().map(|(k, _)| format!("config.{k}")).collect();
        let mut form: Vec<(&str, &str)> = vec![("name", name), ("type", kind)];
        form.extend(keys.iter().zip(config).map(|(k, (_, v))| (k.as_str(), *v)));
        self.post("/destinations", &form).await
    }

    pub async fn destination_rows(&self) -> Vec<DestinationRow> {
        let db = self.db();
        db.run(|c| {
            use devpilot::db::schema::destinations::dsl::*;
            use diesel::prelude::*;
            destinations
                .select((
                    id,
                    workspace_id,
                    name,
                    status,
                    is_default,
                    last_tested_at.is_not_null(),
                    last_test_message,
                    settings,
                    credentials,
                ))
                .order(created_at.asc())
                .load::<(String, String, String, String, bool, bool, Option<String>, String, Vec<u8>)>(c)
        })
        .await
        .expect("query destinations")
        .into_iter()
        .map(|(id, workspace_id, name, status, is_default, tested, message, settings, credentials)| DestinationRow {
            id,
            workspace_id,
            name,
            status,
            is_default,
            tested,
            message: message.unwrap_or_default(),
            settings,
            credentials,
        })
        .collect()
    }

    pub async fn destination(&self, name: &str) -> DestinationRow {
        self.destination_rows()
            .await
            .into_iter()
            .find(|d| d.name == name)
            .unwrap_or_else(|| panic!("no destination {name}"))
    }
}

#[derive(Debug, Clone)]
pub struct DestinationRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub status: String,
    pub is_default: bool,
    pub tested: bool,
    pub message: String,
    pub settings: String,
    pub credentials: Vec<u8>,
}

async fn to_page(response: reqwest::Response) -> Page {
    let status = response.status().as_u16();
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.text().await.unwrap_or_default();
    Page { status, location, body }
}

/// The moto server with credentials enforced, as `scripts/test` prepared it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Moto {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub noperm_access_key_id: String,
    pub noperm_secret_access_key: String,
    /// A user allowed iam:*, to create users with the policy Devpilot shows.
    pub iam_access_key_id: String,
    pub iam_secret_access_key: String,
}

pub fn moto() -> Moto {
    let path = std::env::var("DEVPILOT_TEST_MOTO_AUTH")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".test-servers/moto-auth.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}. Run the tests with scripts/test, which starts moto.", path.display()));
    serde_json::from_str(&text).expect("moto-auth.json")
}

impl Moto {
    /// Form fields of an S3 destination on this moto with the given keys.
    pub fn fields<'a>(&'a self, key: &'a str, secret: &'a str, bucket: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("provider", "custom"),
            ("endpoint", self.endpoint.as_str()),
            ("region", self.region.as_str()),
            ("bucket", bucket),
            ("path_style", "true"),
            ("access_key_id", key),
            ("secret_access_key", secret),
        ]
    }
}
