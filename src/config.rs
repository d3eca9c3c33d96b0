//! Settings from the environment, each with a default that runs the embedded setup.

pub mod clock;
mod identity;
mod notifications;
mod pitr;
pub mod revalidation;

pub use identity::{IdentitySettings, TrustedProxies};
pub use notifications::NotificationSettings;
pub use pitr::PitrSettings;

use crate::mail::MailSettings;
use crate::providers::outbound::{ALLOW_LOOPBACK_VAR, AddressPolicy};
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Base64 master key from `DEVPILOT_MASTER_KEY`; when unset the key file in the data dir is
    /// used (and created on first start).
    pub master_key: Option<String>,
    /// During a rotation with keys in the environment: the old keys, still readable
    /// (`DEVPILOT_PREVIOUS_MASTER_KEYS`, comma-separated).
    pub previous_master_keys: Vec<String>,
    /// Where local destinations without a path of their own write: each workspace in its own
    /// folder here, `<local_backup_dir>/<workspace id>`.
    pub local_backup_dir: PathBuf,
    /// The operator's ceiling for folder grants (`DEVPILOT_ALLOWED_PATHS`).
    pub allowed_paths: AllowedPaths,
    /// Mark the session cookie `Secure` (set when the server is reached over https).
    pub secure_cookies: bool,
    pub db_max_connections: u32,
    /// How long a request waits for a database connection before it answers 503 (the database
    /// is down, or every connection is busy).
    pub db_timeout: Duration,
    /// How often the scheduler looks for due plans.
    pub scheduler_tick: Duration,
    /// An instance whose heartbeat is older than this is taken for dead: its running backups are
    /// marked interrupted and its connection tests reset. It beats every third of this.
    pub instance_timeout: Duration,
    pub provider: ProviderSettings,
    /// The URL people reach this server at (for OAuth redirects); defaults to http://host:port.
    pub public_url: Option<String>,
    /// Accounts, sessions, sign-in limits and invitations.
    pub identity: IdentitySettings,
    /// Outgoing mail (`DEVPILOT_SMTP_URL`, `DEVPILOT_MAIL_FROM`); None: nothing is mailed.
    pub mail: Option<MailSettings>,
    /// Point-in-time recovery of PostgreSQL databases: binaries, clones, WAL uploads.
    pub pitr: PitrSettings,
    /// The largest dump file an import accepts as an upload (`DEVPILOT_IMPORT_MAX_BYTES`); it is
    /// streamed to a private file under the data folder, never held in memory.
    pub import_max_bytes: u64,
    /// How often every enabled destination is tested again (`DEVPILOT_REVALIDATE_EVERY`, 6h;
    /// zero: never), each at its own jittered time.
    pub revalidate_every: Duration,
    /// Notification channels' services and the delivery worker's pace.
    pub notifications: NotificationSettings,
    /// The clock retention counts back from (the system's; tests fix it).
    pub clock: clock::Clock,
}

/// The default of [`Settings::import_max_bytes`]: 10 GiB.
pub const IMPORT_MAX_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// Limits for talking to storage providers.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// Every connection test ends within this time, in Active or Failed.
    pub test_deadline: Duration,
    pub connect_timeout: Duration,
    /// Retries of transient provider errors (object_store's default is 10).
    pub max_retries: usize,
    /// A provider that stops answering for this long fails the operation: SFTP writes left
    /// unacknowledged, an HTTP request (S3, Azure, GCS, Drive, Cloudinary) without its answer or
    /// the next bytes of it. A server that accepts connections and then says nothing (or died
    /// without closing them) would otherwise hold a run forever.
    pub stall_timeout: Duration,
    /// Which addresses destinations may connect to (link-local never; loopback when allowed).
    pub outbound: AddressPolicy,
    pub endpoints: ExternalEndpoints,
}

/// Base URLs of the Google and Cloudinary services and of the S3 presets whose endpoint is built
/// from a field (R2 from the account ID, Backblaze from the region), settings so tests can point
/// them at local servers. Defaults are the real services.
#[derive(Debug, Clone)]
pub struct ExternalEndpoints {
    pub google_oauth_authorize: String,
    pub google_oauth_token: String,
    pub google_drive_api: String,
    pub google_drive_upload: String,
    pub gcs_api: String,
    pub cloudinary_api: String,
    /// R2 endpoints are `{scheme}://{account_id}[.{jurisdiction}].{host}` of this URL.
    pub r2_base: String,
    /// Backblaze B2 endpoints are `{scheme}://s3.{region}.{host}` of this URL.
    pub backblaze_base: String,
    /// Amazon S3's endpoint, `{region}` replaced by the destination's region. At its default
    /// Devpilot addresses AWS as AWS expects; the tests point it at a local server.
    pub aws_s3: String,
    /// Microsoft's identity platform and Graph, per national cloud (a OneDrive destination's
    /// `cloud`): `{login}/{tenant}/oauth2/v2.0/…` and `{graph}/v1.0/…`.
    pub microsoft: MicrosoftClouds,
}

/// The login and Graph hosts of each of Microsoft's national clouds
/// (learn.microsoft.com/graph/deployments), defaults the real ones.
#[derive(Debug, Clone)]
pub struct MicrosoftClouds {
    pub global_login: String,
    pub global_graph: String,
    pub us_gov_login: String,
    pub us_gov_graph: String,
    pub us_dod_graph: String,
    pub china_login: String,
    pub china_graph: String,
}

impl Default for MicrosoftClouds {
    fn default() -> Self {
        MicrosoftClouds {
            global_login: "https://login.microsoftonline.com".into(),
            global_graph: "https://graph.microsoft.com".into(),
            us_gov_login: "https://login.microsoftonline.us".into(),
            us_gov_graph: "https://graph.microsoft.us".into(),
            us_dod_graph: "https://dod-graph.microsoft.us".into(),
            china_login: "https://login.chinacloudapi.cn".into(),
            china_graph: "https://microsoftgraph.chinacloudapi.cn".into(),
        }
    }
}

impl MicrosoftClouds {
    fn from_env() -> MicrosoftClouds {
        let d = MicrosoftClouds::default();
        let url =
            |name: &str, default: String| var(name).map(|v| v.trim_end_matches('/').to_owned()).unwrap_or(default);
        MicrosoftClouds {
            global_login: url("DEVPILOT_MICROSOFT_LOGIN_URL", d.global_login),
            global_graph: url("DEVPILOT_MICROSOFT_GRAPH_URL", d.global_graph),
            us_gov_login: url("DEVPILOT_MICROSOFT_US_GOV_LOGIN_URL", d.us_gov_login),
            us_gov_graph: url("DEVPILOT_MICROSOFT_US_GOV_GRAPH_URL", d.us_gov_graph),
            us_dod_graph: url("DEVPILOT_MICROSOFT_US_DOD_GRAPH_URL", d.us_dod_graph),
            china_login: url("DEVPILOT_MICROSOFT_CHINA_LOGIN_URL", d.china_login),
            china_graph: url("DEVPILOT_MICROSOFT_CHINA_GRAPH_URL", d.china_graph),
        }
    }

    /// Every login host: the consent redirects go there (the CSP's form-action allows them).
    pub fn logins(&self) -> [&str; 3] {
        [&self.global_login, &self.us_gov_login, &self.china_login]
    }
}

/// Amazon S3's regional endpoint, the default of [`ExternalEndpoints::aws_s3`].
pub const AWS_S3_ENDPOINT: &str = "https://s3.{region}.amazonaws.com";

impl Default for ExternalEndpoints {
    fn default() -> Self {
        ExternalEndpoints {
            google_oauth_authorize: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            google_oauth_token: "https://oauth2.googleapis.com/token".into(),
            google_drive_api: "https://www.googleapis.com/drive/v3".into(),
            google_drive_upload: "https://www.googleapis.com/upload/drive/v3".into(),
            gcs_api: "https://storage.googleapis.com".into(),
            cloudinary_api: "https://api.cloudinary.com/v1_1".into(),
            r2_base: "https://r2.cloudflarestorage.com".into(),
            backblaze_base: "https://backblazeb2.com".into(),
            aws_s3: AWS_S3_ENDPOINT.into(),
            microsoft: MicrosoftClouds::default(),
        }
    }
}

impl ExternalEndpoints {
    fn from_env() -> ExternalEndpoints {
        let d = ExternalEndpoints::default();
        let url =
            |name: &str, default: String| var(name).map(|v| v.trim_end_matches('/').to_owned()).unwrap_or(default);
        ExternalEndpoints {
            google_oauth_authorize: url("DEVPILOT_GOOGLE_OAUTH_AUTHORIZE_URL", d.google_oauth_authorize),
            google_oauth_token: url("DEVPILOT_GOOGLE_OAUTH_TOKEN_URL", d.google_oauth_token),
            google_drive_api: url("DEVPILOT_GOOGLE_DRIVE_API_URL", d.google_drive_api),
            google_drive_upload: url("DEVPILOT_GOOGLE_DRIVE_UPLOAD_URL", d.google_drive_upload),
            gcs_api: url("DEVPILOT_GCS_API_URL", d.gcs_api),
            cloudinary_api: url("DEVPILOT_CLOUDINARY_API_URL", d.cloudinary_api),
            r2_base: url("DEVPILOT_R2_BASE_URL", d.r2_base),
            backblaze_base: url("DEVPILOT_BACKBLAZE_BASE_URL", d.backblaze_base),
            aws_s3: url("DEVPILOT_AWS_S3_URL", d.aws_s3),
            microsoft: MicrosoftClouds::from_env(),
        }
    }
}

impl Default for ProviderSettings {
    fn default() -> Self {
        ProviderSettings {
            test_deadline: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            max_retries: 3,
            stall_timeout: Duration::from_secs(120),
            outbound: AddressPolicy::default(),
            endpoints: ExternalEndpoints::default(),
        }
    }
}

/// The operator's ceiling for folder grants (`DEVPILOT_ALLOWED_PATHS`): a folder outside these is
/// never granted. None set: any folder may be granted (never Devpilot's own).
#[derive(Debug, Clone, Default)]
pub struct AllowedPaths(Vec<PathBuf>);

impl AllowedPaths {
    /// Colon-separated absolute folders, as in `DEVPILOT_ALLOWED_PATHS`.
    pub fn parse(value: &str) -> anyhow::Result<AllowedPaths> {
        let mut roots = Vec::new();
        for part in value.split(':').map(str::trim).filter(|p| !p.is_empty()) {
            let path = PathBuf::from(part);
            anyhow::ensure!(path.is_absolute(), "DEVPILOT_ALLOWED_PATHS: {part} is not an absolute path");
            roots.push(path);
        }
        Ok(AllowedPaths(roots))
    }

    pub fn new(roots: Vec<PathBuf>) -> AllowedPaths {
        AllowedPaths(roots)
    }

    /// Whether a resolved folder may be granted: under one of the folders (themselves resolved).
    pub fn check(&self, resolved: &std::path::Path) -> Result<(), String> {
        if self.0.is_empty() {
            return Ok(());
        }
        let roots: Vec<PathBuf> =
            self.0.iter().map(|r| std::fs::canonicalize(r).unwrap_or_else(|_| r.clone())).collect();
        if roots.iter().any(|root| resolved.starts_with(root)) {
            return Ok(());
        }
        let shown: Vec<String> = self.0.iter().map(|r| r.display().to_string()).collect();
        Err(format!(
            "“{}” is outside the folders this server allows grants in (DEVPILOT_ALLOWED_PATHS: {}).",
            resolved.display(),
            shown.join(", ")
        ))
    }
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Settings> {
        let data_dir = PathBuf::from(var("DEVPILOT_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url =
            var("DATABASE_URL").unwrap_or_else(|| format!("sqlite://{}", data_dir.join("devpilot.db").display()));
        let local_backup_dir =
            var("DEVPILOT_LOCAL_BACKUP_DIR").map(PathBuf::from).unwrap_or_else(|| data_dir.join("backups"));
        let defaults = ProviderSettings::default();
        Ok(Settings {
            host: var("DEVPILOT_HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port: parse_var("DEVPILOT_PORT", 8080)?,
            master_key: var("DEVPILOT_MASTER_KEY"),
            previous_master_keys: var("DEVPILOT_PREVIOUS_MASTER_KEYS")
                .map(|v| v.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default(),
            secure_cookies: parse_var("DEVPILOT_SECURE_COOKIES", false)?,
            db_max_connections: parse_var("DEVPILOT_DB_MAX_CONNECTIONS", 10)?,
            db_timeout: secs_var("DEVPILOT_DB_TIMEOUT_SECS", 10)?,
            scheduler_tick: secs_var("DEVPILOT_SCHEDULER_TICK_SECS", 15)?,
            instance_timeout: secs_var("DEVPILOT_INSTANCE_TIMEOUT_SECS", 60)?,
            provider: ProviderSettings {
                test_deadline: Duration::from_secs(parse_var(
                    "DEVPILOT_TEST_DEADLINE_SECS",
                    defaults.test_deadline.as_secs(),
                )?),
                connect_timeout: defaults.connect_timeout,
                max_retries: parse_var("DEVPILOT_PROVIDER_MAX_RETRIES", defaults.max_retries)?,
                stall_timeout: Duration::from_secs(parse_var(
                    "DEVPILOT_UPLOAD_STALL_SECS",
                    defaults.stall_timeout.as_secs(),
                )?),
                outbound: AddressPolicy { allow_loopback: parse_var(ALLOW_LOOPBACK_VAR, false)? },
                endpoints: ExternalEndpoints::from_env(),
            },
            allowed_paths: AllowedPaths::parse(&var("DEVPILOT_ALLOWED_PATHS").unwrap_or_default())?,
            public_url: var("DEVPILOT_PUBLIC_URL").map(|v| v.trim_end_matches('/').to_owned()),
            identity: IdentitySettings::from_env()?,
            mail: mail_from_env()?,
            pitr: PitrSettings::from_env(&data_dir)?,
            import_max_bytes: import_max_bytes()?,
            revalidate_every: revalidation::from_env()?,
            notifications: NotificationSettings::from_env()?,
            clock: clock::Clock::default(),
            data_dir,
            database_url,
            local_backup_dir,
        })
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.data_dir.join("master.key")
    }
}

fn import_max_bytes() -> anyhow::Result<u64> {
    let bytes = parse_var("DEVPILOT_IMPORT_MAX_BYTES", IMPORT_MAX_BYTES)?;
    anyhow::ensure!(bytes > 0, "DEVPILOT_IMPORT_MAX_BYTES must be at least 1");
    Ok(bytes)
}

/// None when `DEVPILOT_SMTP_URL` is unset: nothing is mailed.
fn mail_from_env() -> anyhow::Result<Option<MailSettings>> {
    let Some(url) = var("DEVPILOT_SMTP_URL") else { return Ok(None) };
    let from = var("DEVPILOT_MAIL_FROM")
        .ok_or_else(|| anyhow::anyhow!("DEVPILOT_SMTP_URL is set: set DEVPILOT_MAIL_FROM too"))?;
    MailSettings::parse(&url, &from).map(Some)
}

pub(crate) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A whole number of seconds, at least one.
pub(crate) fn secs_var(name: &str, default: u64) -> anyhow::Result<Duration> {
    let secs: u64 = parse_var(name, default)?;
    anyhow::ensure!(secs > 0, "{name} must be at least 1");
    Ok(Duration::from_secs(secs))
}

pub(crate) fn parse_var<T>(name: &str, default: T) -> anyhow::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match var(name) {
        Some(v) => v.trim().parse().with_context(|| format!("{name}={v:?} is not valid")),
        None => Ok(default),
    }
}
