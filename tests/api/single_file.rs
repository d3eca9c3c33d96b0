//! Single files out of a directory backup: the run's file list (folders, search, sizes), one file
//! of a large artifact restored byte-identical reading only the artifact's start (time and bytes
//! read reported), a folder restored under its own name, one file downloaded as itself and a
//! folder as a tar, and hostile paths refused: `..` and absolute paths that are not in the backup,
//! targets outside the grants (`..`, a symlink out of the granted folder, another workspace's
//! folder, Devpilot's data folder), a symlink in the backup that points out.

use crate::api_client::{Api, admin};
use crate::drills::backed_up;
use crate::helpers::Backend;
use crate::plans::{Fixture, fixture};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

mod sqlite_only {
    use crate::helpers::Backend;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_file_of_a_large_artifact_is_restored_reading_only_its_start() {
        super::one_file_of_a_large_artifact_is_restored_reading_only_its_start(Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_file_list_browses_searches_downloads_and_restores_a_folder() {
        super::the_file_list_browses_searches_downloads_and_restores_a_folder(Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hostile_paths_are_refused() {
        super::hostile_paths_are_refused(Backend::Sqlite).await
    }
}

/// Size of the large artifact's filler: the 1 GiB, incompressible.
const LARGE_MIB: usize = 1024;
/// The filler repeats a random block this large: farther apart than zstd's window (2 MiB at
/// level 3), so the artifact stays as large as the data, and the test makes it in a second.
const BLOCK_MIB: usize = 16;

/// `len` incompressible bytes from a cheap PRNG (xorshift64*), written in blocks.
fn noise(path: &Path, len: usize, seed: u64) {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let block = random_block(len.min(BLOCK_MIB << 20), seed);
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len());
        file.write_all(&block[..n]).expect("write");
        left -= n;
    }
    file.flush().expect("flush");
}

fn random_block(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut block = vec![0u8; len.div_ceil(8) * 8];
    for chunk in block.chunks_exact_mut(8) {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        chunk.copy_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    block.truncate(len);
    block
}

async fn raw_get(api: &Api<'_>, path: &str) -> (u16, Vec<u8>, String) {
    let response = api.raw(reqwest::Method::GET, path).bearer_auth(&api.token).send().await.expect("request");
    let status = response.status().as_u16();
    let disposition =
        response.headers().get("content-disposition").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, response.bytes().await.expect("body").to_vec(), disposition)
}

async fn one_file_of_a_large_artifact_is_restored_reading_only_its_start(backend: Backend) {
    let f = fixture(backend).await;
    std::fs::create_dir_all(f.source.path().join("a")).expect("mkdir");
    std::fs::create_dir_all(f.source.path().join("z")).expect("mkdir");
    noise(&f.source.path().join("a/wanted.bin"), 3 << 20, 7);
    for i in 0..4 {
        noise(&f.source.path().join(format!("z/filler-{i}.bin")), (LARGE_MIB << 20) / 4, 100 + i as u64);
    }
    let started = std::time::Instant::now();
    let (_, run) = backed_up(&f, "Large", &[]).await;
    let backup = started.elapsed();
    assert!(run.bytes > (LARGE_MIB as i64) << 20, "incompressible: {} bytes", run.bytes);
    let api = admin(&f.app).await;
    let into = f.target_path().join("restored");
    let started = std::time::Instant::now();
    let reply = api
        .post(
            &format!("/api/v1/backup-runs/{}/files/restore", run.id),
            json!({"path": "a/wanted.bin", "target": into.to_string_lossy()}),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let restore = started.elapsed();
    let original = std::fs::read(f.source.path().join("a/wanted.bin")).expect("original");
    assert!(std::fs::read(into.join("wanted.bin")).expect("restored") == original, "byte-identical");
    let (read, whole) =
        (reply.json["bytes_read"].as_u64().expect("read"), reply.json["artifact_bytes"].as_u64().expect("whole"));
    assert_eq!(whole, run.bytes as u64);
    assert!(read < whole / 10, "read {read} of {whole}: the scan stops once the file is past");
    assert!(reply.json["seconds"].as_f64().is_some(), "{reply:?}");
    assert_eq!((reply.json["files"].as_u64(), reply.json["bytes"].as_u64()), (Some(1), Some(3 << 20)), "{reply:?}");
    eprintln!(
        "single file out of {} MiB: backup {:.1} s, restore {:.2} s ({:.2} s reported), read {read} of {whole} bytes",
        whole >> 20,
        backup.as_secs_f64(),
        restore.as_secs_f64(),
        reply.json["seconds"].as_f64().unwrap_or_default()
    );
}

fn small_tree(f: &Fixture) {
    let root = f.source.path();
    std::fs::create_dir_all(root.join("docs/reports/2026")).expect("mkdir");
    std::fs::create_dir_all(root.join("photos")).expect("mkdir");
    std::fs::write(root.join("docs/reports/2026/q1.txt"), b"first quarter").expect("write");
    std::fs::write(root.join("docs/reports/2026/q2.txt"), b"second quarter, longer").expect("write");
    std::fs::write(root.join("docs/readme.md"), b"# Docs").expect("write");
    noise(&root.join("photos/cat.jpg"), 200_000, 3);
}

fn names(listing: &Value) -> Vec<String> {
    listing["data"].as_array().expect("data").iter().map(|e| e["name"].as_str().expect("name").to_owned()).collect()
}

async fn the_file_list_browses_searches_downloads_and_restores_a_folder(backend: Backend) {
    let f = fixture(backend).await;
    small_tree(&f);
    let (_, run) = backed_up(&f, "Docs", &[("encrypt", "on")]).await;
    let api = admin(&f.app).await;
    let files = format!("/api/v1/backup-runs/{}/files", run.id);
    let top = api.get(&files).await;
    assert_eq!(top.status, 200, "{top:?}");
    assert_eq!(names(&top.json), ["docs", "photos"], "folders first, by name: {top:?}");
    assert_eq!(top.json["data"][0]["size"].as_u64(), Some(13 + 22 + 6), "a folder's size is what is below it");
    assert_eq!(top.json["total_files"].as_u64(), Some(4));
    let reports = api.get(&format!("{files}?folder=docs/reports/2026")).await;
    assert_eq!(names(&reports.json), ["q1.txt", "q2.txt"], "{reports:?}");
    let found = api.get(&format!("{files}?q=Q2")).await;
    assert_eq!(found.json["data"][0]["path"], "docs/reports/2026/q2.txt", "{found:?}");
    let missing = api.get(&format!("{files}?folder=nowhere")).await;
    assert_eq!(missing.status, 404, "{missing:?}");

    // The page: folders, a breadcrumb, htmx into a folder, search.
    let page = f.app.get(&format!("/runs/{}/files?folder=docs/reports", run.id)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("2026/") && page.body.contains("All files") && page.body.contains(">docs</a>"),
        "{}",
        page.body
    );
    let partial = f.app.get(&format!("/runs/{}/files?q=cat", run.id)).await.body;
    assert!(partial.contains("photos/cat.jpg") && partial.contains("195.3 KiB"), "{partial}");
    let plan_page = f.app.get(&format!("/plans/{}", run.plan_id)).await.body;
    assert!(plan_page.contains(&format!("/runs/{}/files", run.id)), "the run links its files");

    // One file downloaded as itself; a folder as a tar.
    let (status, body, disposition) = raw_get(&api, &format!("{files}/download?path=photos/cat.jpg")).await;
    assert_eq!(status, 200);
    assert!(body == std::fs::read(f.source.path().join("photos/cat.jpg")).expect("cat"), "the file as itself");
    assert!(disposition.contains("cat.jpg"), "{disposition}");
    let (status, body, _) = raw_get(&api, &format!("{files}/download?path=docs/reports")).await;
    assert_eq!(status, 200);
    let mut entries: Vec<String> = tar::Archive::new(&body[..])
        .entries()
        .expect("tar")
        .map(|e| e.expect("entry").path().expect("path").display().to_string().trim_end_matches('/').to_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["reports", "reports/2026", "reports/2026/q1.txt", "reports/2026/q2.txt"]);
    let page_download = f.app.get(&format!("/runs/{}/files/download?path=docs/readme.md", run.id)).await;
    assert_eq!((page_download.status, page_download.body.as_str()), (200, "# Docs"));

    // A folder restored through the page, under its own name, time and bytes read reported.
    let into = f.target_path().join("back");
    let restored = f
        .app
        .post(
            &format!("/runs/{}/files/restore", run.id),
            &[("path", "docs/reports"), ("target", &into.to_string_lossy())],
        )
        .await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert!(
        restored.body.contains("Restored docs/reports") && restored.body.contains(" s, reading "),
        "{}",
        restored.body
    );
    assert_eq!(std::fs::read(into.join("reports/2026/q2.txt")).expect("q2"), b"second quarter, longer");
    assert!(!into.join("readme.md").exists() && !into.join(".devpilot").exists());
}

async fn hostile_paths_are_refused(backend: Backend) {
    let f = fixture(backend).await;
    small_tree(&f);
    std::os::unix::fs::symlink("/etc", f.source.path().join("docs/etc")).expect("symlink in the backup");
    let (_, run) = backed_up(&f, "Docs", &[]).await;
    let api = admin(&f.app).await;
    let restore = format!("/api/v1/backup-runs/{}/files/restore", run.id);
    let granted = f.target_path();
    // Paths of the backup: only what its list holds.
    for path in ["../etc/passwd", "/etc/passwd", "docs/../../etc", "docs/reports/../../../x", ""] {
        let target = granted.join(format!("t-{}", uuid::Uuid::new_v4()));
        let reply = api.post(&restore, json!({"path": path, "target": target.to_string_lossy()})).await;
        assert!(reply.status == 404 || reply.status == 422, "{path}: {reply:?}");
        assert!(!target.exists(), "{path}: nothing written");
        let (status, _, _) = raw_get(&api, &format!("/api/v1/backup-runs/{}/files/download?path={path}", run.id)).await;
        assert!(status == 404 || status == 422, "{path}: {status}");
    }
    // Targets: outside the grants, through `..`, a symlink out, another workspace's, Devpilot's own.
    let outside = tempfile::tempdir().expect("outside");
    std::os::unix::fs::symlink(outside.path(), granted.join("way-out")).expect("symlink");
    let other_folder = tempfile::tempdir().expect("other");
    let stranger =
        crate::admin_area::tenant_owner(&f.app, "Other", "other@example.com", "other password 1", "Other").await;
    f.app.grant_folder_to("Other", other_folder.path(), "read_write").await;
    let data = f.app.data_dir.path().join("restore-here");
    let targets = [
        outside.path().join("x"),
        granted.join("../x"),
        granted.join("way-out/x"),
        other_folder.path().join("x"),
        data.clone(),
        std::path::PathBuf::from("relative/path"),
    ];
    for target in targets {
        let reply = api.post(&restore, json!({"path": "docs/readme.md", "target": target.to_string_lossy()})).await;
        assert_eq!(reply.status, 422, "{}: {reply:?}", target.display());
        assert!(reply.json["fields"]["target"].as_str().is_some(), "{}: {reply:?}", target.display());
    }
    assert_eq!(std::fs::read_dir(outside.path()).expect("outside").count(), 0);
    assert_eq!(std::fs::read_dir(other_folder.path()).expect("other").count(), 0);
    assert!(!data.exists());
    // A symlink of the backup that points out of the folder is refused, nothing left behind.
    let into = granted.join("with-link");
    let reply = api.post(&restore, json!({"path": "docs", "target": into.to_string_lossy()})).await;
    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(reply.json["message"].as_str().unwrap_or_default().contains("points outside"), "{reply:?}");
    assert!(!into.exists(), "nothing restored");
    let staging: Vec<_> = std::fs::read_dir(granted)
        .expect("granted")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".devpilot-restore"))
        .collect();
    assert!(staging.is_empty(), "staging left: {staging:?}");
    // Viewers do not restore; another workspace's run is not found.
    let viewer = crate::provider_sftp::viewer(&f.app).await;
    let page = f
        .app
        .post_with(
            &viewer,
            &format!("/runs/{}/files/restore", run.id),
            &[("path", "docs/readme.md"), ("target", "/tmp/x")],
        )
        .await;
    assert_eq!(page.status, 403);
    let theirs = f.app.get_with(&stranger, &format!("/runs/{}/files", run.id)).await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
}
