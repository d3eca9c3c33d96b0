//! Members by invitation. An owner invites an email with a role and gets a single-use link,
//! shown once (and mailed when mail is configured); the answer is the same whether or not an
//! account has that email, and names no one. The invited person opens the link before it expires
//! and sets a name and password, or — having an account — accepts while signed in as that email.

use super::store::{self, Acceptance, InvitationRow};
use crate::auth::domain::{NewAccount, parse_email};
use crate::auth::store::UserRow;
use crate::auth::{Account, CurrentUser, Role, password};
use crate::crypto::{random_token, sha256_hex};
use crate::db::{Db, DbError};
use crate::fields::FieldErrors;
use crate::mail::Mailer;
use chrono::{NaiveDateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// Invitations a workspace may make per hour: each can send a mail from this server.
const PER_HOUR: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("Not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Why a link does not work (any more).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkProblem {
    #[error("This invitation link is not valid. Check that it was copied whole, or ask for a new one.")]
    Unknown,
    #[error("This invitation was already used.")]
    Used,
    #[error("This invitation was withdrawn. Ask the workspace's owner for a new one.")]
    Revoked,
    #[error("This invitation expired on {0} UTC. Ask the workspace's owner for a new one.")]
    Expired(String),
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error(transparent)]
    Link(#[from] LinkProblem),
    #[error(
        "You are signed in as {signed_in}, but this invitation is for another email address. Sign out, then open the link again and sign in as the invited address (or create its account)."
    )]
    WrongAccount { signed_in: String },
    #[error("An account with this email exists already: sign in as it, then open the link again to accept.")]
    AccountExists,
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What happened to the mail of a new invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mailed {
    Sent,
    /// No mail server configured: the link is to be passed on by hand.
    NotConfigured,
    Failed(String),
}

pub struct Invited {
    pub email: String,
    /// Shown once: only its hash is kept.
    pub link: SecretString,
    pub mailed: Mailed,
}

/// An open invitation, as its link's page shows it.
pub struct Opened {
    pub row: InvitationRow,
    pub workspace_name: String,
}

#[derive(Clone)]
pub struct InvitationService {
    db: Db,
    mailer: Option<Mailer>,
    /// Where people reach this server (`DEVPILOT_PUBLIC_URL`), for the links.
    base_url: String,
    lifetime: TimeDelta,
}

impl InvitationService {
    pub fn new(db: Db, mailer: Option<Mailer>, base_url: String, lifetime: Duration) -> InvitationService {
        let lifetime = TimeDelta::from_std(lifetime).unwrap_or(TimeDelta::days(7));
        InvitationService { db, mailer, base_url, lifetime }
    }

    /// An owner invites `email` as `role`. Refused only for what the owner can see anyway: bad
    /// input, or someone already on the members list.
    pub async fn invite(&self, owner: &CurrentUser, email: &str, role: &str) -> Result<Invited, InvitationError> {
        let mut errors = FieldErrors::new();
        let email = parse_email(email).map_err(|m| errors.add("email", m)).ok();
        let role = Role::parse(role);
        if role.is_none() {
            errors.add("role", "Choose a role: owner, admin or viewer.");
        }
        let (Some(email), Some(role)) = (email, role) else { return Err(InvitationError::Invalid(errors)) };
        let now = Utc::now().naive_utc();
        let (wid, e) = (owner.workspace_id.clone(), email.clone());
        let (member, recent) = self
            .db
            .run(move |c| {
                let members = crate::workspaces::store::members_of(c, &wid)?;
                Ok((members.iter().any(|(_, u)| u.email == e), store::made_since(c, &wid, now - TimeDelta::hours(1))?))
            })
            .await?;
        if member {
            return Err(InvitationError::Invalid(FieldErrors::single("email", "This person is already a member.")));
        }
        if recent >= PER_HOUR {
            let message = format!("This workspace sent {PER_HOUR} invitations in the last hour; try again later.");
            return Err(InvitationError::Invalid(FieldErrors::single("email", message)));
        }
        let token = random_token();
        let row = InvitationRow {
            id: uuid::Uuid::new_v4().to_string(),
            workspace_id: owner.workspace_id.clone(),
            email: email.clone(),
            role: role.as_str().to_owned(),
            token_hash: sha256_hex(&token),
            invited_by: owner.user_id.clone(),
            created_at: now,
            expires_at: now + self.lifetime,
            accepted_at: None,
            revoked_at: None,
        };
        let expires = row.expires_at;
        self.db.run(move |c| store::insert(c, &row)).await?;
        let link = SecretString::from(format!("{}/invitation?token={token}", self.base_url));
        let mailed = self.mail(owner, &email, role, &link, expires).await;
        Ok(Invited { email, link, mailed })
    }

    async fn mail(
        &self,
        owner: &CurrentUser,
        to: &str,
        role: Role,
        link: &SecretString,
        expires: NaiveDateTime,
    ) -> Mailed {
        let Some(mailer) = &self.mailer else { return Mailed::NotConfigured };
        let subject = format!("You are invited to {} on Devpilot Backups", owner.workspace_name);
        let body = format!(
            "{} invited you to the workspace \u{201c}{}\u{201d} on Devpilot Backups, as {}.\n\n\
             Open this link to accept. It works once, until {} UTC:\n\n{}\n\n\
             If you did not expect this invitation, ignore this mail.\n",
            owner.name,
            owner.workspace_name,
            role.as_str(),
            expires.format("%Y-%m-%d %H:%M"),
            link.expose_secret(),
        );
        match mailer.send(to, &subject, body).await {
            Ok(()) => Mailed::Sent,
            Err(e) => {
                tracing::warn!(error = %e, "an invitation could not be mailed");
                Mailed::Failed(e.to_string())
            }
        }
    }

    /// The workspace's open invitations with their inviter's name.
    pub async fn open_of(&self, workspace_id: &str) -> Result<Vec<(InvitationRow, String)>, DbError> {
        let (wid, now) = (workspace_id.to_owned(), Utc::now().naive_utc());
        self.db.run(move |c| store::open_of(c, &wid, now)).await
    }

    pub async fn revoke(&self, owner: &CurrentUser, id: &str) -> Result<(), InvitationError> {
        let (wid, id, now) = (owner.workspace_id.clone(), id.to_owned(), Utc::now().naive_utc());
        if self.db.run(move |c| store::revoke(c, &wid, &id, now)).await? {
            Ok(())
        } else {
            Err(InvitationError::NotFound)
        }
    }

    /// The open invitation a link names, or why it does not work.
    pub async fn open(&self, token: &str) -> Result<Opened, AcceptError> {
        let hash = sha256_hex(token);
        let found = self.db.run(move |c| store::by_hash(c, &hash)).await?;
        let (row, workspace_name) = found.ok_or(LinkProblem::Unknown)?;
        if row.accepted_at.is_some() {
            return Err(LinkProblem::Used.into());
        }
        if row.revoked_at.is_some() {
            return Err(LinkProblem::Revoked.into());
        }
        if row.expires_at <= Utc::now().naive_utc() {
            return Err(LinkProblem::Expired(row.expires_at.format("%Y-%m-%d %H:%M").to_string()).into());
        }
        Ok(Opened { row, workspace_name })
    }

    /// A signed-in person accepts an invitation for their own email. Returns the workspace id.
    pub async fn accept_as(&self, token: &str, account: &Account) -> Result<String, AcceptError> {
        let opened = self.open(token).await?;
        if opened.row.email != account.email {
            return Err(AcceptError::WrongAccount { signed_in: account.email.clone() });
        }
        self.accept(opened.row, account.user_id.clone(), None).await
    }

    /// Someone without an account accepts by choosing a name and password. Returns (user id,
    /// workspace id).
    pub async fn accept_new(
        &self,
        token: &str,
        name: &str,
        password: SecretString,
    ) -> Result<(String, String), AcceptError> {
        let opened = self.open(token).await?;
        let input = NewAccount { name: name.to_owned(), email: opened.row.email.clone(), password };
        let mut errors = FieldErrors::new();
        let Some(valid) = input.parse(&mut errors) else { return Err(AcceptError::Invalid(errors)) };
        let user = UserRow::new(valid, password::hash(input.password).await?, false, Utc::now().naive_utc());
        let user_id = user.id.clone();
        let workspace = self.accept(opened.row, user_id.clone(), Some(user)).await?;
        Ok((user_id, workspace))
    }

    async fn accept(
        &self,
        row: InvitationRow,
        user_id: String,
        new_user: Option<UserRow>,
    ) -> Result<String, AcceptError> {
        let now = Utc::now().naive_utc();
        let workspace = row.workspace_id.clone();
        let accepted = self.db.write(move |c| store::accept(c, &row, &user_id, new_user.as_ref(), now)).await;
        match accepted {
            Ok(Acceptance::Joined | Acceptance::AlreadyMember) => Ok(workspace),
            Ok(Acceptance::Gone) => Err(LinkProblem::Used.into()),
            Ok(Acceptance::AccountExists) | Err(DbError::Duplicate(_)) => Err(AcceptError::AccountExists),
            Err(e) => Err(e.into()),
        }
    }
}
