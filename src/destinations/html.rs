//! The destination pages: list, create/edit forms with per-type fields, tests, default,
//! disable/enable, delete. Thin: parsing of the request and rendering; rules live in the service.
//! The same form and handlers serve the plan form's "New destination…" dialog (`super::dialog`).

use super::audited::TestedBy;
use super::dialog::{self, DialogForm};
use super::domain::DestinationKind;
use super::fields::{FieldErrors, Input, RawFields};
use super::service::{Destination, DestinationError, DestinationInput, DestinationService, TestOutcome};
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::auth::session::is_htmx;
use crate::error::AppError;
use crate::plans::service::PlanService;
use crate::servers::html::{AcceptForm, HostKeyPage};
use crate::web::{Flash, Layout, form_value, render, see_other, time};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

const PER_PAGE: i64 = 50;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/destinations", web::get().to(list))
        .route("/destinations", web::post().to(create))
        .route("/destinations/new", web::get().to(new_form))
        .route("/destinations/fields", web::post().to(fields))
        .route("/destinations/test-credentials", web::post().to(test_credentials))
        .route("/destinations/test-all", web::post().to(test_all))
        .route("/destinations/{id}/row", web::get().to(row))
        .route("/destinations/{id}/edit", web::get().to(edit_form))
        .route("/destinations/{id}", web::post().to(update))
        .route("/destinations/{id}/test", web::post().to(test_connection))
        .route("/destinations/{id}/default", web::post().to(make_default))
        .route("/destinations/{id}/disable", web::post().to(disable))
        .route("/destinations/{id}/enable", web::post().to(enable))
        .route("/destinations/{id}/delete", web::get().to(confirm_delete))
        .route("/destinations/{id}/delete", web::post().to(delete))
        .route("/destinations/{id}/host-key", web::get().to(confirm_host_key))
        .route("/destinations/{id}/host-key", web::post().to(accept_host_key));
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

pub struct LastTested {
    pub iso: String,
    pub exact: String,
    pub ago: String,
}

pub struct RowView {
    pub id: String,
    pub name: String,
    pub icon: String,
    pub kind_label: &'static str,
    pub location: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub message: Option<String>,
    pub is_default: bool,
    pub last_tested: Option<LastTested>,
    pub can_write: bool,
    pub csrf: String,
    pub page: i64,
    /// The Google consent button's label, on Google Drive rows.
    pub google_connect: Option<&'static str>,
    pub host_key: Option<String>,
    /// The last test refused a changed host key: offer to accept the new one.
    pub host_key_changed: bool,
}

impl RowView {
    fn new(d: Destination, user: &CurrentUser, page: i64) -> RowView {
        let now = chrono::Utc::now().naive_utc();
        let google_connect = (d.kind == DestinationKind::GoogleDrive)
            .then(|| if d.stored_secrets.contains(&"refresh_token") { "Reconnect" } else { "Connect Google Drive" });
        RowView {
            google_connect,
            icon: d.kind.icon(),
            kind_label: d.type_label,
            status: d.status.as_str(),
            status_label: d.status.label(),
            host_key_changed: d.last_test_message.as_deref().is_some_and(|m| m.contains("host key changed")),
            host_key: d.host_key,
            message: d.last_test_message,
            last_tested: d.last_tested_at.map(|t| LastTested {
                iso: t.and_utc().to_rfc3339(),
                exact: time::exact(t),
                ago: time::ago(t, now),
            }),
            id: d.id,
            name: d.name,
            location: d.location,
            is_default: d.is_default,
            can_write: user.can_write(),
            csrf: user.csrf_token.clone(),
            page,
        }
    }
}

#[derive(Template)]
#[template(path = "destinations/list.html")]
struct ListPage {
    layout: Layout,
    flash: Option<Flash>,
    rows: Vec<RowView>,
    page: i64,
    last_page: i64,
    total: i64,
}

#[derive(Template)]
#[template(path = "destinations/row.html")]
struct RowFragment {
    row: RowView,
}

/// The table alone: what "Test all" swaps in, every row Testing and polling for its result.
#[derive(Template)]
#[template(path = "destinations/table.html")]
struct TableFragment {
    layout: Layout,
    rows: Vec<RowView>,
    page: i64,
    last_page: i64,
    total: i64,
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

async fn list(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    query: web::Query<PageQuery>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let table = table(&user, &service, query.page.unwrap_or(1)).await?;
    render(
        StatusCode::OK,
        &ListPage {
            layout: table.layout,
            flash: Flash::take(&session),
            rows: table.rows,
            page: table.page,
            last_page: table.last_page,
            total: table.total,
        },
    )
}

async fn table(user: &CurrentUser, service: &DestinationService, page: i64) -> Result<TableFragment, AppError> {
    let page = service.list(&user.workspace_id, page, PER_PAGE).await?;
    let (number, last_page, total) = (page.page, page.last_page(), page.total);
    let rows = page.items.into_iter().map(|d| RowView::new(d, user, number)).collect();
    Ok(TableFragment { layout: Layout::for_user(user, "destinations"), rows, page: number, last_page, total })
}

/// One row, as a row that is Testing polls for it until its test ends.
async fn row(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let d = service.get(&user.workspace_id, &path).await?;
    render(StatusCode::OK, &RowFragment { row: RowView::new(d, &user, query.page.unwrap_or(1)) })
}

/// "Test all": tests every destination that is not disabled, concurrently (bounded by the
/// service). From htmx it answers at once with the table, every row Testing and polling for its
/// own result, while the tests run in the background; without JavaScript it waits for them all
/// and goes back to the list with a summary.
async fn test_all(
    req: HttpRequest,
    user: CurrentUser,
    service: web::Data<DestinationService>,
    form: web::Form<RowAction>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let ids = service.begin_test_all(&user.workspace_id).await?;
    let (workspace, service_ref) = (user.workspace_id.clone(), service.clone().into_inner());
    let actor = Actor::web(&user);
    let tests = async move { service_ref.test_marked(&workspace, ids, &actor).await };
    if is_htmx(&req) {
        // Detached from the request: closing the page does not stop the tests.
        tokio::spawn(tests);
        return render(StatusCode::OK, &table(&user, &service, form.page.unwrap_or(1)).await?);
    }
    let summary = tests.await;
    let text = format!(
        "Tested {} destination{}: {} passed, {} failed.",
        summary.passed + summary.failed,
        if summary.passed + summary.failed == 1 { "" } else { "s" },
        summary.passed,
        summary.failed
    );
    if summary.failed == 0 { Flash::ok(text) } else { Flash::error(text) }.set(&session);
    Ok(back_to_list(&form))
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
                    checked: matches!(values.get(spec.name), Some("true" | "on" | "1" | "yes")),
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
        }
    }

    fn in_dialog(mut self, dialog: bool) -> FormView {
        self.dialog = dialog;
        self.ids = if dialog { dialog::IDS } else { "" };
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

/// The form, with the workspace's servers offered when the type is SFTP.
async fn form_view(
    service: &DestinationService,
    user: &CurrentUser,
    form: FormView,
    kind: DestinationKind,
) -> Result<FormView, AppError> {
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
    query: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let submitted = Submitted::from_pairs(&query);
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
            response.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static("hx-retarget"),
                actix_web::http::header::HeaderValue::from_str(&retarget).map_err(anyhow::Error::from)?,
            );
            response.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static("hx-reswap"),
                actix_web::http::header::HeaderValue::from_static("outerHTML"),
            );
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
    let form = submitted.form(stored, errors);
    let form = if submitted.kind() == DestinationKind::Sftp { form.with_servers(servers) } else { form };
    form_response(StatusCode::UNPROCESSABLE_ENTITY, user, title, action, form)
}

// ---- row actions ----

#[derive(serde::Deserialize)]
pub struct RowAction {
    page: Option<i64>,
}

fn back_to_list(form: &RowAction) -> HttpResponse {
    see_other(&format!("/destinations?page={}", form.page.unwrap_or(1).max(1)))
}

#[derive(serde::Deserialize)]
pub struct TestForm {
    deep: Option<String>,
}

async fn test_connection(
    req: HttpRequest,
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    form: web::Form<TestForm>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let deep = form.deep.as_deref() == Some("true");
    let outcome =
        service.test_saved(&user.workspace_id, &path, deep, &TestedBy::asked(&Actor::web(&user), deep)).await?;
    if is_htmx(&req) {
        let d = service.get(&user.workspace_id, &path).await?;
        return render(StatusCode::OK, &RowFragment { row: RowView::new(d, &user, 1) });
    }
    let d = service.get(&user.workspace_id, &path).await?;
    if outcome.ok {
        Flash::ok(format!("“{}” passed its connection test.", d.name)).set(&session);
    } else {
        Flash::error(format!("“{}” failed its connection test: {}", d.name, outcome.message)).set(&session);
    }
    Ok(see_other("/destinations"))
}

async fn make_default(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    form: web::Form<RowAction>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    service.make_default(&user.workspace_id, &path, &Actor::web(&user)).await?;
    Ok(back_to_list(&form))
}

async fn disable(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    form: web::Form<RowAction>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    service.disable(&user.workspace_id, &path, &Actor::web(&user)).await?;
    Ok(back_to_list(&form))
}

async fn enable(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    form: web::Form<RowAction>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    service.enable(&user.workspace_id, &path, &Actor::web(&user)).await?;
    Ok(back_to_list(&form))
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
