//! Dumps into a database on the protected database's server: an upload, a file in a folder
//! granted to the workspace, or an object of the database's destination (`restore-from-path`).
//! The rules of imports are the runs feature's (`Runner::import_dump`); this only names the
//! target on the database's server and fetches an object first.

use super::service::{DatabaseError, DatabaseService};
use crate::artifacts::postgres::PostgresUrl;
use crate::fields::FieldErrors;
use crate::hostfs::private::PrivateTemp;
use crate::runs::imports::{DumpSource, ImportError, Imported};
use futures::TryStreamExt;
use secrecy::ExposeSecret;
use tokio::io::AsyncWriteExt;

/// Where the dump is.
#[derive(Debug, Clone)]
pub enum DumpFrom {
    /// Saved from the request body into Devpilot's private temporary folder.
    Upload(std::path::PathBuf),
    /// A path the workspace typed, in a folder granted to it for reading.
    HostFile(String),
    /// A key of an object in the database's destination.
    Object(String),
}

/// Into which database of the server, and how.
#[derive(Debug, Clone, Default)]
pub struct ImportTarget {
    /// Default: the protected database's own.
    pub database: String,
    /// `new` (default: created for the import) or `existing` (its objects replaced).
    pub into: String,
    /// For `existing`: the database's name, typed.
    pub confirm: String,
}

impl DatabaseService {
    pub async fn import(
        &self,
        workspace: &str,
        id: &str,
        from: DumpFrom,
        target: &ImportTarget,
    ) -> Result<Imported, DatabaseError> {
        let database = self.get(workspace, id).await?;
        let url = PostgresUrl::parse(self.open_url(&database.row).map_err(DatabaseError::Refused)?.expose_secret())
            .map_err(|e| DatabaseError::Refused(e.to_string()))?;
        let dbname = match target.database.trim() {
            "" => url.dbname.clone(),
            name => name.to_owned(),
        };
        let target_url = url.with_dbname(&dbname).to_secret();
        let checked = self
            .runner
            .database_target(workspace, target_url.expose_secret(), &target.into, &target.confirm)
            .await
            .map_err(|errors| DatabaseError::Invalid(renamed(errors)))?;
        // An object is fetched into a private file first (as a restore's artifact is).
        let temp = PrivateTemp::create(&self.data_dir)
            .map_err(|e| DatabaseError::Refused(format!("a temporary file: {e}")))?;
        let source = match from {
            DumpFrom::Upload(path) => DumpSource::Upload(path),
            DumpFrom::HostFile(path) => DumpSource::HostFile(path),
            DumpFrom::Object(key) => DumpSource::Upload(self.fetch_object(&database.row, &key, &temp).await?),
        };
        self.runner.import_dump(workspace, source, &checked).await.map_err(|e| match e {
            ImportError::Path(m) => DatabaseError::Invalid(FieldErrors::single("path", m)),
            ImportError::NotADump(m) | ImportError::Failed(m) => DatabaseError::Unprocessable(m),
            ImportError::Db(e) => DatabaseError::Db(e),
            ImportError::Internal(m) => DatabaseError::Refused(m),
        })
    }

    async fn fetch_object(
        &self,
        row: &super::store::DatabaseRow,
        key: &str,
        temp: &PrivateTemp,
    ) -> Result<std::path::PathBuf, DatabaseError> {
        let at_key = |m: String| DatabaseError::Invalid(FieldErrors::single("object_key", m));
        let key = key.trim();
        crate::providers::check_key(key).map_err(|e| at_key(format!("“{key}” is not an object key: {e}")))?;
        let provider = self.provider_of(row).await.map_err(DatabaseError::Refused)?;
        let mut body =
            provider.get(key).await.map_err(|e| at_key(format!("“{key}” cannot be read from the destination: {e}")))?;
        let (path, file) =
            temp.new_file("dump").map_err(|e| DatabaseError::Refused(format!("a temporary file: {e}")))?;
        let mut file = tokio::fs::File::from_std(file);
        while let Some(chunk) = body.try_next().await.map_err(|e| at_key(format!("reading “{key}”: {e}")))? {
            file.write_all(&chunk)
                .await
                .map_err(|e| DatabaseError::Refused(format!("writing a temporary file: {e}")))?;
        }
        file.flush().await.map_err(|e| DatabaseError::Refused(format!("writing a temporary file: {e}")))?;
        Ok(path)
    }
}

/// The restore target's field errors under the import's names (`target` is the database).
fn renamed(errors: FieldErrors) -> FieldErrors {
    let mut out = FieldErrors::default();
    for (field, message) in errors.iter() {
        out.add(if field == "target" { "database" } else { field }, message);
    }
    out
}
