//! What a hostile request must not change: a digest of every table's rows and of every file under
//! the data folder, taken before and after an attack and compared.

use crate::helpers::TestApp;
use devpilot::db::DbConn;
use diesel::prelude::*;
use diesel::sql_types::Text;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Tables that change on their own while the server runs (heartbeats, sign-in bookkeeping,
/// sessions touched by each request), and diesel's own.
const MOVING_TABLES: &[&str] =
    &["instances", "login_failures", "sessions", "__diesel_schema_migrations", "sign_in_attempts"];

/// Files under the data folder that change on their own: the database (compared by its rows),
/// the instance's id and lock.
const MOVING_FILES: &[&str] = &["devpilot.db", "devpilot.db-wal", "devpilot.db-shm", "instance.id", "instance.lock"];

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Digested {
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    digest: Option<String>,
}

/// Table or file → SHA-256 of its content, for `assert_eq!` before and after.
pub async fn state(app: &TestApp) -> BTreeMap<String, String> {
    let mut state = tables(app).await;
    files(app.data_dir.path(), app.data_dir.path(), &mut state);
    state
}

async fn tables(app: &TestApp) -> BTreeMap<String, String> {
    app.db()
        .run(|conn| {
            let names: Vec<Name> = match conn {
                DbConn::Sqlite(_) => diesel::sql_query(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                )
                .load(conn)?,
                DbConn::Postgres(_) => diesel::sql_query(
                    "SELECT table_name AS name FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name",
                )
                .load(conn)?,
            };
            let mut digests = BTreeMap::new();
            for Name { name } in names.into_iter().filter(|n| !MOVING_TABLES.contains(&n.name.as_str())) {
                let rows = table_text(conn, &name)?;
                digests.insert(format!("table {name}"), hex::encode(Sha256::digest(rows.as_bytes())));
            }
            Ok(digests)
        })
        .await
        .expect("read every table")
}

/// Every row of a table as text, in a stable order.
fn table_text(conn: &mut DbConn, table: &str) -> QueryResult<String> {
    let query = match conn {
        DbConn::Sqlite(_) => {
            let columns: Vec<Name> =
                diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid")).load(conn)?;
            let row = columns.iter().map(|c| format!("quote(\"{}\")", c.name)).collect::<Vec<_>>().join("||','||");
            format!("SELECT group_concat(r, '|') AS digest FROM (SELECT {row} AS r FROM \"{table}\" ORDER BY r)")
        }
        DbConn::Postgres(_) => {
            format!("SELECT string_agg(t::text, '|' ORDER BY t::text) AS digest FROM \"{table}\" t")
        }
    };
    let found: Vec<Digested> = diesel::sql_query(query).load(conn)?;
    Ok(found.into_iter().next().and_then(|d| d.digest).unwrap_or_default())
}

fn files(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap_or(&path).display().to_string();
        if MOVING_FILES.contains(&relative.as_str()) {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => {
                out.insert(format!("dir {relative}"), String::new());
                files(root, &path, out);
            }
            Ok(t) if t.is_symlink() => {
                let target = std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default();
                out.insert(format!("link {relative}"), target);
            }
            _ => {
                let bytes = std::fs::read(&path).unwrap_or_default();
                out.insert(format!("file {relative}"), hex::encode(Sha256::digest(&bytes)));
            }
        }
    }
}

mod tests {
    use super::state;
    use crate::helpers::{Backend, spawn_app};

    /// The fingerprint sees a change (a destination created) and no change (pages read).
    async fn sees_changes_and_only_changes(backend: Backend) {
        let app = spawn_app(backend).await;
        app.setup_admin().await;
        let before = state(&app).await;
        assert!(before.contains_key("table users") && before.contains_key("table workspaces"), "{before:?}");
        for page in ["/destinations", "/plans", "/members", "/workspaces"] {
            assert_eq!(app.get(page).await.status, 200, "{page}");
        }
        assert_eq!(state(&app).await, before, "reading pages changed nothing");
        let folder = app.data_dir.path().join("made-by-test");
        std::fs::create_dir(&folder).expect("mkdir");
        let page = app.create_destination("Disk", "local", &[]).await;
        assert_eq!(page.status, 303, "{}", page.body);
        let after = state(&app).await;
        assert_ne!(after.get("table destinations"), before.get("table destinations"));
        assert!(after.contains_key("dir made-by-test") && !before.contains_key("dir made-by-test"));
    }

    crate::on_both_backends!(sees_changes_and_only_changes);
}
