//! The destination form: its fields for the chosen type (values as typed, never a stored
//! secret), the SFTP form's managed servers, the least-privilege panel, and a submitted form read
//! back. Shown as a page or in the plan form's dialog (`super::dialog`).

use super::panel::{DIALOG_IDS, PolicyView};
use super::service::{DestinationInput, DestinationService};
use crate::auth::CurrentUser;
use crate::connection_test::TestOutcome;
use crate::error::AppError;
use crate::fields::{FieldErrors, FieldView, OptionView, RawFields};
use crate::grants::FolderAccess;
use crate::grants::html::link_for_refusal;
use crate::providers::ProviderKind;
use crate::providers::compatibility::Compatibility;
use crate::web::{Layout, form_value};
use askama::Template;

/// The plan form's destination select; the copies' are `copy_1`, `copy_2`.
pub const PRIMARY_SELECT: &str = "destination_id";

/// The select a dialog fills, from what was sent: only the plan form's own names are taken.
pub fn plan_select(sent: Option<&str>) -> &'static str {
    match sent {
        Some("copy_1") => "copy_1",
        Some("copy_2") => "copy_2",
        _ => PRIMARY_SELECT,
    }
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
    /// In the dialog: the plan form's select a save fills (`destination_id`, `copy_1`, `copy_2`).
    pub select: &'static str,
    /// The least the credentials need, from the values typed.
    pub policy: PolicyView,
    /// What the last deep test found (the edit page).
    pub compatibility: Option<Compatibility>,
    /// For an operator whose local folder is not granted: the grant page, ready to grant it.
    pub grant_link: Option<String>,
    /// A connected Google Drive or OneDrive destination's id: its folder picker is offered.
    pub browse: Option<String>,
}

impl FormView {
    /// Whether choosing in this select re-renders the form (another provider's or server's fields).
    pub fn refreshes(&self, field: &str) -> bool {
        matches!(field, "provider" | "server_id")
    }

    pub(super) fn new(
        editing: Option<String>,
        name: &str,
        kind: ProviderKind,
        values: &RawFields,
        stored_secrets: &[&str],
        errors: &FieldErrors,
    ) -> FormView {
        let fields = kind
            .fields()
            .iter()
            .map(|spec| {
                FieldView::new(spec, values, stored_secrets, errors, || default_ticked(kind, spec.name, values))
            })
            .collect();
        FormView {
            editing,
            name: name.to_owned(),
            name_error: errors.get("name").map(str::to_owned),
            type_error: errors.get("type").map(str::to_owned),
            kinds: ProviderKind::ALL
                .iter()
                .map(|k| OptionView { value: k.as_str().to_owned(), label: k.label().to_owned(), selected: *k == kind })
                .collect(),
            kind_description: kind.description(),
            fields,
            test: None,
            host_key: None,
            dialog: false,
            ids: "",
            select: PRIMARY_SELECT,
            policy: PolicyView::new(kind, values, ""),
            compatibility: None,
            grant_link: None,
            browse: None,
        }
    }

    /// For an operator, when a local destination's folder is not granted: the grant page's link.
    pub(super) fn with_grant_link(mut self, user: &CurrentUser, kind: ProviderKind) -> FormView {
        if let Some(path) = self.fields.iter().find(|f| f.name == "path" && kind == ProviderKind::Local) {
            let errors = path.error.as_ref().map_or_else(FieldErrors::new, |m| FieldErrors::single("path", m.as_str()));
            self.grant_link = link_for_refusal(user, &errors, "path", &path.value, FolderAccess::ReadWrite);
        }
        self
    }

    /// In the dialog, the plan form's select a save fills.
    pub(super) fn for_select(mut self, select: &'static str) -> FormView {
        self.select = select;
        self
    }

    pub(super) fn in_dialog(mut self, dialog: bool) -> FormView {
        self.dialog = dialog;
        self.ids = if dialog { DIALOG_IDS } else { "" };
        self.policy.ids = self.ids;
        self
    }

    /// The SFTP form's managed-server choice lists the workspace's servers; while one is
    /// chosen, the login fields (which the server provides) are not shown.
    pub(super) fn with_servers(mut self, servers: Vec<(String, String)>) -> FormView {
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
fn default_ticked(kind: ProviderKind, name: &str, values: &RawFields) -> bool {
    kind == ProviderKind::S3
        && name == "path_style"
        && crate::providers::s3::path_style_default(
            values.get("provider").unwrap_or("aws"),
            values.get("endpoint"),
            values.get("bucket"),
        )
}

/// The form, with the workspace's servers offered when the type is SFTP.
pub(super) async fn form_view(
    service: &DestinationService,
    user: &CurrentUser,
    form: FormView,
    kind: ProviderKind,
) -> Result<FormView, AppError> {
    let form = form.with_grant_link(user, kind);
    if kind != ProviderKind::Sftp {
        return Ok(form);
    }
    Ok(form.with_servers(service.server_choices(&user.workspace_id).await?))
}

#[derive(Template)]
#[template(path = "destinations/form.html")]
pub(super) struct FormPage {
    pub(super) layout: Layout,
    pub(super) title: String,
    pub(super) action: String,
    pub(super) form: FormView,
}

#[derive(Template)]
#[template(path = "destinations/form_body.html")]
pub(super) struct FormBody {
    pub(super) form: FormView,
}

#[derive(Template)]
#[template(path = "destinations/test_result.html")]
pub(super) struct TestResult {
    pub(super) t: TestOutcome,
}

/// A submitted form: `name`, `type`, optional `id`, `dialog`, and `config.<field>` values.
pub(super) struct Submitted {
    pub(super) id: Option<String>,
    /// "Deep test" ticked: also write, read back and delete a probe object.
    pub(super) deep: bool,
    /// Sent from the plan form's dialog: answer into the dialog.
    pub(super) dialog: bool,
    /// The plan form's select the dialog fills.
    pub(super) select: &'static str,
    pub(super) input: DestinationInput,
}

impl Submitted {
    pub(super) fn from_pairs(pairs: &[(String, String)]) -> Submitted {
        let fields = RawFields::from_pairs(
            pairs.iter().filter_map(|(k, v)| k.strip_prefix("config.").map(|k| (k.to_owned(), v.as_str()))),
        );
        Submitted {
            id: form_value(pairs, "id").filter(|v| !v.is_empty()).map(str::to_owned),
            deep: form_value(pairs, "deep").is_some_and(|v| v == "true"),
            dialog: form_value(pairs, "dialog").is_some_and(|v| v == "1"),
            select: plan_select(form_value(pairs, "select")),
            input: DestinationInput {
                name: form_value(pairs, "name").unwrap_or_default().to_owned(),
                kind: form_value(pairs, "type").unwrap_or(ProviderKind::Local.as_str()).to_owned(),
                fields,
            },
        }
    }

    pub(super) fn kind(&self) -> ProviderKind {
        ProviderKind::parse(&self.input.kind).unwrap_or(ProviderKind::Local)
    }

    /// The form again, as typed (secrets blank), with `errors` next to their fields.
    pub(super) fn form(&self, stored: &[&str], errors: &FieldErrors) -> FormView {
        let input = &self.input;
        FormView::new(self.id.clone(), &input.name, self.kind(), &input.fields, stored, errors)
            .in_dialog(self.dialog)
            .for_select(self.select)
    }
}

pub(super) async fn stored_secrets_for(
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
