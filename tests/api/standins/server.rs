//! Starts a stand-in: an actix-web app on 127.0.0.1, port 0, for the rest of the test process.

use actix_web::{App, HttpServer, web};

/// Bodies up to this size are read whole (upload chunks are at most 20 MB).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Serves the routes `configure` adds; returns `http://127.0.0.1:PORT`.
pub fn serve<F>(configure: F) -> String
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a stand-in port");
    let port = listener.local_addr().expect("stand-in address").port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .app_data(web::FormConfig::default().limit(MAX_BODY))
            .configure(configure.clone())
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("stand-in listens")
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// Random URL-safe text, for ids, codes and tokens.
pub fn random_id(len: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..len).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect()
}
