//! Point-in-time recovery: where the PostgreSQL binaries are, where clones live and which ports
//! they take, how often the open WAL segment is uploaded.

use super::{parse_var, secs_var, var};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PitrSettings {
    /// PostgreSQL's client and server binaries (`DEVPILOT_PG_BIN_DIR`); None: `pg_config
    /// --bindir`, else the newest `/usr/lib/postgresql/*/bin`.
    pub bin_dir: Option<PathBuf>,
    /// Where clones' data folders live (`DEVPILOT_CLONE_DIR`; default: beside the data folder,
    /// `<data dir>-clones`, because the data folder itself is Devpilot's alone (0700) and the
    /// clusters run as another user, who must be able to enter this one).
    pub clone_dir: PathBuf,
    /// The loopback ports clones listen on (`DEVPILOT_CLONE_PORTS`, default 55000-55999).
    pub clone_ports: RangeInclusive<u16>,
    /// The OS user clusters run as (`DEVPILOT_CLONE_USER`); None: `postgres` when Devpilot runs
    /// as root, else Devpilot's own user.
    pub clone_user: Option<String>,
    /// The Devpilot binary a clone's `restore_command` runs (`devpilot wal-fetch`): this
    /// process's own executable unless `DEVPILOT_FETCH_PROGRAM` names another.
    pub fetch_program: Option<PathBuf>,
    /// How often the open segment is uploaded as `.partial` (`DEVPILOT_WAL_PARTIAL_SECS`, 5):
    /// the recovery point objective under steady writes.
    pub partial_every: Duration,
    /// How often the archiver looks at its databases and renews its leases
    /// (`DEVPILOT_WAL_TICK_SECS`, 2).
    pub tick: Duration,
    /// A missing segment older than this is reported as lost, younger as delayed
    /// (`DEVPILOT_WAL_LOST_AFTER_SECS`, 600).
    pub lost_after: Duration,
}

impl PitrSettings {
    pub fn from_env(data_dir: &std::path::Path) -> anyhow::Result<PitrSettings> {
        Ok(PitrSettings {
            bin_dir: var("DEVPILOT_PG_BIN_DIR").map(PathBuf::from),
            clone_dir: var("DEVPILOT_CLONE_DIR").map(PathBuf::from).unwrap_or_else(|| beside(data_dir, "clones")),
            clone_ports: ports(&var("DEVPILOT_CLONE_PORTS").unwrap_or_else(|| "55000-55999".into()))?,
            clone_user: var("DEVPILOT_CLONE_USER"),
            fetch_program: var("DEVPILOT_FETCH_PROGRAM").map(PathBuf::from),
            partial_every: secs_var("DEVPILOT_WAL_PARTIAL_SECS", 5)?,
            tick: secs_var("DEVPILOT_WAL_TICK_SECS", 2)?,
            lost_after: Duration::from_secs(parse_var("DEVPILOT_WAL_LOST_AFTER_SECS", 600)?),
        })
    }
}

/// `<dir>-<suffix>`: a sibling of the data folder.
fn beside(dir: &std::path::Path, suffix: &str) -> PathBuf {
    let name = dir.file_name().map_or_else(|| "devpilot".into(), |n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!("{name}-{suffix}"))
}

fn ports(value: &str) -> anyhow::Result<RangeInclusive<u16>> {
    let (low, high) = value.split_once('-').unwrap_or((value, value));
    let (low, high): (u16, u16) = (low.trim().parse()?, high.trim().parse()?);
    anyhow::ensure!(low >= 1024 && low <= high, "DEVPILOT_CLONE_PORTS={value:?}: a range like 55000-55999");
    Ok(low..=high)
}

#[cfg(test)]
mod tests {
    #[test]
    fn port_ranges_parse() {
        assert_eq!(super::ports("55000-55010").expect("range"), 55000..=55010);
        assert_eq!(super::ports("6000").expect("one"), 6000..=6000);
        for bad in ["80-90", "9000-8000", "x", ""] {
            assert!(super::ports(bad).is_err(), "{bad}");
        }
    }
}
