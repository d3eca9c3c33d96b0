//! Cutting an artifact stream into upload chunks with one chunk buffered at most, shared by the
//! chunked upload protocols (Drive and Cloudinary).

use super::{ByteStream, ErrorKind, ProviderError};
use bytes::BytesMut;
use futures::StreamExt;

/// The artifact's own stream failed (the source, not the provider).
pub fn read_error(e: std::io::Error) -> ProviderError {
    ProviderError::new(ErrorKind::Provider, format!("reading the artifact failed: {e}"))
}

/// Reads until `buffer` holds more than `size` bytes — one byte past a chunk tells that more
/// follows, so the last chunk can carry the total — or the body ends. True when it ended.
pub async fn fill_past(body: &mut ByteStream, buffer: &mut BytesMut, size: usize) -> Result<bool, ProviderError> {
    while buffer.len() <= size {
        match body.next().await {
            Some(Ok(bytes)) => buffer.extend_from_slice(&bytes),
            Some(Err(e)) => return Err(read_error(e)),
            None => return Ok(true),
        }
    }
    Ok(false)
}
