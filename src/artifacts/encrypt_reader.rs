//! [`super::encryption`]'s format for blocking readers: a file read as its sealed form, segment
//! by segment (about one segment in memory), for archives built on a blocking thread whose tar
//! headers need the sealed length up front ([`sealed_len`]).

use super::dpbe::{HEADER_LEN, SEGMENT_LEN, Segments, TAG_LEN};
use super::encryption::ArtifactKey;
use std::io::{self, Read};

/// The sealed length of `plain` bytes: the header, and a tag per segment (an empty plaintext is
/// one empty last segment), as [`super::encryption::encrypt`] writes them.
pub fn sealed_len(plain: u64) -> u64 {
    let segments = plain.div_ceil(SEGMENT_LEN as u64).max(1);
    HEADER_LEN as u64 + plain + segments * TAG_LEN as u64
}

/// Reads `input` sealed under `key`: the same bytes [`super::encryption::encrypt`] would give.
pub struct EncryptReader<R> {
    input: R,
    /// None once the last segment was sealed.
    segments: Option<Segments>,
    /// Plaintext read ahead: a full segment is sealed as "not last" only once a byte follows it.
    plain: Vec<u8>,
    /// Sealed bytes not yet handed out, from `at`.
    out: Vec<u8>,
    at: usize,
}

impl<R: Read> EncryptReader<R> {
    pub fn new(input: R, key: &ArtifactKey) -> EncryptReader<R> {
        let segments = Segments::sealing(key);
        EncryptReader {
            input,
            out: segments.header().to_vec(),
            segments: Some(segments),
            plain: Vec::with_capacity(SEGMENT_LEN + 1),
            at: 0,
        }
    }

    /// Seals the next segment into `out`; false once the last one was sealed.
    fn seal_next(&mut self) -> io::Result<bool> {
        if self.segments.is_none() {
            return Ok(false);
        }
        let mut chunk = [0u8; 16 * 1024];
        while self.plain.len() <= SEGMENT_LEN {
            let room = (SEGMENT_LEN + 1 - self.plain.len()).min(chunk.len());
            match self.input.read(&mut chunk[..room]) {
                Ok(0) => break,
                Ok(n) => self.plain.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let last = self.plain.len() <= SEGMENT_LEN;
        let len = self.plain.len().min(SEGMENT_LEN);
        self.out.clear();
        self.out.extend_from_slice(&self.plain[..len]);
        self.plain.drain(..len);
        let segments = self.segments.as_mut().ok_or_else(|| io::Error::other("sealed twice"))?;
        let tag = segments.seal(&mut self.out, last)?;
        self.out.extend_from_slice(&tag);
        if last {
            self.segments = None;
        }
        self.at = 0;
        Ok(true)
    }
}

impl<R: Read> Read for EncryptReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() {
            if !self.seal_next()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::encryption::{decrypt, generate_key};
    use bytes::Bytes;
    use futures::{StreamExt, TryStreamExt};

    async fn round_trip(len: usize) {
        let key = generate_key();
        let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut sealed = Vec::new();
        EncryptReader::new(plain.as_slice(), &key).read_to_end(&mut sealed).expect("seal");
        assert_eq!(sealed.len() as u64, sealed_len(len as u64), "{len} bytes");
        let input = futures::stream::iter(vec![Ok(Bytes::from(sealed))]).boxed();
        let opened: Vec<Bytes> = decrypt(input, &key).try_collect().await.expect("the stream decrypter opens it");
        assert_eq!(opened.concat(), plain, "{len} bytes");
    }

    #[tokio::test]
    async fn sealed_by_the_reader_opens_as_an_artifact_at_every_segment_edge() {
        for len in [0, 1, SEGMENT_LEN - 1, SEGMENT_LEN, SEGMENT_LEN + 1, 3 * SEGMENT_LEN, 3 * SEGMENT_LEN + 17] {
            round_trip(len).await;
        }
    }
}
