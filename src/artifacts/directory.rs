//! A directory as an artifact: a tar archive compressed with zstd (level 3), produced on a
//! blocking thread into a small bounded channel, so memory stays at a few chunks whatever the
//! directory's size and nothing is written to disk. The walk ([`super::walk`]) opens nothing
//! through a link and skips Devpilot's own files, noting what it skipped.

use super::channel::produced_by;
use super::compression::ZSTD_LEVEL;
use super::walk::{self, Skipped};
use super::{ByteStream, SourceRead};
use crate::hostfs::{DevpilotFiles, Located};
use std::io::Write;
use std::sync::Arc;

/// Where a directory stream leaves its manifest once it has ended well.
pub type ManifestSlot = Arc<std::sync::Mutex<Option<super::manifest::Written>>>;

/// Streams the folder `located` names as `.tar.zst`, and what the walk skipped (known once the
/// stream has ended). An error while reading the directory ends the stream with that error (so
/// the upload fails and is cleaned up, never recorded as a success). The file content read is
/// added to `read` as it goes. The archive's manifest (lines written, compressed, to `file`, a new
/// private file) is its last entry; the finished manifest is in the slot once the stream has ended
/// without an error.
pub fn stream_with_manifest(
    located: Located,
    devpilot: Arc<DevpilotFiles>,
    read: SourceRead,
    file: std::fs::File,
) -> (ByteStream, Skipped, ManifestSlot) {
    let skipped = Skipped::default();
    let slot = ManifestSlot::default();
    let (noted, filled) = (Arc::clone(&skipped), Arc::clone(&slot));
    let body = produced_by(move |out| {
        let encoder = zstd::Encoder::new(out, ZSTD_LEVEL)?;
        let writer = super::manifest::Writer::new(file);
        let (encoder, written) = walk::archive(&located, &devpilot, encoder, &noted, &read, writer)?;
        encoder.finish()?.flush()?;
        if let Ok(mut slot) = filled.lock() {
            *slot = Some(written);
        }
        Ok(())
    });
    (body, skipped, slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::channel::CHUNK;
    use futures::StreamExt;
    use std::path::{Path, PathBuf};

    fn located(path: &Path) -> Located {
        Located { root: std::fs::canonicalize(path).expect("resolved"), relative: PathBuf::new() }
    }

    /// The stream of `located` with its manifest in a temporary file.
    fn stream(located: Located, devpilot: Arc<DevpilotFiles>, read: SourceRead) -> (ByteStream, Skipped) {
        let (body, skipped, _) = stream_with_manifest(located, devpilot, read, tempfile::tempfile().expect("temp"));
        (body, skipped)
    }

    async fn collect(mut s: ByteStream) -> std::io::Result<Vec<u8>> {
        let mut body = Vec::new();
        while let Some(chunk) = s.next().await {
            let chunk = chunk?;
            assert!(chunk.len() <= CHUNK);
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    #[tokio::test]
    async fn round_trips_through_tar_and_zstd() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        std::fs::write(dir.path().join("sub/big.bin"), &big).expect("write");
        std::fs::write(dir.path().join("a.txt"), b"hello").expect("write");
        std::os::unix::fs::symlink("a.txt", dir.path().join("link")).expect("symlink");
        let (s, skipped) = stream(located(dir.path()), Arc::default(), SourceRead::default());
        let body = collect(s).await.expect("archive");
        let out = tempfile::tempdir().expect("out");
        tar::Archive::new(zstd::Decoder::new(&body[..]).expect("zstd")).unpack(out.path()).expect("unpack");
        assert_eq!(std::fs::read(out.path().join("sub/big.bin")).expect("big"), big);
        assert_eq!(std::fs::read(out.path().join("a.txt")).expect("a"), b"hello");
        assert_eq!(std::fs::read_link(out.path().join("link")).expect("link"), PathBuf::from("a.txt"));
        assert!(skipped.lock().expect("notes").is_empty());
    }

    #[tokio::test]
    async fn the_content_read_is_counted_and_known_beforehand() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/one.bin"), vec![7u8; 200_000]).expect("write");
        std::fs::write(dir.path().join("two.txt"), b"twelve bytes").expect("write");
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).expect("symlink");
        let expected = walk::content_size(&located(dir.path()), &DevpilotFiles::default()).expect("size");
        assert_eq!(expected, 200_012, "file contents only; the link is not followed");
        let read = SourceRead::default();
        collect(stream(located(dir.path()), Arc::default(), read.clone()).0).await.expect("archive");
        assert_eq!(read.load(std::sync::atomic::Ordering::Relaxed), expected);
    }

    #[tokio::test]
    async fn devpilots_own_files_are_skipped_and_noted() {
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("backups")).expect("mkdir");
        std::fs::write(data.join("master.key"), b"secret key").expect("key");
        std::fs::write(dir.path().join("app.txt"), b"mine").expect("write");
        let files = DevpilotFiles::new(&data, &data.join("backups"), &data.join("master.key"), None);
        let (s, skipped) = stream(located(dir.path()), Arc::new(files), SourceRead::default());
        let body = collect(s).await.expect("archive");
        let names: Vec<String> = tar::Archive::new(zstd::Decoder::new(&body[..]).expect("zstd"))
            .entries()
            .expect("entries")
            .map(|e| e.expect("entry").path().expect("path").display().to_string())
            .collect();
        assert!(names.iter().any(|n| n.ends_with("app.txt")), "{names:?}");
        assert!(!names.iter().any(|n| n.contains("data")), "{names:?}");
        let notes = skipped.lock().expect("notes").join("; ");
        assert!(notes.contains("Devpilot's data folder"), "{notes}");
    }

    #[tokio::test]
    async fn the_manifest_is_the_last_entry_and_matches_every_file() {
        use crate::artifacts::manifest;
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/one.bin"), vec![7u8; 200_000]).expect("write");
        std::fs::write(dir.path().join("two.txt"), b"twelve bytes").expect("write");
        std::os::unix::fs::symlink("two.txt", dir.path().join("link")).expect("symlink");
        let file = tempfile::tempfile().expect("temp");
        let (s, _, slot) = stream_with_manifest(located(dir.path()), Arc::default(), SourceRead::default(), file);
        let body = collect(s).await.expect("archive");
        let written = slot.lock().expect("slot").take().expect("manifest written");
        assert_eq!(written.totals, manifest::Totals { entries: 4, files: 2, bytes: 200_012 });
        let lines = manifest::lines_of_part(&written.part(0).expect("part")).expect("lines");
        let paths: Vec<&str> = lines.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(paths, ["link", "sub", "sub/one.bin", "two.txt"]);
        use sha2::Digest;
        assert_eq!(lines[2].sha256, Some(hex::encode(sha2::Sha256::digest(vec![7u8; 200_000]))));
        let mut archive = tar::Archive::new(zstd::Decoder::new(&body[..]).expect("zstd"));
        let mut entries = archive.entries().expect("entries");
        let mut last = None;
        let mut marked = 0;
        for entry in &mut entries {
            let mut entry = entry.expect("entry");
            if manifest::is_manifest_entry(&mut entry) {
                marked += 1;
            }
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).ok();
            last = Some((entry.path().expect("path").display().to_string(), text));
        }
        let (name, text) = last.expect("entries");
        assert_eq!(name, manifest::ENTRY_NAME);
        assert_eq!(marked, 1, "only the manifest carries the mark");
        let first: manifest::Line = serde_json::from_str(text.lines().next().expect("line")).expect("json");
        assert_eq!(first.path, "link");
        assert_eq!(first.kind, "symlink");
    }

    #[tokio::test]
    async fn a_missing_directory_ends_the_stream_with_an_error() {
        let missing = Located { root: PathBuf::from("/no/such/dir"), relative: PathBuf::new() };
        assert!(collect(stream(missing, Arc::default(), SourceRead::default()).0).await.is_err());
    }
}
