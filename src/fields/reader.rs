//! Reading fields by their spec into typed values, collecting every error.

use super::{FieldErrors, FieldSpec, Input, RawFields};
use secrecy::SecretString;

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
}
