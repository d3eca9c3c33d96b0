//! What a destination is beyond its provider's config: a name that parses and a status.

/// A destination's name (and a plan's, a server's): 1–100 characters, none of them hidden (see
/// `crate::text`), unique (case-insensitively) in a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationName(String);

impl DestinationName {
    pub fn parse(value: &str) -> Result<DestinationName, String> {
        crate::fields::rules::name(value).map(|n| DestinationName(n.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Testing,
    Failed,
    Disabled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Testing => "testing",
            Status::Failed => "failed",
            Status::Disabled => "disabled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::Testing => "Testing",
            Status::Failed => "Failed",
            Status::Disabled => "Disabled",
        }
    }

    /// Unknown text reads as Failed: a row we cannot interpret must not look healthy.
    pub fn from_db(value: &str) -> Status {
        match value {
            "active" => Status::Active,
            "testing" => Status::Testing,
            "disabled" => Status::Disabled,
            _ => Status::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(DestinationName::parse("  ").is_err());
        assert!(DestinationName::parse(&"x".repeat(101)).is_err());
        assert!(DestinationName::parse("a\u{7}b").is_err());
        assert!(DestinationName::parse("invoice\u{202E}fdp.exe").is_err_and(|m| m.contains("U+202E")));
        assert_eq!(DestinationName::parse(" Prod S3 ").map(|n| n.0), Ok("Prod S3".into()));
    }
}
