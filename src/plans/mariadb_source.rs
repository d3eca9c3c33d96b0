//! A MariaDB or MySQL source checked when its plan is saved, step by step (see
//! `artifacts::mariadb::check`): granted or public, answering as MariaDB or MySQL, the login, the
//! database, the privileges a consistent dump needs. Each run checks again.

use crate::artifacts::mariadb::MariaDbUrl;
use crate::db::{Db, DbError};
use secrecy::{ExposeSecret, SecretString};

/// Ok(Err(message)) when the source cannot be backed up, for the `source_url` field.
pub async fn check(db: &Db, workspace: &str, url: &SecretString) -> Result<Result<(), String>, DbError> {
    let access = crate::grants::databases::access(db, workspace).await?;
    let checked = match MariaDbUrl::parse(url.expose_secret()) {
        Ok(url) => match url.reach(&access).await {
            Ok(reachable) => reachable.check_source().await.map(drop),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    Ok(checked.map_err(|e| e.to_string()))
}
