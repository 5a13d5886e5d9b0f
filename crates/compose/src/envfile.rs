//! `.env` files: `KEY=VALUE` lines, `#` comments, quotes, `export ` prefixes.

use std::collections::BTreeMap;

use crate::error::{ComposeError, Diagnostic};

/// Parses `.env` syntax. A line with only a name (`KEY`) sets nothing.
pub fn parse_env_file(name: &str, content: &str) -> Result<BTreeMap<String, String>, ComposeError> {
    let mut vars = BTreeMap::new();
    let fail = |line: usize, key: &str, message: String| {
        ComposeError::InvalidValue(Diagnostic {
            file: name.to_string(),
            line,
            key: key.to_string(),
            message,
        })
    };
    for (i, raw) in content.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            if !valid_name(line) {
                return Err(fail(line_no, line, "expected KEY=VALUE".into()));
            }
            continue;
        };
        let key = key.trim();
        if !valid_name(key) {
            return Err(fail(
                line_no,
                key,
                format!("{key:?} is not a variable name"),
            ));
        }
        let value = unquote(value.trim()).map_err(|m| fail(line_no, key, m))?;
        vars.insert(key.to_string(), value);
    }
    Ok(vars)
}

fn valid_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn unquote(v: &str) -> Result<String, String> {
    if let Some(body) = v.strip_prefix('\'') {
        let Some(end) = body.find('\'') else {
            return Err("unterminated single quote".into());
        };
        return Ok(body[..end].to_string());
    }
    if let Some(body) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Ok(out),
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(c) => out.push(c),
                    None => break,
                },
                c => out.push(c),
            }
        }
        return Err("unterminated double quote".into());
    }
    // Unquoted: an inline comment starts at a blank followed by `#`.
    let end = v
        .char_indices()
        .find(|&(i, c)| c == '#' && v[..i].ends_with([' ', '\t']))
        .map_or(v.len(), |(i, _)| i);
    Ok(v[..end].trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_parse_comments_quotes_and_export() {
        let text = "# comment\n\nA=1\nexport B = two words \nC='single # kept'\nD=\"dq \\\"x\\\"\\n\"\nE=v # trailing\nF=\nG=a#b\nONLY_NAME\n";
        let v = parse_env_file(".env", text).unwrap();
        assert_eq!(v["A"], "1");
        assert_eq!(v["B"], "two words");
        assert_eq!(v["C"], "single # kept");
        assert_eq!(v["D"], "dq \"x\"\n");
        assert_eq!(v["E"], "v");
        assert_eq!(v["F"], "");
        assert_eq!(v["G"], "a#b");
        assert!(!v.contains_key("ONLY_NAME"));
    }

    #[test]
    fn env_file_errors_name_file_line_and_key() {
        let err = parse_env_file("prod.env", "A=1\nB='open\n").unwrap_err();
        assert_eq!(err.to_string(), "prod.env:2: B: unterminated single quote");
        let err = parse_env_file("prod.env", "1X=2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "prod.env:1: 1X: \"1X\" is not a variable name"
        );
    }
}
