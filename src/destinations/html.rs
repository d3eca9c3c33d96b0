//! The destination pages: list, create/edit forms with per-type fields, tests, default,
//! disable/enable, delete. Thin: parsing of the request and rendering; rules live in the service.
//! The same form and handlers serve the plan form's "New destination…" dialog (`super::dialog`).

use super::dialog::{self, DialogForm};
use super::domain::DestinationKind;
use super::fields::{FieldErrors, Input, RawFields};
use super::list;
use super::page::{self, PolicyView};
use super::service::{Destination, DestinationError, DestinationInput, DestinationService, TestOutcome};
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::grants::FolderAccess;
use crate::grants::html::link_for_refusal;
use crate::plans::service::PlanService;
use crate::providers::compatibility::Compatibility;
use crate::servers::html::{AcceptForm, HostKeyPage};
use crate::web::{Flash, Layout, form_value, render, see_other, swap_in_place_of};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/destinations", web::get().to(list::list))
        .route("/destinations", web::post().to(create))
        .route("/destinations/new", web::get().to(new_form))
        .route("/destinations/fields", web::post().to(fields))
        .route("/destinations/test-credentials", web::post().to(test_credentials))
        .route("/destinations/policy", web::post().to(page::policy_panel))
        .route("/destinations/test-all", web::post().to(list::test_all))
        .route("/destinations/{id}/row", web::get().to(list::row))
        .route("/destinations/{id}/edit", web::get().to(edit_form))
        .route("/destinations/{id}", web::post().to(update))
        .route("/destinations/{id}/test", web::post().to(list::test_connection))
        .route("/destinations/{id}/default", web::post().to(list::make_default))
        .route("/destinations/{id}/disable", web::post().to(list::disable))
        .route("/destinations/{id}/enable", web::post().to(list::enable))
        .route("/destinations/{id}/delete", web::get().to(confirm_delete))
        .route("/destinations/{id}/delete", web::post().to(delete))
        .route("/destinations/{id}/host-key", web::get().to(confirm_host_key))
        .route("/destinations/{id}/host-key", web::post().to(accept_host_key))
        .route("/destinations/{id}", web::get().to(page::show));
}

impl From<DestinationError> for AppError {
    fn from(e: DestinationError) -> Self {
        match e {
            DestinationError::NotFound => AppError::NotFound("Backup destination not found".into()),
            DestinationError::Invalid(errors) => {
                let detail: Vec<String> = errors.iter().map(|(f, m)| format!("{f}: {m}")).collect();
                AppError::BadRequest(detail.join(" "))
            }
            DestinationError::Db(e) => e.into(),
            DestinationError::Credentials(m) => AppError::Internal(anyhow::anyhow!(m)),
            DestinationError::Conflict(m) => AppError::BadRequest(m),
        }
    }
}

// ---- the form ----

pub struct OptionView {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct FieldView {
    pub name: &'static str,
    pub label: &'static str,
    pub input_type: &'static str,
    pub is_checkbox: bool,
    pub value: String,
    pub checked: bool,
    pub options: Vec<OptionView>,
    pub required: bool,
    pub secret: bool,
    pub stored: bool,
    pub placeholder: &'static str,
    pub help: &'static str,
    pub error: Option<String>,
}

/// Everything the form body shows: values as typed (never stored secrets) and errors by field.
pub struct FormView {
    pub editing: Option<String>,
    pub name: String,
    pub name_error: Option<String>,
    pub type_error: Option<String>,
    pub kinds: Vec<OptionView>,
    pub kind_description: &'static str,
    pub fields: Vec<FieldView>,
    pub test: Option<TestOutcome>,
    /// SFTP: the pinned host key, shown on the edit page.
    pub host_key: Option<String>,
    /// Shown in the plan form's dialog rather than as a page.
    pub dialog: bool,
    /// Prefix of every element id, so the dialog's ids cannot clash with the plan form's.
    pub ids: &'static str,
    /// The least the credentials need, from the values typed.
    pub policy: PolicyView,
    /// What the last deep test found (the edit page).
    pub compatibility: Option<Compatibility>,
    /// For an operator whose local folder is not granted: the grant page, ready to grant it.
    pub grant_link: Option<String>,
}

impl FormView {
    fn new(
        editing: Option<String>,
        name: &str,
        kind: DestinationKind,
        values: &RawFields,
        stored_secrets: &[&str],
        errors: &FieldErrors,
    ) -> FormView {
        let fields = kind
            .fields()
            .iter()
            .map(|spec| {
                // A secret typed into a form that failed is not echoed back either.
                let value =
                    if spec.secret { String::new() } else { values.get(spec.name).unwrap_or_default().to_owned() };
                let chosen = values.get(spec.name).or_else(|| spec.options().first().map(|(v, _)| *v));
                FieldView {
                    name: spec.name,
                    label: spec.label,
                    input_type: match spec.input {
                        Input::Text => "text",
                        Input::Password => "password",
                        Input::TextArea => "textarea",
                        Input::Number => "number",
                        Input::Checkbox => "checkbox",
                        Input::Select(_) => "select",
                    },
                    is_checkbox: spec.is_checkbox(),
                    checked: match values.get(spec.name) {
                        Some(v) => matches!(v, "true" | "on" | "1" | "yes"),
                        None => default_ticked(kind, spec.name, values),
                    },
                    options: spec
                        .options()
                        .iter()
                        .map(|(v, l)| OptionView {
                            value: (*v).to_owned(),
                            label: (*l).to_owned(),
                            selected: Some(*v) == chosen,
                        })
                        .collect(),
                    value,
                    required: spec.required,
                    secret: spec.secret,
                    stored: spec.secret && stored_secrets.contains(&spec.name),
                    placeholder: spec.placeholder,
                    help: spec.help,
                    error: errors.get(spec.name).map(str::to_owned),
                }
            })
            .collect();
        FormView {
            editing,
            name: name.to_owned(),
            name_error: errors.get("name").map(str::to_owned),
            type_error: errors.get("type").map(str::to_owned),
            kinds: DestinationKind::ALL
                .iter()
                .map(|k| OptionView { value: k.as_str().to_owned(), label: k.label().to_owned(), selected: *k == kind })
                .collect(),
            kind_description: kind.description(),
            fields,
            test: None,
            host_key: None,
            dialog: false,
            ids: "",
            policy: PolicyView::new(kind, values, ""),
            compatibility: None,
            grant_link: None,
        }
    }

    /// For an operator, when a local destination's folder is not granted: the grant page's link.
    fn with_grant_link(mut self, user: &CurrentUser, kind: DestinationKind) -> FormView {
        if let Some(path) = self.fields.iter().find(|f| f.name == "path" && kind == DestinationKind::Local) {
            let errors = path.error.as_ref().map_or_else(FieldErrors::new, |m| FieldErrors::single("path", m.as_str()));
            self.grant_link = link_for_refusal(user, &errors, "path", &path.value, FolderAccess::ReadWrite);
        }
        self
    }

    fn in_dialog(mut self, dialog: bool) -> FormView {
        self.dialog = dialog;
        self.ids = if dialog { dialog::IDS } else { "" };
        self.policy.ids = self.ids;
        self
    }

    /// The SFTP form's managed-server choice lists the workspace's servers; while one is
    /// chosen, the login fields (which the server provides) are not shown.
    fn with_servers(mut self, servers: Vec<(String, String)>) -> FormView {
        let Some(choice) = self.fields.iter_mut().find(|f| f.name == "server_id") else { return self };
        let chosen = choice.value.clone();
        choice.options.extend(servers.into_iter().map(|(id, name)| OptionView {
            selected: id == chosen,
            value: id,
            label: name,
        }));
        if !chosen.is_empty() {
            self.fields.retain(|f| !crate::providers::sftp::LOGIN_FIELD_NAMES.contains(&f.name));
        }
        self
    }
}

/// A checkbox not given takes its default: S3's path-style box is ticked where the service
/// needs it (the preset, an IP or localhost endpoint, a dotted bucket).
fn default_ticked(kind: DestinationKind, name: &str, values: &RawFields) -> bool {
    kind == DestinationKind::S3
        && name == "path_style"
        && crate::providers::s3::path_style_default(
            values.get("provider").unwrap_or("aws"),
            values.get("endpoint"),
            values.get("bucket"),
        )
}

/// The form, with the workspace's servers offered when the type is SFTP.
async fn form_view(
    service: &DestinationService,
    user: &CurrentUser,
    form: FormView,
    kind: DestinationKind,
) -> Result<FormView, AppError> {
    let form = form.with_grant_link(user, kind);
    if kind != DestinationKind::Sftp {
        return Ok(form);
    }
    Ok(form.with_servers(service.server_choices(&user.workspace_id).await?))
}

#[derive(Template)]
#[template(path = "destinations/form.html")]
struct FormPage {
    layout: Layout,
    title: String,
    action: String,
    form: FormView,
}

#[derive(Template)]
#[template(path = "destinations/form_body.html")]
struct FormBody {
    form: FormView,
}

#[derive(Template)]
#[template(path = "destinations/test_result.html")]
struct TestResult {
    t: TestOutcome,
}

/// A submitted form: `name`, `type`, optional `id`, `dialog`, and `config.<field>` values.
struct Submitted {
    id: Option<String>,
    /// "Deep test" ticked: also write, read back and delete a probe object.
    deep: bool,
    /// Sent from the plan form's dialog: answer into the dialog.
    dialog: bool,
    input: DestinationInput,
}

impl Submitted {
    fn from_pairs(pairs: &[(String, String)]) -> Submitted {
        let fields = RawFields::from_pairs(
            pairs.iter().filter_map(|(k, v)| k.strip_prefix("config.").map(|k| (k.to_owned(), v.as_str()))),
        );
        Submitted {
            id: form_value(pairs, "id").filter(|v| !v.is_empty()).map(str::to_owned),
            deep: form_value(pairs, "deep").is_some_and(|v| v == "true"),
            dialog: form_value(pairs, "dialog").is_some_and(|v| v == "1"),
            input: DestinationInput {
                name: form_value(pairs, "name").unwrap_or_default().to_owned(),
                kind: form_value(pairs, "type").unwrap_or(DestinationKind::Local.as_str()).to_owned(),
                fields,
            },
        }
    }

    fn kind(&self) -> DestinationKind {
        DestinationKind::parse(&self.input.kind).unwrap_or(DestinationKind::Local)
    }

    /// The form again, as typed (secrets blank), with `errors` next to their fields.
    fn form(&self, stored: &[&str], errors: &FieldErrors) -> FormView {
        let input = &self.input;
        FormView::new(self.id.clone(), &input.name, self.kind(), &input.fields, stored, errors).in_dialog(self.dialog)
    }
}

/// The form as a page, or as the content of the plan form's dialog.
fn form_response(
    status: StatusCode,
    user: &CurrentUser,
    title: String,
    action: String,
    form: FormView,
) -> Result<HttpResponse, AppError> {
    if form.dialog {
        render(status, &DialogForm { layout: Layout::for_user(user, "plans"), title, action, form, failed: None })
    } else {
        render(status, &FormPage { layout: Layout::for_user(user, "destinations"), title, action, form })
    }
}

#[derive(serde::Deserialize)]
pub struct NewQuery {
    dialog: Option<String>,
}

async fn new_form(user: CurrentUser, query: web::Query<NewQuery>) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    // Local is the first type shown; the SFTP servers are offered when the type changes.
    let form = FormView::new(None, "", DestinationKind::Local, &RawFields::new(), &[], &FieldErrors::new())
        .in_dialog(query.dialog.as_deref() == Some("1"));
    form_response(StatusCode::OK, &user, "New destination".into(), "/destinations".into(), form)
}

async fn edit_form(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let d = service.get(&user.workspace_id, &path).await?;
    let form = FormView::new(Some(d.id.clone()), &d.name, d.kind, &d.settings, &d.stored_secrets, &FieldErrors::new());
    let mut form = form_view(&service, &user, form, d.kind).await?;
    form.host_key = d.host_key.clone();
    form.compatibility = d.compatibility.clone();
    render(
        StatusCode::OK,
        &FormPage {
            layout: Layout::for_user(&user, "destinations"),
            title: format!("Edit {}", d.name),
            action: format!("/destinations/{}", d.id),
            form,
        },
    )
}

/// The type picker (a POST, so typed secrets never land in a URL or an access log): re-renders the form body for the chosen type, keeping what was typed.
async fn fields(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    request: actix_web::HttpRequest,
    query: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let mut submitted = Submitted::from_pairs(&query);
    // Another S3 service chosen: its path-style default applies, not the last one's box.
    if request.headers().get("HX-Trigger-Name").is_some_and(|n| n == "config.provider") {
        submitted.input.fields.set("path_style", "");
    }
    let stored = stored_secrets_for(&service, &user, &submitted).await?;
    let form = form_view(&service, &user, submitted.form(&stored, &FieldErrors::new()), submitted.kind()).await?;
    render(StatusCode::OK, &FormBody { form })
}

async fn stored_secrets_for(
    service: &DestinationService,
    user: &CurrentUser,
    submitted: &Submitted,
) -> Result<Vec<&'static str>, AppError> {
    Ok(match &submitted.id {
        Some(id) => {
            let d = service.get(&user.workspace_id, id).await?;
            if d.kind == submitted.kind() { d.stored_secrets } else { Vec::new() }
        }
        None => Vec::new(),
    })
}

async fn test_credentials(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let submitted = Submitted::from_pairs(&form);
    match service.test_credentials(&user.workspace_id, submitted.id.as_deref(), &submitted.input, submitted.deep).await
    {
        Ok(t) => render(StatusCode::OK, &TestResult { t }),
        Err(DestinationError::Invalid(errors)) => {
            // Show the problems next to their fields: swap the whole form body instead.
            let stored = stored_secrets_for(&service, &user, &submitted).await?;
            let form = form_view(&service, &user, submitted.form(&stored, &errors), submitted.kind()).await?;
            let retarget = format!("#{}form-body", form.ids);
            let mut response = render(StatusCode::UNPROCESSABLE_ENTITY, &FormBody { form })?;
            swap_in_place_of(&mut response, &retarget)?;
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

async fn create(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    plans: web::Data<PlanService>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let submitted = Submitted::from_pairs(&form);
    match service.create(&user.workspace_id, submitted.input.clone(), &Actor::web(&user)).await {
        Ok((d, outcome)) => saved(&user, &service, &plans, &submitted, d, outcome, &session).await,
        Err(DestinationError::Invalid(errors)) => {
            let servers = service.server_choices(&user.workspace_id).await?;
            form_with_errors(&user, submitted, &errors, &[], servers, "New destination".into(), "/destinations".into())
        }
        Err(e) => Err(e.into()),
    }
}

async fn update(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    plans: web::Data<PlanService>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let mut submitted = Submitted::from_pairs(&form);
    submitted.id = Some(path.clone());
    match service.update(&user.workspace_id, &path, submitted.input.clone(), &Actor::web(&user)).await {
        Ok((d, outcome)) => saved(&user, &service, &plans, &submitted, d, outcome, &session).await,
        Err(DestinationError::Invalid(errors)) => {
            let stored = stored_secrets_for(&service, &user, &submitted).await?;
            let title = format!("Edit {}", submitted.input.name);
            let servers = service.server_choices(&user.workspace_id).await?;
            form_with_errors(&user, submitted, &errors, &stored, servers, title, format!("/destinations/{path}"))
        }
        Err(e) => Err(e.into()),
    }
}

/// After a save (which tested the destination): back to the list with the outcome, or, from the
/// plan form's dialog, the plan's destination select with this one chosen. In the dialog a failed
/// test keeps the dialog open as this destination's edit form, showing the test, so that fixing
/// it updates the saved destination instead of adding a second one.
async fn saved(
    user: &CurrentUser,
    service: &DestinationService,
    plans: &PlanService,
    submitted: &Submitted,
    d: Destination,
    outcome: TestOutcome,
    session: &Session,
) -> Result<HttpResponse, AppError> {
    let flash = saved_flash(&d.name, &outcome);
    if !submitted.dialog {
        flash.set(session);
        return Ok(see_other("/destinations"));
    }
    let choices = plans.destination_choices(&user.workspace_id).await?;
    let fix = if outcome.ok {
        None
    } else {
        let form =
            FormView::new(Some(d.id.clone()), &d.name, d.kind, &d.settings, &d.stored_secrets, &FieldErrors::new());
        let mut form = form_view(service, user, form.in_dialog(true), d.kind).await?;
        form.test = Some(outcome);
        Some(form)
    };
    dialog::saved(user, &d, choices, flash, fix)
}

fn saved_flash(name: &str, outcome: &TestOutcome) -> Flash {
    if outcome.ok {
        Flash::ok(format!("Saved “{name}”. Connection test passed."))
    } else {
        Flash::error(format!("Saved “{name}”, but its connection test failed: {}", outcome.message))
    }
}

fn form_with_errors(
    user: &CurrentUser,
    submitted: Submitted,
    errors: &FieldErrors,
    stored: &[&str],
    servers: Vec<(String, String)>,
    title: String,
    action: String,
) -> Result<HttpResponse, AppError> {
    let form = submitted.form(stored, errors).with_grant_link(user, submitted.kind());
    let form = if submitted.kind() == DestinationKind::Sftp { form.with_servers(servers) } else { form };
    form_response(StatusCode::UNPROCESSABLE_ENTITY, user, title, action, form)
}

#[derive(Template)]
#[template(path = "destinations/delete.html")]
struct DeletePage {
    layout: Layout,
    id: String,
    name: String,
    is_default: bool,
    /// Plans that will be disabled.
    plans: Vec<String>,
}

async fn confirm_delete(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let d = service.get(&user.workspace_id, &path).await?;
    let plans = service.plans_using(&user.workspace_id, &path).await?;
    render(
        StatusCode::OK,
        &DeletePage {
            layout: Layout::for_user(&user, "destinations"),
            id: d.id,
            name: d.name,
            is_default: d.is_default,
            plans,
        },
    )
}

async fn delete(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let d = service.get(&user.workspace_id, &path).await?;
    let plans = service.delete(&user.workspace_id, &path, &Actor::web(&user)).await?;
    if plans.is_empty() {
        Flash::ok(format!("Deleted “{}”.", d.name)).set(&session);
    } else {
        Flash::ok(format!("Deleted “{}”. These plans are now disabled: {}.", d.name, plans.join(", "))).set(&session);
    }
    Ok(see_other("/destinations"))
}

// ---- SFTP host keys ----

async fn confirm_host_key(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let d = service.get(&user.workspace_id, &path).await?;
    let offer = service.host_key_offer(&user.workspace_id, &path).await?;
    let layout = Layout::for_user(&user, "destinations");
    let action = format!("/destinations/{}/host-key", d.id);
    render(StatusCode::OK, &HostKeyPage::new(layout, d.name, "/destinations", action, offer))
}

async fn accept_host_key(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    form: web::Form<AcceptForm>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let d = service.get(&user.workspace_id, &path).await?;
    let fingerprint = form.fingerprint.trim();
    let outcome = service.accept_host_key(&user.workspace_id, &path, fingerprint, &Actor::web(&user)).await?;
    if outcome.ok {
        Flash::ok(format!("Pinned {fingerprint} for “{}”. Connection test passed.", d.name)).set(&session);
    } else {
        Flash::error(format!("Pinned {fingerprint} for “{}”, but its test failed: {}", d.name, outcome.message))
            .set(&session);
    }
    Ok(see_other("/destinations"))
}
