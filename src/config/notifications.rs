//! Notifications: where the services channels talk to live (their real addresses by default),
//! and how the delivery worker paces itself.

use super::{parse_var, var};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct NotificationSettings {
    /// Telegram's Bot API (`DEVPILOT_TELEGRAM_API_URL`, https://api.telegram.org).
    pub telegram_api: String,
    /// How often the delivery worker looks for due notifications (`DEVPILOT_NOTIFY_TICK_MS`, 1000).
    pub tick: Duration,
    /// The first retry's pause, doubled at each failure up to an hour (`DEVPILOT_NOTIFY_RETRY_BASE_MS`, 30000).
    pub retry_base: Duration,
    /// A notification not delivered within this is given up (`DEVPILOT_NOTIFY_GIVE_UP_SECS`, one day).
    pub give_up_after: Duration,
    /// One request (or SMTP conversation) to a channel ends within this (`DEVPILOT_NOTIFY_TIMEOUT_SECS`, 10).
    pub request_timeout: Duration,
    /// How often lasting conditions (a stale plan, broken WAL archiving) are looked for
    /// (`DEVPILOT_NOTIFY_WATCH_SECS`, 60).
    pub watch_every: Duration,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings {
            telegram_api: "https://api.telegram.org".into(),
            tick: Duration::from_millis(1000),
            retry_base: Duration::from_millis(30_000),
            give_up_after: Duration::from_secs(24 * 3600),
            request_timeout: Duration::from_secs(10),
            watch_every: Duration::from_secs(60),
        }
    }
}

impl NotificationSettings {
    pub fn from_env() -> anyhow::Result<NotificationSettings> {
        let d = NotificationSettings::default();
        let ms = |name: &str, default: Duration| -> anyhow::Result<Duration> {
            let n: u64 = parse_var(name, u64::try_from(default.as_millis()).unwrap_or(u64::MAX))?;
            anyhow::ensure!(n > 0, "{name} must be at least 1");
            Ok(Duration::from_millis(n))
        };
        let secs = |name: &str, default: Duration| -> anyhow::Result<Duration> {
            let n: u64 = parse_var(name, default.as_secs())?;
            anyhow::ensure!(n > 0, "{name} must be at least 1");
            Ok(Duration::from_secs(n))
        };
        Ok(NotificationSettings {
            telegram_api: var("DEVPILOT_TELEGRAM_API_URL")
                .map(|v| v.trim_end_matches('/').to_owned())
                .unwrap_or(d.telegram_api),
            tick: ms("DEVPILOT_NOTIFY_TICK_MS", d.tick)?,
            retry_base: ms("DEVPILOT_NOTIFY_RETRY_BASE_MS", d.retry_base)?,
            give_up_after: secs("DEVPILOT_NOTIFY_GIVE_UP_SECS", d.give_up_after)?,
            request_timeout: secs("DEVPILOT_NOTIFY_TIMEOUT_SECS", d.request_timeout)?,
            watch_every: secs("DEVPILOT_NOTIFY_WATCH_SECS", d.watch_every)?,
        })
    }
}
