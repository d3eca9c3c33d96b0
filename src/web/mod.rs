//! Pieces every HTML page shares: the layout context, static files, redirects, time display.

pub mod assets;
pub mod headers;
pub mod limits;
pub mod time;

use crate::auth::CurrentUser;
use actix_web::HttpResponse;
use actix_web::http::header;

/// What the page layout needs: who is signed in (if anyone), the CSRF token, the active nav item.
pub struct Layout {
    pub user: Option<CurrentUser>,
    pub csrf: String,
    pub nav: &'static str,
}

impl Layout {
    pub fn for_user(user: &CurrentUser, nav: &'static str) -> Layout {
        Layout { csrf: user.csrf_token.clone(), user: Some(user.clone()), nav }
    }

    pub fn anonymous(csrf: String) -> Layout {
        Layout { user: None, csrf, nav: "" }
    }

    pub fn can_write(&self) -> bool {
        self.user.as_ref().is_some_and(CurrentUser::can_write)
    }
}

/// After a successful POST: 303 to the page (htmx follows it the same way).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

/// Renders an askama template with a status (e.g. 422 for a form with errors).
pub fn render<T: askama::Template>(
    status: actix_web::http::StatusCode,
    template: &T,
) -> Result<HttpResponse, crate::error::AppError> {
    let body = template.render().map_err(|e| anyhow::anyhow!("rendering a template: {e}"))?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}

/// A one-time message shown on the next page (after a redirect).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Flash {
    pub kind: String,
    pub text: String,
}

const FLASH_KEY: &str = "flash";

impl Flash {
    pub fn ok(text: impl Into<String>) -> Flash {
        Flash { kind: "ok".into(), text: text.into() }
    }

    pub fn error(text: impl Into<String>) -> Flash {
        Flash { kind: "error".into(), text: text.into() }
    }

    pub fn set(self, session: &actix_session::Session) {
        let _ = session.insert(FLASH_KEY, self);
    }

    pub fn take(session: &actix_session::Session) -> Option<Flash> {
        session.remove_as::<Flash>(FLASH_KEY).and_then(Result::ok)
    }
}

/// Form posts arrive as name/value pairs; this gives the value of one name.
pub fn form_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
