//! A small tmpfs mounted for one test (the tests run as root; permission bits do not stop root,
//! a full or read-only file system does), unmounted when dropped, even by a failing test.

use std::path::Path;
use std::process::Command;

pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it: `1m`, `64m`).
    pub fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs failed (the tests need root)");
        Tmpfs { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn path_string(&self) -> String {
        self.dir.path().to_string_lossy().into_owned()
    }

    /// `mount -o remount,ro` (true) or `remount,rw` (false).
    pub fn read_only(&self, ro: bool) {
        let mode = if ro { "remount,ro" } else { "remount,rw" };
        let status = Command::new("mount").args(["-o", mode]).arg(self.dir.path()).status().expect("run mount");
        assert!(status.success(), "mount -o {mode} failed");
    }

    /// Every file under the mount, hidden ones included.
    pub fn files(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut pending = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    pending.push(entry.path());
                } else {
                    found.push(entry.path().strip_prefix(self.dir.path()).expect("under").display().to_string());
                }
            }
        }
        found.sort();
        found
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // A server still holding a file open makes a plain unmount busy: detach it lazily then.
        let plain = Command::new("umount").arg(self.dir.path()).status();
        if !plain.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
        }
    }
}
