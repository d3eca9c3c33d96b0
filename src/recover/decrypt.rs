//! The `DPBE` framing read synchronously, one sealed segment at a time (the format is
//! `crate::artifacts::encryption`'s; docs/ARTIFACT_FORMAT.md writes it down). Why a second
//! reader: `devpilot recover` is a plain blocking pipeline (file → decrypt → zstd → tar) with no
//! server runtime, and it must say *where* decryption failed, which tells a wrong key (the first
//! segment fails) from damage further in (earlier segments opened, so the key is right).

use crate::artifacts::dpbe::{HEADER_LEN, HeaderError, SEALED_LEN, Segments};
use crate::artifacts::encryption::ArtifactKey;
use secrecy::{ExposeSecret, SecretBox};
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

/// Why decryption stopped, kept for the final message (the layers above only see an I/O error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecryptFailure {
    /// The file ends before the header does.
    TruncatedHeader,
    UnknownVersion(u8),
    /// The first segment did not open: the key is not this artifact's, or its start is damaged.
    FirstSegment,
    /// A later segment did not open: the key is right; the file is damaged there.
    Damaged {
        segment: u64,
        offset: u64,
    },
    /// The file's final segment did not open (or a segment is missing at the end): truncated.
    Truncated {
        segment: u64,
        offset: u64,
    },
}

impl std::fmt::Display for DecryptFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecryptFailure::TruncatedHeader => write!(f, "the file is truncated: it ends inside the encryption header"),
            DecryptFailure::UnknownVersion(v) => {
                write!(f, "the artifact uses encryption format version {v}, which this devpilot does not know")
            }
            DecryptFailure::FirstSegment => write!(
                f,
                "the key does not open this artifact: it is not the recovery key of the workspace that made it, \
                 or the file is damaged at its very start (give --sha256 to tell which)"
            ),
            DecryptFailure::Damaged { segment, offset } => write!(
                f,
                "the artifact is damaged: segment {segment} (at byte {offset} of the file) fails its authentication \
                 tag; the key is right (the segments before it opened), so a byte of the file was changed"
            ),
            DecryptFailure::Truncated { segment, offset } => write!(
                f,
                "the artifact is truncated or damaged at its end: its last segment ({segment}, at byte {offset}) \
                 fails its authentication tag; the key is right (the segments before it opened)"
            ),
        }
    }
}

pub type FailureSlot = Arc<Mutex<Option<DecryptFailure>>>;

/// Plaintext of a `DPBE` file, every segment authenticated before a byte of it is handed on.
pub struct DecryptReader<R> {
    input: R,
    /// Held until the header is read, then turned into the artifact's cipher.
    key: Option<ArtifactKey>,
    segments: Option<Segments>,
    /// Sealed bytes read ahead: one segment and a byte, to know whether a segment is the last.
    sealed: Vec<u8>,
    plain: Vec<u8>,
    at: usize,
    segment: u64,
    ended: bool,
    failure: FailureSlot,
}

impl<R: Read> DecryptReader<R> {
    pub fn new(input: R, key: &ArtifactKey, failure: FailureSlot) -> DecryptReader<R> {
        DecryptReader {
            input,
            key: Some(SecretBox::new(Box::new(*key.expose_secret()))),
            segments: None,
            sealed: Vec::with_capacity(SEALED_LEN + 1),
            plain: Vec::new(),
            at: 0,
            segment: 0,
            ended: false,
            failure,
        }
    }

    fn fail(&mut self, failure: DecryptFailure) -> io::Error {
        self.ended = true;
        let error = io::Error::new(io::ErrorKind::InvalidData, failure.to_string());
        if let Ok(mut slot) = self.failure.lock() {
            slot.get_or_insert(failure);
        }
        error
    }

    /// Reads until `want` sealed bytes are buffered or the input ends; true when it ended.
    fn fill(&mut self, want: usize) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        while self.sealed.len() < want {
            let room = (want - self.sealed.len()).min(chunk.len());
            match self.input.read(&mut chunk[..room]) {
                Ok(0) => return Ok(true),
                Ok(n) => self.sealed.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    fn start(&mut self) -> io::Result<()> {
        if self.fill(HEADER_LEN)? {
            return Err(self.fail(DecryptFailure::TruncatedHeader));
        }
        let header: Vec<u8> = self.sealed.drain(..HEADER_LEN).collect();
        let key = self.key.take().ok_or_else(|| io::Error::other("decryption started twice"))?;
        match Segments::opening(&key, &header) {
            Ok(segments) => self.segments = Some(segments),
            Err(HeaderError::NotDpbe) => {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "not an encrypted Devpilot artifact"));
            }
            Err(HeaderError::UnknownVersion(version)) => return Err(self.fail(DecryptFailure::UnknownVersion(version))),
        }
        Ok(())
    }

    /// Opens the next segment into `plain`; false at the end.
    fn next_segment(&mut self) -> io::Result<bool> {
        if self.ended {
            return Ok(false);
        }
        if self.segments.is_none() {
            self.start()?;
        }
        let last = self.fill(SEALED_LEN + 1)?;
        let offset = HEADER_LEN as u64 + self.segment * SEALED_LEN as u64;
        let (segment, first) = (self.segment, self.segment == 0);
        let len = if last { self.sealed.len() } else { SEALED_LEN };
        self.ended = last;
        let segments = self.segments.as_mut().ok_or_else(|| io::Error::other("decryption ended"))?;
        match segments.open(&mut self.sealed[..len], last) {
            Ok(plain) => {
                self.plain.clear();
                self.plain.extend_from_slice(&self.sealed[..plain]);
                self.sealed.drain(..len);
                self.at = 0;
                self.segment += 1;
                Ok(true)
            }
            Err(_) if first => Err(self.fail(DecryptFailure::FirstSegment)),
            Err(_) if last => Err(self.fail(DecryptFailure::Truncated { segment, offset })),
            Err(_) => Err(self.fail(DecryptFailure::Damaged { segment, offset })),
        }
    }
}

impl<R: Read> Read for DecryptReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if !self.next_segment()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::dpbe::SEGMENT_LEN;
    use crate::artifacts::encryption::{encrypt, generate_key};
    use bytes::Bytes;
    use futures::{StreamExt, TryStreamExt};

    async fn sealed(data: &[u8], key: &ArtifactKey) -> Vec<u8> {
        let input = futures::stream::iter(vec![Ok(Bytes::copy_from_slice(data))]).boxed();
        let parts: Vec<Bytes> = encrypt(input, key).try_collect().await.expect("encrypt");
        parts.concat()
    }

    fn open(sealed: &[u8], key: &ArtifactKey) -> (io::Result<Vec<u8>>, Option<DecryptFailure>) {
        let slot = FailureSlot::default();
        let mut plain = Vec::new();
        let result = DecryptReader::new(sealed, key, slot.clone()).read_to_end(&mut plain).map(|_| plain);
        let failure = slot.lock().expect("slot").clone();
        (result, failure)
    }

    #[tokio::test]
    async fn reads_what_the_server_writes_at_every_boundary() {
        let key = generate_key();
        for len in [0, 1, SEGMENT_LEN - 1, SEGMENT_LEN, SEGMENT_LEN + 1, 3 * SEGMENT_LEN + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
            let (plain, failure) = open(&sealed(&data, &key).await, &key);
            assert_eq!(plain.expect("decrypts"), data, "{len} bytes");
            assert_eq!(failure, None);
        }
    }

    #[test]
    fn reads_artifacts_of_version_1() {
        let key = generate_key();
        let data = vec![3u8; 2 * SEGMENT_LEN + 9];
        let file = crate::artifacts::dpbe::tests::sealed_by_version_1(&data, &key);
        let (plain, failure) = open(&file, &key);
        assert_eq!(plain.expect("decrypts"), data);
        assert_eq!(failure, None);
        assert_eq!(open(&file, &generate_key()).1, Some(DecryptFailure::FirstSegment));
    }

    #[tokio::test]
    async fn tells_a_wrong_key_from_damage_and_truncation() {
        let key = generate_key();
        let data = vec![9u8; 3 * SEGMENT_LEN + 5];
        let file = sealed(&data, &key).await;
        assert_eq!(open(&file, &generate_key()).1, Some(DecryptFailure::FirstSegment));
        let mut flipped = file.clone();
        flipped[HEADER_LEN + SEALED_LEN + 100] ^= 1;
        assert!(matches!(open(&flipped, &key).1, Some(DecryptFailure::Damaged { segment: 1, .. })));
        let cut = &file[..HEADER_LEN + 2 * SEALED_LEN + 10];
        assert!(matches!(open(cut, &key).1, Some(DecryptFailure::Truncated { segment: 2, .. })));
        let at_boundary = &file[..HEADER_LEN + 3 * SEALED_LEN];
        assert!(matches!(open(at_boundary, &key).1, Some(DecryptFailure::Truncated { segment: 2, .. })));
        assert_eq!(open(&file[..10], &key).1, Some(DecryptFailure::TruncatedHeader));
    }
}
