//! Rules shared by several types' fields.

/// A name people give a thing (a destination, a plan, a server), trimmed: 1–100 characters,
/// none of them hidden (see `crate::text`).
pub fn name(value: &str) -> Result<&str, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("Name is required.".into());
    }
    if value.chars().count() > 100 {
        return Err("Name must be at most 100 characters.".into());
    }
    crate::text::refuse_hidden(value, "the name")?;
    Ok(value)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_rule() {
        assert!(prefix("backups/prod/").is_ok());
        assert!(prefix("/abs").is_err());
        assert!(prefix("a/../b").is_err());
        assert!(prefix("a//b").is_err());
    }
}
