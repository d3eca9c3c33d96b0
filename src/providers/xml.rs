//! Just enough XML for the storage services' list answers: an element's text, unescaped.

/// The text of the first `<name>…</name>` in `text` (None for a missing or self-closed one).
pub fn field(text: &str, name: &str) -> Option<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let from = text.find(&open)? + open.len();
    let to = from + text[from..].find(&close)?;
    Some(unescape(&text[from..to]))
}

/// Each `<name>…</name>` element's inner text, in order.
pub fn elements<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    text.split(open.as_str()).skip(1).filter_map(|rest| rest.split(close.as_str()).next()).collect()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_of_elements() {
        let body = "<R><Next/><Item><Key>a&amp;b</Key></Item><Item><Key>c</Key></Item></R>";
        let keys: Vec<_> = elements(body, "Item").into_iter().filter_map(|i| field(i, "Key")).collect();
        assert_eq!(keys, ["a&b", "c"]);
        assert_eq!(field(body, "Next"), None);
    }
}
