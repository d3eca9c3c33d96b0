//! A destination's own page, for every member: what it is, how its last test went, what its
//! service supports, and the least its key needs (the form's panel, not live).

use super::panel::PolicyView;
use super::service::{Destination, DestinationService};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::web::{Layout, render};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

#[derive(Template)]
#[template(path = "destinations/show.html")]
struct ShowPage {
    layout: Layout,
    d: Destination,
    panel: PolicyView,
    can_write: bool,
}

pub async fn show(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let d = service.get(&user.workspace_id, &path).await?;
    let panel = PolicyView { live: false, ..PolicyView::new(d.kind, &d.settings, "") };
    let layout = Layout::for_user(&user, "destinations");
    render(StatusCode::OK, &ShowPage { can_write: user.can_write(), layout, d, panel })
}
