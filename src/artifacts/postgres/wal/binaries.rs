//! Which PostgreSQL binaries Devpilot runs for point-in-time recovery (`pg_receivewal`,
//! `pg_basebackup`, and `initdb`-less clusters with `pg_ctl` and `postgres`): the folder an
//! operator configured, else the one `pg_config --bindir` names, else Debian's newest
//! `/usr/lib/postgresql/<major>/bin`. A clone needs the server binaries of the source's major
//! version, so that version is read from the binaries themselves.

use crate::artifacts::postgres::PostgresError;
use crate::artifacts::postgres::programs::{DEBIAN_VERSIONS, newest_bin_with};
use std::path::{Path, PathBuf};
use std::process::Stdio;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    pub dir: PathBuf,
}

impl PgBinaries {
    /// Finds the binaries (blocking: it may run `pg_config`; call it at start).
    pub fn locate(configured: Option<&Path>) -> Result<PgBinaries, PostgresError> {
        if let Some(dir) = configured {
            return PgBinaries::at(dir).ok_or_else(|| {
                PostgresError::Other(format!(
                    "{} holds no pg_basebackup: the folder of PostgreSQL's binaries is configured wrongly",
                    dir.display()
                ))
            });
        }
        let from_pg_config = std::process::Command::new("pg_config")
            .arg("--bindir")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        from_pg_config
            .and_then(|dir| PgBinaries::at(&dir))
            .or_else(|| newest_bin_with(Path::new(DEBIAN_VERSIONS), "pg_basebackup").map(|dir| PgBinaries { dir }))
            .ok_or_else(|| {
                PostgresError::Other(
                    "PostgreSQL's binaries were not found (no pg_config, nothing in /usr/lib/postgresql): install \
                     the server package of the source's major version (postgresql-NN) or configure their folder"
                        .into(),
                )
            })
    }

    /// The folder, if it holds `pg_basebackup`.
    fn at(dir: &Path) -> Option<PgBinaries> {
        dir.join("pg_basebackup").is_file().then(|| PgBinaries { dir: dir.to_path_buf() })
    }

    pub fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The major version of the binaries (`pg_basebackup --version`).
    pub async fn major_version(&self) -> Result<u32, PostgresError> {
        let output = tokio::process::Command::new(self.program("pg_basebackup"))
            .arg("--version")
            .env_clear()
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| {
                PostgresError::Other(format!("could not run {}: {e}", self.program("pg_basebackup").display()))
            })?;
        let text = String::from_utf8_lossy(&output.stdout);
        major_of(&text).ok_or_else(|| {
            PostgresError::Other(format!("pg_basebackup --version answered “{}”, not a version", text.trim()))
        })
    }
}

/// The major version in `pg_basebackup (PostgreSQL) 15.20 (Debian …)`: 15 (and 9 for 9.6).
fn major_of(version_line: &str) -> Option<u32> {
    let rest = version_line.split("(PostgreSQL)").nth(1)?.trim_start();
    let number: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    number.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions_are_read_from_the_version_line() {
        assert_eq!(major_of("pg_basebackup (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n"), Some(15));
        assert_eq!(major_of("pg_basebackup (PostgreSQL) 17devel"), Some(17));
        assert_eq!(major_of("pg_basebackup (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(major_of("something else 15.2"), None);
    }

    #[test]
    fn a_configured_folder_without_the_tools_is_refused() {
        let empty = tempfile::tempdir().expect("temp");
        let error = PgBinaries::locate(Some(empty.path())).expect_err("no tools there");
        assert!(error.to_string().contains("holds no pg_basebackup"), "{error}");
    }

    #[tokio::test]
    async fn this_machine_s_binaries_are_found_with_their_version() {
        // The tests run where PostgreSQL's server package is installed (see the README).
        let found = PgBinaries::locate(None).expect("PostgreSQL's binaries on the test machine");
        assert!(found.program("pg_ctl").is_file(), "{found:?}");
        let major = found.major_version().await.expect("version");
        assert!(major >= 13, "{major}");
    }
}
