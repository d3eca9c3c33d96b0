//! A folder restore streams the artifact straight into a staging folder (download, checksum,
//! decryption and unpacking overlap) and puts it in place only once the whole artifact's SHA-256
//! matched the run's record. Bytes appended after the archive's end — which tar and zstd never
//! read — still fail the checksum, and nothing appears at the target or beside it. A restore into
//! a new PostgreSQL database streams into `pg_restore` the same way, and the database is dropped
//! again when the checksum does not match.

use crate::artifacts::ScratchDb;
use crate::helpers::Backend;
use crate::on_both_backends;
use crate::plans::fixture;
use crate::runs::{fill, settled};
use std::path::Path;

on_both_backends!(
    a_streamed_restore_is_put_in_place_only_once_its_checksum_matched,
    a_new_database_is_kept_only_once_its_checksum_matched
);

/// What `folder` holds (its names only).
fn names_in(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .expect("read the folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn a_streamed_restore_is_put_in_place_only_once_its_checksum_matched(backend: Backend) {
    let f = fixture(backend).await;
    let app = &f.app;
    fill(f.source.path());
    let place = tempfile::tempdir().expect("restore place");
    app.grant_folder(place.path(), "read_write").await;
    for (name, encrypt) in [("Plain", false), ("Sealed", true)] {
        // A checkbox that is not ticked is not sent at all.
        let form: &[(&str, &str)] = if encrypt { &[("encrypt", "on")] } else { &[] };
        assert_eq!(f.save_plan("/plans", name, form).await.status, 303, "{name}");
        let plan = crate::plans::plan(app, name).await.id;
        let count = crate::runs::run_rows(app).await.len() + 1;
        assert_eq!(app.post(&format!("/plans/{plan}/run"), &[]).await.status, 303);
        let run = settled(app, count).await.into_iter().rfind(|r| r.plan_id == plan).expect("the run");
        assert_eq!(run.status, "succeeded", "{name}: {run:?}");
        let artifact = f.target_path().join(run.object_key.as_deref().expect("the artifact's key"));

        // Whole and matching: restored, read from the primary.
        let into = place.path().join(format!("{name}-good"));
        let page = app.post(&format!("/runs/{}/restore", run.id), &[("target", &into.to_string_lossy())]).await;
        assert_eq!(page.status, 200, "{name}: {}", page.body);
        assert!(page.body.contains("the checksum matched"), "{name}: {}", page.body);
        assert_eq!(crate::artifacts::tree(&into), crate::artifacts::tree(f.source.path()), "{name}");

        // Bytes appended after the archive: the unpacking is done before it meets them, but the
        // artifact is read to its end and its checksum refuses it.
        let mut bytes = std::fs::read(&artifact).expect("the artifact");
        bytes.extend_from_slice(&[0x5a; 4096]);
        std::fs::write(&artifact, &bytes).expect("append to the artifact");
        let into = place.path().join(format!("{name}-appended"));
        let page = app.post(&format!("/runs/{}/restore", run.id), &[("target", &into.to_string_lossy())]).await;
        assert_eq!(page.status, 422, "{name}: {}", page.body);
        assert!(page.body.contains("checksum mismatch"), "{name}: {}", page.body);
        assert!(!into.exists(), "{name}: nothing restored from bytes that do not match");

        // A byte flipped inside: the archive (or its decryption) fails part-way; the copy is read
        // again whole, and the answer is the checksum's.
        bytes.truncate(bytes.len() - 4096);
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&artifact, &bytes).expect("flip a byte");
        let page = app.post(&format!("/runs/{}/restore", run.id), &[("target", &into.to_string_lossy())]).await;
        assert_eq!(page.status, 422, "{name}: {}", page.body);
        assert!(page.body.contains("checksum mismatch"), "{name}: {}", page.body);
        assert!(!into.exists(), "{name}: nothing restored from a damaged artifact");
    }
    // Only the two good restores: no staging folder was left beside them.
    assert_eq!(names_in(place.path()), ["Plain-good", "Sealed-good"]);
}

async fn a_new_database_is_kept_only_once_its_checksum_matched(backend: Backend) {
    let f = fixture(backend).await;
    let app = &f.app;
    let source = crate::api_database_restores::shop(&f).await;
    let original = crate::artifacts::rows(&mut source.connect(), "people");
    for (name, encrypt) in [("Plain", false), ("Sealed", true)] {
        let url = source.url();
        let mut form = vec![("source_kind", "postgres"), ("source_url", url.as_str())];
        if encrypt {
            form.push(("encrypt", "on"));
        }
        assert_eq!(f.save_plan("/plans", name, &form).await.status, 303, "{name}");
        let plan = crate::plans::plan(app, name).await.id;
        let count = crate::runs::run_rows(app).await.len() + 1;
        assert_eq!(app.post(&format!("/plans/{plan}/run"), &[]).await.status, 303);
        let run = settled(app, count).await.into_iter().rfind(|r| r.plan_id == plan).expect("the run");
        assert_eq!(run.status, "succeeded", "{name}: {run:?}");
        let artifact = f.target_path().join(run.object_key.as_deref().expect("the artifact's key"));
        let path = format!("/runs/{}/restore", run.id);
        let restore = |database: String| {
            let path = &path;
            async move {
                let url = format!("{}/{database}", crate::helpers::postgres_base_url());
                app.post(path, &[("target", url.as_str()), ("into", "new")]).await
            }
        };

        let good = ScratchDb::adopt(&format!("devpilot_streamed_{}", uuid::Uuid::new_v4().simple()));
        let page = restore(good.name().to_owned()).await;
        assert_eq!(page.status, 200, "{name}: {}", page.body);
        assert!(page.body.contains("the checksum matched"), "{name}: {}", page.body);
        assert_eq!(crate::artifacts::rows(&mut good.connect(), "people"), original, "{name}: row for row");

        // What a damaged artifact is told by: its checksum, or, sealed, its decryption (which
        // meets the damage first).
        let damaged = match encrypt {
            true => "the encrypted artifact is damaged, truncated or was encrypted with another key",
            false => "checksum mismatch",
        };
        // Bytes appended after the dump's end, which pg_restore does not need: the restore reads
        // them anyway, the artifact is refused, and the new database goes again.
        let mut bytes = std::fs::read(&artifact).expect("the artifact");
        bytes.extend_from_slice(&[0x5a; 4096]);
        std::fs::write(&artifact, &bytes).expect("append to the artifact");
        let appended = ScratchDb::adopt(&format!("devpilot_streamed_{}", uuid::Uuid::new_v4().simple()));
        let page = restore(appended.name().to_owned()).await;
        assert_eq!(page.status, 422, "{name}: {}", page.body);
        assert!(page.body.contains(damaged), "{name}: {}", page.body);
        assert!(!crate::api_database_restores::database_exists(appended.name()), "{name}: the new database went");

        // A byte flipped inside: pg_restore fails part-way on it (the rest is read, and the
        // answer is the checksum's), or the decryption refuses its chunk; no database is left.
        bytes.truncate(bytes.len() - 4096);
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&artifact, &bytes).expect("flip a byte");
        let flipped = ScratchDb::adopt(&format!("devpilot_streamed_{}", uuid::Uuid::new_v4().simple()));
        let page = restore(flipped.name().to_owned()).await;
        assert_eq!(page.status, 422, "{name}: {}", page.body);
        assert!(page.body.contains(damaged), "{name}: {}", page.body);
        assert!(!crate::api_database_restores::database_exists(flipped.name()), "{name}: the new database went");
    }
}
