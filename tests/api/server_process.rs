//! The real `devpilot` binary as a child process, so a test can kill it with SIGKILL: no
//! destructor, no graceful shutdown, exactly a crash. Configured through its environment.

use devpilot::config::Settings;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct ServerProcess {
    child: Child,
    pub address: String,
    log: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts the binary on the settings' database, data dir and master key, plus `env`
    /// (`DEVPILOT_*` overrides), on a free port; returns once it serves.
    pub async fn start(settings: &Settings, env: &[(&str, String)]) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_devpilot"));
        command
            .env("RUST_LOG", "info,actix_server=warn")
            .env("DEVPILOT_HOST", "127.0.0.1")
            .env("DEVPILOT_PORT", "0")
            .env("DEVPILOT_DATA_DIR", &settings.data_dir)
            .env("DATABASE_URL", &settings.database_url)
            .env("DEVPILOT_MASTER_KEY", settings.master_key.clone().unwrap_or_default())
            .env("DEVPILOT_PROVIDER_MAX_RETRIES", "0")
            // As the settings say (off in the tests' settings): a re-validation scheduling a new
            // destination's first test 15 s in would change the state tests compare.
            .env("DEVPILOT_REVALIDATE_EVERY", settings.revalidate_every.as_secs().to_string())
            // Every server the tests use is on loopback.
            .env(devpilot::providers::outbound::ALLOW_LOOPBACK_VAR, "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start the devpilot binary");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("is serving ").nth(1) {
                    let _ = tx.send(url.trim().to_owned());
                }
                let mut log = lines.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let address = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(120)))
            .await
            .expect("wait for the server");
        match address {
            Ok(address) => ServerProcess { child, address, log },
            Err(_) => {
                let _ = child.kill();
                panic!("devpilot did not start:\n{}", log.lock().unwrap_or_else(|e| e.into_inner()));
            }
        }
    }

    /// SIGKILL, then waits for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
