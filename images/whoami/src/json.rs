//! A hand-written JSON writer: just strings, arrays and objects.

use std::fmt::Write;

/// Appends `s` as a JSON string literal, quotes included (RFC 8259 section 7).
pub fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            // The other control characters, and the two separators that
            // JavaScript (not JSON) treats as line ends.
            c if c < ' ' || c == '\u{2028}' || c == '\u{2029}' || c == '\u{7f}' => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `["a","b"]`.
pub fn push_string_array<'a>(out: &mut String, items: impl IntoIterator<Item = &'a str>) {
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(out, item);
    }
    out.push(']');
}

/// Appends `"key":` (after a comma unless it is the object's first member).
pub fn push_key(out: &mut String, key: &str, first: bool) {
    if !first {
        out.push(',');
    }
    push_string(out, key);
    out.push(':');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        push_string(&mut out, s);
        out
    }

    #[test]
    fn strings_escape_quotes_backslashes_and_control_characters() {
        assert_eq!(quoted("plain"), r#""plain""#);
        assert_eq!(quoted(r#"a "q" \ b"#), r#""a \"q\" \\ b""#);
        assert_eq!(quoted("l1\nl2\r\t"), r#""l1\nl2\r\t""#);
        assert_eq!(
            quoted("\u{0}\u{1f}\u{08}\u{0c}\u{7f}"),
            r#""\u0000\u001f\b\f\u007f""#
        );
        assert_eq!(quoted("\u{2028}"), r#""\u2028""#);
    }

    #[test]
    fn strings_keep_non_ascii_text() {
        assert_eq!(quoted("héllo ☃ 😀"), "\"héllo ☃ 😀\"");
    }

    #[test]
    fn arrays_and_keys_are_comma_separated() {
        let mut out = String::from("{");
        push_key(&mut out, "a", true);
        push_string_array(&mut out, ["x", "y\""]);
        push_key(&mut out, "b", false);
        push_string_array(&mut out, []);
        out.push('}');
        assert_eq!(out, r#"{"a":["x","y\""],"b":[]}"#);
    }
}
