//! A bucket (or a prefix of one) as an artifact, and back.
//!
//! Backing up: the objects under the prefix are listed a page at a time and written, in listing
//! order, into a tar archive compressed with zstd — the directory artifact's format, its manifest
//! (`.devpilot/manifest.jsonl`) one line per object with its ETag beside size and SHA-256, so
//! restore drills and `devpilot recover` read it as they read a folder's. Up to `AT_ONCE`
//! small objects are read whole ahead of their turn, each on a task of its own; a large one is
//! asked for when its turn comes and streamed. Memory is a listing page, the small objects read
//! ahead and the chunks in flight, whatever the objects' sizes.
//!
//! Keys are hostile input: a tar entry is named by the key below the prefix only when that name
//! is safe ([`unsafe_name`]: no `..`, no absolute or empty segments, no control characters, not
//! too long); any other object is left out and named in the run's notes, as is an object that
//! vanished between the listing and its read, or whose ETag or size changed meanwhile (the version
//! read is kept, and said so: never mixed in silently).
//!
//! Restoring: each file entry of the archive is written back as `{prefix}/{name}`, its name judged
//! by the same rule again, anything but plain files refused; up to `AT_ONCE` small objects are
//! written at once, a large one streamed once those before it have landed.

use super::channel::produced_by;
use super::compression::ZSTD_LEVEL;
use super::directory::ManifestSlot;
use super::manifest::{self, Hashing, Line};
use super::restore::RestoreError;
use super::walk::Skipped;
use super::{ByteStream, SourceRead, counted};
use crate::providers::s3::S3Provider;
use crate::providers::s3::source::{Listed, PAGE_KEYS, Reading};
use futures::{FutureExt, StreamExt};
use std::io::{self, Read, Write};
use std::sync::Arc;
use tokio_util::task::AbortOnDropHandle;

/// S3's own limit on a key, in bytes.
pub const MAX_KEY: usize = 1024;
/// At most this many objects are named in a run's notes; the rest are counted.
const NOTED: usize = 50;

/// Why `name` (a key below the source's prefix) cannot name an archive entry or a key to write;
/// None when it can.
pub fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > MAX_KEY {
        return Some(if name.is_empty() { "an empty name" } else { "longer than 1,024 bytes" });
    }
    if name.starts_with('/') {
        return Some("an absolute name");
    }
    if name.chars().any(char::is_control) {
        return Some("control characters in its name");
    }
    if name.contains('\\') {
        return Some("a backslash in its name");
    }
    if name.split('/').any(|s| s == "." || s == "..") {
        return Some("a . or .. segment");
    }
    if name.split('/').any(str::is_empty) {
        return Some("an empty segment (a folder marker or //)");
    }
    None
}

/// `name` as it is safe to show in a note: escaped, and cut short.
pub fn shown(name: &str) -> String {
    let escaped: String = name.chars().flat_map(char::escape_debug).collect();
    match escaped.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &escaped[..at]),
        None => escaped,
    }
}

/// A prefix as a listing takes it: `a/b` lists `a/b/`; blank lists the whole bucket.
pub fn list_prefix(prefix: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() { String::new() } else { format!("{prefix}/") }
}

/// The run's notes about the bucket, a bounded number named.
#[derive(Clone, Default)]
struct Notes {
    items: Skipped,
    more: Arc<std::sync::atomic::AtomicU64>,
}

impl Notes {
    fn add(&self, note: String) {
        if let Ok(mut items) = self.items.lock()
            && items.len() < NOTED
        {
            items.push(note);
            return;
        }
        self.more.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn close(&self) {
        let more = self.more.load(std::sync::atomic::Ordering::Relaxed);
        if more > 0 {
            self.add_unbounded(format!("and {more} more objects like these"));
        }
    }

    fn add_unbounded(&self, note: String) {
        if let Ok(mut items) = self.items.lock() {
            items.push(note);
        }
    }
}

/// Streams the objects under `prefix` of `provider`'s bucket as `.tar.zst` with its manifest
/// (lines kept, compressed, in `file`, a new private file). The notes (objects left out,
/// vanished or changed) are complete once the stream has ended; the manifest is in the slot once
/// it has ended well. Object bytes read are added to `read`.
pub fn stream_with_manifest(
    provider: Arc<S3Provider>,
    prefix: String,
    read: SourceRead,
    file: std::fs::File,
) -> (ByteStream, Skipped, ManifestSlot) {
    let notes = Notes::default();
    let slot = ManifestSlot::default();
    let (noted, filled) = (notes.clone(), Arc::clone(&slot));
    let handle = tokio::runtime::Handle::current();
    let body = produced_by(move |out| {
        let encoder = zstd::Encoder::new(out, ZSTD_LEVEL)?;
        let mut tar = tar::Builder::new(encoder);
        let mut writer = manifest::Writer::new(file);
        let archive = Archive { provider, handle, read, notes: noted.clone() };
        archive.objects(&prefix, &mut tar, &mut writer)?;
        noted.close();
        let written = writer.finish()?;
        manifest::append_to(&mut tar, &written)?;
        tar.into_inner()?.finish()?.flush()?;
        if let Ok(mut slot) = filled.lock() {
            *slot = Some(written);
        }
        Ok(())
    });
    (body, notes.items, slot)
}

/// What the blocking archive writer needs to read the bucket.
struct Archive {
    provider: Arc<S3Provider>,
    handle: tokio::runtime::Handle,
    read: SourceRead,
    notes: Notes,
}

fn provider_error(e: crate::providers::ProviderError) -> io::Error {
    io::Error::other(e.message)
}

/// Small objects read at once by a backup (in listing order) and written at once by a restore: a
/// request's round trip (tens of milliseconds on a real service; 40 ms for a GET on s3s-fs, whose
/// small answers meet a delayed ACK) is paid once per window rather than once per object, which
/// was most of a backup of many small objects (10,000: 400 s one at a time on s3s-fs). rclone
/// checks 8 and copies 4 at once, the AWS CLI 10.
const AT_ONCE: usize = 32;
/// An object listed up to this size is read whole in the window. A larger one is asked for only
/// when its turn comes: a response left unread while earlier objects stream for minutes could be
/// closed by the service. What the window holds stays under `AT_ONCE` × this (8 MiB).
const READ_WHOLE: u64 = 256 << 10;

/// An object of the listing, read or judged ahead of its turn.
enum Ahead {
    /// Not archived; the note says why.
    LeftOut(String),
    /// Read whole, or None: it vanished after it was listed.
    Read { name: String, listed: Listed, reading: Option<Reading> },
    /// Too large to read ahead: read when its turn comes.
    Large { name: String, listed: Listed },
}

impl Archive {
    fn objects<W: Write>(
        &self,
        prefix: &str,
        tar: &mut tar::Builder<W>,
        writer: &mut manifest::Writer,
    ) -> io::Result<()> {
        let listed_under = list_prefix(prefix);
        let mut token: Option<String> = None;
        loop {
            let page = self
                .handle
                .block_on(self.provider.list_page(&listed_under, token.as_deref(), PAGE_KEYS))
                .map_err(provider_error)?;
            let more = page.next.filter(|_| !page.objects.is_empty());
            let mut objects =
                futures::stream::iter(page.objects).map(|listed| self.ahead(&listed_under, listed)).buffered(AT_ONCE);
            while let Some(object) = self.handle.block_on(objects.next()) {
                let (name, listed, reading) = match object? {
                    Ahead::LeftOut(note) => {
                        self.notes.add(note);
                        continue;
                    }
                    Ahead::Read { name, listed, reading } => (name, listed, reading),
                    Ahead::Large { name, listed } => {
                        let reading = self.handle.block_on(self.provider.read_object(&listed.key));
                        (name, listed, reading.map_err(provider_error)?)
                    }
                };
                match reading {
                    Some(reading) => self.object(&name, &listed, reading, tar, writer)?,
                    None => self.notes.add(format!("“{}” vanished after it was listed: not backed up", shown(&name))),
                }
            }
            match more {
                Some(next) => token = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Judges one listed object's name and reads a small one whole.
    fn ahead(&self, listed_under: &str, listed: Listed) -> futures::future::BoxFuture<'static, io::Result<Ahead>> {
        let now = |ahead: Ahead| futures::future::ready(Ok(ahead)).boxed();
        // A service that answers with keys outside the prefix asked for is not followed there.
        let Some(name) = listed.key.strip_prefix(listed_under).map(str::to_owned) else {
            return now(Ahead::LeftOut(format!("“{}” left out: not under the prefix", shown(&listed.key))));
        };
        if let Some(why) = unsafe_name(&name) {
            return now(Ahead::LeftOut(format!("“{}” left out: {why}", shown(&name))));
        }
        if listed.size > READ_WHOLE {
            return now(Ahead::Large { name, listed });
        }
        let provider = Arc::clone(&self.provider);
        // On a task of its own, so it goes on while a large object before it streams: a request
        // nobody polls meets the client's read timeout (its clock runs from the send), answered
        // or not. Dropped with the window when the archive stops.
        let reading = AbortOnDropHandle::new(self.handle.spawn(async move {
            let reading = match provider.read_object(&listed.key).await.map_err(provider_error)? {
                // Listed small, it grew since (rare): it streams when its turn comes, as a large one.
                Some(reading) if reading.size > READ_WHOLE => Some(reading),
                Some(reading) => Some(read_whole(reading).await),
                None => None,
            };
            io::Result::Ok((listed, reading))
        }));
        async move {
            let (listed, reading) = reading.await.map_err(io::Error::other)??;
            Ok(Ahead::Read { name, listed, reading })
        }
        .boxed()
    }

    fn object<W: Write>(
        &self,
        name: &str,
        listed: &Listed,
        reading: Reading,
        tar: &mut tar::Builder<W>,
        writer: &mut manifest::Writer,
    ) -> io::Result<()> {
        if changed_since_listed(listed, &reading.etag, reading.size) {
            self.notes.add(format!(
                "“{}” changed after it was listed (ETag {} → {}, {} → {} bytes): the version read is backed up",
                shown(name),
                shown(&listed.etag),
                shown(&reading.etag),
                listed.size,
                reading.size
            ));
        }
        let mtime = listed.last_modified.map_or(0, |t| t.timestamp().max(0));
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(reading.size);
        header.set_mode(0o644);
        header.set_mtime(u64::try_from(mtime).unwrap_or(0));
        let body = counted(reading.body, self.read.clone());
        let bridge =
            tokio_util::io::SyncIoBridge::new_with_handle(tokio_util::io::StreamReader::new(body), self.handle.clone());
        let mut content = Hashing::new(Exactly { inner: bridge, left: reading.size });
        tar.append_data(&mut header, name, &mut content)?;
        if content.inner.left != 0 {
            return Err(io::Error::other(format!("“{}” ended before its length", shown(name))));
        }
        writer.push(&Line {
            path: name.to_owned(),
            kind: manifest::FILE.into(),
            size: reading.size,
            mode: 0o644,
            mtime,
            sha256: Some(content.hex()),
            etag: Some(reading.etag),
        })
    }
}

/// A small object's body read into memory (a byte past its length at most, for [`Exactly`] to
/// refuse); an error while reading comes after the bytes read, where streaming would have met it.
async fn read_whole(reading: Reading) -> Reading {
    let Reading { size, etag, mut body } = reading;
    let mut whole = bytes::BytesMut::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut failed = None;
    while (whole.len() as u64) <= size {
        match body.next().await {
            Some(Ok(chunk)) => whole.extend_from_slice(&chunk),
            Some(Err(e)) => {
                failed = Some(e);
                break;
            }
            None => break,
        }
    }
    let chunks = std::iter::once(Ok(whole.freeze())).chain(failed.map(Err));
    Reading { size, etag, body: futures::stream::iter(chunks.collect::<Vec<_>>()).boxed() }
}

/// A reader that gives exactly `left` bytes of `inner`: more is an error (the archive's header
/// already holds the length), fewer shows in `left` at the end.
struct Exactly<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exactly<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other("the object is longer than its length")),
            };
        }
        let room = usize::try_from(self.left).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.read(&mut buf[..room])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Where a restore writes: `provider`'s bucket, below `prefix` (blank: the bucket's top).
pub struct Into {
    pub provider: Arc<S3Provider>,
    pub prefix: String,
}

/// Writes every file of the archive (`body`, decrypted) back into the bucket, up to `AT_ONCE`
/// small objects at once, in order around a large one; answers how many were written. The manifest entry is skipped; a link, a device or an
/// unsafe name refuses the archive (nothing after it is written).
pub async fn restore(body: ByteStream, into: Into) -> Result<u64, RestoreError> {
    let handle = tokio::runtime::Handle::current();
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(body));
    tokio::task::spawn_blocking(move || write_back(reader, &into, &handle))
        .await
        .map_err(|e| RestoreError::Target(format!("the restore stopped: {e}")))?
}

fn write_back(reader: impl Read, into: &Into, handle: &tokio::runtime::Handle) -> Result<u64, RestoreError> {
    let decoder = zstd::Decoder::new(reader).map_err(RestoreError::Read)?;
    let mut archive = tar::Archive::new(decoder);
    let mut written = 0u64;
    let mut puts = Puts { in_flight: tokio::task::JoinSet::new(), handle };
    let under = list_prefix(&into.prefix);
    for entry in archive.entries().map_err(RestoreError::Read)? {
        let mut entry = entry.map_err(RestoreError::Read)?;
        if manifest::is_manifest_entry(&mut entry) {
            continue;
        }
        let name = Line::path_of(&entry.path().map_err(RestoreError::Read)?);
        let kind = entry.header().entry_type();
        if kind.is_dir() && unsafe_name(&name).is_none() {
            continue;
        }
        let key = format!("{under}{name}");
        if let Some(refused) = refusal(&name, kind, &key) {
            // What came before it is written (the PUTs in flight end first); nothing after it.
            return puts.finish().and(Err(RestoreError::Target(format!("{refused}; nothing more written"))));
        }
        if entry.size() <= READ_WHOLE {
            let mut whole = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
            entry.read_to_end(&mut whole).map_err(RestoreError::Read)?;
            puts.start(put_whole(Arc::clone(&into.provider), key, bytes::Bytes::from(whole)))?;
        } else {
            // In order: what is in flight lands before a large object streams.
            puts.finish()?;
            put_entry(&mut entry, &key, into, handle)?;
        }
        written += 1;
    }
    puts.finish()?;
    Ok(written)
}

/// Why an archive entry named `name`, to be written at `key`, refuses the archive; None when it
/// may be written.
fn refusal(name: &str, kind: tar::EntryType, key: &str) -> Option<String> {
    if let Some(why) = unsafe_name(name) {
        return Some(format!("the archive holds “{}” ({why})", shown(name)));
    }
    if !kind.is_file() {
        return Some(format!("“{}” is not a plain file", shown(name)));
    }
    (key.len() > MAX_KEY).then(|| format!("“{}” would be longer than 1,024 bytes below this prefix", shown(name)))
}

/// A restore's PUT that ended badly, in the restore's words.
fn write_failed(key: &str, e: crate::providers::ProviderError) -> RestoreError {
    RestoreError::Target(format!("writing “{}” failed: {}", shown(key), e.message))
}

fn upload_stopped(e: tokio::task::JoinError) -> RestoreError {
    RestoreError::Target(format!("the upload stopped: {e}"))
}

/// Small objects a restore writes at once, as a backup reads them: a PUT's round trip paid once
/// per window, not once per object. Dropped on an error, it aborts what is still in flight.
struct Puts<'a> {
    in_flight: tokio::task::JoinSet<Result<(), RestoreError>>,
    handle: &'a tokio::runtime::Handle,
}

impl Puts<'_> {
    fn start(
        &mut self,
        put: impl std::future::Future<Output = Result<(), RestoreError>> + Send + 'static,
    ) -> Result<(), RestoreError> {
        while self.in_flight.len() >= AT_ONCE {
            self.one()?;
        }
        self.in_flight.spawn_on(put, self.handle);
        Ok(())
    }

    /// Waits for one PUT to end; its error, if it failed.
    fn one(&mut self) -> Result<(), RestoreError> {
        match self.handle.block_on(self.in_flight.join_next()) {
            Some(Ok(put)) => put,
            Some(Err(e)) => Err(upload_stopped(e)),
            None => Ok(()),
        }
    }

    /// Waits for every PUT in flight.
    fn finish(&mut self) -> Result<(), RestoreError> {
        while !self.in_flight.is_empty() {
            self.one()?;
        }
        Ok(())
    }
}

async fn put_whole(provider: Arc<S3Provider>, key: String, body: bytes::Bytes) -> Result<(), RestoreError> {
    let body: ByteStream = futures::stream::once(async move { Ok(body) }).boxed();
    provider.write_object(&key, body).await.map(drop).map_err(|e| write_failed(&key, e))
}

/// One entry's bytes into one object, through a small channel: a chunk in flight at a time.
fn put_entry(
    entry: &mut impl Read,
    key: &str,
    into: &Into,
    handle: &tokio::runtime::Handle,
) -> Result<(), RestoreError> {
    use futures::StreamExt;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<io::Result<bytes::Bytes>>(4);
    let body: ByteStream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed();
    let (provider, owned) = (Arc::clone(&into.provider), key.to_owned());
    let upload = handle.spawn(async move { provider.write_object(&owned, body).await });
    let mut buf = vec![0u8; super::channel::CHUNK];
    let sent = loop {
        match entry.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if tx.blocking_send(Ok(bytes::Bytes::copy_from_slice(&buf[..n]))).is_err() {
                    break Ok(());
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
                break Err(RestoreError::Read(e));
            }
        }
    };
    drop(tx);
    let uploaded = handle.block_on(upload).map_err(upload_stopped)?;
    sent?;
    uploaded.map(drop).map_err(|e| write_failed(key, e))
}

/// Whether an object read differs from its line in the listing. Some services list objects without
/// an ETag (s3s-fs does): then the size alone can tell, never an empty ETag against a real one.
fn changed_since_listed(listed: &Listed, etag: &str, size: u64) -> bool {
    let etags_differ = !listed.etag.is_empty() && !etag.is_empty() && listed.etag != etag;
    etags_differ || listed.size != size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_small_object_read_ahead_keeps_its_error_and_stops_a_byte_past_its_length() {
        async fn whole(size: u64, parts: Vec<io::Result<&'static [u8]>>) -> Vec<Result<Vec<u8>, String>> {
            let body = futures::stream::iter(parts.into_iter().map(|p| p.map(bytes::Bytes::from_static))).boxed();
            let read = read_whole(Reading { size, etag: "e".into(), body }).await;
            read.body.map(|c| c.map(|b| b.to_vec()).map_err(|e| e.to_string())).collect().await
        }
        assert_eq!(whole(6, vec![Ok(b"abc"), Ok(b"def")]).await, [Ok(b"abcdef".to_vec())]);
        let cut = whole(6, vec![Ok(b"abc"), Err(io::Error::other("cut")), Ok(b"def")]).await;
        assert_eq!(cut, [Ok(b"abc".to_vec()), Err("cut".into())], "the bytes read, then the error");
        let long = whole(2, vec![Ok(b"abc"), Ok(b"def")]).await;
        assert_eq!(long, [Ok(b"abc".to_vec())], "read no further than a byte past the length");
        assert_eq!(whole(0, vec![]).await, [Ok(Vec::new())]);
    }

    #[test]
    fn a_restore_refuses_unsafe_names_what_is_not_a_file_and_keys_too_long() {
        let file = tar::EntryType::Regular;
        assert_eq!(refusal("a/ok.txt", file, "prefix/a/ok.txt"), None);
        let climbing = refusal("../etc/passwd", file, "prefix/../etc/passwd").expect("refused");
        assert!(climbing.contains("a . or .. segment"), "{climbing}");
        let link = refusal("link", tar::EntryType::Symlink, "prefix/link").expect("refused");
        assert!(link.contains("not a plain file"), "{link}");
        let long = refusal("x", file, &format!("{}/x", "p".repeat(MAX_KEY))).expect("refused");
        assert!(long.contains("longer than 1,024 bytes"), "{long}");
    }

    #[test]
    fn a_listing_without_etags_is_judged_by_size_alone() {
        let listed = |etag: &str| Listed { key: "a".into(), size: 5, etag: etag.into(), last_modified: None };
        assert!(!changed_since_listed(&listed("abc"), "abc", 5));
        assert!(changed_since_listed(&listed("abc"), "abd", 5), "another ETag");
        assert!(changed_since_listed(&listed("abc"), "abc", 6), "another size");
        assert!(!changed_since_listed(&listed(""), "abc", 5), "no ETag listed: the size matched");
        assert!(changed_since_listed(&listed(""), "abc", 7), "no ETag listed: the size did not");
    }

    #[test]
    fn hostile_names_are_refused() {
        for (name, why) in [
            ("../../etc/passwd", ". or .."),
            ("a/./b", ". or .."),
            ("/etc/passwd", "absolute"),
            ("a\0b", "control"),
            ("a\nb", "control"),
            ("a\u{1b}[31m", "control"),
            ("folder/", "empty segment"),
            ("a//b", "empty segment"),
            ("", "empty name"),
            ("a\\..\\b", "backslash"),
        ] {
            assert!(unsafe_name(name).is_some_and(|w| w.contains(why)), "{name:?}: {:?}", unsafe_name(name));
        }
        assert!(unsafe_name(&"k".repeat(1025)).is_some());
        for fine in ["a", "photos/2026/ü 1.jpg", "..a/b..", ".hidden", &"k".repeat(1024)] {
            assert_eq!(unsafe_name(fine), None, "{fine}");
        }
    }

    #[test]
    fn notes_show_names_escaped_and_short() {
        assert_eq!(shown("a\0b\n"), "a\\0b\\n");
        assert!(shown(&"x".repeat(500)).chars().count() <= 121);
        assert_eq!(list_prefix("/a/b/"), "a/b/");
        assert_eq!(list_prefix(""), "");
    }
}
