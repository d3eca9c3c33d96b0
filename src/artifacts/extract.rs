//! One file or one folder out of a directory artifact, reading only what it needs: a streamed
//! scan of the (decrypted) `.tar.zst` that passes over the entries before the wanted ones
//! without hashing them, hands the wanted ones on, and stops reading as soon as they are past.
//! The manifest gives tar order (a folder's entries follow it, all together, depth first), so
//! the first entry after the wanted ones ends the scan and the rest of the artifact is never
//! fetched. Each file handed on is hashed as it passes and must match the manifest's SHA-256
//! (the artifact's own checksum needs the whole artifact, which is what this avoids).
//!
//! Why not an index of zstd frames with ranged reads: artifacts are one zstd frame written as a
//! stream, and several destinations (Google Drive, Cloudinary, SFTP through one session) give no
//! cheap ranged reads; the streamed scan works for every artifact already stored, at the cost of
//! reading what comes before the wanted entry.

use super::manifest::{self, Hashing, Line};
use std::io::{self, Read, Write};

/// What is wanted: a path of the manifest and what it is.
#[derive(Debug, Clone)]
pub struct Wanted {
    /// As in the manifest (`a/b.txt`).
    pub path: String,
    /// Whether it is a folder (then everything below it comes too).
    pub folder: bool,
}

impl Wanted {
    fn covers(&self, path: &str) -> bool {
        path == self.path || (self.folder && path.starts_with(&self.path) && path[self.path.len()..].starts_with('/'))
    }

    /// The path an entry gets in the output: relative to the wanted path's folder, so the
    /// wanted file or folder keeps its own name.
    fn renamed<'a>(&self, path: &'a str) -> &'a str {
        let parent = self.path.rsplit_once('/').map_or(0, |(p, _)| p.len() + 1);
        &path[parent..]
    }
}

/// Where the wanted entries go.
pub enum Output<W: Write> {
    /// One file's bytes as they are (a download of one file).
    Content(W),
    /// A plain tar of the wanted entries, renamed to start at the wanted name.
    Tar(tar::Builder<W>),
}

/// What a scan handed on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extracted {
    pub files: u64,
    pub bytes: u64,
}

fn damaged(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("the archive cannot be read (damaged or ended early): {e}"))
}

/// Scans the `.tar.zst` in `reader`, handing the entries `wanted` covers to `out`, each file
/// checked against `expected` (the manifest's lines for those entries, in tar order).
pub fn scan<W: Write>(
    reader: impl Read,
    wanted: &Wanted,
    expected: impl IntoIterator<Item = Line>,
    mut out: Output<W>,
) -> io::Result<(Extracted, W)> {
    let mut expected = expected.into_iter();
    let decoder = zstd::Decoder::new(reader).map_err(damaged)?;
    let mut archive = tar::Archive::new(decoder);
    let mut done = Extracted::default();
    let mut inside = false;
    for entry in archive.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        if manifest::is_manifest_entry(&mut entry) {
            break;
        }
        let path = Line::path_of(&entry.path().map_err(damaged)?);
        if !wanted.covers(&path) {
            if inside {
                // The wanted entries are all together: the rest of the artifact is not read.
                break;
            }
            continue;
        }
        inside = true;
        let line = expected
            .next()
            .filter(|l| l.path == path)
            .ok_or_else(|| io::Error::other(format!("{path} is in the archive but not where the manifest has it")))?;
        let kind = entry.header().entry_type();
        let renamed = wanted.renamed(&path).to_owned();
        let mut content = Hashing::new(&mut entry);
        match &mut out {
            Output::Content(w) => {
                io::copy(&mut content, w).map_err(damaged)?;
            }
            Output::Tar(tar) => {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(kind);
                header.set_mode(line.mode);
                header.set_mtime(u64::try_from(line.mtime).unwrap_or(0));
                if kind.is_symlink() {
                    let target =
                        content.inner.link_name().map_err(damaged)?.map(|t| t.into_owned()).unwrap_or_default();
                    header.set_size(0);
                    tar.append_link(&mut header, &renamed, target)?;
                } else if kind.is_dir() {
                    header.set_size(0);
                    tar.append_data(&mut header, &renamed, io::empty())?;
                } else {
                    header.set_size(line.size);
                    tar.append_data(&mut header, &renamed, &mut content)?;
                }
            }
        }
        if line.kind == manifest::FILE {
            let actual = content.hex();
            if content.bytes != line.size || line.sha256.as_deref() != Some(actual.as_str()) {
                return Err(io::Error::other(format!(
                    "file {path} differs from the manifest recorded at backup: expected SHA-256 {}, got {actual}",
                    line.sha256.as_deref().unwrap_or("none")
                )));
            }
            done.files += 1;
            done.bytes += content.bytes;
        }
    }
    if !inside {
        return Err(io::Error::other(format!("{} is not in the archive", wanted.path)));
    }
    let writer = match out {
        Output::Content(w) => w,
        Output::Tar(tar) => tar.into_inner()?,
    };
    Ok((done, writer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    fn artifact(entries: &[(&str, Option<&[u8]>)]) -> (Vec<u8>, Vec<Line>) {
        let mut tar = tar::Builder::new(Vec::new());
        let mut lines = Vec::new();
        for (name, body) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            match body {
                Some(body) => {
                    header.set_size(body.len() as u64);
                    tar.append_data(&mut header, format!("./{name}"), *body).expect("append");
                    let sha256 = Some(hex::encode(sha2::Sha256::digest(body)));
                    lines.push(Line {
                        path: (*name).into(),
                        kind: "file".into(),
                        size: body.len() as u64,
                        mode: 0o644,
                        mtime: 0,
                        sha256,
                        etag: None,
                    });
                }
                None => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    tar.append_data(&mut header, format!("./{name}"), io::empty()).expect("append");
                    lines.push(Line {
                        path: (*name).into(),
                        kind: "dir".into(),
                        size: 0,
                        mode: 0o755,
                        mtime: 0,
                        sha256: None,
                        etag: None,
                    });
                }
            }
        }
        (zstd::encode_all(&tar.into_inner().expect("tar")[..], 3).expect("zstd"), lines)
    }

    /// Counts what is read from it.
    struct Counted<'a>(&'a [u8], usize);
    impl Read for Counted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.read(buf)?;
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn one_file_comes_out_as_itself_and_the_rest_is_not_read() {
        let noise: Vec<u8> = (0..4_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect();
        let (body, lines) =
            artifact(&[("a", None), ("a/want.txt", Some(b"wanted")), ("z", None), ("z/noise", Some(&noise))]);
        let wanted = Wanted { path: "a/want.txt".into(), folder: false };
        let expected: Vec<Line> = lines.iter().filter(|l| l.path == "a/want.txt").cloned().collect();
        let mut reader = Counted(&body, 0);
        let (done, out) = scan(&mut reader, &wanted, expected, Output::Content(Vec::new())).expect("scan");
        assert_eq!(out, b"wanted");
        assert_eq!(done, Extracted { files: 1, bytes: 6 });
        assert!(reader.1 < body.len() / 4, "read {} of {}", reader.1, body.len());
    }

    #[test]
    fn a_folder_comes_out_as_a_tar_under_its_own_name_and_a_changed_file_is_refused() {
        let (body, lines) =
            artifact(&[("a", None), ("a/b", None), ("a/b/c.txt", Some(b"see")), ("d.txt", Some(b"dee"))]);
        let wanted = Wanted { path: "a/b".into(), folder: true };
        let expected: Vec<Line> = lines.iter().filter(|l| l.path.starts_with("a/b")).cloned().collect();
        let (done, out) =
            scan(&body[..], &wanted, expected.clone(), Output::Tar(tar::Builder::new(Vec::new()))).expect("scan");
        assert_eq!(done.files, 1);
        let names: Vec<String> = tar::Archive::new(&out[..])
            .entries()
            .expect("entries")
            .map(|e| e.expect("entry").path().expect("path").display().to_string())
            .collect();
        assert_eq!(names, ["b", "b/c.txt"]);
        let mut changed = expected;
        changed[1].sha256 = Some("0".repeat(64));
        let error = scan(&body[..], &wanted, changed, Output::Tar(tar::Builder::new(Vec::new()))).expect_err("refused");
        assert!(error.to_string().contains("a/b/c.txt"), "{error}");
    }
}
