//! MariaDB sources against the real MariaDB server scripts/test starts (Debian's mariadb-server,
//! run as the user mysql on its own data folder): a database with InnoDB and MyISAM tables, a view,
//! routines, a trigger, an event, utf8mb4 text and binary columns, backed up through the API while
//! a writer inserts rows, restored into a new database and compared table by table; the MyISAM
//! table named in the run's warning. The save-time check says which step failed: each missing
//! privilege its own message, a wrong password, a closed port, a service that is not MySQL (its
//! reply never repeated), a server not granted.

use crate::api_client::admin;
use crate::api_runs::{finished, start};
use crate::api_schedules::create;
use crate::helpers::{Backend, TestApp, captured_logs};
use crate::on_both_backends;
use crate::plans::{fixture, plan_rows};
use devpilot::grants::DatabaseServer;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

on_both_backends!(
    a_database_written_during_its_dump_is_restored_table_by_table,
    the_check_names_each_missing_privilege_and_each_failure,
    a_rogue_server_gets_no_local_file
);

/// The test server: (host, port, root's password).
pub fn server() -> (String, u16, String) {
    let url = std::env::var("DEVPILOT_TEST_MARIADB").expect("DEVPILOT_TEST_MARIADB: run the tests with scripts/test");
    let url = url::Url::parse(&url).expect("url");
    let host = url.host_str().expect("host").to_owned();
    (host, url.port().expect("port"), url.password().unwrap_or_default().to_owned())
}

/// Runs SQL as root (in `database`), returning the rows' text.
pub fn sql(database: Option<&str>, statements: &str) -> String {
    let (host, port, password) = server();
    let mut command = std::process::Command::new("mariadb");
    command.args(["--no-defaults", "--default-character-set=utf8mb4", "--protocol=TCP", "--batch"]);
    command.args(["--skip-column-names", "--raw", "-uroot"]);
    command.arg(format!("-h{host}")).arg(format!("-P{port}")).arg(format!("--execute={statements}"));
    if let Some(database) = database {
        command.arg(format!("--database={database}"));
    }
    let output = command.env("MYSQL_PWD", password).output().expect("mariadb runs");
    assert!(output.status.success(), "{statements}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A source URL for `user:password` on the test server.
pub fn url_of(user: &str, password: &str, database: &str) -> String {
    let (host, port, _) = server();
    format!("mariadb://{user}:{password}@{host}:{port}/{database}")
}

/// The fixture's workspace granted the test server.
pub async fn grant_server(app: &TestApp) {
    let workspace = app.workspace_id("Acme").await;
    let (host, port, _) = server();
    crate::database_grants::grant_database(app, &workspace, DatabaseServer::Tcp { host, port }).await;
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// The shop: InnoDB tables written together, a MyISAM table, a view, a procedure, a function, a
/// trigger and an event; text in four-byte UTF-8 and random binary columns.
fn create_shop(database: &str) {
    sql(None, &format!("CREATE DATABASE {database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"));
    sql(
        Some(database),
        "CREATE TABLE people (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(200) NOT NULL, photo BLOB) ENGINE=InnoDB;
         CREATE TABLE ledger (id INT AUTO_INCREMENT PRIMARY KEY, person INT NOT NULL, note TEXT) ENGINE=InnoDB;
         CREATE TABLE legacy (id INT PRIMARY KEY, body VARBINARY(64)) ENGINE=MyISAM;
         CREATE TABLE counts (total INT NOT NULL) ENGINE=InnoDB;
         INSERT INTO counts VALUES (0);
         CREATE TRIGGER people_counted AFTER INSERT ON people FOR EACH ROW UPDATE counts SET total = total + 1;
         INSERT INTO people (name, photo) SELECT CONCAT('Person ', seq, ' 🦀 Zoë 漢字'), RANDOM_BYTES(180) FROM seq_1_to_20000;
         INSERT INTO ledger (person, note) SELECT id, CONCAT('joined ', id) FROM people;
         INSERT INTO legacy SELECT seq, RANDOM_BYTES(32) FROM seq_1_to_300;
         CREATE VIEW named AS SELECT id, name FROM people WHERE name LIKE 'Person 1%';
         CREATE PROCEDURE add_person(IN who VARCHAR(200)) INSERT INTO people (name) VALUES (who);
         CREATE FUNCTION shout(s VARCHAR(50)) RETURNS VARCHAR(60) DETERMINISTIC RETURN CONCAT(UPPER(s), '!');
         CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM ledger WHERE note IS NULL;",
    );
}

/// A writer inserting a person and their ledger line in one transaction, until stopped.
fn writer(database: String, stop: Arc<AtomicBool>, written: Arc<AtomicUsize>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            sql(
                Some(&database),
                "START TRANSACTION; INSERT INTO people (name, photo) VALUES ('Writer 🖋', RANDOM_BYTES(40));
                 INSERT INTO ledger (person, note) VALUES (LAST_INSERT_ID(), 'written'); COMMIT;",
            );
            written.fetch_add(1, Ordering::Relaxed);
        }
    })
}

/// Count and a checksum of a table's rows up to `max_id` (the restored copy is a snapshot).
fn digest(database: &str, table: &str, columns: &str, max_id: &str) -> String {
    let query = format!(
        "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', {columns}))), 0) FROM {table} WHERE id <= {max_id}"
    );
    sql(Some(database), &query)
}

/// The definitions of the database's routines, triggers, events and views, its name taken out.
fn definitions(database: &str) -> String {
    let query = format!(
        "SELECT ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '{database}' ORDER BY 1;
         SELECT TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '{database}' ORDER BY 1;
         SELECT EVENT_NAME, EVENT_DEFINITION, STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '{database}' ORDER BY 1;
         SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '{database}' ORDER BY 1;"
    );
    sql(None, &query).replace(&format!("`{database}`"), "`db`")
}

async fn a_database_written_during_its_dump_is_restored_table_by_table(backend: Backend) {
    let f = fixture(backend).await;
    grant_server(&f.app).await;
    let (source, restored) = (unique("dp_shop"), unique("dp_restored"));
    create_shop(&source);
    let api = admin(&f.app).await;
    let (_, _, root_password) = server();
    let body = json!({"name": "Shop", "cron_expression": "0 2 * * *", "retention_count": 3,
                      "source": {"type": "mariadb", "url": url_of("root", &root_password, &source)}});
    let schedule = create(&api, body).await;
    let shown = api.get(&format!("/api/v1/backup-schedules/{schedule}")).await;
    assert!(!shown.json.to_string().contains(&root_password), "the password is shown: {shown:?}");

    let (stop, written) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let writing = writer(source.clone(), stop.clone(), written.clone());
    while written.load(Ordering::Relaxed) < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let run = start(&api, &schedule).await;
    let run = finished(&api, run["id"].as_str().expect("id")).await;
    let during = written.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    writing.join().expect("writer");
    assert_eq!(run["status"], "succeeded", "{run}");
    let notes = run["notes"].as_str().unwrap_or_default();
    assert!(notes.contains(&format!("{source}.legacy (MyISAM)")) && notes.contains("Not transactional"), "{notes}");
    assert!(!notes.contains("people"), "InnoDB tables are not named: {notes}");
    let expected = run["expected_bytes"].as_u64();
    assert!(expected.is_some_and(|n| n > 0), "the tables' size, asked beside the dump: {run}");

    let run_id = run["id"].as_str().expect("id");
    let target = url_of("root", &root_password, &restored);
    let reply = api.post(&format!("/api/v1/backups/database/{run_id}/restore"), json!({"target_url": target})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json["database"], restored.as_str());

    // One transaction: every person has their ledger line, and the trigger's count agrees.
    let counted = sql(
        Some(&restored),
        "SELECT (SELECT COUNT(*) FROM people), (SELECT COUNT(*) FROM ledger), (SELECT total FROM counts)",
    );
    let numbers: Vec<u64> = counted.split_whitespace().map(|n| n.parse().expect("count")).collect();
    assert_eq!(numbers[0], numbers[1], "people and ledger from one moment: {counted}");
    assert_eq!(numbers[0], numbers[2], "the trigger's count from the same moment: {counted}");
    assert!(numbers[0] >= 20_003, "the rows written before the run are there: {counted}");
    let max_id = sql(Some(&restored), "SELECT MAX(id) FROM people").trim().to_owned();
    for (table, columns) in
        [("people", "id, name, HEX(photo)"), ("ledger", "id, person, note"), ("legacy", "id, HEX(body)")]
    {
        let max = if table == "legacy" { "1000000" } else { max_id.as_str() };
        assert_eq!(digest(&restored, table, columns, max), digest(&source, table, columns, max), "{table}");
    }
    let checksum = |db: &str| sql(Some(db), "CHECKSUM TABLE legacy").split_whitespace().last().map(str::to_owned);
    assert_eq!(checksum(&restored), checksum(&source), "CHECKSUM TABLE of the unwritten MyISAM table");
    let engines = sql(
        None,
        &format!(
            "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{restored}' ORDER BY 1"
        ),
    );
    assert!(engines.contains("legacy\tMyISAM") && engines.contains("people\tInnoDB"), "{engines}");
    let emoji = sql(Some(&restored), "SELECT name FROM people WHERE id = 1");
    assert_eq!(emoji.trim(), "Person 1 🦀 Zoë 漢字");
    let definitions_restored = definitions(&restored);
    assert_eq!(definitions_restored, definitions(&source));
    for object in ["add_person", "shout", "people_counted", "nightly", "named"] {
        assert!(definitions_restored.contains(object), "{object} restored: {definitions_restored}");
    }
    assert_eq!(sql(Some(&restored), "SELECT shout('hi')").trim(), "HI!");
    assert!(during >= 3, "the writer wrote while the run ran");

    // A name that exists is refused for a new database; an existing one needs its name typed.
    let again = api.post(&format!("/api/v1/backups/database/{run_id}/restore"), json!({"target_url": target})).await;
    assert_eq!(again.status, 422, "{again:?}");
    assert!(again.json["fields"]["target_url"].as_str().unwrap_or_default().contains("already exists"), "{again:?}");
    let unconfirmed = api
        .post(&format!("/api/v1/backups/database/{run_id}/restore"), json!({"target_url": target, "into": "existing"}))
        .await;
    assert!(unconfirmed.json["fields"]["confirm"].as_str().unwrap_or_default().contains(&restored), "{unconfirmed:?}");
    sql(Some(&restored), "DELETE FROM legacy");
    let replaced = api
        .post(
            &format!("/api/v1/backups/database/{run_id}/restore"),
            json!({"target_url": target, "into": "existing", "confirm": restored}),
        )
        .await;
    assert_eq!(replaced.status, 200, "{replaced:?}");
    assert_eq!(checksum(&restored), checksum(&source), "the existing database's tables replaced");
    assert!(!captured_logs().contains(&root_password), "the password reached the logs");
    sql(None, &format!("DROP DATABASE {source}; DROP DATABASE {restored}"));
}

/// The error next to the connection URL when the plan form is saved with `url`.
async fn refused(f: &crate::plans::Fixture, url: &str) -> String {
    let page = f.save_plan("/plans", "Shop", &[("source_kind", "mariadb"), ("source_url", url)]).await;
    assert_eq!(page.status, 422, "{url}: {}", page.body);
    let marker = "id=\"f-source_url-error\">";
    let at = page.body.find(marker).unwrap_or_else(|| panic!("no error next to the URL: {}", page.body));
    page.body[at + marker.len()..].split("</div>").next().unwrap_or_default().to_owned()
}

async fn the_check_names_each_missing_privilege_and_each_failure(backend: Backend) {
    let f = fixture(backend).await;
    let database = unique("dp_checked");
    create_shop(&database);
    let not_granted = refused(&f, &url_of("root", "x", &database)).await;
    assert!(not_granted.contains("not granted"), "{not_granted}");
    grant_server(&f.app).await;

    let all = ["SELECT", "SHOW VIEW", "TRIGGER", "EVENT"];
    let password = "Pw-1234-secret";
    let mut users = Vec::new();
    for missing in ["SELECT", "SHOW VIEW", "TRIGGER", "EVENT", "mysql.proc"] {
        let user = unique("dp_u");
        let held: Vec<&str> = all.iter().copied().filter(|p| *p != missing).collect();
        let mut statements = format!(
            "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'; GRANT {} ON {database}.* TO '{user}'@'127.0.0.1';",
            held.join(", ")
        );
        if missing != "mysql.proc" {
            statements.push_str(&format!(" GRANT SELECT ON mysql.proc TO '{user}'@'127.0.0.1';"));
        }
        sql(None, &statements);
        users.push(user.clone());
        let message = refused(&f, &url_of(&user, password, &database)).await;
        let named = if missing == "mysql.proc" {
            "SELECT on mysql.proc is missing".to_owned()
        } else {
            format!("{missing} on {database}.* is missing")
        };
        assert!(message.contains(&named), "{missing}: {message}");
        assert_eq!(message.matches("is missing").count(), 1, "only {missing}: {message}");
        assert!(message.contains("MariaDB"), "the server's version is told: {message}");
    }

    let wrong = refused(&f, &url_of(&users[0], "not-the-password", &database)).await;
    assert!(wrong.contains("login as") && wrong.contains("wrong user or password"), "{wrong}");
    let closed_port = crate::helpers::refused_port();
    let workspace = f.app.workspace_id("Acme").await;
    let grant = |port| DatabaseServer::Tcp { host: "127.0.0.1".into(), port };
    crate::database_grants::grant_database(&f.app, &workspace, grant(closed_port)).await;
    let unreachable = refused(&f, &format!("mariadb://root:x@127.0.0.1:{closed_port}/{database}")).await;
    assert!(unreachable.contains("could not connect") && unreachable.contains("refused"), "{unreachable}");

    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let http_port = http.local_addr().expect("addr").port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut socket, _)) = http.accept().await {
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\n\r\ninternal-admin-page-token\n").await;
        }
    });
    crate::database_grants::grant_database(&f.app, &workspace, grant(http_port)).await;
    let not_mysql = refused(&f, &format!("mariadb://root:x@127.0.0.1:{http_port}/{database}")).await;
    assert!(not_mysql.contains("not a MariaDB or MySQL server"), "{not_mysql}");
    assert!(!not_mysql.contains("internal-admin-page-token") && !not_mysql.contains("HTTP"), "{not_mysql}");
    let messages = [&wrong, &unreachable, &not_mysql];
    assert!(messages.iter().all(|m| messages.iter().filter(|o| o == &m).count() == 1), "distinct messages");
    let no_db = refused(&f, &url_of("root", &server().2, "dp_no_such_database")).await;
    assert!(no_db.contains("does not exist"), "{no_db}");
    assert!(plan_rows(&f.app).await.is_empty(), "nothing stored");

    // The minimal grants of the README pass; the password is sealed, never shown.
    let user = unique("dp_ok");
    sql(
        None,
        &format!(
            "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}';
             GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON {database}.* TO '{user}'@'127.0.0.1';
             GRANT SELECT ON mysql.proc TO '{user}'@'127.0.0.1';"
        ),
    );
    users.push(user.clone());
    let saved = f
        .save_plan("/plans", "Shop", &[("source_kind", "mariadb"), ("source_url", &url_of(&user, password, &database))])
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let list = f.app.get("/plans").await.body;
    assert!(list.contains(&format!("mariadb://{user}@127.0.0.1")) && !list.contains(password), "{list}");
    assert!(!captured_logs().contains(password), "the password reached the logs");
    let drops: Vec<String> = users.iter().map(|u| format!("DROP USER '{u}'@'127.0.0.1';")).collect();
    sql(None, &format!("{} DROP DATABASE {database}", drops.join(" ")));
}

/// A hostile tenant's own MySQL server answers every query with a LOCAL INFILE request for a file
/// of Devpilot's machine: the save-time check, the dump and the restore each refuse to send it.
async fn a_rogue_server_gets_no_local_file(backend: Backend) {
    use devpilot::artifacts::mariadb::{Checked, MariaDbUrl, handshake::Address, tools};
    use futures::StreamExt;
    let secret = tempfile::NamedTempFile::new().expect("a file of this machine");
    std::fs::write(secret.path(), "host-secret-never-sent").expect("write");
    let rogue = crate::standins::rogue_mysql::RogueMysql::start(&secret.path().to_string_lossy()).await;
    let f = fixture(backend).await;
    let workspace = f.app.workspace_id("Acme").await;
    let at = DatabaseServer::Tcp { host: "127.0.0.1".into(), port: rogue.port };
    crate::database_grants::grant_database(&f.app, &workspace, at).await;

    let url = format!("mariadb://root:x@127.0.0.1:{}/shop?tls=disable", rogue.port);
    let message = refused(&f, &url).await;
    assert!(rogue.asked() >= 1, "the rogue server asked for the file: {message}");
    assert_eq!(rogue.received(), 0, "the check's client sent the file");
    assert!(!message.contains("host-secret"), "{message}");

    // The dump and the restore, against the same server as if a check had passed.
    let checked = Checked {
        url: MariaDbUrl::parse(&url).expect("url"),
        at: Address::Tcp(([127, 0, 0, 1], rogue.port).into()),
        version: "10.11.0-MariaDB-rogue".into(),
    };
    let asked = rogue.asked();
    let mut dump = tools::dump(&checked, &["shop".to_owned()]).expect("mariadb-dump starts");
    let mut failed = false;
    while let Some(chunk) = dump.next().await {
        failed |= chunk.is_err();
    }
    assert!(failed, "the dump of a server that answers nothing ends in an error");
    assert!(rogue.asked() > asked, "the dump was asked for the file");
    let asked = rogue.asked();
    let sql = futures::stream::iter(vec![Ok(bytes::Bytes::from_static(b"SELECT 1;\n"))]).boxed();
    assert!(tools::restore(&checked, Some("shop"), sql).await.is_err(), "the restore fails");
    assert!(rogue.asked() > asked, "the restore was asked for the file");
    assert_eq!(rogue.received(), 0, "a tool sent a file of this machine to the tenant's server");
}
