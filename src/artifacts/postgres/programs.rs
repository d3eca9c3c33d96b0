//! Which `pg_dump`, `pg_restore` or `psql` a workspace's database work runs.
//!
//! On Debian and Ubuntu the tool on the PATH is `pg_wrapper`, a Perl script that chooses a
//! version and then runs `/usr/lib/postgresql/<major>/bin/<tool>`: a Perl interpreter's start
//! (about 50 ms on the benchmark's machine) before every dump and restore. Under the cleared
//! environment the tools get, it takes the version of a local cluster on port 5432 (or one that
//! `/etc/postgresql-common/user_clusters` names), else the newest — so a workspace's server newer
//! than this machine's own cluster met a `pg_dump` that refuses it. Devpilot runs the newest
//! version that has the tool (a newer `pg_dump` reads every older server). Elsewhere the tool on
//! the PATH is the tool.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Debian and Ubuntu install each major version's binaries under `<this>/<major>/bin`.
pub const DEBIAN_VERSIONS: &str = "/usr/lib/postgresql";

/// The program to run for `tool`: see the module's comment. A tool found nowhere stays its bare
/// name, so that starting it fails with the usual "not found".
pub fn program(tool: &str) -> PathBuf {
    resolve(tool, &std::env::var_os("PATH").unwrap_or_default(), Path::new(DEBIAN_VERSIONS))
}

fn resolve(tool: &str, path_var: &OsStr, versions: &Path) -> PathBuf {
    let Some(on_path) = std::env::split_paths(path_var).map(|dir| dir.join(tool)).find(|p| p.is_file()) else {
        return PathBuf::from(tool);
    };
    let wrapper = std::fs::canonicalize(&on_path).is_ok_and(|real| real.file_name() == Some(OsStr::new("pg_wrapper")));
    match wrapper {
        true => newest_bin_with(versions, tool).map_or(on_path, |bin| bin.join(tool)),
        false => on_path,
    }
}

/// The highest-numbered `<versions>/<major>/bin` that holds `tool`.
pub fn newest_bin_with(versions: &Path, tool: &str) -> Option<PathBuf> {
    let mut majors: Vec<u32> =
        std::fs::read_dir(versions).ok()?.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok()).collect();
    majors.sort_unstable_by(|a, b| b.cmp(a));
    majors.into_iter().map(|major| versions.join(major.to_string()).join("bin")).find(|bin| bin.join(tool).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(path, "").expect("file");
    }

    #[test]
    fn debian_s_wrapper_is_skipped_for_the_newest_version_that_has_the_tool() {
        let root = tempfile::tempdir().expect("temp");
        let (bin, share, versions) = (root.path().join("bin"), root.path().join("share"), root.path().join("lib"));
        touch(&share.join("pg_wrapper"));
        std::fs::create_dir_all(&bin).expect("bin");
        symlink(share.join("pg_wrapper"), bin.join("pg_dump")).expect("link");
        touch(&versions.join("9/bin/pg_dump"));
        touch(&versions.join("13/bin/pg_dump"));
        touch(&versions.join("17/bin/pg_config"));
        std::fs::create_dir_all(versions.join("notes")).expect("dir");
        let path_var = std::env::join_paths([root.path().join("empty"), bin.clone()]).expect("PATH");
        assert_eq!(resolve("pg_dump", &path_var, &versions), versions.join("13/bin/pg_dump"));
        // Without a version that has it, the wrapper is what there is.
        symlink(share.join("pg_wrapper"), bin.join("pg_restore")).expect("link");
        assert_eq!(resolve("pg_restore", &path_var, &versions), bin.join("pg_restore"));
    }

    #[test]
    fn a_real_tool_on_the_path_is_the_tool_and_a_missing_one_keeps_its_name() {
        let root = tempfile::tempdir().expect("temp");
        let (bin, versions) = (root.path().join("bin"), root.path().join("lib"));
        touch(&bin.join("pg_dump"));
        touch(&versions.join("17/bin/pg_dump"));
        let path_var = std::env::join_paths([bin.clone()]).expect("PATH");
        assert_eq!(resolve("pg_dump", &path_var, &versions), bin.join("pg_dump"));
        assert_eq!(resolve("psql", &path_var, &versions), PathBuf::from("psql"));
    }

    #[test]
    fn on_this_machine_no_perl_stands_before_pg_dump() {
        // The tests run where Debian's PostgreSQL packages are installed (see the README).
        let found = program("pg_dump");
        assert!(found.starts_with(DEBIAN_VERSIONS), "{}", found.display());
    }
}
