//! Throwaway PostgreSQL clusters for the point-in-time recovery tests: `initdb` as the clusters'
//! OS user (`postgres` when the tests run as root) with 1 MiB WAL segments, a free loopback port,
//! a pg_hba.conf written here (with or without replication lines), and a folder of their own,
//! stopped (`-m immediate`) and removed on drop. Built from Debian's server binaries.

use devpilot::artifacts::postgres::wal::PgBinaries;
use devpilot::artifacts::postgres::wal::clone::OsUser;
use devpilot::artifacts::postgres::{Checked, DatabaseAccess, DatabaseServer, PostgresUrl, Reachable};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The role's password in every cluster (the test clusters trust loopback; a restored clone
/// asks for it).
pub const PASSWORD: &str = "pitr-secret";

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub wal_level: &'static str,
    pub max_wal_senders: u32,
    pub max_replication_slots: u32,
    /// Whether pg_hba.conf admits replication connections.
    pub hba_replication: bool,
    pub max_slot_wal_keep_size: &'static str,
}

impl Default for ClusterOptions {
    fn default() -> ClusterOptions {
        ClusterOptions {
            wal_level: "replica",
            max_wal_senders: 5,
            max_replication_slots: 5,
            hba_replication: true,
            max_slot_wal_keep_size: "64MB",
        }
    }
}

pub struct Cluster {
    pub port: u16,
    /// The cluster's own folder: `data/`, its socket and `log`.
    pub dir: PathBuf,
    pub data: PathBuf,
    pub bins: PgBinaries,
    pub owner: OsUser,
    _folder: tempfile::TempDir,
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("address").port()
}

pub fn binaries() -> PgBinaries {
    PgBinaries::locate(None).expect("PostgreSQL's server binaries (Debian's postgresql package)")
}

pub fn cluster_user() -> OsUser {
    OsUser::for_clusters(None).expect("the clusters' OS user")
}

/// A folder the clusters' user may enter, removed on drop.
pub fn shared_folder() -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("temp folder");
    let owner = cluster_user();
    std::os::unix::fs::chown(folder.path(), Some(owner.uid), Some(owner.gid)).expect("chown");
    folder
}

/// Runs a PostgreSQL program as the clusters' user; panics with its output when it fails.
pub fn run_as_owner(bins: &PgBinaries, owner: &OsUser, program: &str, args: &[&str]) -> String {
    let output = Command::new(bins.program(program))
        .args(args)
        .uid(owner.uid)
        .gid(owner.gid)
        .current_dir("/")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .expect(program);
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{program} {args:?}: {text}");
    text
}

/// Stops whatever server runs in `data`, at once (a test's end).
pub fn stop_immediately(bins: &PgBinaries, owner: &OsUser, data: &Path) {
    if data.join("postmaster.pid").exists() {
        let data = data.to_string_lossy();
        let _ = Command::new(bins.program("pg_ctl"))
            .args(["stop", "-D", &data, "-m", "immediate", "-w"])
            .uid(owner.uid)
            .gid(owner.gid)
            .current_dir("/")
            .output();
    }
}

/// Stops the clusters of every clone in `folder` (a test server's clone folder) and removes it:
/// clones run as daemons of their own and would outlive the test.
pub fn stop_clones(folder: &Path) {
    let Ok(clones) = std::fs::read_dir(folder) else { return };
    let (bins, owner) = (binaries(), cluster_user());
    for clone in clones.flatten() {
        stop_immediately(&bins, &owner, &clone.path().join("data"));
    }
    let _ = std::fs::remove_dir_all(folder);
}

impl Cluster {
    pub fn start(options: ClusterOptions) -> Cluster {
        let (bins, owner, folder) = (binaries(), cluster_user(), shared_folder());
        let data = folder.path().join("data");
        let data_text = data.to_string_lossy().into_owned();
        run_as_owner(
            &bins,
            &owner,
            "initdb",
            &["-D", &data_text, "--wal-segsize=1", "-A", "trust", "-U", "postgres", "--no-sync", "--no-instructions"],
        );
        let settings = format!(
            "wal_level = {}\nmax_wal_senders = {}\nmax_replication_slots = {}\nmax_slot_wal_keep_size = '{}'\n\
             fsync = off\nshared_buffers = '16MB'\nmax_connections = 30\n",
            options.wal_level, options.max_wal_senders, options.max_replication_slots, options.max_slot_wal_keep_size,
        );
        append(&data.join("postgresql.conf"), &settings);
        let mut hba = String::from("local all all trust\nhost all all 127.0.0.1/32 trust\n");
        if options.hba_replication {
            hba.push_str("local replication all trust\nhost replication all 127.0.0.1/32 trust\n");
        }
        std::fs::write(data.join("pg_hba.conf"), hba).expect("pg_hba.conf");
        let cluster = Cluster::run(bins, owner, folder);
        cluster.psql(&format!("ALTER ROLE postgres PASSWORD '{PASSWORD}'"));
        cluster
    }

    /// A streaming standby of `primary`, from its base backup (`pg_basebackup -R`).
    pub fn standby_of(primary: &Cluster) -> Cluster {
        let (bins, owner, folder) = (binaries(), cluster_user(), shared_folder());
        let data = folder.path().join("data").to_string_lossy().into_owned();
        let port = primary.port.to_string();
        let from = ["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-D", &data, "-R", "-X", "stream", "-c", "fast"];
        run_as_owner(&bins, &owner, "pg_basebackup", &from);
        Cluster::run(bins, owner, folder)
    }

    /// Starts the cluster in `folder/data` on a port and socket of its own.
    fn run(bins: PgBinaries, owner: OsUser, folder: tempfile::TempDir) -> Cluster {
        let dir = folder.path().to_path_buf();
        let data = dir.join("data");
        let port = free_port();
        let place =
            format!("port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n", dir.display());
        append(&data.join("postgresql.conf"), &place);
        let (data_text, log) = (data.to_string_lossy().into_owned(), dir.join("log").to_string_lossy().into_owned());
        run_as_owner(&bins, &owner, "pg_ctl", &["start", "-D", &data_text, "-l", &log, "-w", "-t", "60"]);
        Cluster { port, dir, data, bins, owner, _folder: folder }
    }

    /// The URL of `postgres` on this cluster, as the role `postgres` (with its password).
    pub fn url(&self) -> String {
        self.url_as("postgres", PASSWORD)
    }

    pub fn url_as(&self, user: &str, password: &str) -> String {
        format!("postgres://{user}:{password}@127.0.0.1:{}/postgres?sslmode=disable", self.port)
    }

    /// The URL past the grant check: the cluster granted as a workspace's database server.
    pub async fn reachable_as(&self, user: &str, password: &str) -> Reachable {
        self.reach(&self.url_as(user, password)).await
    }

    pub async fn reachable(&self) -> Reachable {
        self.reach(&self.url()).await
    }

    async fn reach(&self, url: &str) -> Reachable {
        let url = PostgresUrl::parse(url).expect("url");
        let access = DatabaseAccess {
            granted: vec![DatabaseServer::Tcp { host: "127.0.0.1".into(), port: self.port }],
            own: None,
        };
        url.reach(&access).await.expect("granted")
    }

    pub async fn checked(&self) -> Checked {
        self.reachable().await.check().await.expect("the cluster answers")
    }

    /// Runs SQL as `postgres` over the socket; the output unaligned, without headers.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_in("postgres", sql)
    }

    /// As [`Cluster::psql`], in another database.
    pub fn psql_in(&self, database: &str, sql: &str) -> String {
        let output = Command::new(self.bins.program("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", database])
            .arg("-h")
            .arg(&self.dir)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("psql");
        assert!(output.status.success(), "{sql}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    pub fn stop(&self) {
        let data = self.data.to_string_lossy();
        run_as_owner(&self.bins, &self.owner, "pg_ctl", &["stop", "-D", &data, "-m", "fast", "-w"]);
    }

    /// Promotes a standby (a cluster started from this one's backup) or ends its recovery.
    pub fn promote(&self) {
        let data = self.data.to_string_lossy();
        run_as_owner(&self.bins, &self.owner, "pg_ctl", &["promote", "-D", &data, "-w"]);
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        stop_immediately(&self.bins, &self.owner, &self.data);
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).expect("open");
    file.write_all(text.as_bytes()).expect("append");
}
