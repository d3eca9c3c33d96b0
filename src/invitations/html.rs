//! `/invitation?token=…`: the invited person's page. The token travels in the query string (never
//! logged: the request log has the path only) and then in the form's body.

use super::service::{AcceptError, InvitationService, LinkProblem, Opened};
use crate::auth::html::InputView;
use crate::auth::{Account, session};
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::sessions::SessionService;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::SecretString;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/invitation", web::get().to(open)).route("/invitation", web::post().to(accept));
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

#[derive(Template)]
#[template(path = "invitations/accept.html")]
struct InvitationPage {
    layout: Layout,
    /// Why the link does not work, or a refusal to explain.
    problem: Option<String>,
    token: String,
    workspace: String,
    role: String,
    email: String,
    /// Signed in as the invited email: one button to join.
    can_join: bool,
    /// Not signed in: sign in, or create the account.
    anonymous: bool,
    /// Where "sign in" comes back to.
    next: String,
    fields: Vec<InputView>,
}

impl InvitationPage {
    fn new(account: &Option<Account>, session: &Session, token: &str) -> InvitationPage {
        let layout = match account {
            Some(a) => Layout::for_account(a, ""),
            None => Layout::anonymous(crate::auth::csrf::token(session)),
        };
        InvitationPage {
            layout,
            problem: None,
            token: token.to_owned(),
            workspace: String::new(),
            role: String::new(),
            email: String::new(),
            can_join: false,
            anonymous: account.is_none(),
            next: format!(
                "/invitation?token={}",
                url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
            ),
            fields: Vec::new(),
        }
    }

    fn opened(
        mut self,
        opened: &Opened,
        account: &Option<Account>,
        values: &[(String, String)],
        errors: &FieldErrors,
    ) -> Self {
        self.workspace = opened.workspace_name.clone();
        self.role = opened.row.role.clone();
        self.email = opened.row.email.clone();
        match account {
            Some(a) if a.email == opened.row.email => self.can_join = true,
            Some(a) => self.problem = Some(AcceptError::WrongAccount { signed_in: a.email.clone() }.to_string()),
            None => {}
        }
        let field = |name, label, input_type, autocomplete| {
            InputView::new((name, label, input_type, autocomplete), values, errors)
        };
        self.fields = vec![
            field("name", "Your name", "text", "name"),
            field("password", "Choose a password (at least 10 characters)", "password", "new-password"),
        ];
        self
    }

    fn refused(mut self, problem: String) -> Self {
        self.problem = Some(problem);
        self
    }
}

fn status_of(problem: &LinkProblem) -> StatusCode {
    match problem {
        LinkProblem::Unknown => StatusCode::NOT_FOUND,
        _ => StatusCode::GONE,
    }
}

async fn open(
    account: Option<Account>,
    invitations: web::Data<InvitationService>,
    session: Session,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    let token = query.token.clone().unwrap_or_default();
    let page = InvitationPage::new(&account, &session, &token);
    match invitations.open(&token).await {
        Ok(opened) => render(StatusCode::OK, &page.opened(&opened, &account, &[], &FieldErrors::new())),
        Err(AcceptError::Link(problem)) => render(status_of(&problem), &page.refused(problem.to_string())),
        Err(e) => Err(accept_error(e)),
    }
}

async fn accept(
    req: HttpRequest,
    account: Option<Account>,
    invitations: web::Data<InvitationService>,
    sessions: web::Data<SessionService>,
    session: Session,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let token = form_value(&form, "token").unwrap_or_default().to_owned();
    let joined = match &account {
        Some(a) => invitations.accept_as(&token, a).await,
        None => {
            let name = form_value(&form, "name").unwrap_or_default();
            let password = SecretString::from(form_value(&form, "password").unwrap_or_default().to_owned());
            match invitations.accept_new(&token, name, password).await {
                Ok((user_id, workspace)) => {
                    session::sign_in(&req, &session, &sessions, &user_id, Some(&workspace)).await?;
                    Ok(workspace)
                }
                Err(e) => Err(e),
            }
        }
    };
    let page = InvitationPage::new(&account, &session, &token);
    match joined {
        Ok(workspace) => {
            session::switch_workspace(&session, &workspace)?;
            Flash::ok("Welcome: you joined the workspace.").set(&session);
            Ok(see_other("/destinations"))
        }
        Err(AcceptError::Link(problem)) => render(status_of(&problem), &page.refused(problem.to_string())),
        Err(AcceptError::Invalid(errors)) => {
            let opened = invitations.open(&token).await.map_err(accept_error)?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page.opened(&opened, &account, &form, &errors))
        }
        Err(e @ AcceptError::WrongAccount { .. }) => render(StatusCode::FORBIDDEN, &page.refused(e.to_string())),
        Err(e @ AcceptError::AccountExists) => render(StatusCode::CONFLICT, &page.refused(e.to_string())),
        Err(e) => Err(accept_error(e)),
    }
}

fn accept_error(e: AcceptError) -> AppError {
    match e {
        AcceptError::Db(e) => e.into(),
        AcceptError::Internal(e) => AppError::Internal(e),
        other => AppError::BadRequest(other.to_string()),
    }
}
