//! Query results kept in memory while the database has not changed: one [`Memo`] per kind of
//! result, holding entries of one [`Version`] only, so a commit anywhere retires them all.

use super::version::Version;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Loads that may run side by side, for different keys.
const STRIPES: usize = 16;

pub struct Memo<K, V> {
    capacity: usize,
    state: Mutex<State<K, V>>,
    stripes: [tokio::sync::Mutex<()>; STRIPES],
    hasher: std::hash::RandomState,
}

struct State<K, V> {
    version: Option<Version>,
    entries: HashMap<K, Arc<V>>,
}

impl<K: Eq + Hash, V> Memo<K, V> {
    /// At most `capacity` entries; a full memo starts again empty rather than tracking use.
    pub fn new(capacity: usize) -> Memo<K, V> {
        Memo {
            capacity,
            state: Mutex::new(State { version: None, entries: HashMap::new() }),
            stripes: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// The entry stored under `key` at exactly this version.
    pub fn get(&self, key: &K, version: Version) -> Option<Arc<V>> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (state.version == Some(version)).then(|| state.entries.get(key).cloned()).flatten()
    }

    /// Stores a value read at `version` — the version taken BEFORE reading, so that a commit
    /// during the read makes the entry stale instead of hiding the change.
    pub fn put(&self, key: K, version: Version, value: Arc<V>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.version != Some(version) || state.entries.len() >= self.capacity {
            state.entries.clear();
            state.version = Some(version);
        }
        state.entries.insert(key, value);
    }
}

impl<K: Eq + Hash, V> Memo<K, V> {
    /// The value for `key`: from memory while the database is unchanged, else loaded (and kept).
    pub async fn get_or_load<E, Fut>(
        &self,
        versions: &super::version::DataVersion,
        key: K,
        load: impl FnOnce() -> Fut,
    ) -> Result<Arc<V>, E>
    where
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        let Some(version) = versions.current() else {
            // Nothing may be cached: every request reads for itself.
            return Ok(Arc::new(load().await?));
        };
        if let Some(hit) = self.get(&key, version) {
            return Ok(hit);
        }
        // One load at a time per key (its stripe): requests that miss together — after any
        // commit, every request in flight — wait for the first one's result instead of each
        // reading the database.
        let _turn = self.stripes[self.stripe_of(&key)].lock().await;
        let Some(version) = versions.current() else {
            return Ok(Arc::new(load().await?));
        };
        if let Some(hit) = self.get(&key, version) {
            return Ok(hit);
        }
        let value = Arc::new(load().await?);
        self.put(key, version, value.clone());
        Ok(value)
    }

    fn stripe_of(&self, key: &K) -> usize {
        use std::hash::BuildHasher;
        (self.hasher.hash_one(key) % STRIPES as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(observed: u64, local: u64) -> Version {
        Version::for_tests(observed, local)
    }

    #[test]
    fn an_entry_serves_only_its_own_version() {
        let memo: Memo<&str, u32> = Memo::new(10);
        memo.put("a", version(1, 0), Arc::new(1));
        assert_eq!(memo.get(&"a", version(1, 0)).as_deref(), Some(&1));
        assert_eq!(memo.get(&"a", version(2, 0)), None, "a commit elsewhere");
        assert_eq!(memo.get(&"a", version(1, 1)), None, "a write of this process");
        memo.put("b", version(2, 0), Arc::new(2));
        assert_eq!(memo.get(&"a", version(1, 0)), None, "entries of an older version are dropped");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_that_miss_together_load_once() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("watched.db");
        std::fs::File::create(&path).expect("db file");
        let versions = crate::db::version::DataVersion::sqlite(&path.to_string_lossy());
        while versions.current().is_none() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let (memo, loads) = (Arc::new(Memo::<&str, u32>::new(10)), Arc::new(std::sync::atomic::AtomicUsize::new(0)));
        let requests = (0..16).map(|_| {
            let (memo, loads, versions) = (memo.clone(), loads.clone(), versions.clone());
            tokio::spawn(async move {
                let load = || async {
                    loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    Ok::<_, ()>(7)
                };
                *memo.get_or_load(&versions, "page", load).await.expect("loaded")
            })
        });
        for answered in futures::future::join_all(requests).await {
            assert_eq!(answered.expect("request"), 7);
        }
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), 1, "one load served all sixteen");
    }

    #[test]
    fn a_full_memo_starts_again() {
        let memo: Memo<u32, u32> = Memo::new(2);
        for k in 0..3 {
            memo.put(k, version(0, 0), Arc::new(k));
        }
        assert_eq!(memo.get(&0, version(0, 0)), None);
        assert_eq!(memo.get(&2, version(0, 0)).as_deref(), Some(&2));
    }
}
