//! Pieces every HTML page shares: the layout context, static files, redirects, flash messages;
//! how values are written for people ([`format`] sizes and ids, [`time`] times); request bodies'
//! limits ([`limits`]) and files sent as a raw body ([`upload`]).

pub mod assets;
pub mod client;
#[cfg(test)]
mod contrast;
pub mod format;
pub mod headers;
pub mod limits;
pub mod time;
pub mod upload;

pub use format::HtmlId;

use crate::auth::{Account, CurrentUser};
use actix_web::HttpResponse;
use actix_web::http::header;

/// What the page layout needs: who is signed in (if anyone) and in which workspace (if any), the
/// CSRF token, the active nav item (`admin-…` for the admin area's pages).
pub struct Layout {
    pub user: Option<CurrentUser>,
    pub person: Option<Person>,
    pub csrf: String,
    pub nav: &'static str,
}

/// The signed-in person as the header shows them.
pub struct Person {
    pub name: String,
    pub is_operator: bool,
}

impl Layout {
    pub fn for_user(user: &CurrentUser, nav: &'static str) -> Layout {
        Layout {
            csrf: user.csrf_token.clone(),
            person: Some(Person { name: user.name.clone(), is_operator: user.is_operator }),
            user: Some(user.clone()),
            nav,
        }
    }

    /// For pages of a person who may be in no workspace (their account, the admin area).
    pub fn for_account(account: &Account, nav: &'static str) -> Layout {
        Layout {
            csrf: account.csrf_token.clone(),
            person: Some(Person { name: account.name.clone(), is_operator: account.is_operator }),
            user: account.current.clone(),
            nav,
        }
    }

    pub fn anonymous(csrf: String) -> Layout {
        Layout { user: None, person: None, csrf, nav: "" }
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
    render_sized(status, template, T::SIZE_HINT)
}

/// [`render`] into a buffer of about the size the page will have (askama's own hint does not
/// know how many rows a list has), so a long list is not copied as its buffer grows.
pub fn render_sized<T: askama::Template>(
    status: actix_web::http::StatusCode,
    template: &T,
    size: usize,
) -> Result<HttpResponse, crate::error::AppError> {
    let mut body = String::with_capacity(size);
    template.render_into(&mut body).map_err(|e| anyhow::anyhow!("rendering a template: {e}"))?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}

/// Makes htmx put this response in place of the element `selector` names (its own element: the
/// response's top element is selected too), whatever the requesting element's target.
pub fn swap_in_place_of(response: &mut HttpResponse, selector: &str) -> Result<(), crate::error::AppError> {
    let value = header::HeaderValue::from_str(selector).map_err(anyhow::Error::from)?;
    let headers = response.headers_mut();
    headers.insert(header::HeaderName::from_static("hx-retarget"), value.clone());
    headers.insert(header::HeaderName::from_static("hx-reselect"), value);
    headers.insert(header::HeaderName::from_static("hx-reswap"), header::HeaderValue::from_static("outerHTML"));
    Ok(())
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

    /// Removes it only when there is one: a removal marks the session changed, which would send
    /// the cookie anew with every page.
    pub fn take(session: &actix_session::Session) -> Option<Flash> {
        let flash = session.get::<Flash>(FLASH_KEY).ok().flatten()?;
        session.remove(FLASH_KEY);
        Some(flash)
    }
}

/// Form posts arrive as name/value pairs; this gives the value of one name.
pub fn form_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
