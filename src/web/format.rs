//! Values as a page writes them: sizes in binary units, ids placed in HTML without a second
//! escaping pass. Times are [`super::time`]'s.

/// `512 B`, `1.5 KiB`, `3.2 GiB`: one decimal from KiB up.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// An id shown in HTML as it is, without the escaper's pass: ids are UUIDs (letters, digits and
/// hyphens), and anything else is escaped once, here.
pub struct HtmlId<'a>(std::borrow::Cow<'a, str>);

impl<'a> HtmlId<'a> {
    pub fn new(id: &'a str) -> HtmlId<'a> {
        if id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            HtmlId(std::borrow::Cow::Borrowed(id))
        } else {
            HtmlId(std::borrow::Cow::Owned(
                askama::filters::escape(id, askama::filters::Html)
                    .map_or_else(|_| String::new(), |escaped| escaped.to_string()),
            ))
        }
    }
}

impl std::fmt::Display for HtmlId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for HtmlId<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    #[test]
    fn ids_other_than_uuids_are_escaped() {
        assert_eq!(HtmlId::new("3f2a-09").to_string(), "3f2a-09");
        assert!(!HtmlId::new("<a>").to_string().contains('<'));
    }
}
