//! What uploads cut off with the destination out of reach left behind (a partial file, an
//! incomplete multipart upload), removed at the plan's next run and at start-up: only what this
//! plan's own failed or interrupted runs left, found by the run id in its name.

use super::runner::Runner;
use super::store;
use crate::plans::store::PlanRow;
use crate::providers::Provider;
use std::collections::HashSet;

impl Runner {
    /// Uploads cut off with the server out of reach could not clean up after themselves; the
    /// plan's next run does (and start-up, for runs a crash interrupted). Only what this plan's
    /// failed or interrupted runs left goes, found by the run id in its name: a running upload,
    /// or another plan's in the same folder (a same-named plan of another workspace sharing a
    /// granted folder), is never touched.
    pub(super) async fn remove_leftovers(&self, provider: &dyn Provider, plan: &PlanRow, run_id: &str) {
        let pid = plan.id.clone();
        let cut_off: HashSet<String> = match self.db().run(move |c| store::cut_off_runs(c, &pid)).await {
            Ok(ids) => ids.into_iter().collect(),
            Err(e) => return tracing::warn!(run = %run_id, error = %e, "could not list the plan's cut-off runs"),
        };
        if cut_off.is_empty() {
            return;
        }
        let ours = move |name: &str| run_id_in(name).is_some_and(|id| cut_off.contains(id));
        match provider.remove_leftovers(&format!("{}/", plan.slug), &ours).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(run = %run_id, removed = n, "removed what interrupted uploads left"),
            Err(e) => tracing::warn!(run = %run_id, error = %e, "could not remove what interrupted uploads left"),
        }
    }
}

/// The run id in an artifact's file name (`{timestamp}-{run-id}.{extension}`).
fn run_id_in(name: &str) -> Option<&str> {
    let (_, rest) = name.split_once('-')?;
    rest.get(..36).filter(|id| uuid::Uuid::parse_str(id).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::runner::object_key;

    #[test]
    fn the_run_id_is_read_back_from_an_object_key() {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time").naive_utc();
        let id = uuid::Uuid::new_v4().to_string();
        let key = object_key("nightly", at, &id, "tar.zst.dpbe");
        assert_eq!(run_id_in(key.rsplit('/').next().expect("name")), Some(id.as_str()));
        assert_eq!(run_id_in("notes.txt"), None);
        assert_eq!(run_id_in("20260101T000000Z-not-a-uuid.tar.zst"), None);
    }
}
