//! A base backup streamed: `pg_basebackup` writes one tar to its stdout (`-D - -Ft`, WAL left to
//! the archive with `-X none`, a manifest inside the tar), read in chunks of bounded size
//! as for `pg_dump`; a failing tool ends the stream in an error. Where the backup's WAL starts and
//! stops is read from the manifest's `WAL-Ranges` as the tar passes (with `-X none`,
//! `pg_basebackup -v` does not print the points).

use super::binaries::PgBinaries;
use super::names::Lsn;
use crate::artifacts::postgres::client::Checked;
use crate::artifacts::postgres::{PostgresError, tools};
use crate::artifacts::{ByteStream, then_at_end};
use futures::StreamExt;
use serde::Deserialize;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The end of `backup_manifest` kept while it passes: its `WAL-Ranges` come last.
const MANIFEST_TAIL: usize = 16 * 1024;
const BLOCK: usize = 512;

/// Where a base backup's WAL starts and stops, and on which timeline it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupPoints {
    pub timeline: u32,
    pub start_lsn: Lsn,
    pub stop_lsn: Lsn,
}

/// Starts `pg_basebackup`; the receiver answers once the stream has been read to its end.
pub type PointsReceiver = oneshot::Receiver<Result<BackupPoints, String>>;

pub fn stream(bins: &PgBinaries, checked: &Checked) -> Result<(ByteStream, PointsReceiver), PostgresError> {
    let program = bins.program("pg_basebackup");
    let mut command = tools::command(checked, &program);
    command
        .arg("--dbname")
        .arg(tools::conninfo(checked))
        .args([
            "--pgdata=-",
            "--format=tar",
            "--wal-method=none",
            "--checkpoint=fast",
            // PostgreSQL's default: the server computes a manifest checksum of every file as it
            // sends it, and SHA-256 made it send a scale-50 database about a fifth slower. The
            // files are damage-checked with CRC-32C (`pg_verifybackup`); the artifact as a whole
            // is what SHA-256 (and, when encrypted, AES-GCM's tags) proves.
            "--manifest-checksums=CRC32C",
            "--label=devpilot",
            "--no-password",
            "--verbose",
        ])
        .stdout(Stdio::piped());
    let mut child =
        command.spawn().map_err(|e| PostgresError::Other(format!("could not start {}: {e}", program.display())))?;
    let stdout = child.stdout.take().ok_or_else(|| PostgresError::Other("pg_basebackup has no stdout".into()))?;
    let stderr = tools::capture(child.stderr.take());
    let watch = Arc::new(Mutex::new(TarWatch::default()));
    let seen = watch.clone();
    let body = crate::artifacts::tool_output(stdout).inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            seen.lock().unwrap_or_else(|e| e.into_inner()).feed(bytes);
        }
    });
    let (sender, receiver) = oneshot::channel();
    let url = checked.url.clone();
    let body = then_at_end(body, async move {
        let finished = tools::finish(child, stderr, "pg_basebackup").await.map_err(|m| url.redact(&m));
        let points = finished.and_then(|()| watch.lock().unwrap_or_else(|e| e.into_inner()).points());
        let failure = points.as_ref().err().cloned();
        let _ = sender.send(points);
        failure.map(std::io::Error::other)
    });
    Ok((body, receiver))
}

/// Follows a tar's entries as its bytes pass, keeping the end of `backup_manifest`.
#[derive(Debug, Default)]
struct TarWatch {
    header: Vec<u8>,
    /// Content bytes of the current entry still to pass.
    content_left: u64,
    /// Padding to the next block still to pass.
    padding_left: u64,
    in_manifest: bool,
    manifest_tail: Vec<u8>,
}

impl TarWatch {
    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.content_left > 0 {
                let n = data.len().min(usize::try_from(self.content_left).unwrap_or(usize::MAX));
                if self.in_manifest {
                    self.manifest_tail.extend_from_slice(&data[..n]);
                    let excess = self.manifest_tail.len().saturating_sub(MANIFEST_TAIL);
                    self.manifest_tail.drain(..excess);
                }
                self.content_left -= n as u64;
                data = &data[n..];
            } else if self.padding_left > 0 {
                let n = data.len().min(usize::try_from(self.padding_left).unwrap_or(usize::MAX));
                self.padding_left -= n as u64;
                data = &data[n..];
            } else {
                let n = data.len().min(BLOCK - self.header.len());
                self.header.extend_from_slice(&data[..n]);
                data = &data[n..];
                if self.header.len() == BLOCK {
                    self.start_entry();
                }
            }
        }
    }

    /// A complete header: which entry comes, and how long it is (an all-zero end block is
    /// an entry of no length).
    fn start_entry(&mut self) {
        let header = std::mem::take(&mut self.header);
        let name = &header[..100];
        let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
        let kind = header[156];
        let size = entry_size(&header[124..136]);
        self.in_manifest = name == b"backup_manifest" && (kind == b'0' || kind == 0);
        if self.in_manifest {
            self.manifest_tail.clear();
        }
        self.content_left = size;
        self.padding_left = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
    }

    fn points(&self) -> Result<BackupPoints, String> {
        wal_ranges(&String::from_utf8_lossy(&self.manifest_tail))
    }
}

/// A tar size field: octal digits, or base-256 when its first bit is set.
fn entry_size(field: &[u8]) -> u64 {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        return field.iter().skip(1).fold(u64::from(field[0] & 0x7f), |n, b| n.wrapping_shl(8) | u64::from(*b));
    }
    let digits: String = field.iter().map(|b| *b as char).filter(|c| c.is_digit(8)).collect();
    u64::from_str_radix(&digits, 8).unwrap_or(0)
}

#[derive(Deserialize)]
struct WalRange {
    #[serde(rename = "Timeline")]
    timeline: u32,
    #[serde(rename = "Start-LSN")]
    start: String,
    #[serde(rename = "End-LSN")]
    end: String,
}

/// The points in a manifest's `"WAL-Ranges": [ … ]` (found in its last part).
fn wal_ranges(manifest_tail: &str) -> Result<BackupPoints, String> {
    let missing = || "pg_basebackup wrote no WAL range in its manifest".to_owned();
    let after = manifest_tail.split("\"WAL-Ranges\"").nth(1).ok_or_else(missing)?;
    let list = after.trim_start().strip_prefix(':').ok_or_else(missing)?.trim_start();
    let end = list.find(']').ok_or_else(missing)?;
    let ranges: Vec<WalRange> = serde_json::from_str(&list[..=end]).map_err(|e| format!("{}: {e}", missing()))?;
    let (Some(first), Some(last)) = (ranges.first(), ranges.last()) else { return Err(missing()) };
    Ok(BackupPoints { timeline: first.timeline, start_lsn: first.start.parse()?, stop_lsn: last.end.parse()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n\
        { \"Path\": \"PG_VERSION\", \"Size\": 3 }\n],\n\
        \"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/700028\", \"End-LSN\": \"0/700100\" }\n],\n\
        \"Manifest-Checksum\": \"bb4b\"}\n";

    fn tar_with(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, body) in entries {
            let mut header = tar::Header::new_ustar();
            header.set_size(body.len() as u64);
            header.set_mode(0o600);
            header.set_cksum();
            builder.append_data(&mut header, name, &body[..]).expect("append");
        }
        builder.into_inner().expect("tar")
    }

    fn watched(tar: &[u8], chunk: usize) -> Result<BackupPoints, String> {
        let mut watch = TarWatch::default();
        for piece in tar.chunks(chunk) {
            watch.feed(piece);
        }
        watch.points()
    }

    #[test]
    fn the_points_come_from_the_manifest_inside_the_tar_in_any_chunking() {
        let big = vec![b'x'; 100_000];
        let tar =
            tar_with(&[("PG_VERSION", b"15\n".to_vec()), ("base/1/1259", big), ("backup_manifest", MANIFEST.into())]);
        let expected = BackupPoints { timeline: 1, start_lsn: Lsn(0x70_0028), stop_lsn: Lsn(0x70_0100) };
        for chunk in [1, 7, 511, 512, 513, 65_536, tar.len()] {
            assert_eq!(watched(&tar, chunk), Ok(expected), "chunks of {chunk}");
        }
    }

    #[test]
    fn a_long_manifest_keeps_its_end() {
        let files = "{ \"Path\": \"base/1/x\", \"Size\": 8192 },\n".repeat(5_000);
        let manifest = MANIFEST.replace("\"Files\": [\n", &format!("\"Files\": [\n{files}"));
        assert!(manifest.len() > 10 * MANIFEST_TAIL);
        let tar = tar_with(&[("backup_manifest", manifest.into_bytes())]);
        assert_eq!(watched(&tar, 4096).map(|p| p.stop_lsn), Ok(Lsn(0x70_0100)));
    }

    #[test]
    fn several_ranges_span_from_the_first_start_to_the_last_end() {
        let manifest = "\"WAL-Ranges\": [\n\
            { \"Timeline\": 2, \"Start-LSN\": \"0/5000028\", \"End-LSN\": \"0/5800000\" },\n\
            { \"Timeline\": 3, \"Start-LSN\": \"0/5800000\", \"End-LSN\": \"1/A0\" }\n],";
        let points = wal_ranges(manifest).expect("points");
        assert_eq!(points, BackupPoints { timeline: 2, start_lsn: Lsn(0x500_0028), stop_lsn: Lsn(0x1_0000_00A0) });
    }

    #[test]
    fn without_a_manifest_there_are_no_points() {
        let tar = tar_with(&[("PG_VERSION", b"15\n".to_vec()), ("not_the_manifest", MANIFEST.into())]);
        let error = watched(&tar, 100).expect_err("no manifest");
        assert!(error.contains("no WAL range"), "{error}");
        assert!(wal_ranges("\"WAL-Ranges\": [ { \"Timeline\": 1 } ]").is_err());
    }

    #[test]
    fn tar_sizes_read_in_octal_and_base_256() {
        assert_eq!(entry_size(b"00000000017\0"), 15);
        assert_eq!(entry_size(b"    1234567 "), 0o1234567);
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[7..].copy_from_slice(&[0x02, 0x54, 0x0B, 0xE4, 0x00]);
        assert_eq!(entry_size(&big), 0x02_540B_E400);
    }
}
