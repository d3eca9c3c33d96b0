//! A MariaDB source checked step by step, each step with its own message: the address is granted
//! or public ([`super::reach`]), something answers there as MariaDB or MySQL does
//! ([`super::handshake`], which also tells the version), the login works, the database exists and
//! may be used, and the user holds what a consistent dump needs — `SELECT`, `SHOW VIEW`,
//! `TRIGGER`, `EVENT` on the database and the routines' definitions (`SELECT` on `mysql.proc`, or
//! global `SELECT`). `LOCK TABLES` is not needed: the dump is one transaction
//! (`--single-transaction`); tables that are not transactional (MyISAM, Aria…) are named in a
//! warning, since their rows are read without that guarantee.

use super::MariaDbError;
pub use super::checked::Checked;
use super::handshake::Address;
use super::reach::Reachable;
use super::tools::{query, user_databases};

/// How many table names a warning lists before it counts the rest.
const LISTED_TABLES: usize = 20;

impl Reachable {
    /// Greets the server and logs in (into the database, when one is named).
    pub async fn login(&self) -> Result<Checked, MariaDbError> {
        Ok(self.login_and(None).await?.0)
    }

    /// Every step of a source's check: the login, then the privileges a dump needs — asked in
    /// the login's own client process (each `mariadb` started is a process and a login more
    /// before the dump can start).
    pub async fn check_source(&self) -> Result<Checked, MariaDbError> {
        let (checked, rows) = self.login_and(Some(&privileges_sql(self.url.database.as_deref()))).await?;
        let missing = Privileges::from_rows(rows).missing(&checked.scope());
        if !missing.is_empty() {
            return Err(MariaDbError::Privileges(format!("{} (server {})", missing.join("; "), checked.version)));
        }
        Ok(checked)
    }

    /// The login, refused without TLS where it is wanted, and the rows `then` answered after it.
    async fn login_and(&self, then: Option<&str>) -> Result<(Checked, Vec<Vec<String>>), MariaDbError> {
        let greeting = self.greet().await?;
        let checked = Checked { url: self.url.clone(), at: greeting.at, version: greeting.version };
        let status = "SHOW SESSION STATUS LIKE 'Ssl_cipher'";
        let sql = then.map_or_else(|| status.to_owned(), |then| format!("{status}; {then}"));
        let mut rows = query(&checked, checked.url.database.as_deref(), &sql).await?;
        // The status's one row comes first: `Ssl_cipher` and the cipher, empty without TLS.
        let cipher = match rows.first() {
            Some(row) if row.first().is_some_and(|name| name == "Ssl_cipher") => {
                rows.remove(0).get(1).cloned().unwrap_or_default()
            }
            _ => String::new(),
        };
        // The client falls back to plain text when a server offers no TLS: refused here instead.
        let wants_tls = checked.url.tls != super::TlsMode::Disable && matches!(checked.at, Address::Tcp(_));
        if wants_tls && cipher.is_empty() {
            return Err(MariaDbError::Tls(format!(
                "{} does not offer TLS; use tls=disable only for a server on this machine or a trusted network",
                checked.url.target()
            )));
        }
        Ok((checked, rows))
    }
}

/// What the user holds, as far as a dump is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Privileges {
    /// On the database (or globally).
    pub held: Vec<String>,
    /// Whether the routines' definitions can be read.
    pub routines: bool,
}

impl Privileges {
    /// Read from [`privileges_sql`]'s rows: where each privilege is held, and which it is.
    fn from_rows(rows: Vec<Vec<String>>) -> Privileges {
        let mut privileges = Privileges::default();
        for row in rows {
            let [scope, privilege] = <[String; 2]>::try_from(row).unwrap_or_default();
            match scope.as_str() {
                "global" | "database" => privileges.held.push(privilege.clone()),
                _ => {}
            }
            let reads_routines = match scope.as_str() {
                "global" => matches!(privilege.as_str(), "SELECT" | "SHOW CREATE ROUTINE" | "SHOW_ROUTINE"),
                "proc" => privilege == "SELECT",
                _ => false,
            };
            privileges.routines |= reads_routines;
        }
        privileges.held.sort();
        privileges.held.dedup();
        privileges
    }

    /// One message per missing privilege.
    pub fn missing(&self, scope: &str) -> Vec<String> {
        let mut missing: Vec<String> = [
            ("SELECT", "it reads the tables"),
            ("SHOW VIEW", "it reads the views' definitions"),
            ("TRIGGER", "it reads the triggers"),
            ("EVENT", "it reads the scheduled events"),
        ]
        .into_iter()
        .filter(|(privilege, _)| !self.held.iter().any(|h| h == privilege))
        .map(|(privilege, why)| format!("{privilege} on {scope} is missing ({why})"))
        .collect();
        if !self.routines {
            missing.push("SELECT on mysql.proc is missing (it reads the routines' definitions)".into());
        }
        missing
    }
}

/// What a dump will read: see [`Checked::tables`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables {
    /// About how many bytes the tables hold.
    pub size: u64,
    /// `db.table (ENGINE)` of each table that is not transactional.
    pub non_transactional: Vec<String>,
}

impl Tables {
    fn from_rows(rows: Vec<Vec<String>>) -> Tables {
        let mut tables = Tables::default();
        for row in rows {
            match <[String; 2]>::try_from(row).unwrap_or_default() {
                [kind, size] if kind == "size" => tables.size = size.parse().unwrap_or(0),
                [kind, table] if kind == "table" => tables.non_transactional.push(table),
                _ => {}
            }
        }
        // A union's rows come in no promised order.
        tables.non_transactional.sort();
        tables
    }
}

impl Checked {
    /// `shop.*`, or `*.*` for every database.
    pub fn scope(&self) -> String {
        format!("{}.*", self.url.database.as_deref().unwrap_or("*"))
    }

    /// The databases a dump of this source covers.
    pub async fn databases(&self) -> Result<Vec<String>, MariaDbError> {
        match &self.url.database {
            Some(database) => Ok(vec![database.clone()]),
            None => user_databases(self).await,
        }
    }

    /// What a dump of `databases` will read, from one pass over the information schema: about how
    /// many bytes the tables hold (for the run's progress), and `db.table (ENGINE)` of every base
    /// table that is not transactional (for the run's warning).
    pub async fn tables(&self, databases: &[String]) -> Result<Tables, MariaDbError> {
        if databases.is_empty() {
            return Ok(Tables::default());
        }
        let within = format!("FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ({})", in_list(databases));
        let sql = format!(
            "SELECT 'size', COALESCE(SUM(DATA_LENGTH), 0) {within} \
             UNION ALL SELECT 'table', CONCAT(TABLE_SCHEMA, '.', TABLE_NAME, ' (', ENGINE, ')') {within} \
             AND TABLE_TYPE = 'BASE TABLE' AND ENGINE IS NOT NULL AND ENGINE <> 'InnoDB'"
        );
        Ok(Tables::from_rows(query(self, None, &sql).await?))
    }

    /// The warning a run notes for those tables, if any.
    pub fn warning(tables: &[String]) -> Option<String> {
        if tables.is_empty() {
            return None;
        }
        let mut listed = tables.iter().take(LISTED_TABLES).cloned().collect::<Vec<_>>().join(", ");
        if tables.len() > LISTED_TABLES {
            listed.push_str(&format!(" and {} more", tables.len() - LISTED_TABLES));
        }
        Some(format!(
            "Not transactional, so read without the dump's single-transaction consistency (writes during the dump \
             may show in part): {listed}"
        ))
    }

    /// Whether a database of that name exists on the server.
    pub async fn database_exists(&self, name: &str) -> Result<bool, MariaDbError> {
        let sql = format!("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'");
        let rows = query(self, None, &sql).await?;
        Ok(rows.first().and_then(|r| r.first()).is_some_and(|n| n != "0"))
    }

    /// Creates `name` (utf8mb4) for a restore.
    pub async fn create_database(&self, name: &str) -> Result<(), MariaDbError> {
        let sql = format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
        query(self, None, &sql).await.map(drop).map_err(|e| match e {
            MariaDbError::DatabaseExists(_) => MariaDbError::DatabaseExists(name.to_owned()),
            other => other,
        })
    }

    /// Drops `name`: only ever a database this restore created.
    pub async fn drop_database(&self, name: &str) -> Result<(), MariaDbError> {
        query(self, None, &format!("DROP DATABASE `{name}`")).await.map(drop)
    }
}

/// `'a', 'b'`: names already limited to letters, digits, `_`, `$` and `-`, or listed by the server
/// (quotes doubled all the same).
/// The current user's privileges on `database` (and globally), as rows of where (`global`,
/// `database`, or `proc` for the routines' definitions) and which privilege.
fn privileges_sql(database: Option<&str>) -> String {
    // The current account as the information schema writes grantees: 'user'@'host'.
    let grantee = "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', \
                   SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')";
    let mut sql = format!(
        "SELECT 'global', PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = {grantee} \
         UNION SELECT 'proc', PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = {grantee} \
         AND TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 'proc' \
         UNION SELECT 'proc', PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = {grantee} \
         AND TABLE_SCHEMA = 'mysql'"
    );
    if let Some(database) = database {
        // The name is letters, digits, _, $ and - only (see `url::database_name`).
        sql.push_str(&format!(
            " UNION SELECT 'database', PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES \
             WHERE GRANTEE = {grantee} AND '{database}' LIKE TABLE_SCHEMA"
        ));
    }
    sql
}

fn in_list(names: &[String]) -> String {
    names.iter().map(|n| format!("'{}'", n.replace('\\', "\\\\").replace('\'', "''"))).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_missing_privilege_has_its_own_message() {
        let held = |p: &[&str], routines| Privileges { held: p.iter().map(|s| s.to_string()).collect(), routines };
        assert!(held(&["EVENT", "SELECT", "SHOW VIEW", "TRIGGER"], true).missing("shop.*").is_empty());
        let missing = held(&["SELECT", "SHOW VIEW", "EVENT"], true).missing("shop.*");
        assert_eq!(missing, ["TRIGGER on shop.* is missing (it reads the triggers)"]);
        let none = held(&[], false).missing("*.*");
        assert_eq!(none.len(), 5, "{none:?}");
        assert!(none[4].contains("mysql.proc"));
        assert!(Checked::warning(&[]).is_none());
        let many: Vec<String> = (0..25).map(|i| format!("shop.t{i} (MyISAM)")).collect();
        let warning = Checked::warning(&many).expect("warning");
        assert!(warning.contains("shop.t0 (MyISAM)") && warning.contains("and 5 more"), "{warning}");
    }

    #[test]
    fn one_pass_over_the_tables_gives_the_size_and_the_non_transactional_ones() {
        let row = |a: &str, b: &str| vec![a.to_owned(), b.to_owned()];
        let rows = vec![row("table", "shop.t (Aria)"), row("size", "73400320"), row("table", "shop.log (MyISAM)")];
        let tables = Tables::from_rows(rows);
        assert_eq!(tables.size, 73_400_320);
        assert_eq!(tables.non_transactional, ["shop.log (MyISAM)", "shop.t (Aria)"]);
        assert_eq!(Tables::from_rows(vec![row("size", "0")]), Tables::default());
    }
}
