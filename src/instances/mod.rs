//! This server process among the others that share its database.
//!
//! Every instance has an id and writes a heartbeat every third of the instance timeout. Work in
//! progress (a run, a connection test) names the instance doing it, so what a crashed instance
//! left behind is recognised by any instance still alive: its owner stopped beating. An instance
//! starting up therefore never touches the work of another live one.
//!
//! The id is kept in the data dir and reused by the next process that holds the data dir's lock:
//! the previous holder is certainly dead (the lock goes with its process, `kill -9` included), so
//! what it left running is interrupted at once, without waiting for its heartbeat to go stale.
//! Instances that share a data dir (one key file for several) get fresh ids beside the holder.

pub mod store;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

const LOCK_FILE: &str = "instance.lock";
const ID_FILE: &str = "instance.id";

pub struct Instance {
    id: Arc<str>,
    /// This id was a previous process's: whatever it names as running was cut off.
    inherited: bool,
    /// Held for the life of the process.
    _lock: Option<File>,
}

impl Instance {
    /// Takes the data dir's instance id if no live process holds it, else makes a fresh one.
    pub fn claim(data_dir: &Path) -> Instance {
        match held_id(data_dir) {
            Ok(Some((id, inherited, lock))) => Instance { id: id.into(), inherited, _lock: Some(lock) },
            Ok(None) => Instance::fresh(),
            Err(e) => {
                tracing::warn!(error = %e, dir = %data_dir.display(), "no instance lock in the data dir; using a fresh id");
                Instance::fresh()
            }
        }
    }

    fn fresh() -> Instance {
        Instance { id: uuid::Uuid::new_v4().to_string().into(), inherited: false, _lock: None }
    }

    pub fn id(&self) -> Arc<str> {
        Arc::clone(&self.id)
    }

    pub fn inherited(&self) -> bool {
        self.inherited
    }
}

/// (id, whether it was there before, the lock) when the lock is free; None when another process
/// holds it.
fn held_id(data_dir: &Path) -> std::io::Result<Option<(String, bool, File)>> {
    std::fs::create_dir_all(data_dir)?;
    let lock = File::options().create(true).truncate(false).write(true).open(data_dir.join(LOCK_FILE))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    let path = data_dir.join(ID_FILE);
    let previous = std::fs::read_to_string(&path).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    match previous {
        Some(id) => Ok(Some((id, true, lock))),
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            std::fs::write(&path, &id)?;
            Ok(Some((id, false, lock)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_dir_id_passes_to_the_next_process_only() {
        let dir = tempfile::tempdir().expect("dir");
        let first = Instance::claim(dir.path());
        assert!(!first.inherited());
        let beside = Instance::claim(dir.path());
        assert_ne!(beside.id(), first.id(), "a live holder keeps its id to itself");
        let id = first.id();
        drop(first);
        let next = Instance::claim(dir.path());
        assert_eq!(next.id(), id);
        assert!(next.inherited());
    }
}
