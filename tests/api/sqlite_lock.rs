//! Data loss without an attacker: a directory plan over a folder that holds Devpilot's live SQLite
//! database. Opening and closing `devpilot.db`, `-wal` or `-shm` through another handle would drop
//! the server's POSIX locks; the next outside open (the `sqlite3` shell) would then checkpoint and
//! delete the WAL while the server keeps writing into the deleted file, and those writes would be
//! gone after a restart. The backup skips Devpilot's data folder (and says so on the run) without
//! opening anything in it, so nothing is lost. Against the real binary, killed and restarted.

use crate::helpers::Backend;
use crate::hostile_paths::{machine, start, text};
use crate::hostile_runs::settled_run;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_over_the_live_database_loses_nothing() {
    let mut m = machine(Backend::Sqlite).await;
    // The operator backs up `srv/`, which holds the data folder, from their own workspace.
    m.app.grant_folder(&m.at("srv"), "read").await;
    assert_eq!(m.app.create_destination("Own", "local", &[]).await.status, 303);
    let own = m.app.destination("Own").await.id;
    let srv = m.at("srv").display().to_string();
    let form = crate::hostile_paths::plan_form("Everything", "directory", &srv, &own);
    assert_eq!(m.app.post("/plans", &form).await.status, 303);
    let plan = crate::hostile_runs::plan_in(&m, "Acme", "Everything").await;
    assert_eq!(m.app.post(&format!("/plans/{plan}/run"), &[]).await.status, 303);
    let run = settled_run(&m, &plan).await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    // The run says what it skipped, and the artifact holds the rest and nothing of Devpilot's.
    let page = m.app.get(&format!("/plans/{plan}")).await;
    assert!(text(&page).contains("Not backed up: Devpilot's data folder"), "{}", text(&page));
    let artifact = std::fs::read(
        m.data().join("backups").join(m.app.workspace_id("Acme").await).join(run.object_key.expect("key")),
    )
    .expect("artifact");
    let names: Vec<String> = tar::Archive::new(zstd::Decoder::new(&artifact[..]).expect("zstd"))
        .entries()
        .expect("tar")
        .map(|e| e.expect("entry").path().expect("path").display().to_string())
        .collect();
    assert!(names.iter().any(|n| n.ends_with("app/config.txt")), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("devpilot.db") || n.contains("master.key")), "{names:?}");

    // An operator opens the live database with the sqlite3 shell, then the server writes more.
    let database = m.data().join("devpilot.db");
    let outside = Command::new("sqlite3")
        .arg(&database)
        .arg("SELECT count(*) FROM plans;")
        .output()
        .expect("sqlite3 (Debian's sqlite3 package; scripts/test-servers.sh installs it)");
    assert!(outside.status.success(), "{}", String::from_utf8_lossy(&outside.stderr));
    for n in 0..20 {
        let name = format!("After the shell {n}");
        let form = crate::hostile_paths::plan_form(&name, "directory", &srv, &own);
        assert_eq!(m.app.post("/plans", &form).await.status, 303);
    }
    // A crash and a start: every write is still there.
    m.server.kill();
    m.server = start(&m.settings, &m.cloudinary).await;
    let restarted = crate::helpers::TestApp::attach(
        m.server.address.clone(),
        &m.settings,
        tempfile::tempdir().expect("unused"),
        None,
    );
    restarted.sign_in_admin().await;
    let list = text(&restarted.get("/plans").await);
    for n in 0..20 {
        assert!(list.contains(&format!("After the shell {n}")), "plan {n} was lost after the restart");
    }
}
