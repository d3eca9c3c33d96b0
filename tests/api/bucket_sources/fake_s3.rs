//! A tiny S3 stand-in for the hostile-key tests: its listing holds the keys a hostile tenant's
//! bucket could hold (`../../etc/passwd`, absolute keys, NUL and control characters, very long
//! keys, folder markers, a key outside the prefix asked for), which no real service lets a test
//! create through its URL paths. It answers ListObjectsV2 (keys URL-encoded), GET and PUT, and
//! keeps what was PUT. Its very first listing answers 500, as a service in passing trouble does
//! (asked again, it answers). It may be slow ([`Pacing`]): one object's body sent 64 KiB at a
//! time with a pause between (a large object that streams for longer than the stall timeout while
//! it never stops moving), and some objects answered a pause late.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::Digest;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const KEY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

pub type Objects = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

pub struct FakeS3 {
    pub port: u16,
    /// What restores wrote: (key, body).
    pub puts: Objects,
}

impl FakeS3 {
    /// Serves `objects` of bucket `bucket`; `stray` is listed too when `src/` is listed.
    pub async fn start(bucket: &str, objects: Vec<(String, Vec<u8>)>, stray: &str) -> FakeS3 {
        FakeS3::serve(bucket, objects, stray, None).await
    }

    /// As [`start`](Self::start), slow as `pacing` says.
    pub async fn paced(bucket: &str, objects: Vec<(String, Vec<u8>)>, pacing: Pacing) -> FakeS3 {
        FakeS3::serve(bucket, objects, "", Some(pacing)).await
    }

    async fn serve(bucket: &str, objects: Vec<(String, Vec<u8>)>, stray: &str, paced: Option<Pacing>) -> FakeS3 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let puts = Objects::default();
        let served = Served {
            bucket: bucket.to_owned(),
            objects: Arc::new(objects),
            stray: stray.to_owned(),
            troubled: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            paced: paced.map(Arc::new),
        };
        let kept = puts.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (served, kept) = (served.clone(), kept.clone());
                tokio::spawn(async move { served.connection(socket, kept).await });
            }
        });
        FakeS3 { port, puts }
    }
}

#[derive(Clone)]
struct Served {
    bucket: String,
    objects: Arc<Vec<(String, Vec<u8>)>>,
    stray: String,
    troubled: Arc<std::sync::atomic::AtomicBool>,
    paced: Option<Arc<Pacing>>,
}

/// How a paced stand-in is slow.
pub struct Pacing {
    /// This object's body goes 64 KiB at a time, `pause` apart.
    pub streamed: String,
    /// Objects whose keys start with this are answered `pause` late.
    pub late: String,
    pub pause: Duration,
}

fn etag(body: &[u8]) -> String {
    hex::encode(&sha2::Sha256::digest(body)[..16])
}

impl Served {
    async fn connection(&self, mut socket: TcpStream, puts: Objects) {
        let mut buffer = Vec::new();
        loop {
            let Some(end) = read_head(&mut socket, &mut buffer).await else { return };
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            buffer.drain(..end + 4);
            let mut lines = head.lines();
            let mut first = lines.next().unwrap_or_default().split(' ');
            let (method, target) = (first.next().unwrap_or_default().to_owned(), first.next().unwrap_or_default());
            let length: usize = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            while buffer.len() < length {
                let mut chunk = [0u8; 65536];
                match socket.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
            }
            let body: Vec<u8> = buffer.drain(..length).collect();
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let key = percent_decode_str(path.trim_start_matches(&format!("/{}", self.bucket)).trim_start_matches('/'))
                .decode_utf8_lossy()
                .into_owned();
            let pacing = self.paced.as_deref().filter(|_| method == "GET" && !query.contains("list-type"));
            let pause = pacing.filter(|p| p.streamed == key).map(|p| p.pause);
            if let Some(late) = pacing.filter(|p| key.starts_with(&p.late)) {
                tokio::time::sleep(late.pause).await;
            }
            let (status, headers, answer) = match method.as_str() {
                "GET"
                    if query.contains("list-type=2")
                        && self.troubled.swap(false, std::sync::atomic::Ordering::SeqCst) =>
                {
                    (
                        500,
                        String::new(),
                        b"<Error><Code>InternalError</Code><Message>try again</Message></Error>".to_vec(),
                    )
                }
                "GET" if query.contains("list-type=2") => (200, String::new(), self.listing(query).into_bytes()),
                "GET" => match self.objects.iter().find(|(k, _)| *k == key) {
                    Some((_, content)) => (200, format!("ETag: \"{}\"\r\n", etag(content)), content.clone()),
                    None => {
                        (404, String::new(), b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>".to_vec())
                    }
                },
                "PUT" => {
                    let tag = etag(&body);
                    puts.lock().expect("puts").push((key, body));
                    (200, format!("ETag: \"{tag}\"\r\n"), Vec::new())
                }
                _ => (501, String::new(), Vec::new()),
            };
            let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n{headers}\r\n", answer.len());
            if socket.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
            for piece in answer.chunks(if pause.is_some() { 64 << 10 } else { answer.len().max(1) }) {
                if let Some(pause) = pause {
                    tokio::time::sleep(pause).await;
                }
                if socket.write_all(piece).await.is_err() {
                    return;
                }
            }
        }
    }

    fn listing(&self, query: &str) -> String {
        let prefix = query
            .split('&')
            .find_map(|p| p.strip_prefix("prefix="))
            .map(|p| percent_decode_str(&p.replace('+', " ")).decode_utf8_lossy().into_owned())
            .unwrap_or_default();
        let mut keys: Vec<(&String, &Vec<u8>)> =
            self.objects.iter().filter(|(k, _)| k.starts_with(&prefix)).map(|(k, v)| (k, v)).collect();
        keys.sort();
        let mut xml = format!(
            "<?xml version=\"1.0\"?><ListBucketResult><Name>{}</Name><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>",
            self.bucket
        );
        let stray = (prefix == "src/" && !self.stray.is_empty()).then(|| (&self.stray, &self.objects[0].1));
        for (key, content) in keys.into_iter().chain(stray) {
            xml.push_str(&format!(
                "<Contents><Key>{}</Key><Size>{}</Size><ETag>&quot;{}&quot;</ETag><LastModified>2026-12-01T00:00:00.000Z</LastModified></Contents>",
                utf8_percent_encode(key, KEY),
                content.len(),
                etag(content)
            ));
        }
        xml.push_str("</ListBucketResult>");
        xml
    }
}

/// Reads until a request's head has arrived; the offset of its blank line.
async fn read_head(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(at);
        }
        let mut chunk = [0u8; 65536];
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}
