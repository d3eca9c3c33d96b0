//! Listing through object_store, shared by the object_store-backed providers: every object under
//! the destination's prefix whose key (relative to that prefix) starts with `prefix`.

use super::StoredObject;
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::path::Path as StorePath;

pub async fn list_under(
    store: &dyn ObjectStore,
    destination_prefix: Option<&str>,
    prefix: &str,
) -> Result<Vec<StoredObject>, object_store::Error> {
    let base = destination_prefix.map(|p| StorePath::from(p.trim_end_matches('/')));
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
