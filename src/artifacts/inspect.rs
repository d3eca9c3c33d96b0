//! Reading a decoded artifact to its end, as a restore drill does, writing nothing a workspace can
//! see: a directory archive entry by entry against its manifest (each file's size and SHA-256),
//! a SQLite file with `PRAGMA integrity_check`. (A PostgreSQL dump is checked by restoring it,
//! see [`super::postgres`].)

use super::manifest::{self, Hashing, Line};
use std::io::{self, Read};
use std::path::Path;

/// What a directory check read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectoryRead {
    pub entries: u64,
    pub files: u64,
    pub bytes: u64,
    /// Whether the archive ended with its manifest entry.
    pub manifest_entry: bool,
}

/// Why a check failed: the archive could not be read (`Unreadable`: damaged or cut short), or
/// it was read and differs from what was recorded (`Differs`, naming the entry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    Unreadable(String),
    #[error("{0}")]
    Differs(String),
}

fn unreadable(e: io::Error) -> CheckError {
    CheckError::Unreadable(e.to_string())
}

/// Reads a `.tar.zst` to its end, comparing each entry, in order, with the manifest's next line
/// (`lines`, in tar order): the same path and kind, and for a file the same size and SHA-256.
/// Without a manifest (`lines` None, runs from before manifests) every entry is still read.
pub fn directory(
    reader: impl Read,
    mut lines: Option<impl Iterator<Item = io::Result<Line>>>,
) -> Result<DirectoryRead, CheckError> {
    let decoder = zstd::Decoder::new(reader).map_err(unreadable)?;
    let mut archive = tar::Archive::new(decoder);
    let mut read = DirectoryRead::default();
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        if manifest::is_manifest_entry(&mut entry) {
            io::copy(&mut entry, &mut io::sink()).map_err(unreadable)?;
            read.manifest_entry = true;
            continue;
        }
        let path = Line::path_of(&entry.path().map_err(unreadable)?);
        let kind = entry.header().entry_type();
        let mut content = Hashing::new(&mut entry);
        io::copy(&mut content, &mut io::sink()).map_err(unreadable)?;
        if path.is_empty() {
            continue;
        }
        read.entries += 1;
        if kind.is_file() {
            read.files += 1;
            read.bytes += content.bytes;
        }
        let Some(lines) = lines.as_mut() else { continue };
        let expected = lines
            .next()
            .transpose()
            .map_err(|e| CheckError::Unreadable(format!("the recorded manifest cannot be read: {e}")))?
            .ok_or_else(|| CheckError::Differs(format!("{path} is in the archive but not in the manifest")))?;
        if expected.path != path {
            return Err(CheckError::Differs(format!(
                "the archive holds {path} where the manifest expects {}",
                expected.path
            )));
        }
        if expected.kind == manifest::FILE {
            if !kind.is_file() {
                return Err(CheckError::Differs(format!("{path} is a file in the manifest but not in the archive")));
            }
            if content.bytes != expected.size {
                return Err(CheckError::Differs(format!(
                    "file {path}: size differs from the manifest: expected {} bytes, got {}",
                    expected.size, content.bytes
                )));
            }
            let actual = content.hex();
            if expected.sha256.as_deref() != Some(actual.as_str()) {
                return Err(CheckError::Differs(format!(
                    "file {path}: SHA-256 differs from the manifest: expected {}, got {actual}",
                    expected.sha256.as_deref().unwrap_or("none")
                )));
            }
        }
    }
    if let Some(missing) = lines.as_mut().and_then(Iterator::next) {
        let missing =
            missing.map_err(|e| CheckError::Unreadable(format!("the recorded manifest cannot be read: {e}")))?;
        return Err(CheckError::Differs(format!("{} is in the manifest but missing from the archive", missing.path)));
    }
    Ok(read)
}

/// `PRAGMA integrity_check` on a SQLite file Devpilot wrote into its private temporary folder:
/// Ok with SQLite's "ok", else what SQLite reported (its first lines).
pub fn sqlite_integrity(path: &Path) -> Result<(), CheckError> {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let mut header = [0u8; 16];
    let opened = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header));
    if opened.is_err() || &header != b"SQLite format 3\0" {
        return Err(CheckError::Differs("the backup is not a SQLite database (its header is wrong)".into()));
    }
    let text = path.to_str().ok_or_else(|| CheckError::Unreadable("the temporary path is not UTF-8".into()))?;
    let mut connection = SqliteConnection::establish(text)
        .map_err(|e| CheckError::Unreadable(format!("SQLite cannot open the restored file: {e}")))?;
    let rows: Vec<Row> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut connection)
        .map_err(|e| CheckError::Differs(format!("PRAGMA integrity_check failed: {e}")))?;
    let lines: Vec<String> = rows.into_iter().map(|r| r.integrity_check).collect();
    if lines.len() == 1 && lines[0] == "ok" {
        Ok(())
    } else {
        let shown: Vec<&str> = lines.iter().take(5).map(String::as_str).collect();
        Err(CheckError::Differs(format!("PRAGMA integrity_check reported: {}", shown.join("; "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::manifest::FILE;
    use sha2::Digest;

    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, body) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            tar.append_data(&mut header, name, *body).expect("append");
        }
        zstd::encode_all(&tar.into_inner().expect("tar")[..], 3).expect("zstd")
    }

    fn line(path: &str, body: &[u8]) -> io::Result<Line> {
        let sha256 = Some(hex::encode(sha2::Sha256::digest(body)));
        Ok(Line {
            path: path.into(),
            kind: FILE.into(),
            size: body.len() as u64,
            mode: 0o644,
            mtime: 0,
            sha256,
            etag: None,
        })
    }

    #[test]
    fn a_matching_archive_passes_and_a_changed_file_is_named() {
        let body = archive(&[("./a.txt", b"alpha"), ("./b.txt", b"beta")]);
        let good = vec![line("a.txt", b"alpha"), line("b.txt", b"beta")];
        let read = directory(&body[..], Some(good.into_iter())).expect("passes");
        assert_eq!((read.entries, read.files, read.bytes), (2, 2, 9));
        let bad = vec![line("a.txt", b"alpha"), line("b.txt", b"BETA")];
        let error = directory(&body[..], Some(bad.into_iter())).expect_err("differs").to_string();
        assert!(error.contains("b.txt") && error.contains("SHA-256"), "{error}");
        let more = vec![line("a.txt", b"alpha"), line("b.txt", b"beta"), line("c.txt", b"")];
        let error = directory(&body[..], Some(more.into_iter())).expect_err("missing").to_string();
        assert!(error.contains("c.txt is in the manifest but missing"), "{error}");
    }

    #[test]
    fn a_cut_archive_is_unreadable() {
        let body = archive(&[("./a.txt", &[9u8; 100_000])]);
        let cut = &body[..body.len() / 2];
        let none: Option<std::vec::IntoIter<io::Result<Line>>> = None;
        assert!(matches!(directory(cut, none), Err(CheckError::Unreadable(_))));
    }
}
