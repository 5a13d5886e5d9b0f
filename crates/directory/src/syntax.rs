//! The bits of LDAP text syntax this crate needs: escaping a value for a
//! search filter (RFC 4515), filling a filter template, a shape check of
//! filters, and parsing distinguished names (RFC 4514).

/// Escapes `value` for use as an assertion value in a search filter
/// (RFC 4515 section 3): `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`,
/// `\29`, `\5c` and `\00`, so a login name can never add wildcards or
/// filter components.
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// Fills a filter template in one pass: each `{name}` found in `values` is
/// replaced by its value escaped with [`escape_filter_value`]; any other
/// text is kept. One pass means a value that itself contains `{dn}` or
/// `{0}` is never expanded again.
pub fn fill_filter(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let hit = values.iter().find(|(name, _)| {
            after
                .strip_prefix('{')
                .and_then(|s| s.strip_prefix(name))
                .is_some_and(|s| s.starts_with('}'))
        });
        match hit {
            Some((name, value)) => {
                out.push_str(&escape_filter_value(value));
                rest = &after[name.len() + 2..];
            }
            None => {
                out.push('{');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Checks the outer shape of a search filter: it is one parenthesised
/// filter, `(` ... `)`, whose parentheses balance.
pub(crate) fn check_filter(filter: &str) -> Result<(), String> {
    let filter = filter.trim();
    if filter.is_empty() {
        return Err("is empty".to_owned());
    }
    if !filter.starts_with('(') || !filter.ends_with(')') {
        return Err(format!("{filter:?} must be enclosed in parentheses"));
    }
    let mut depth = 0usize;
    let last = filter.len() - 1;
    for (i, c) in filter.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("{filter:?} has an unbalanced ')' at {i}"))?;
                if depth == 0 && i != last {
                    return Err(format!(
                        "{filter:?} is several filters side by side: combine them with (&...) or (|...)"
                    ));
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("{filter:?} has an unbalanced '('"));
    }
    Ok(())
}

/// One `attr=value` of an RDN, the value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ava {
    pub attr: String,
    pub value: String,
}

/// Parses a distinguished name: comma-separated RDNs, each one or more
/// `attr=value` joined by `+`; `attr` a name (`cn`, `sAMAccountName`) or a
/// numeric OID (`2.5.4.3`); values may escape characters as `\,` or `\2C`,
/// or be `#` followed by hex. Spaces around separators are tolerated, as
/// servers do. An empty DN is an empty list.
pub fn parse_dn(dn: &str) -> Result<Vec<Vec<Ava>>, String> {
    let mut rdns = Vec::new();
    if dn.trim().is_empty() {
        return Ok(rdns);
    }
    let mut rdn = Vec::new();
    let mut chars = dn.chars().peekable();
    loop {
        let attr = read_attr(&mut chars)?;
        let value = read_value(&mut chars, &attr)?;
        rdn.push(Ava { attr, value });
        match chars.next() {
            None => {
                rdns.push(rdn);
                return Ok(rdns);
            }
            Some(',' | ';') => rdns.push(std::mem::take(&mut rdn)),
            Some('+') => {}
            Some(c) => return Err(format!("unexpected {c:?}")),
        }
    }
}

/// The value of the first attribute of the first RDN: `devs` for
/// `cn=devs,ou=groups,dc=corral,dc=test`.
pub fn first_rdn_value(dn: &str) -> Option<String> {
    let rdns = parse_dn(dn).ok()?;
    let ava = rdns.into_iter().next()?.into_iter().next()?;
    Some(ava.value)
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_spaces(chars: &mut Chars<'_>) {
    while chars.next_if(|c| *c == ' ').is_some() {}
}

fn read_attr(chars: &mut Chars<'_>) -> Result<String, String> {
    skip_spaces(chars);
    let mut attr = String::new();
    while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.') {
        attr.push(c);
    }
    skip_spaces(chars);
    if chars.next() != Some('=') {
        return Err(if attr.is_empty() {
            "an RDN must be attr=value".to_owned()
        } else {
            format!("{attr:?} must be followed by '='")
        });
    }
    let first = attr.chars().next().unwrap_or('-');
    let valid = if first.is_ascii_digit() {
        // numericoid: number 1*( "." number )
        attr.split('.').count() >= 2
            && attr
                .split('.')
                .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    } else {
        // descr: ALPHA *( ALPHA / DIGIT / "-" )
        first.is_ascii_alphabetic() && !attr.contains('.')
    };
    if !valid {
        return Err(format!("{attr:?} is not an attribute name or OID"));
    }
    Ok(attr)
}

fn read_value(chars: &mut Chars<'_>, attr: &str) -> Result<String, String> {
    skip_spaces(chars);
    if chars.next_if(|c| *c == '#').is_some() {
        return read_hex_value(chars, attr);
    }
    let mut bytes = Vec::new();
    // Length of `bytes` up to the last escaped or non-space character:
    // unescaped trailing spaces are not part of the value.
    let mut keep = 0;
    while let Some(&c) = chars.peek() {
        match c {
            ',' | ';' | '+' => break,
            '"' | '<' | '>' => {
                return Err(format!("{c:?} in the value of {attr} must be escaped"));
            }
            // RFC 4514 allows it, but in a configured DN it is nearly always
            // a missing comma (`cn=admin dc=example`).
            '=' => {
                return Err(format!(
                    "'=' in the value of {attr} must be escaped (a missing comma?)"
                ));
            }
            '\\' => {
                chars.next();
                let escaped = chars
                    .next()
                    .ok_or_else(|| format!("the value of {attr} ends with a lone '\\'"))?;
                if escaped.is_ascii_hexdigit() {
                    let low = chars
                        .next()
                        .filter(char::is_ascii_hexdigit)
                        .ok_or_else(|| format!("bad hex escape in the value of {attr}"))?;
                    bytes.push(hex_byte(escaped, low));
                } else if " \"#+,;<=>\\".contains(escaped) {
                    push_char(&mut bytes, escaped);
                } else {
                    return Err(format!(
                        "'\\{escaped}' in the value of {attr} is not a valid escape"
                    ));
                }
                keep = bytes.len();
            }
            c => {
                chars.next();
                push_char(&mut bytes, c);
                if c != ' ' {
                    keep = bytes.len();
                }
            }
        }
    }
    bytes.truncate(keep);
    if bytes.is_empty() {
        return Err(format!("{attr} has an empty value"));
    }
    String::from_utf8(bytes).map_err(|_| format!("the value of {attr} is not UTF-8"))
}

fn read_hex_value(chars: &mut Chars<'_>, attr: &str) -> Result<String, String> {
    let mut hex = String::new();
    while let Some(c) = chars.next_if(char::is_ascii_hexdigit) {
        hex.push(c);
    }
    skip_spaces(chars);
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return Err(format!(
            "the #hex value of {attr} needs pairs of hex digits"
        ));
    }
    // The BER encoding is kept as written: it is only checked, not decoded.
    Ok(format!("#{hex}"))
}

fn push_char(bytes: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

fn hex_byte(high: char, low: char) -> u8 {
    let digit = |c: char| c.to_digit(16).unwrap_or(0) as u8;
    digit(high) << 4 | digit(low)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn injected_login_cannot_widen_the_user_filter() {
        let filter = fill_filter("(uid={0})", &[("0", "*)(uid=*")]);
        assert_eq!(filter, "(uid=\\2a\\29\\28uid=\\2a)");
        // Still one equality filter: the only parentheses are the template's.
        assert_eq!(filter.matches('(').count(), 1);
        assert_eq!(filter.matches(')').count(), 1);
        assert!(!filter.contains('*'));
    }

    #[test]
    fn every_rfc4515_special_character_is_escaped() {
        assert_eq!(
            escape_filter_value("a*b(c)d\\e\0f"),
            "a\\2ab\\28c\\29d\\5ce\\00f"
        );
        assert_eq!(escape_filter_value("jörg.o'neil"), "jörg.o'neil");
    }

    #[test]
    fn filter_values_are_not_expanded_twice() {
        let filter = fill_filter(
            "(|(member={dn})(memberUid={0}))",
            &[("dn", "uid=x,dc=t"), ("0", "{dn}")],
        );
        assert_eq!(filter, "(|(member=uid=x,dc=t)(memberUid={dn}))");
    }

    #[test]
    fn unknown_placeholders_are_kept() {
        assert_eq!(fill_filter("(a={1}){", &[("0", "x")]), "(a={1}){");
    }

    #[test]
    fn filter_shape_is_checked() {
        assert!(check_filter("(uid={0})").is_ok());
        assert!(check_filter("(&(objectClass=person)(|(uid={0})(mail={0})))").is_ok());
        assert!(check_filter("uid={0}").is_err());
        assert!(check_filter("(uid={0}").is_err());
        assert!(check_filter("(uid={0}))").is_err());
        assert!(check_filter("(a=1))(b=2)").is_err());
        assert!(check_filter("(a=1)(b=2)").is_err());
        assert!(check_filter("").is_err());
    }

    #[test]
    fn valid_dns_parse() {
        let dn = parse_dn("cn=Smith\\, John+uid=js,OU=people, dc=corral,2.5.4.10=x\\2Cy").unwrap();
        assert_eq!(dn.len(), 4);
        assert_eq!(dn[0].len(), 2);
        assert_eq!(dn[0][0].value, "Smith, John");
        assert_eq!(dn[0][1].attr, "uid");
        assert_eq!(dn[3][0].attr, "2.5.4.10");
        assert_eq!(dn[3][0].value, "x,y");
        assert!(parse_dn("CN=Domain Users,CN=Users,DC=corp,DC=example,DC=com").is_ok());
        assert!(parse_dn("cn=#04024869").is_ok());
        assert!(parse_dn("cn=J\\C3\\B6rg").is_ok());
        assert!(parse_dn("").unwrap().is_empty());
    }

    #[test]
    fn malformed_dns_are_refused() {
        for bad in [
            "admin",
            "cn=admin,",
            "cn=admin,,dc=x",
            "=admin",
            "cn=",
            "c n=admin",
            "1cn=x",
            "1.=x",
            "cn=a\"b",
            "cn=a<b",
            "cn=a\\",
            "cn=a\\zz",
            "cn=a\\4",
            "cn=#abc",
            "cn=\\FF",
            "cn=admin dc=x",
        ] {
            assert!(parse_dn(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn first_rdn_value_is_unescaped() {
        assert_eq!(
            first_rdn_value("cn=devs,ou=groups,dc=corral,dc=test").as_deref(),
            Some("devs")
        );
        assert_eq!(
            first_rdn_value("CN=Sales\\, EMEA,OU=Groups,DC=corp").as_deref(),
            Some("Sales, EMEA")
        );
        assert_eq!(
            first_rdn_value("cn=trailing\\ ").as_deref(),
            Some("trailing ")
        );
        assert_eq!(first_rdn_value("not a dn"), None);
    }
}
