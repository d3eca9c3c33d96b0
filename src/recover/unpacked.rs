//! A zstd payload as it unpacks, its first unpacked bytes kept aside to tell what it holds: a
//! folder's tar, a PostgreSQL dump (`….pgdump.zst`) or a MariaDB dump (`….sql.zst`) all start
//! with the same zstd frame header.

use std::io::{self, BufRead, Read};

/// How many unpacked bytes tell what a payload holds (a tar header's magic ends at byte 262).
const HEAD: usize = 512;

pub struct Unpacked<R: BufRead> {
    head: Vec<u8>,
    served: usize,
    decoder: zstd::stream::read::Decoder<'static, R>,
}

impl<R: BufRead> Unpacked<R> {
    /// Starts unpacking `packed` and reads its first unpacked bytes (fewer only when it is shorter).
    pub fn open(packed: R) -> io::Result<Unpacked<R>> {
        let mut decoder = zstd::stream::read::Decoder::with_buffer(packed)?;
        let mut head = Vec::with_capacity(HEAD);
        (&mut decoder).take(HEAD as u64).read_to_end(&mut head)?;
        Ok(Unpacked { head, served: 0, decoder })
    }

    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Reads what is left, unpacked and then whatever follows the frames, to the very end: the
    /// last encrypted segment carries the "last" flag that proves nothing was cut off.
    pub fn drain(mut self) -> io::Result<()> {
        io::copy(&mut self, &mut io::sink())?;
        io::copy(&mut self.decoder.finish(), &mut io::sink()).map(drop)
    }
}

impl<R: BufRead> Read for Unpacked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.served < self.head.len() {
            let n = (self.head.len() - self.served).min(buf.len());
            buf[..n].copy_from_slice(&self.head[self.served..self.served + n]);
            self.served += n;
            return Ok(n);
        }
        self.decoder.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_head_then_the_rest_and_drains_to_the_end() {
        let original: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        let packed = zstd::encode_all(&original[..], 3).expect("compress");
        let mut unpacked = Unpacked::open(io::BufReader::new(&packed[..])).expect("open");
        assert_eq!(unpacked.head(), &original[..HEAD]);
        let mut all = Vec::new();
        unpacked.read_to_end(&mut all).expect("read");
        assert_eq!(all, original);

        let short = zstd::encode_all(&b"SELECT 1;"[..], 3).expect("compress");
        let unpacked = Unpacked::open(io::BufReader::new(&short[..])).expect("open");
        assert_eq!(unpacked.head(), b"SELECT 1;");
        unpacked.drain().expect("drain");

        let cut = &packed[..packed.len() / 2];
        let drained = Unpacked::open(io::BufReader::new(cut)).and_then(Unpacked::drain);
        assert!(drained.is_err(), "a cut frame is an error");
    }
}
