//! The data folder is 0700, the database and key files 0600: when Devpilot makes them, and when
//! it finds them open to others at start (tightened, with a log line), over the real binary.

use crate::helpers::{Backend, TestApp, test_settings};
use crate::on_both_backends;
use crate::server_process::ServerProcess;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

on_both_backends!(own_files_are_private_and_tightened_at_start);

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

async fn own_files_are_private_and_tightened_at_start(backend: Backend) {
    let (mut settings, dir, pg) = test_settings(backend);
    // A data folder inside the temporary one, so Devpilot makes it; the key in a file.
    settings.data_dir = dir.path().join("data");
    if backend == Backend::Sqlite {
        settings.database_url = format!("sqlite://{}/devpilot.db", settings.data_dir.display());
    }
    settings.master_key = None;
    let data = settings.data_dir.clone();
    let (db, key) = (data.join("devpilot.db"), data.join("master.key"));
    let mut server = ServerProcess::start(&settings, &[("DEVPILOT_MASTER_KEY", String::new())]).await;
    // Owns the temporary folder and the test database until the end.
    let _app = TestApp::attach(server.address.clone(), &settings, dir, pg);
    assert_eq!(mode(&data), 0o700, "the data folder");
    assert_eq!(mode(&key), 0o600, "the key file");
    if backend == Backend::Sqlite {
        assert_eq!(mode(&db), 0o600, "the database");
        for side in ["devpilot.db-wal", "devpilot.db-shm"] {
            if data.join(side).exists() {
                assert_eq!(mode(&data.join(side)), 0o600, "{side}");
            }
        }
    }
    server.kill();

    // An older install left them readable by everyone: the next start tightens them, and says so.
    set_mode(&data, 0o755);
    set_mode(&key, 0o644);
    if backend == Backend::Sqlite {
        set_mode(&db, 0o664);
    }
    let server = ServerProcess::start(&settings, &[("DEVPILOT_MASTER_KEY", String::new())]).await;
    assert_eq!((mode(&data), mode(&key)), (0o700, 0o600));
    let log = server.log();
    assert!(log.contains(&format!("tightened permissions of {} from 0755 to 0700", data.display())), "{log}");
    assert!(log.contains(&format!("tightened permissions of {} from 0644 to 0600", key.display())), "{log}");
    if backend == Backend::Sqlite {
        assert_eq!(mode(&db), 0o600);
        assert!(log.contains(&format!("tightened permissions of {} from 0664 to 0600", db.display())), "{log}");
    }
}
