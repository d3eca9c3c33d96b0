//! The raw, untyped form of a destination's configuration (a flat map of named fields, as an
//! HTML form or a JSON `config` object gives it) and the helpers each type's parser uses to turn
//! it into a typed config with one message per bad field.

use secrecy::SecretString;
use std::collections::BTreeMap;

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

/// One field of a destination type: the form renders from it and the parser checks against it.
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

/// Field values as submitted, trimmed; empty values count as absent.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawFields(BTreeMap<String, String>);

// Values may be secrets: only the names are ever printed.
impl std::fmt::Debug for RawFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl RawFields {
    pub fn new() -> RawFields {
        RawFields::default()
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> RawFields
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: AsRef<str>,
    {
        let mut fields = RawFields::new();
        for (k, v) in pairs {
            fields.set(k, v.as_ref());
        }
        fields
    }

    pub fn set(&mut self, name: impl Into<String>, value: &str) {
        let value = value.trim();
        let name = name.into();
        if value.is_empty() {
            self.0.remove(&name);
        } else {
            self.0.insert(name, value.to_owned());
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Keeps only the named fields and splits them into (settings, secrets).
    pub fn split(&self, specs: &[FieldSpec]) -> (RawFields, RawFields) {
        let mut settings = RawFields::new();
        let mut secrets = RawFields::new();
        for spec in specs {
            if let Some(value) = self.get(spec.name) {
                let target = if spec.secret { &mut secrets } else { &mut settings };
                target.set(spec.name, value);
            }
        }
        (settings, secrets)
    }

    /// Adds every field of `other` that this map lacks (used to keep stored secrets on edit).
    pub fn fill_from(&mut self, other: &RawFields) {
        for (k, v) in other.iter() {
            if !self.contains(k) {
                self.set(k, v);
            }
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| unreachable!("a string map serializes"))
    }

    pub fn from_json(text: &str) -> Result<RawFields, serde_json::Error> {
        let map: BTreeMap<String, String> = serde_json::from_str(text)?;
        Ok(RawFields::from_pairs(map))
    }
}

/// Field name → what is wrong with it, in words for the person who typed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> FieldErrors {
        FieldErrors::default()
    }

    pub fn single(field: &str, message: impl Into<String>) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        errors
    }

    /// Records the first problem found for a field; later ones are usually consequences.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_owned()).or_insert_with(|| message.into());
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn merge(&mut self, other: FieldErrors) {
        for (k, v) in other.0 {
            self.add(&k, v);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Reads fields by their spec, collecting every error instead of stopping at the first.
pub struct FieldReader<'a> {
    raw: &'a RawFields,
    specs: &'static [FieldSpec],
    errors: FieldErrors,
}

impl<'a> FieldReader<'a> {
    pub fn new(raw: &'a RawFields, specs: &'static [FieldSpec]) -> FieldReader<'a> {
        FieldReader { raw, specs, errors: FieldErrors::new() }
    }

    fn spec(&self, name: &str) -> &'static FieldSpec {
        self.specs.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no field spec named {name}"))
    }

    /// The trimmed value, checked for presence (when required), length and control characters.
    pub fn text(&mut self, name: &str) -> Option<String> {
        let spec = self.spec(name);
        match self.raw.get(name) {
            None => {
                if spec.required {
                    self.errors.add(name, format!("{} is required.", spec.label));
                }
                None
            }
            Some(value) if value.chars().count() > spec.max_len => {
                self.errors.add(name, format!("{} must be at most {} characters.", spec.label, spec.max_len));
                None
            }
            Some(value) if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) => {
                self.errors.add(name, format!("{} contains control characters.", spec.label));
                None
            }
            Some(value) if spec.input != Input::TextArea && value.contains(['\n', '\r']) => {
                self.errors.add(name, format!("{} must be on one line.", spec.label));
                None
            }
            Some(value) => Some(value.to_owned()),
        }
    }

    /// Like [`text`](Self::text), then checked by `rule`, whose message is shown as is.
    pub fn checked(&mut self, name: &str, rule: impl FnOnce(&str) -> Result<(), String>) -> Option<String> {
        let value = self.text(name)?;
        match rule(&value) {
            Ok(()) => Some(value),
            Err(message) => {
                self.errors.add(name, message);
                None
            }
        }
    }

    pub fn secret(&mut self, name: &str) -> Option<SecretString> {
        self.text(name).map(SecretString::from)
    }

    pub fn checked_secret(
        &mut self,
        name: &str,
        rule: impl FnOnce(&str) -> Result<(), String>,
    ) -> Option<SecretString> {
        self.checked(name, rule).map(SecretString::from)
    }

    /// A select: the value must be one of the spec's options; absent means `default`.
    pub fn choice(&mut self, name: &str, default: &'static str) -> &'static str {
        let spec = self.spec(name);
        match self.raw.get(name) {
            None => default,
            Some(value) => match spec.options().iter().find(|(v, _)| *v == value) {
                Some((v, _)) => v,
                None => {
                    let allowed: Vec<&str> = spec.options().iter().map(|(v, _)| *v).collect();
                    self.errors.add(name, format!("{} must be one of: {}.", spec.label, allowed.join(", ")));
                    default
                }
            },
        }
    }

    /// A checkbox: "on", "true", "1" or "yes" is ticked; absent is not.
    pub fn flag(&mut self, name: &str) -> bool {
        let spec = self.spec(name);
        match self.raw.get(name).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0" | "no" | "off") => false,
            Some("on" | "true" | "1" | "yes") => true,
            Some(_) => {
                self.errors.add(name, format!("{} must be true or false.", spec.label));
                false
            }
        }
    }

    pub fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
        &mut self,
        name: &str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> T {
        let spec = self.spec(name);
        let Some(value) = self.text(name) else { return default };
        match value.parse::<T>() {
            Ok(n) if range.contains(&n) => n,
            _ => {
                self.errors
                    .add(name, format!("{} must be a number from {} to {}.", spec.label, range.start(), range.end()));
                default
            }
        }
    }

    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        self.errors.add(name, message);
    }

    pub fn has_error(&self, name: &str) -> bool {
        self.errors.get(name).is_some()
    }

    /// Fails when any field had an error; `build` runs only on fully valid input.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, FieldErrors> {
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        build().ok_or_else(|| FieldErrors::single("config", "The configuration is incomplete."))
    }
}

/// Rules shared by several types.
pub mod rules {
    /// A key prefix inside a bucket or container: relative, no `..`, no empty segments.
    pub fn prefix(value: &str) -> Result<(), String> {
        if value.starts_with('/') {
            return Err("Prefix must not start with \"/\" (write backups/prod/, not /backups/prod/).".into());
        }
        if value.split('/').any(|s| s == "." || s == "..") {
            return Err("Prefix must not contain \".\" or \"..\" segments.".into());
        }
        if value.trim_end_matches('/').split('/').any(str::is_empty) {
            return Err("Prefix must not contain empty segments (\"//\").".into());
        }
        if value.chars().any(|c| c == '\\') {
            return Err("Prefix must use \"/\" as the separator.".into());
        }
        Ok(())
    }

    pub fn http_url(value: &str) -> Result<(), String> {
        match url::Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                if url.query().is_some() || url.fragment().is_some() {
                    Err("Endpoint must not have a query string or fragment.".into())
                } else {
                    Ok(())
                }
            }
            Ok(_) => Err("Endpoint must be an http:// or https:// URL with a host.".into()),
            Err(e) => Err(format!("Endpoint is not a valid URL ({e}).")),
        }
    }

    /// Letters, digits and the given punctuation only.
    pub fn charset(label: &str, value: &str, extra: &str) -> Result<(), String> {
        if value.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c)) {
            Ok(())
        } else if extra.is_empty() {
            Err(format!("{label} may contain only letters and digits."))
        } else {
            let shown: Vec<String> = extra.chars().map(|c| format!("\"{c}\"")).collect();
            Err(format!("{label} may contain only letters, digits and {}.", shown.join(" ")))
        }
    }

    pub fn no_whitespace(label: &str, value: &str) -> Result<(), String> {
        if value.chars().any(char::is_whitespace) { Err(format!("{label} must not contain spaces.")) } else { Ok(()) }
    }

    pub fn length(label: &str, value: &str, range: std::ops::RangeInclusive<usize>) -> Result<(), String> {
        let n = value.chars().count();
        if range.contains(&n) {
            Ok(())
        } else {
            Err(format!("{label} must be {} to {} characters long.", range.start(), range.end()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[FieldSpec] =
        &[FieldSpec::text("bucket", "Bucket").required().max_len(5), FieldSpec::secret("key", "Key")];

    #[test]
    fn reader_reports_missing_and_too_long() {
        let raw = RawFields::new();
        let mut r = FieldReader::new(&raw, SPECS);
        assert_eq!(r.text("bucket"), None);
        let errors = r.finish(|| Some(())).expect_err("missing bucket");
        assert_eq!(errors.get("bucket"), Some("Bucket is required."));

        let raw = RawFields::from_pairs([("bucket", "toolong")]);
        let mut r = FieldReader::new(&raw, SPECS);
        r.text("bucket");
        assert!(r.finish(|| Some(())).expect_err("too long").get("bucket").is_some());
    }

    #[test]
    fn split_keeps_known_fields_and_separates_secrets() {
        let raw = RawFields::from_pairs([("bucket", "b"), ("key", "s3cr3t"), ("other", "x")]);
        let (settings, secrets) = raw.split(SPECS);
        assert_eq!(settings.to_json(), r#"{"bucket":"b"}"#);
        assert_eq!(secrets.to_json(), r#"{"key":"s3cr3t"}"#);
        assert!(!format!("{raw:?}").contains("s3cr3t"));
    }

    #[test]
    fn prefix_rule() {
        assert!(rules::prefix("backups/prod/").is_ok());
        assert!(rules::prefix("/abs").is_err());
        assert!(rules::prefix("a/../b").is_err());
        assert!(rules::prefix("a//b").is_err());
    }
}
