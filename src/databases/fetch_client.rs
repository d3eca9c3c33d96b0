//! `devpilot wal-fetch`: a clone's `restore_command`. It asks the Devpilot server that made the
//! clone for one WAL file, writes it beside its destination, checks its SHA-256 and size, and
//! only then renames it into place. Exit codes, as PostgreSQL reads them: 0 the file is there,
//! 1 it is not in the archive (recovery ends the archive there), 126 an error (recovery stops
//! rather than promote early at the wrong point).

use sha2::{Digest, Sha256};
use std::io::Write;

const NOT_IN_ARCHIVE: i32 = 1;
const ERROR: i32 = 126;

pub const USAGE: &str = "devpilot wal-fetch --server URL --clone ID --token-file FILE WAL_NAME DESTINATION_PATH   (a clone's restore_command)";

/// Runs the subcommand; the process's exit code.
pub async fn run(args: &[String]) -> i32 {
    match fetch(args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("devpilot wal-fetch: {message}");
            ERROR
        }
    }
}

async fn fetch(args: &[String]) -> Result<i32, String> {
    let (mut server, mut clone, mut token_file, mut rest) = (None, None, None, Vec::new());
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--server" => server = args.next(),
            "--clone" => clone = args.next(),
            "--token-file" => token_file = args.next(),
            _ => rest.push(arg),
        }
    }
    let (Some(server), Some(clone), Some(token_file), [name, path]) = (server, clone, token_file, rest.as_slice())
    else {
        return Err(format!("usage: {USAGE}"));
    };
    let token = std::fs::read_to_string(token_file).map_err(|e| format!("reading {token_file}: {e}"))?;
    let url = format!("{}/internal/wal/{}/{}", server.trim_end_matches('/'), clone, name);
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(token.trim())
        .send()
        .await
        .map_err(|e| format!("asking Devpilot for {name}: {e}"))?;
    match response.status().as_u16() {
        200 => {}
        404 => return Ok(NOT_IN_ARCHIVE),
        status => {
            let text = response.text().await.unwrap_or_default();
            return Err(format!("Devpilot answered {status} for {name}: {}", text.trim()));
        }
    }
    let expected = response
        .headers()
        .get("x-devpilot-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or("the answer has no checksum")?;
    let partial = format!("{path}.devpilot-partial");
    let result = write_checked(response, &partial, &expected).await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(format!("{name}: {e}"));
    }
    std::fs::rename(&partial, path).map_err(|e| format!("moving {name} into place: {e}"))?;
    Ok(0)
}

async fn write_checked(mut response: reqwest::Response, path: &str, expected: &str) -> Result<(), String> {
    let mut file = std::fs::File::create(path).map_err(|e| format!("creating {path}: {e}"))?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading: {e}"))? {
        hasher.update(&chunk);
        file.write_all(&chunk).map_err(|e| format!("writing: {e}"))?;
    }
    file.sync_all().map_err(|e| format!("writing: {e}"))?;
    let got = hex::encode(hasher.finalize());
    if got != expected {
        return Err(format!("checksum mismatch (archive recorded {expected}, received {got})"));
    }
    Ok(())
}
