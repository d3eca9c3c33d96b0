//! Settings of accounts and access.

use super::parse_var;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// `DEVPILOT_ALLOW_WORKSPACE_CREATION`: every account may start workspaces of its own; by
    /// default only operators create workspaces.
    pub allow_workspace_creation: bool,
    /// A browser session unused this long ends (`DEVPILOT_SESSION_IDLE_MINUTES`, 12 hours).
    pub session_idle: Duration,
    /// Every browser session ends this long after sign-in, used or not
    /// (`DEVPILOT_SESSION_MAX_HOURS`, 7 days).
    pub session_max: Duration,
}

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            allow_workspace_creation: false,
            session_idle: Duration::from_secs(12 * HOUR),
            session_max: Duration::from_secs(7 * 24 * HOUR),
        }
    }
}

impl IdentitySettings {
    pub fn from_env() -> anyhow::Result<IdentitySettings> {
        let d = IdentitySettings::default();
        let idle: u64 = parse_var("DEVPILOT_SESSION_IDLE_MINUTES", d.session_idle.as_secs() / MINUTE)?;
        let max: u64 = parse_var("DEVPILOT_SESSION_MAX_HOURS", d.session_max.as_secs() / HOUR)?;
        anyhow::ensure!(idle > 0, "DEVPILOT_SESSION_IDLE_MINUTES must be at least 1");
        anyhow::ensure!(max > 0, "DEVPILOT_SESSION_MAX_HOURS must be at least 1");
        Ok(IdentitySettings {
            allow_workspace_creation: parse_var("DEVPILOT_ALLOW_WORKSPACE_CREATION", false)?,
            session_idle: Duration::from_secs(idle * MINUTE),
            session_max: Duration::from_secs(max * HOUR),
        })
    }
}
