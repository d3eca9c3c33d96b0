//! Reading the audit log. (Entries are written by the services that make the changes, through
//! [`super::store::record`] inside their own transactions.)

use super::domain::{Action, SubjectKind};
use super::store::{self, AuditRow, Filter};
use crate::db::page::Page;
use crate::db::{Db, DbError};
use chrono::NaiveDateTime;

/// An entry as pages and the API show it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub at: NaiveDateTime,
    pub actor_email: String,
    pub actor_token: Option<String>,
    /// `web` or `api`.
    pub channel: String,
    pub action: String,
    pub action_label: &'static str,
    pub subject_type: String,
    pub subject_label: &'static str,
    pub subject_id: String,
    pub subject_name: String,
    pub detail: String,
}

impl From<AuditRow> for Event {
    fn from(row: AuditRow) -> Self {
        Event {
            action_label: Action::parse(&row.action).map_or("Other", Action::label),
            subject_label: SubjectKind::parse(&row.subject_type).map_or("Other", SubjectKind::label),
            id: row.id,
            at: row.occurred_at,
            actor_email: row.actor_email,
            actor_token: row.actor_token,
            channel: row.channel,
            action: row.action,
            subject_type: row.subject_type,
            subject_id: row.subject_id,
            subject_name: row.subject_name,
            detail: row.detail,
        }
    }
}

#[derive(Clone)]
pub struct AuditService {
    db: Db,
}

impl AuditService {
    pub fn new(db: Db) -> AuditService {
        AuditService { db }
    }

    /// A page of the workspace's entries, newest first.
    pub async fn page(
        &self,
        workspace: &str,
        filter: Filter,
        page: i64,
        per_page: i64,
    ) -> Result<Page<Event>, DbError> {
        let (ws, page) = (workspace.to_owned(), page.max(1));
        let offset = (page - 1).saturating_mul(per_page);
        let (rows, total) = self
            .db
            .run(move |c| Ok((store::page(c, &ws, &filter, per_page, offset)?, store::count(c, &ws, &filter)?)))
            .await?;
        Ok(Page { items: rows.into_iter().map(Event::from).collect(), page, per_page, total })
    }
}
