//! Text that one person types and others read: names in lists and in the audit log. A name may
//! not hide characters — control characters (Unicode category Cc: NUL, newlines, escapes) or
//! format characters (Cf: bidi overrides such as U+202E that make "exe.txt" read "txt.exe",
//! zero-width spaces such as U+200B that make two names look alike).

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Refuses the first control or format character of `value`, naming its code point; `what` is
/// the field as the message names it ("the name").
pub fn refuse_hidden(value: &str, what: &str) -> Result<(), String> {
    let hidden =
        value.chars().find(|c| matches!(c.general_category(), GeneralCategory::Control | GeneralCategory::Format));
    match hidden {
        None => Ok(()),
        Some(c) => Err(format!(
            "Remove U+{:04X} from {what}: control and formatting characters (invisible, or reordering the text \
             around them) are not allowed.",
            u32::from(c)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::refuse_hidden;

    #[test]
    fn control_and_format_characters_are_named() {
        assert_eq!(refuse_hidden("Prod S3 – Zürich 🚀", "the name"), Ok(()));
        for (text, code) in [
            ("a\u{202E}b", "U+202E"),
            ("a\u{200B}b", "U+200B"),
            ("a\0b", "U+0000"),
            ("a\nb", "U+000A"),
            ("\u{FEFF}a", "U+FEFF"),
            ("a\u{2066}b", "U+2066"),
        ] {
            let message = refuse_hidden(text, "the name").expect_err(text);
            assert!(message.starts_with(&format!("Remove {code} from the name")), "{message}");
        }
    }
}
