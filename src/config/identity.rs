//! Settings of accounts and access.

use super::parse_var;

#[derive(Debug, Clone, Default)]
pub struct IdentitySettings {
    /// `DEVPILOT_ALLOW_WORKSPACE_CREATION`: every account may start workspaces of its own; by
    /// default only operators create workspaces.
    pub allow_workspace_creation: bool,
}

impl IdentitySettings {
    pub fn from_env() -> anyhow::Result<IdentitySettings> {
        Ok(IdentitySettings { allow_workspace_creation: parse_var("DEVPILOT_ALLOW_WORKSPACE_CREATION", false)? })
    }
}
