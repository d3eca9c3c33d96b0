//! A rogue MySQL server, as a hostile tenant would run one: it greets and accepts any login as
//! MySQL's protocol says (a v10 handshake offering `CLIENT_LOCAL_FILES`, then OK), and answers
//! every query with a LOCAL INFILE request (`0xFB` and a file name of the machine the client runs
//! on), the protocol's way of making a client send one of its own files. It counts the requests it
//! made and the file bytes it was sent; a client that refuses sends an empty packet instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CLIENT_LONG_PASSWORD: u32 = 1;
const CLIENT_LONG_FLAG: u32 = 4;
const CLIENT_CONNECT_WITH_DB: u32 = 8;
const CLIENT_LOCAL_FILES: u32 = 0x80;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_TRANSACTIONS: u32 = 0x2000;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_MULTI_STATEMENTS: u32 = 0x1_0000;
const CLIENT_MULTI_RESULTS: u32 = 0x2_0000;
const CLIENT_PLUGIN_AUTH: u32 = 0x8_0000;
const CAPABILITIES: u32 = CLIENT_LONG_PASSWORD
    | CLIENT_LONG_FLAG
    | CLIENT_CONNECT_WITH_DB
    | CLIENT_LOCAL_FILES
    | CLIENT_PROTOCOL_41
    | CLIENT_TRANSACTIONS
    | CLIENT_SECURE_CONNECTION
    | CLIENT_MULTI_STATEMENTS
    | CLIENT_MULTI_RESULTS
    | CLIENT_PLUGIN_AUTH;
const OK: &[u8] = &[0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00];

#[derive(Default)]
struct Counts {
    asked: AtomicUsize,
    received: AtomicUsize,
}

pub struct RogueMysql {
    pub port: u16,
    counts: Arc<Counts>,
}

impl RogueMysql {
    /// Starts the server on 127.0.0.1; each query is answered with a request for `file`.
    pub async fn start(file: &str) -> RogueMysql {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the rogue server");
        let port = listener.local_addr().expect("address").port();
        let counts = Arc::new(Counts::default());
        let (shared, file) = (Arc::clone(&counts), file.to_owned());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, file.clone(), Arc::clone(&shared)));
            }
        });
        RogueMysql { port, counts }
    }

    /// How many LOCAL INFILE requests it sent.
    pub fn asked(&self) -> usize {
        self.counts.asked.load(Ordering::SeqCst)
    }

    /// How many bytes of a file clients sent it.
    pub fn received(&self) -> usize {
        self.counts.received.load(Ordering::SeqCst)
    }
}

async fn send(socket: &mut TcpStream, sequence: u8, payload: &[u8]) -> std::io::Result<()> {
    let mut packet = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    packet.push(sequence);
    packet.extend_from_slice(payload);
    socket.write_all(&packet).await
}

async fn receive(socket: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let mut header = [0u8; 4];
    socket.read_exact(&mut header).await?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let mut payload = vec![0u8; len];
    socket.read_exact(&mut payload).await?;
    Ok((header[3], payload))
}

fn greeting() -> Vec<u8> {
    let mut g = vec![0x0a];
    g.extend_from_slice(b"10.11.0-MariaDB-rogue\0");
    g.extend_from_slice(&7u32.to_le_bytes());
    g.extend_from_slice(b"abcdefgh\0");
    g.extend_from_slice(&(CAPABILITIES as u16).to_le_bytes());
    g.push(0x21);
    g.extend_from_slice(&2u16.to_le_bytes());
    g.extend_from_slice(&((CAPABILITIES >> 16) as u16).to_le_bytes());
    g.push(21);
    g.extend_from_slice(&[0u8; 10]);
    g.extend_from_slice(b"ijklmnopqrst\0");
    g.extend_from_slice(b"mysql_native_password\0");
    g
}

async fn serve(mut socket: TcpStream, file: String, counts: Arc<Counts>) -> std::io::Result<()> {
    send(&mut socket, 0, &greeting()).await?;
    let (sequence, _login) = receive(&mut socket).await?;
    send(&mut socket, sequence.wrapping_add(1), OK).await?;
    loop {
        let (_, command) = receive(&mut socket).await?;
        // COM_QUIT, or anything but COM_QUERY: the session ends.
        if command.first() != Some(&0x03) {
            return Ok(());
        }
        let mut request = vec![0xfb];
        request.extend_from_slice(file.as_bytes());
        send(&mut socket, 1, &request).await?;
        counts.asked.fetch_add(1, Ordering::SeqCst);
        // The file's packets up to an empty one (a refusing client sends only the empty one).
        let sequence = loop {
            let (sequence, content) = receive(&mut socket).await?;
            if content.is_empty() {
                break sequence;
            }
            counts.received.fetch_add(content.len(), Ordering::SeqCst);
        };
        send(&mut socket, sequence.wrapping_add(1), OK).await?;
    }
}
