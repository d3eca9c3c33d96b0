//! A field as a form shows it, from its spec: the value as typed (never a secret), whether a
//! secret is stored, the options of a select, and the field's error.

use super::{FieldErrors, FieldSpec, Input, RawFields};

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

impl FieldView {
    /// `values` as typed, `stored_secrets` the names of the secrets kept, `ticked` whether a
    /// checkbox that was not given is ticked.
    pub fn new(
        spec: &FieldSpec,
        values: &RawFields,
        stored_secrets: &[&str],
        errors: &FieldErrors,
        ticked: impl FnOnce() -> bool,
    ) -> FieldView {
        // A secret typed into a form that failed is not echoed back either.
        let value = if spec.secret { String::new() } else { values.get(spec.name).unwrap_or_default().to_owned() };
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
                None => ticked(),
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
    }
}
