//! What `psql` reads when it runs SQL someone handed in: the file, behind a `\restrict` line with a
//! key of ours. In restricted mode psql refuses every command of its own (`\!` runs a shell on
//! this server, `\copy`, `\o`, `\i`, `\lo_import` read and write its files) but `\unrestrict` with
//! that key, which the file cannot know; SQL runs as usual.
//!
//! `pg_dump` writes `\restrict KEY` into its plain dumps itself (and `\unrestrict KEY` at the
//! end). psql does not nest restrictions, so those two lines are taken out: the first only before
//! any statement, the second only with the key the first named. Nothing else is changed.

use crate::artifacts::ByteStream;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

/// A line starting with a backslash is held back whole up to this length; a longer one is no
/// line of pg_dump's and passes on.
const HOLD_LIMIT: usize = 256;

/// `stream` behind a `\restrict` line with a fresh random key, pg_dump's own key lines taken out.
pub fn restricted(stream: ByteStream) -> ByteStream {
    let key = uuid::Uuid::new_v4().simple().to_string();
    let first = Bytes::from(format!("\\restrict {key}\n"));
    let body = futures::stream::unfold(Some((stream, KeyLines::default())), |state| async move {
        let (mut stream, mut lines) = state?;
        loop {
            match stream.next().await {
                Some(Ok(chunk)) => {
                    let passed = lines.push(&chunk);
                    if !passed.is_empty() {
                        return Some((Ok(passed), Some((stream, lines))));
                    }
                }
                Some(Err(e)) => return Some((Err(e), None)),
                None => {
                    let passed = lines.finish();
                    return (!passed.is_empty()).then_some((Ok(passed), None));
                }
            }
        }
    });
    futures::stream::once(async move { Ok(first) }).chain(body).boxed()
}

/// Where the bytes seen so far end.
enum Position {
    LineStart,
    /// Inside a line that is passed on as it comes.
    Passing,
    /// Inside a line starting with a backslash, held back until its end.
    Holding(Vec<u8>),
}

/// Takes pg_dump's `\restrict KEY` and `\unrestrict KEY` lines out of a stream of lines.
struct KeyLines {
    at: Position,
    /// Only blank lines and comments so far.
    preamble: bool,
    /// The key of the dump's own `\restrict` line.
    key: Option<Vec<u8>>,
}

impl Default for KeyLines {
    fn default() -> Self {
        KeyLines { at: Position::LineStart, preamble: true, key: None }
    }
}

impl KeyLines {
    /// What of `chunk` passes on now.
    fn push(&mut self, mut chunk: &[u8]) -> Bytes {
        let mut out = BytesMut::with_capacity(chunk.len());
        while let Some(&first) = chunk.first() {
            match &mut self.at {
                Position::LineStart if first == b'\\' => self.at = Position::Holding(Vec::new()),
                Position::LineStart => {
                    if !matches!(first, b'\n' | b'\r' | b'-' | b' ' | b'\t') {
                        self.preamble = false;
                    }
                    self.at = Position::Passing;
                }
                Position::Passing => match chunk.iter().position(|&b| b == b'\n') {
                    Some(end) => {
                        out.extend_from_slice(&chunk[..=end]);
                        chunk = &chunk[end + 1..];
                        self.at = Position::LineStart;
                    }
                    None => {
                        out.extend_from_slice(chunk);
                        chunk = &[];
                    }
                },
                Position::Holding(line) => {
                    let end = chunk.iter().position(|&b| b == b'\n');
                    let taken = end.map_or(chunk.len(), |end| end + 1);
                    line.extend_from_slice(&chunk[..taken]);
                    chunk = &chunk[taken..];
                    if end.is_some() {
                        let line = std::mem::take(line);
                        self.at = Position::LineStart;
                        self.judge(line, &mut out);
                    } else if line.len() > HOLD_LIMIT {
                        out.extend_from_slice(line);
                        self.at = Position::Passing;
                        self.preamble = false;
                    }
                }
            }
        }
        out.freeze()
    }

    /// What is left at the end of the stream.
    fn finish(&mut self) -> Bytes {
        let mut out = BytesMut::new();
        if let Position::Holding(line) = std::mem::replace(&mut self.at, Position::LineStart) {
            self.judge(line, &mut out);
        }
        out.freeze()
    }

    /// Passes a whole backslash line on, unless it is one of pg_dump's key lines.
    fn judge(&mut self, line: Vec<u8>, out: &mut BytesMut) {
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if self.preamble
            && self.key.is_none()
            && let Some(key) = text.strip_prefix(b"\\restrict ")
            && is_key(key)
        {
            self.key = Some(key.to_vec());
            return;
        }
        self.preamble = false;
        if self.key.as_deref().is_some_and(|key| text.strip_prefix(b"\\unrestrict ") == Some(key)) {
            return;
        }
        out.extend_from_slice(&line);
    }
}

fn is_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= 128 && key.iter().all(u8::is_ascii_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    /// The stream's lines after ours, fed in chunks of `size` bytes.
    async fn passed(input: &str, size: usize) -> String {
        let chunks: Vec<std::io::Result<Bytes>> =
            input.as_bytes().chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let out: Vec<Bytes> = restricted(futures::stream::iter(chunks).boxed()).try_collect().await.expect("stream");
        let out = String::from_utf8(out.concat()).expect("utf-8");
        let (first, rest) = out.split_once('\n').expect("our line");
        let key = first.strip_prefix("\\restrict ").expect("our restrict line first");
        assert!(key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()), "{first}");
        rest.to_owned()
    }

    const DUMP: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict AbC123\n\n-- Dumped from 15\n\
                        SET x = 1;\nCOPY t (a) FROM stdin;\n\\\\restrict AbC123\n\\.\n\n\\unrestrict AbC123\n\n--\n";

    #[tokio::test]
    async fn pg_dumps_own_key_lines_are_taken_out_wherever_chunks_end() {
        let expected = "--\n-- PostgreSQL database dump\n--\n\n\n-- Dumped from 15\n\
                        SET x = 1;\nCOPY t (a) FROM stdin;\n\\\\restrict AbC123\n\\.\n\n\n--\n";
        for size in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(passed(DUMP, size).await, expected, "chunks of {size}");
        }
    }

    #[tokio::test]
    async fn other_backslash_lines_pass_for_psql_to_refuse() {
        let attack = "SELECT 1;\n\\restrict K\n\\unrestrict K\n\\! id\n\\unrestrict other";
        assert_eq!(passed(attack, 3).await, attack, "a restrict after a statement is not pg_dump's");
        let wrong_key = "\\restrict K1\n\\unrestrict K2\n\\copy t from '/etc/passwd'\n";
        assert_eq!(passed(wrong_key, 5).await, "\\unrestrict K2\n\\copy t from '/etc/passwd'\n");
        let long = format!("\\{}\n", "x".repeat(HOLD_LIMIT * 2));
        assert_eq!(passed(&long, 10).await, long);
    }
}
