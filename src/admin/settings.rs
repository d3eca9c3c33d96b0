//! `/admin/settings`: the settings this server runs with, read-only. A secret is never shown, only
//! where it comes from (the master key: the environment or the key file).

use crate::auth::Account;
use crate::config::Settings;
use crate::error::AppError;
use crate::web::{Layout, render};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/settings", web::get().to(page));
}

pub struct SettingView {
    pub name: &'static str,
    pub value: String,
    pub meaning: &'static str,
}

/// The effective settings as the page shows them, made once at start.
pub struct InstanceSettings(Vec<SettingView>);

fn yes_no(value: bool) -> String {
    if value { "yes".into() } else { "no".into() }
}

fn minutes(d: std::time::Duration) -> String {
    match d.as_secs() {
        s if s % 86400 == 0 => format!("{} days", s / 86400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn secs(d: std::time::Duration) -> String {
    format!("{} s", d.as_secs())
}

/// The database's URL without its password or parameters (which may hold one).
fn database(url: &str) -> String {
    match crate::db::Backend::of(url) {
        crate::db::Backend::Sqlite => format!("SQLite, {}", url.trim_start_matches("sqlite://")),
        crate::db::Backend::Postgres => match url::Url::parse(url) {
            Ok(mut parsed) => {
                let _ = parsed.set_password(None);
                parsed.set_query(None);
                format!("PostgreSQL, {parsed}")
            }
            Err(_) => "PostgreSQL (the URL does not parse for display)".into(),
        },
    }
}

impl InstanceSettings {
    pub fn new(s: &Settings) -> InstanceSettings {
        let row = |name, value: String, meaning| SettingView { name, value, meaning };
        let key = match &s.master_key {
            Some(_) => "from the environment (DEVPILOT_MASTER_KEY)".to_owned(),
            None => format!("from the key file {}", s.master_key_file().display()),
        };
        InstanceSettings(vec![
            row("DEVPILOT_HOST, DEVPILOT_PORT", format!("{}:{}", s.host, s.port), "Where the server listens."),
            row(
                "DEVPILOT_PUBLIC_URL",
                s.public_url.clone().unwrap_or_else(|| "(unset: http://HOST:PORT)".into()),
                "The address people reach Devpilot at (links in mails, OAuth redirects).",
            ),
            row(
                "DEVPILOT_DATA_DIR",
                s.data_dir.display().to_string(),
                "Database file, key file, default backup folder.",
            ),
            row("DATABASE_URL", database(&s.database_url), "The database (its password, if any, is not shown)."),
            row("Master key", key, "Seals every stored credential; never shown."),
            row(
                "DEVPILOT_PREVIOUS_MASTER_KEYS",
                format!("{} key(s)", s.previous_master_keys.len()),
                "Old keys still readable during a rotation.",
            ),
            row(
                "DEVPILOT_LOCAL_BACKUP_DIR",
                s.local_backup_dir.display().to_string(),
                "Each workspace's default local folder is below it.",
            ),
            row("DEVPILOT_SECURE_COOKIES", yes_no(s.secure_cookies), "The session cookie is sent over https only."),
            row(
                "DEVPILOT_ALLOW_LOOPBACK_DESTINATIONS",
                yes_no(s.provider.outbound.allow_loopback),
                "Destinations may connect to this machine.",
            ),
            row("DEVPILOT_DB_MAX_CONNECTIONS", s.db_max_connections.to_string(), "Database pool size."),
            row("DEVPILOT_DB_TIMEOUT_SECS", secs(s.db_timeout), "Wait for a database connection before 503."),
            row("DEVPILOT_SCHEDULER_TICK_SECS", secs(s.scheduler_tick), "How often due plans are looked for."),
            row("DEVPILOT_INSTANCE_TIMEOUT_SECS", secs(s.instance_timeout), "A silent instance is taken for dead."),
            row(
                "DEVPILOT_REVALIDATE_EVERY",
                if s.revalidate_every.is_zero() { "off".to_owned() } else { secs(s.revalidate_every) },
                "Every enabled destination is tested again this often (jittered).",
            ),
            row("DEVPILOT_TEST_DEADLINE_SECS", secs(s.provider.test_deadline), "Every connection test ends within it."),
            row("DEVPILOT_UPLOAD_STALL_SECS", secs(s.provider.stall_timeout), "A silent provider fails the operation."),
            row("DEVPILOT_PROVIDER_MAX_RETRIES", s.provider.max_retries.to_string(), "Retries of transient errors."),
            row(
                "DEVPILOT_ALLOW_WORKSPACE_CREATION",
                yes_no(s.identity.allow_workspace_creation),
                "Every account may start workspaces (otherwise only operators).",
            ),
            row(
                "DEVPILOT_SESSION_IDLE_MINUTES",
                minutes(s.identity.session_idle),
                "A browser session unused this long ends.",
            ),
            row(
                "DEVPILOT_SESSION_MAX_HOURS",
                minutes(s.identity.session_max),
                "Every session ends this long after sign-in.",
            ),
            row(
                "DEVPILOT_TRUSTED_PROXIES",
                s.identity.trusted_proxies.describe(),
                "Reverse proxies whose X-Forwarded-For names the client.",
            ),
            row(
                "DEVPILOT_INVITATION_DAYS",
                minutes(s.identity.invitation_lifetime),
                "How long an invitation link works.",
            ),
            row(
                "DEVPILOT_SMTP_URL, DEVPILOT_MAIL_FROM",
                s.mail.as_ref().map_or_else(|| "(unset: nothing is mailed)".into(), |m| m.describe()),
                "Where mail goes (its password is never shown).",
            ),
        ])
    }
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage<'a> {
    layout: Layout,
    settings: &'a [SettingView],
}

async fn page(me: Account, settings: web::Data<InstanceSettings>) -> Result<HttpResponse, AppError> {
    me.require_operator()?;
    render(StatusCode::OK, &SettingsPage { layout: Layout::for_account(&me, "admin-settings"), settings: &settings.0 })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_url_loses_its_password() {
        let shown =
            super::database("postgres://devpilot:s3cret@db.example:5432/devpilot?password=other&sslmode=require");
        assert_eq!(shown, "PostgreSQL, postgres://devpilot@db.example:5432/devpilot");
        assert_eq!(super::database("sqlite://data/devpilot.db"), "SQLite, data/devpilot.db");
    }
}
