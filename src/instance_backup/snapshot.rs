//! Devpilot's own database, consistently, into a private temporary file under the data folder:
//! SQLite with `VACUUM INTO` (one read transaction: writers on other connections never leave a
//! half-applied change in it), PostgreSQL with `pg_dump --format=custom` (one snapshot).

use crate::db::{Backend, Db, DbConn};
use crate::hostfs::private::PrivateTemp;
use anyhow::{Context, bail};
use diesel::RunQueryDsl;
use secrecy::ExposeSecret;
use std::path::{Path, PathBuf};

/// The snapshot's file, in its private folder (removed when the folder is dropped).
pub async fn take(db: &Db, data_dir: &Path) -> anyhow::Result<(PrivateTemp, PathBuf)> {
    let temp = PrivateTemp::create(data_dir).context("making a private temporary folder")?;
    let (path, file) = temp.new_file("database").context("making the snapshot's file")?;
    drop(file);
    match db.backend() {
        Backend::Sqlite => {
            // VACUUM INTO wants a file that does not exist yet.
            std::fs::remove_file(&path)?;
            let target = path.to_str().context("the data folder's path is not UTF-8")?.to_owned();
            db.run(move |c| match c {
                DbConn::Sqlite(c) => diesel::sql_query("VACUUM INTO ?")
                    .bind::<diesel::sql_types::Text, _>(&target)
                    .execute(c)
                    .map(|_| ()),
                DbConn::Postgres(_) => Err(diesel::result::Error::NotFound),
            })
            .await
            .context("VACUUM INTO the snapshot")?;
        }
        Backend::Postgres => {
            let url = db.postgres_url().context("no PostgreSQL URL")?.expose_secret().to_owned();
            pg_dump(&url, &path).await?;
        }
    }
    Ok((temp, path))
}

/// `pg_dump` of Devpilot's own database into `path`; the password (if the URL has one) goes in
/// `PGPASSWORD`, never in the command line others can read.
async fn pg_dump(url: &str, path: &Path) -> anyhow::Result<()> {
    let (url, password) = without_password(url)?;
    let mut command = tokio::process::Command::new("pg_dump");
    command
        .args(["--format=custom", "--no-owner", "--file"])
        .arg(path)
        .arg("--dbname")
        .arg(&url)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let output = command.output().await.context("could not start pg_dump (is it on PATH?)")?;
    if !output.status.success() {
        bail!("pg_dump failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// The URL without its password, and the password.
pub fn without_password(url: &str) -> anyhow::Result<(String, Option<String>)> {
    let mut parsed = url::Url::parse(url).context("the database URL does not parse")?;
    let password = parsed.password().map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned());
    let _ = parsed.set_password(None);
    Ok((parsed.to_string(), password))
}
