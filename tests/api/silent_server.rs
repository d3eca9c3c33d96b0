//! A TCP listener that accepts every connection and never says a word: the provider that hangs
//! from the first byte. Connections stay open until it is dropped.

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct SilentServer {
    pub port: u16,
    task: JoinHandle<()>,
}

impl SilentServer {
    pub async fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let task = tokio::spawn(async move {
            let mut held: Vec<TcpStream> = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        SilentServer { port, task }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
