//! `/members`: the current workspace's members. Owners invite people (a single-use link, shown
//! once and mailed when mail is configured), withdraw open invitations, change roles and remove
//! members — never the last owner.

use super::service::{Member, WorkspaceError, WorkspaceService};
use crate::auth::{CurrentUser, Role};
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::invitations::service::{InvitationError, InvitationService, Invited, Mailed};
use crate::web::time::exact;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use secrecy::ExposeSecret;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/members", web::get().to(page))
        .route("/members/invitations", web::post().to(invite))
        .route("/members/invitations/{id}/revoke", web::post().to(revoke))
        .route("/members/{user}/role", web::post().to(change_role))
        .route("/members/{user}/remove", web::post().to(remove));
}

impl From<InvitationError> for AppError {
    fn from(e: InvitationError) -> Self {
        match e {
            InvitationError::Db(e) => e.into(),
            InvitationError::Internal(e) => AppError::Internal(e),
            InvitationError::NotFound => AppError::NotFound("No such open invitation".into()),
            InvitationError::Invalid(_) => AppError::BadRequest(e.to_string()),
        }
    }
}

pub struct RoleOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

fn role_options(chosen: &str) -> Vec<RoleOption> {
    Role::CHOICES.iter().map(|(v, l)| RoleOption { value: v, label: l, selected: *v == chosen }).collect()
}

pub struct MemberView {
    pub member: Member,
    pub roles: Vec<RoleOption>,
    pub is_me: bool,
}

pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub role: String,
    pub invited_by: String,
    pub expires: String,
}

/// The link of an invitation just made, shown this once.
pub struct InvitedView {
    pub email: String,
    pub link: String,
    pub mailed: String,
    pub mail_failed: bool,
}

#[derive(Template)]
#[template(path = "workspaces/members.html")]
struct MembersPage {
    layout: Layout,
    flash: Option<Flash>,
    is_owner: bool,
    members: Vec<MemberView>,
    invitations: Vec<InvitationView>,
    invited: Option<InvitedView>,
    email: String,
    roles: Vec<RoleOption>,
    errors: FieldErrors,
}

struct Form<'a> {
    values: &'a [(String, String)],
    errors: FieldErrors,
    invited: Option<Invited>,
}

async fn render_page(
    user: &CurrentUser,
    members: &WorkspaceService,
    invitations: &InvitationService,
    flash: Option<Flash>,
    form: Form<'_>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let is_owner = user.role == Role::Owner;
    let list = members.members(&user.workspace_id).await?;
    let open = if is_owner { invitations.open_of(&user.workspace_id).await? } else { Vec::new() };
    let invited = form.invited.map(|i| {
        let (mailed, mail_failed) = match i.mailed {
            Mailed::Sent => (format!("It was mailed to {}.", i.email), false),
            Mailed::NotConfigured => ("This server sends no mail: copy the link and pass it on.".to_owned(), false),
            Mailed::Failed(why) => (format!("It could not be mailed ({why}): copy the link and pass it on."), true),
        };
        InvitedView { email: i.email, link: i.link.expose_secret().to_owned(), mailed, mail_failed }
    });
    render(
        status,
        &MembersPage {
            layout: Layout::for_user(user, "members"),
            flash,
            is_owner,
            members: list
                .into_iter()
                .map(|m| MemberView {
                    roles: role_options(m.role.as_str()),
                    is_me: m.user_id == user.user_id,
                    member: m,
                })
                .collect(),
            invitations: open
                .into_iter()
                .map(|(row, invited_by)| InvitationView {
                    id: row.id,
                    email: row.email,
                    role: row.role,
                    invited_by,
                    expires: exact(row.expires_at),
                })
                .collect(),
            invited,
            email: form_value(form.values, "email").unwrap_or_default().to_owned(),
            roles: role_options(form_value(form.values, "role").unwrap_or("viewer")),
            errors: form.errors,
        },
    )
}

async fn page(
    user: CurrentUser,
    members: web::Data<WorkspaceService>,
    invitations: web::Data<InvitationService>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let form = Form { values: &[], errors: FieldErrors::new(), invited: None };
    render_page(&user, &members, &invitations, Flash::take(&session), form, StatusCode::OK).await
}

async fn invite(
    user: CurrentUser,
    members: web::Data<WorkspaceService>,
    invitations: web::Data<InvitationService>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_owner()?;
    let value = |name| form_value(&form, name).unwrap_or_default();
    match invitations.invite(&user, value("email"), value("role")).await {
        // The same page whether or not the email has an account: the link, and whether it was mailed.
        Ok(invited) => {
            let done = Form { values: &[], errors: FieldErrors::new(), invited: Some(invited) };
            render_page(&user, &members, &invitations, None, done, StatusCode::OK).await
        }
        Err(InvitationError::Invalid(errors)) => {
            let again = Form { values: &form, errors, invited: None };
            render_page(&user, &members, &invitations, None, again, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn revoke(
    user: CurrentUser,
    invitations: web::Data<InvitationService>,
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_owner()?;
    invitations.revoke(&user, &id).await?;
    Flash::ok("Withdrew the invitation: its link no longer works.").set(&session);
    Ok(see_other("/members"))
}

async fn change_role(
    user: CurrentUser,
    members: web::Data<WorkspaceService>,
    session: Session,
    member: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_owner()?;
    let role = form_value(&form, "role").unwrap_or_default();
    let done = members.change_role(&user, &member, role).await.map(|()| format!("Changed the role to {role}."));
    back(&session, done)
}

async fn remove(
    user: CurrentUser,
    members: web::Data<WorkspaceService>,
    session: Session,
    member: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_owner()?;
    let done =
        members.remove_member(&user, &member).await.map(|()| "Removed the member: they lost access at once.".into());
    if *member == user.user_id && done.is_ok() {
        Flash::ok("You left the workspace.").set(&session);
        return Ok(see_other("/workspaces"));
    }
    back(&session, done)
}

fn back(session: &Session, done: Result<String, WorkspaceError>) -> Result<HttpResponse, AppError> {
    match done {
        Ok(message) => Flash::ok(message).set(session),
        Err(WorkspaceError::Refused(message)) => Flash::error(message).set(session),
        Err(WorkspaceError::Invalid(errors)) => {
            Flash::error(errors.iter().map(|(_, m)| m).collect::<Vec<_>>().join(" ")).set(session)
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other("/members"))
}
