//! Field values as submitted and the messages for the fields that are wrong.

use super::FieldSpec;
use std::collections::BTreeMap;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::FieldSpec;

    const SPECS: &[FieldSpec] =
        &[FieldSpec::text("bucket", "Bucket").required().max_len(5), FieldSpec::secret("key", "Key")];

    #[test]
    fn split_keeps_known_fields_and_separates_secrets() {
        let raw = RawFields::from_pairs([("bucket", "b"), ("key", "s3cr3t"), ("other", "x")]);
        let (settings, secrets) = raw.split(SPECS);
        assert_eq!(settings.to_json(), r#"{"bucket":"b"}"#);
        assert_eq!(secrets.to_json(), r#"{"key":"s3cr3t"}"#);
        assert!(!format!("{raw:?}").contains("s3cr3t"));
    }
}
