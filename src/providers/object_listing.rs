//! Listing through object_store, shared by the object_store-backed providers: every object under
//! the destination's prefix whose key (relative to that prefix) starts with `prefix`.

use super::{ErrorKind, ProviderError, StoredObject};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::path::Path as StorePath;

fn base_path(destination_prefix: Option<&str>) -> Option<StorePath> {
    destination_prefix.map(|p| StorePath::from(p.trim_end_matches('/')))
}

/// The connection test of an object store: the first page of a listing under the prefix, which
/// needs only list permission (never ListBuckets or the like), bounded by `deadline`.
pub async fn first_page(
    store: &dyn ObjectStore,
    destination_prefix: Option<&str>,
    deadline: std::time::Duration,
    endpoint: &str,
    map_err: impl Fn(&object_store::Error) -> ProviderError,
) -> Result<(), ProviderError> {
    let base = base_path(destination_prefix);
    let mut listing = store.list(base.as_ref());
    match tokio::time::timeout(deadline, listing.next()).await {
        Err(_) => Err(ProviderError::new(
            ErrorKind::Timeout,
            format!("{endpoint} did not answer within {} s.", deadline.as_secs()),
        )),
        Ok(Some(Err(e))) => Err(map_err(&e)),
        Ok(_) => Ok(()),
    }
}

pub async fn list_under(
    store: &dyn ObjectStore,
    destination_prefix: Option<&str>,
    prefix: &str,
) -> Result<Vec<StoredObject>, object_store::Error> {
    let base = base_path(destination_prefix);
    let strip = base.as_ref().map(|b| format!("{b}/")).unwrap_or_default();
    let objects: Vec<_> = store.list(base.as_ref()).try_collect().await?;
    Ok(objects
        .into_iter()
        .filter_map(|o| {
            let key = o.location.as_ref().strip_prefix(strip.as_str())?.to_owned();
            key.starts_with(prefix).then_some(StoredObject { key, size: o.size, last_modified: Some(o.last_modified) })
        })
        .collect())
}
