//! Bucket sources of a workspace and their restores (see `artifacts::bucket` and
//! `plans::bucket_source`): the source opened afresh for every attempt of a run (its URL from
//! the sealed secret, or the destination whose keys it uses looked up in the workspace again),
//! and a restore written into a bucket and prefix the workspace names, read and written with the
//! plan's source keys: a prefix that holds nothing by default, one with objects only after it was
//! typed to confirm.

use super::runner::Runner;
use super::source::SourceNotes;
use super::store::RunRow;
use crate::artifacts::bucket::{self, list_prefix};
use crate::artifacts::restore::RestoreError;
use crate::artifacts::{ByteStream, SourceRead};
use crate::fields::FieldErrors;
use crate::hostfs::private::PrivateTemp;
use crate::plans::bucket_source::{self, BucketPath};
use crate::plans::store::PlanRow;
use crate::providers::s3::S3Provider;
use crate::providers::s3::source::PAGE_KEYS;
use std::sync::Arc;

/// Listing pages a run's size is counted from before it reads (100,000 objects).
const SIZED_PAGES: u32 = 100;

/// A checked bucket restore target.
pub struct BucketTarget {
    provider: Arc<S3Provider>,
    pub path: BucketPath,
    /// The prefix held objects and the workspace typed it to confirm.
    pub existing: bool,
}

impl Runner {
    /// The plan's bucket source opened for this run: its provider and prefix.
    async fn bucket_of(&self, plan: &PlanRow) -> Result<(S3Provider, String), String> {
        let secret = match bucket_source::destination_of(&plan.source_path) {
            Some(_) => None,
            None => Some(crate::plans::service::open_source_secret(self.cipher(), plan)?),
        };
        bucket_source::open(self.destinations(), &plan.workspace_id, &plan.source_path, secret.as_ref())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|(message, _)| message)
    }

    /// The bucket's objects as `.tar.zst` with its manifest (saved with the run), and the notes
    /// of what was left out, vanished or changed.
    pub(super) async fn bucket_stream(
        &self,
        plan: &PlanRow,
        read: SourceRead,
        run_id: &str,
    ) -> Result<(ByteStream, SourceNotes), String> {
        let (provider, prefix) = self.bucket_of(plan).await?;
        let temp = PrivateTemp::create(self.data_dir()).map_err(|e| format!("a private temporary folder: {e}"))?;
        let (_, file) = temp.new_file("manifest").map_err(|e| format!("a private temporary file: {e}"))?;
        let (body, notes, slot) = bucket::stream_with_manifest(Arc::new(provider), prefix, read, file);
        let body = self.saving_manifest(run_id, body, slot, temp);
        Ok((body, SourceNotes::new("Bucket objects: ", notes)))
    }

    /// What reading the bucket will take: the sizes of the objects a run would back up, listed
    /// beforehand; None past [`SIZED_PAGES`] pages (the run then shows bytes read only).
    pub(super) async fn bucket_size(&self, plan: &PlanRow) -> Result<u64, String> {
        let (provider, prefix) = self.bucket_of(plan).await?;
        let under = list_prefix(&prefix);
        let (mut total, mut token) = (0u64, None::<String>);
        for _ in 0..SIZED_PAGES {
            let page = provider.list_page(&under, token.as_deref(), PAGE_KEYS).await.map_err(|e| e.message)?;
            let backed_up =
                |key: &str| key.strip_prefix(under.as_str()).is_some_and(|n| bucket::unsafe_name(n).is_none());
            total += page.objects.iter().filter(|o| backed_up(&o.key)).map(|o| o.size).sum::<u64>();
            match page.next {
                Some(next) if !page.objects.is_empty() => token = Some(next),
                _ => return Ok(total),
            }
        }
        Err(format!("more than {} objects", u64::from(SIZED_PAGES) * u64::from(PAGE_KEYS)))
    }

    /// Checks the restore form's fields for a bucket artifact: `target` (`bucket[/prefix]`, read
    /// and written with the run's plan's source keys) and `confirm` (the same text, when the
    /// prefix already holds objects).
    pub async fn bucket_target(
        &self,
        workspace: &str,
        run: &RunRow,
        target: &str,
        confirm: &str,
    ) -> Result<BucketTarget, FieldErrors> {
        let at_target = |m: String| FieldErrors::single("target", m);
        let path = BucketPath::parse(target).map_err(at_target)?;
        let plan = self.plan_row(workspace, &run.plan_id).await.map_err(|_| {
            at_target("This backup's plan is gone, and with it the keys its bucket is written with.".into())
        })?;
        let unusable = |m: String| at_target(format!("The plan's bucket keys cannot be used: {m}."));
        let (provider, _) = self.bucket_of(&plan).await.map_err(unusable)?;
        // The same service and keys; another bucket of it when the target names one.
        let provider = match provider.bucket_name() == path.bucket {
            true => provider,
            false => self.bucket_provider_for(&plan, &path.bucket).await.map_err(unusable)?,
        };
        let page = provider
            .list_page(&list_prefix(&path.prefix), None, 1)
            .await
            .map_err(|e| at_target(format!("“{}” cannot be listed: {}", path.shown(), e.message)))?;
        let existing = !page.objects.is_empty();
        if existing && confirm.trim() != path.shown() {
            return Err(FieldErrors::single(
                "confirm",
                format!(
                    "“{}” already holds objects; restore into a new prefix, or type “{}” to confirm that objects with the same keys are replaced.",
                    path.shown(),
                    path.shown()
                ),
            ));
        }
        Ok(BucketTarget { provider: Arc::new(provider), path, existing })
    }

    /// The plan's source service and keys, for another bucket.
    async fn bucket_provider_for(&self, plan: &PlanRow, bucket_name: &str) -> Result<S3Provider, String> {
        let mut location = plan.source_path.clone();
        let secret = match bucket_source::destination_of(&plan.source_path) {
            Some((id, path)) => {
                location = format!("destination:{id}:{bucket_name}/{}", path.prefix);
                None
            }
            None => {
                let url = crate::plans::service::open_source_secret(self.cipher(), plan)?;
                Some(secret_with_bucket(&url, bucket_name)?)
            }
        };
        bucket_source::open(self.destinations(), &plan.workspace_id, &location, secret.as_ref())
            .await
            .map_err(|e| e.to_string())?
            .map(|(provider, _)| provider)
            .map_err(|(message, _)| message)
    }

    async fn plan_row(&self, workspace: &str, plan: &str) -> Result<PlanRow, crate::db::DbError> {
        let (ws, id) = (workspace.to_owned(), plan.to_owned());
        self.db().run(move |c| crate::plans::store::find(c, &ws, &id)).await
    }

    /// Writes the archive's objects below the target's prefix.
    pub(super) async fn restore_bucket(&self, body: ByteStream, target: &BucketTarget) -> Result<(), RestoreError> {
        let into = bucket::Into { provider: Arc::clone(&target.provider), prefix: target.path.prefix.clone() };
        bucket::restore(body, into).await.map(drop)
    }
}

/// The source's URL with another bucket in its path (same service, same keys).
fn secret_with_bucket(url: &secrecy::SecretString, bucket_name: &str) -> Result<secrecy::SecretString, String> {
    use secrecy::ExposeSecret;
    let mut parsed = url::Url::parse(url.expose_secret()).map_err(|_| "the plan's bucket URL is damaged".to_owned())?;
    parsed.set_path(&format!("/{bucket_name}"));
    Ok(secrecy::SecretString::from(parsed.to_string()))
}
