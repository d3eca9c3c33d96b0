//! A directory artifact's manifest: one JSON line per entry of its tar, in tar order,
//! `{"path","kind","size","mode","mtime","sha256"}` (and `"etag"` for a bucket's objects), computed during the backup's walk (a file's
//! hash from the very bytes the archive holds, so nothing is read twice).
//!
//! While the walk runs the lines go, zstd-compressed, into a private file in frames of
//! [`LINES_PER_FRAME`] lines (memory: one frame). At the end of the walk the manifest is appended as
//! the archive's last entry, [`ENTRY_NAME`], marked with the PAX key [`PAX_KEY`] (so a folder of
//! the user's own that happens to hold such a file is never taken for it), and each frame becomes
//! one stored part of the database's copy. Unpacking skips the marked entry.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The archive's last entry.
pub const ENTRY_NAME: &str = ".devpilot/manifest.jsonl";
/// The PAX extended header that marks that entry as Devpilot's manifest.
pub const PAX_KEY: &str = "DEVPILOT.manifest";
/// The PAX value: the manifest format's version.
pub const PAX_VALUE: &str = "1";
/// Lines per zstd frame (and per stored part).
pub const LINES_PER_FRAME: usize = 4096;

/// What an entry is.
pub const FILE: &str = "file";
pub const DIR: &str = "dir";
pub const SYMLINK: &str = "symlink";

/// One entry of the manifest, exactly one JSON line of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Relative to the backed-up folder, `/`-separated, no leading `./` (not valid UTF-8 bytes
    /// are replaced by U+FFFD).
    pub path: String,
    /// `file`, `dir` or `symlink`.
    pub kind: String,
    /// Bytes of content (0 for folders and links).
    pub size: u64,
    /// Permission bits (`st_mode & 0o7777`), as a decimal number.
    pub mode: u32,
    /// Modification time, seconds since 1970 (UTC).
    pub mtime: i64,
    /// Lowercase hex SHA-256 of a file's content; null for folders and links.
    pub sha256: Option<String>,
    /// A bucket object's ETag (without quotes) as its read answered; absent in a folder's lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl Line {
    /// The path of a tar entry as the manifest writes it.
    pub fn path_of(path: &Path) -> String {
        let text = path.to_string_lossy();
        let trimmed = text.trim_start_matches("./").trim_end_matches('/');
        if trimmed == "." { String::new() } else { trimmed.to_owned() }
    }

    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The folder it is in ("" for the top).
    pub fn parent(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(parent, _)| parent)
    }
}

/// Totals of a manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub entries: u64,
    pub files: u64,
    pub bytes: u64,
}

/// Collects the lines into a private file as zstd frames, remembering where each frame is.
pub struct Writer {
    file: std::fs::File,
    pending: Vec<u8>,
    pending_lines: usize,
    frames: Vec<(u64, u64)>,
    offset: u64,
    /// Bytes of JSON lines in all (the archive entry's size).
    plain: u64,
    totals: Totals,
}

impl Writer {
    /// Writes into `file` (a new private file, read and write).
    pub fn new(file: std::fs::File) -> Writer {
        Writer {
            file,
            pending: Vec::new(),
            pending_lines: 0,
            frames: Vec::new(),
            offset: 0,
            plain: 0,
            totals: Totals::default(),
        }
    }

    pub fn push(&mut self, line: &Line) -> io::Result<()> {
        serde_json::to_writer(&mut self.pending, line)?;
        self.pending.push(b'\n');
        self.pending_lines += 1;
        self.totals.entries += 1;
        if line.kind == FILE {
            self.totals.files += 1;
            self.totals.bytes = self.totals.bytes.saturating_add(line.size);
        }
        if self.pending_lines >= LINES_PER_FRAME {
            self.flush_frame()?;
        }
        Ok(())
    }

    fn flush_frame(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let packed = zstd::bulk::compress(&self.pending, super::compression::ZSTD_LEVEL)?;
        self.file.write_all(&packed)?;
        self.frames.push((self.offset, packed.len() as u64));
        self.offset += packed.len() as u64;
        self.plain += self.pending.len() as u64;
        self.pending.clear();
        self.pending_lines = 0;
        Ok(())
    }

    /// Ends the manifest: every frame written.
    pub fn finish(mut self) -> io::Result<Written> {
        self.flush_frame()?;
        self.file.flush()?;
        Ok(Written { file: self.file, frames: self.frames, plain: self.plain, totals: self.totals })
    }
}

/// A finished manifest in its private file.
pub struct Written {
    file: std::fs::File,
    frames: Vec<(u64, u64)>,
    plain: u64,
    pub totals: Totals,
}

impl Written {
    /// Size of the JSON lines, uncompressed.
    pub fn plain_len(&self) -> u64 {
        self.plain
    }

    /// The JSON lines, decompressed as they are read.
    pub fn lines_reader(&self) -> io::Result<impl Read + use<>> {
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        zstd::Decoder::new(file)
    }

    pub fn parts(&self) -> usize {
        self.frames.len()
    }

    /// One frame's compressed bytes (a stored part).
    pub fn part(&self, index: usize) -> io::Result<Vec<u8>> {
        let (offset, len) = self.frames.get(index).copied().ok_or_else(|| io::Error::other("no such part"))?;
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = vec![0; usize::try_from(len).map_err(io::Error::other)?];
        file.read_exact(&mut bytes)?;
        Ok(bytes)
    }
}

/// The lines of one stored part.
pub fn lines_of_part(part: &[u8]) -> io::Result<Vec<Line>> {
    let plain = zstd::stream::decode_all(part)?;
    plain
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)))
        .collect()
}

/// Appends the manifest as the archive's last entry, marked with [`PAX_KEY`].
pub fn append_to<W: Write>(tar: &mut tar::Builder<W>, written: &Written) -> io::Result<()> {
    tar.append_pax_extensions([(PAX_KEY, PAX_VALUE.as_bytes())])?;
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(written.plain_len());
    header.set_mode(0o600);
    header.set_mtime(u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0));
    tar.append_data(&mut header, ENTRY_NAME, written.lines_reader()?)
}

/// Whether a tar entry is Devpilot's manifest (its name and its PAX mark both).
pub fn is_manifest_entry<R: Read>(entry: &mut tar::Entry<'_, R>) -> bool {
    let named = entry.path().is_ok_and(|p| Line::path_of(&p) == ENTRY_NAME);
    named
        && entry.pax_extensions().ok().flatten().is_some_and(|mut pax| {
            pax.any(|e| e.is_ok_and(|e| e.key() == Ok(PAX_KEY) && e.value_bytes() == PAX_VALUE.as_bytes()))
        })
}

/// A reader that hashes and counts what passes through it.
pub struct Hashing<R> {
    pub inner: R,
    pub hash: Sha256,
    pub bytes: u64,
}

impl<R> Hashing<R> {
    pub fn new(inner: R) -> Hashing<R> {
        Hashing { inner, hash: Sha256::new(), bytes: 0 }
    }

    pub fn hex(&self) -> String {
        hex::encode(self.hash.clone().finalize())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(path: &str, kind: &str, size: u64) -> Line {
        Line { path: path.into(), kind: kind.into(), size, mode: 0o644, mtime: 1, sha256: None, etag: None }
    }

    #[test]
    fn frames_round_trip_and_totals_count_files_only() {
        let file = tempfile::tempfile().expect("file");
        let mut writer = Writer::new(file);
        for i in 0..(LINES_PER_FRAME + 10) {
            writer.push(&line(&format!("d/{i}"), FILE, 3)).expect("push");
        }
        writer.push(&line("d", DIR, 0)).expect("push");
        let written = writer.finish().expect("finish");
        assert_eq!(written.parts(), 2);
        assert_eq!(
            written.totals,
            Totals {
                entries: LINES_PER_FRAME as u64 + 11,
                files: LINES_PER_FRAME as u64 + 10,
                bytes: 3 * (LINES_PER_FRAME as u64 + 10)
            }
        );
        let second = lines_of_part(&written.part(1).expect("part")).expect("lines");
        assert_eq!(second.len(), 11);
        assert_eq!(second[10], line("d", DIR, 0));
        let mut all = String::new();
        written.lines_reader().expect("reader").read_to_string(&mut all).expect("read");
        assert_eq!(all.len() as u64, written.plain_len());
        assert_eq!(all.lines().count(), LINES_PER_FRAME + 11);
    }

    #[test]
    fn paths_lose_their_dot_prefix() {
        assert_eq!(Line::path_of(Path::new("./a/b")), "a/b");
        assert_eq!(Line::path_of(Path::new(".")), "");
        assert_eq!(Line::path_of(Path::new("./")), "");
        assert_eq!(Line::path_of(Path::new("a/")), "a");
        let l = line("a/b/c.txt", FILE, 0);
        assert_eq!((l.parent(), l.name()), ("a/b", "c.txt"));
    }
}
