//! The raw, untyped form of a configuration (a flat map of named fields, as an HTML form or a
//! JSON `config` object gives it), its per-field errors, and the helpers each provider's parser
//! uses to turn it into a typed config with one message per bad field. Shared by every form.

mod raw;
mod reader;
pub mod rules;
mod view;

pub use raw::{FieldErrors, RawFields};
pub use reader::FieldReader;
pub use view::{FieldView, OptionView};

/// How a field is entered in the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Text,
    Password,
    TextArea,
    Number,
    Checkbox,
    Select(&'static [(&'static str, &'static str)]),
}

/// One field of a config (a provider type's, a server login's): the form renders from it and
/// the parser checks against it.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub input: Input,
    pub required: bool,
    /// Stored encrypted and never rendered back.
    pub secret: bool,
    pub max_len: usize,
    pub placeholder: &'static str,
    pub help: &'static str,
    /// Another secret field this one replaces (one credential of two): when this one is given,
    /// the other's stored value is not kept.
    pub instead_of: Option<&'static str>,
}

impl FieldSpec {
    pub const fn text(name: &'static str, label: &'static str) -> FieldSpec {
        FieldSpec {
            name,
            label,
            input: Input::Text,
            required: false,
            secret: false,
            max_len: 255,
            placeholder: "",
            help: "",
            instead_of: None,
        }
    }

    pub const fn secret(name: &'static str, label: &'static str) -> FieldSpec {
        FieldSpec { input: Input::Password, secret: true, ..FieldSpec::text(name, label) }
    }

    pub const fn required(self) -> FieldSpec {
        FieldSpec { required: true, ..self }
    }

    pub const fn input(self, input: Input) -> FieldSpec {
        FieldSpec { input, ..self }
    }

    pub const fn max_len(self, max_len: usize) -> FieldSpec {
        FieldSpec { max_len, ..self }
    }

    pub const fn placeholder(self, placeholder: &'static str) -> FieldSpec {
        FieldSpec { placeholder, ..self }
    }

    pub const fn help(self, help: &'static str) -> FieldSpec {
        FieldSpec { help, ..self }
    }

    pub const fn instead_of(self, other: &'static str) -> FieldSpec {
        FieldSpec { instead_of: Some(other), ..self }
    }

    pub fn is_checkbox(&self) -> bool {
        self.input == Input::Checkbox
    }

    pub fn options(&self) -> &'static [(&'static str, &'static str)] {
        match self.input {
            Input::Select(options) => options,
            _ => &[],
        }
    }
}
