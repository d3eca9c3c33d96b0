//! A workspace's view of this machine: the folders an operator granted it (read, or read and
//! write) and its own folder under Devpilot's backup folder. Every path a workspace names is
//! checked here: first as typed, so a path outside its grants is refused before the server looks
//! at it (nothing to learn about folders it may not see); then resolved (symbolic links and `..`
//! as the kernel sees them); and never one of Devpilot's own files, whatever is granted.

use super::own::{DevpilotFiles, Own};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The words every refusal of an ungranted path uses (pages link them to the grant page).
pub const NOT_GRANTED: &str = "not granted to this workspace";

/// What a folder grant allows (stored with the grant by `grants`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderAccess {
    /// Sources only (directory and SQLite plans read there).
    Read,
    /// Sources, local destinations and restore targets.
    ReadWrite,
}

impl FolderAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            FolderAccess::Read => "read",
            FolderAccess::ReadWrite => "read_write",
        }
    }

    pub fn parse(value: &str) -> Option<FolderAccess> {
        match value {
            "read" => Some(FolderAccess::Read),
            "read_write" => Some(FolderAccess::ReadWrite),
            _ => None,
        }
    }

    pub fn allows_write(self) -> bool {
        self == FolderAccess::ReadWrite
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Sources: directory and SQLite plans.
    Read,
    /// Local destinations and restore targets.
    Write,
}

#[derive(Debug, Clone)]
pub struct HostAccess {
    granted: Vec<(PathBuf, FolderAccess)>,
    own: PathBuf,
    devpilot: Arc<DevpilotFiles>,
}

/// A resolved path and the granted folder it lies in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The granted folder (or the workspace's own), resolved when it was granted.
    pub root: PathBuf,
    /// Plain names below it; empty for the folder itself.
    pub relative: PathBuf,
}

impl Located {
    pub fn path(&self) -> PathBuf {
        if self.relative.as_os_str().is_empty() { self.root.clone() } else { self.root.join(&self.relative) }
    }
}

/// A name, existing or not, in a located folder: where a restore puts what it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub folder: Located,
    pub name: OsString,
}

impl Place {
    pub fn path(&self) -> PathBuf {
        self.folder.path().join(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("“{0}” is not an absolute path; start it with /.")]
    NotAbsolute(String),
    #[error("“{0}” is {NOT_GRANTED}.")]
    NotGranted(String),
    #[error("“{0}” is granted to this workspace for reading only; writing there needs a read-and-write grant.")]
    ReadOnly(String),
    #[error("“{0}” is {NOT_GRANTED}: a symbolic link leads out of the granted folder.")]
    LeadsOutside(String),
    #[error("“{path}” {} {}; no workspace can use it.", if .own.is_folder() { "is in" } else { "is" }, .own.label())]
    Devpilot { path: String, own: Own },
    #[error("“{0}” does not exist on the server.")]
    Missing(String),
    #[error("The folder of “{0}” does not exist on the server.")]
    MissingFolder(String),
    #[error("“{0}” is a granted folder itself; choose a new folder inside it.")]
    GrantedRoot(String),
    #[error("“{0}” cannot be read by the server: {1}.")]
    Unreadable(String, String),
}

impl HostAccess {
    pub fn new(granted: Vec<(PathBuf, FolderAccess)>, own: PathBuf, devpilot: Arc<DevpilotFiles>) -> HostAccess {
        HostAccess { granted, own, devpilot }
    }

    /// The workspace's own folder, where its local destinations without a folder write.
    pub fn own_folder(&self) -> &Path {
        &self.own
    }

    pub fn devpilot(&self) -> &DevpilotFiles {
        &self.devpilot
    }

    /// Devpilot's own files, to hand to work that outlives this value (a streaming backup).
    pub fn devpilot_files(&self) -> Arc<DevpilotFiles> {
        Arc::clone(&self.devpilot)
    }

    /// An existing path a workspace typed, for `need`.
    pub fn locate(&self, typed: &str, need: Need) -> Result<Located, Refusal> {
        let path = lexical(typed)?;
        self.granted(&path, need, typed)?;
        self.not_devpilot(&path, typed)?;
        let resolved = std::fs::canonicalize(&path).map_err(|e| unreadable(typed, &e, Refusal::Missing))?;
        self.located(resolved, need, typed).map_err(through_a_link)
    }

    /// A path that may not exist yet (a restore target): its folder must exist; the path must
    /// lie inside a granted folder, not be one.
    pub fn locate_new(&self, typed: &str, need: Need) -> Result<Place, Refusal> {
        let path = lexical(typed)?;
        self.granted(&path, need, typed)?;
        self.not_devpilot(&path, typed)?;
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(Refusal::GrantedRoot(typed.trim().to_owned()));
        };
        let parent = std::fs::canonicalize(parent).map_err(|e| unreadable(typed, &e, Refusal::MissingFolder))?;
        let full = self.located(parent.join(name), need, typed).map_err(through_a_link)?;
        match full.relative.parent() {
            Some(relative) if !full.relative.as_os_str().is_empty() => {
                let folder = Located { root: full.root.clone(), relative: relative.to_path_buf() };
                Ok(Place { folder, name: name.to_owned() })
            }
            _ => Err(Refusal::GrantedRoot(typed.trim().to_owned())),
        }
    }

    /// A path stored resolved (a saved plan or destination), checked against today's grants. It
    /// is not resolved again: the no-follow open that uses it refuses whatever changed on disk.
    pub fn locate_stored(&self, path: &Path, need: Need) -> Result<Located, Refusal> {
        let shown = path.display().to_string();
        let path = lexical(&shown)?;
        self.located(path, need, &shown)
    }

    fn located(&self, resolved: PathBuf, need: Need, typed: &str) -> Result<Located, Refusal> {
        let root = self.granted(&resolved, need, typed)?;
        if root != self.own {
            self.not_devpilot(&resolved, typed)?;
        }
        let relative = resolved.strip_prefix(root).map(Path::to_path_buf).unwrap_or_default();
        Ok(Located { root: root.to_path_buf(), relative })
    }

    /// Refuses a path that is or lies in one of Devpilot's own, unless in the workspace's folder.
    fn not_devpilot(&self, path: &Path, typed: &str) -> Result<(), Refusal> {
        match self.devpilot.what_is(path) {
            Some(own) if !path.starts_with(&self.own) => Err(Refusal::Devpilot { path: typed.trim().to_owned(), own }),
            _ => Ok(()),
        }
    }

    /// [`root_of`](Self::root_of), except that a path granted for reading only that is one of
    /// Devpilot's own is refused as that (it is visible to the workspace anyway).
    fn granted(&self, path: &Path, need: Need, typed: &str) -> Result<&Path, Refusal> {
        match self.root_of(path, need, typed) {
            Err(Refusal::ReadOnly(shown)) => {
                self.not_devpilot(path, typed)?;
                Err(Refusal::ReadOnly(shown))
            }
            other => other,
        }
    }

    /// The granted folder holding `path` with `need` (the workspace's own folder is read and
    /// write), by the path's text.
    fn root_of(&self, path: &Path, need: Need, typed: &str) -> Result<&Path, Refusal> {
        let own = std::iter::once((self.own.as_path(), FolderAccess::ReadWrite));
        let holding: Vec<(&Path, FolderAccess)> = self
            .granted
            .iter()
            .map(|(p, a)| (p.as_path(), *a))
            .chain(own)
            .filter(|(root, _)| path.starts_with(root))
            .collect();
        let enough = holding.iter().filter(|(_, a)| need == Need::Read || a.allows_write());
        match enough.max_by_key(|(root, _)| root.as_os_str().len()) {
            Some((root, _)) => Ok(root),
            None if holding.is_empty() => Err(Refusal::NotGranted(typed.trim().to_owned())),
            None => Err(Refusal::ReadOnly(typed.trim().to_owned())),
        }
    }
}

/// A path whose text was granted but whose resolved form is not went through a symbolic link.
fn through_a_link(refusal: Refusal) -> Refusal {
    match refusal {
        Refusal::NotGranted(shown) => Refusal::LeadsOutside(shown),
        other => other,
    }
}

/// An absolute path with `.` and `..` taken away by its text (never above `/`); the kernel's
/// own reading follows in [`std::fs::canonicalize`].
pub fn lexical(typed: &str) -> Result<PathBuf, Refusal> {
    let typed = typed.trim();
    let path = Path::new(typed);
    if !path.is_absolute() || typed.contains('\0') {
        return Err(Refusal::NotAbsolute(typed.to_owned()));
    }
    let mut clean = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(name) => clean.push(name),
            Component::ParentDir => {
                clean.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(clean)
}

fn unreadable(typed: &str, e: &std::io::Error, missing: fn(String) -> Refusal) -> Refusal {
    let shown = typed.trim().to_owned();
    match e.kind() {
        std::io::ErrorKind::NotFound => missing(shown),
        _ => Refusal::Unreadable(shown, super::describe(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// `<tmp>/srv/{read,write}` granted, `<tmp>/srv/devpilot` the data folder, `<tmp>/etc` not granted.
    fn machine() -> (tempfile::TempDir, PathBuf, HostAccess) {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = std::fs::canonicalize(dir.path()).expect("resolved");
        for folder in ["srv/read/sub", "srv/write", "srv/devpilot/backups/ws", "etc"] {
            std::fs::create_dir_all(r.join(folder)).expect("mkdir");
        }
        std::fs::write(r.join("srv/devpilot/devpilot.db"), b"db").expect("db");
        let data = r.join("srv/devpilot");
        let files =
            DevpilotFiles::new(&data, &data.join("backups"), &data.join("master.key"), Some(&data.join("devpilot.db")));
        let granted = vec![(r.join("srv"), FolderAccess::Read), (r.join("srv/write"), FolderAccess::ReadWrite)];
        let access = HostAccess::new(granted, data.join("backups/ws"), Arc::new(files));
        (dir, r, access)
    }

    fn shown(p: &Path) -> String {
        p.display().to_string()
    }

    #[test]
    fn lexical_takes_dots_away_and_wants_an_absolute_path() {
        assert_eq!(lexical(" /srv/./a/../b/ ").expect("absolute"), PathBuf::from("/srv/b"));
        assert_eq!(lexical("/../../etc").expect("absolute"), PathBuf::from("/etc"));
        assert!(matches!(lexical("srv/a"), Err(Refusal::NotAbsolute(_))));
    }

    #[test]
    fn granted_folders_with_enough_access_only() {
        let (_dir, r, access) = machine();
        let read = access.locate(&shown(&r.join("srv/read/sub")), Need::Read).expect("read grant");
        assert_eq!((read.root.clone(), read.relative.clone()), (r.join("srv"), PathBuf::from("read/sub")));
        assert!(matches!(access.locate(&shown(&r.join("srv/read")), Need::Write), Err(Refusal::ReadOnly(_))));
        let write = access.locate(&shown(&r.join("srv/write")), Need::Write).expect("write grant");
        assert_eq!(write.root, r.join("srv/write"), "the closest grant that allows it");
        let refused = access.locate(&shown(&r.join("etc")), Need::Read).expect_err("not granted");
        assert!(refused.to_string().contains(NOT_GRANTED), "{refused}");
        let missing = format!("{}/nowhere", shown(&r.join("etc")));
        assert!(matches!(access.locate(&missing, Need::Read), Err(Refusal::NotGranted(_))), "not looked at");
        let dots = format!("{}/../../etc", shown(&r.join("srv/read")));
        assert!(matches!(access.locate(&dots, Need::Read), Err(Refusal::NotGranted(_))));
    }

    #[test]
    fn links_out_of_a_grant_and_devpilot_itself_are_refused() {
        let (_dir, r, access) = machine();
        symlink(r.join("etc"), r.join("srv/read/escape")).expect("symlink");
        let refused = access.locate(&shown(&r.join("srv/read/escape")), Need::Read).expect_err("escape");
        assert!(matches!(refused, Refusal::LeadsOutside(_)), "{refused}");
        symlink(r.join("srv/devpilot"), r.join("srv/read/data")).expect("symlink");
        for path in [r.join("srv/devpilot"), r.join("srv/read/data"), r.join("srv/devpilot/devpilot.db")] {
            let refused = access.locate(&shown(&path), Need::Read).expect_err("Devpilot's own");
            assert!(matches!(refused, Refusal::Devpilot { .. }), "{}: {refused}", path.display());
        }
        let own = access.locate(&shown(&r.join("srv/devpilot/backups/ws")), Need::Write).expect("its own folder");
        assert_eq!(own.root, r.join("srv/devpilot/backups/ws"));
        let other = r.join("srv/devpilot/backups/other");
        assert!(access.locate_new(&shown(&other), Need::Write).is_err(), "another workspace's folder");
    }

    #[test]
    fn new_targets_need_their_folder_and_lie_inside_a_grant() {
        let (_dir, r, access) = machine();
        let place = access.locate_new(&shown(&r.join("srv/write/restored")), Need::Write).expect("new");
        assert_eq!((place.folder.root.clone(), place.folder.relative.clone()), (r.join("srv/write"), PathBuf::new()));
        assert_eq!(place.path(), r.join("srv/write/restored"));
        let missing = access.locate_new(&shown(&r.join("srv/write/no/such")), Need::Write).expect_err("no folder");
        assert!(matches!(missing, Refusal::MissingFolder(_)), "{missing}");
        let root = access.locate_new(&shown(&r.join("srv/write")), Need::Write).expect_err("the grant itself");
        assert!(matches!(root, Refusal::GrantedRoot(_)), "{root}");
        let stored = access.locate_stored(&r.join("srv/read/sub"), Need::Read).expect("stored");
        assert_eq!(stored.path(), r.join("srv/read/sub"));
    }
}
