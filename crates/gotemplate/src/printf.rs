//! Go's `fmt.Sprint`, `fmt.Sprintln` and `fmt.Sprintf` over [`Value`]s,
//! for the verbs templates use: `%v %s %d %q %t %f %e %g %x %X %o %b %c %T %%`,
//! with flags, width and precision.

use crate::value::{Value, format_float_v};

/// `fmt.Sprint`: spaces between operands when neither is a string.
pub(crate) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Value| matches!(v, Value::String(_));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&a.to_string());
    }
    out
}

/// `fmt.Sprintln`: spaces between all operands and a final newline.
pub(crate) fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(ToString::to_string).collect();
    parts.join(" ") + "\n"
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf`. Mismatches print as Go does: `%!d(string=x)`,
/// `%!s(MISSING)`, `%!(EXTRA int=1)`.
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = number(&mut chars, args, &mut next);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars, args, &mut next).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            Some(arg) => {
                next += 1;
                out.push_str(&format_one(verb, &spec, arg));
            }
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={a}", a.type_name()))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn number(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    args: &[Value],
    next: &mut usize,
) -> Option<usize> {
    if chars.peek() == Some(&'*') {
        chars.next();
        let v = match args.get(*next) {
            Some(Value::Int(i)) => usize::try_from(*i).ok(),
            _ => None,
        };
        *next += 1;
        return v.map(|v| v.min(1 << 20));
    }
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        chars.next();
        n = Some((n.unwrap_or(0) * 10 + d as usize).min(1 << 20));
    }
    n
}

fn format_one(verb: char, spec: &Spec, arg: &Value) -> String {
    let body = match (verb, arg) {
        ('v', Value::Float(f)) if spec.prec.is_some() => float(f, 'g', spec),
        ('v', _) | ('s', Value::String(_) | Value::List(_) | Value::Map(_)) => arg.to_string(),
        (_, Value::Null) => format!("%!{verb}(<nil>)"),
        ('T', v) => v.type_name().into(),
        ('t', Value::Bool(b)) => b.to_string(),
        ('d', Value::Int(i)) => signed(*i, i.unsigned_abs().to_string(), spec),
        ('b', Value::Int(i)) => signed(*i, format!("{:b}", i.unsigned_abs()), spec),
        ('o', Value::Int(i)) => signed(*i, format!("{:o}", i.unsigned_abs()), spec),
        ('x', Value::Int(i)) => signed(*i, format!("{:x}", i.unsigned_abs()), spec),
        ('X', Value::Int(i)) => signed(*i, format!("{:X}", i.unsigned_abs()), spec),
        ('c', Value::Int(i)) => u32::try_from(*i)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}')
            .to_string(),
        ('q', Value::Int(i)) => {
            let c = u32::try_from(*i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            format!("'{}'", quote_body(&c.to_string(), '\''))
        }
        ('x', Value::String(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Value::String(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        ('q', Value::String(s)) => quote(&truncate(s, spec.prec)),
        ('e' | 'E' | 'f' | 'F' | 'g' | 'G', Value::Float(f)) => float(f, verb, spec),
        _ => return format!("%!{verb}({}={arg})", arg.type_name()),
    };
    let body = match (verb, arg) {
        ('s' | 'v', Value::String(s)) => truncate(s, spec.prec),
        _ => body,
    };
    pad(body, spec, matches!(arg, Value::Int(_) | Value::Float(_)))
}

fn truncate(s: &str, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    }
}

fn signed(i: i64, digits: String, spec: &Spec) -> String {
    let digits = match spec.prec {
        Some(p) if digits.len() < p => "0".repeat(p - digits.len()) + &digits,
        _ => digits,
    };
    let sign = if i < 0 {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    format!("{sign}{digits}")
}

fn float(f: &f64, verb: char, spec: &Spec) -> String {
    let s = match (verb, spec.prec) {
        ('f' | 'F', p) => format!("{:.*}", p.unwrap_or(6), f),
        ('e' | 'E', p) => go_exp(&format!("{:.*e}", p.unwrap_or(6), f)),
        (_, Some(p)) => format_g(*f, p.max(1)),
        (_, None) => format_float_v(*f),
    };
    let s = if verb.is_uppercase() {
        s.to_uppercase()
    } else {
        s
    };
    if spec.plus && *f >= 0.0 {
        format!("+{s}")
    } else {
        s
    }
}

/// Rust writes `1.5e3`; Go writes `1.5e+03`.
fn go_exp(s: &str) -> String {
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s.to_string(),
    }
}

/// `%.Ng`: N significant digits, exponent form outside [-4, N).
fn format_g(f: f64, prec: usize) -> String {
    let e = format!("{:.*e}", prec - 1, f);
    let exp: i32 = e
        .split_once('e')
        .and_then(|(_, x)| x.parse().ok())
        .unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let (m, _) = e.split_once('e').unwrap_or((&e, ""));
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        return go_exp(&format!("{m}e{exp}"));
    }
    let decimals = usize::try_from(prec as i32 - 1 - exp).unwrap_or(0);
    let s = format!("{:.*}", decimals, f);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn pad(body: String, spec: &Spec, numeric: bool) -> String {
    let Some(width) = spec.width else { return body };
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = width - len;
    if spec.minus {
        return body + &" ".repeat(fill);
    }
    if spec.zero && numeric {
        let (sign, rest) = match body.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (c.to_string(), body[1..].to_string()),
            _ => (String::new(), body.clone()),
        };
        return sign + &"0".repeat(fill) + &rest;
    }
    " ".repeat(fill) + &body
}

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    format!("\"{}\"", quote_body(s, '"'))
}

fn quote_body(s: &str, q: char) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, args: &[Value]) -> String {
        sprintf(fmt, args)
    }

    #[test]
    fn string_precision_truncates_like_the_corpus_uses() {
        assert_eq!(f("%.1s", &["/data".into()]), "/");
        assert_eq!(f("%.1s", &["".into()]), "");
        assert_eq!(f("%.2s", &["héllo".into()]), "hé");
    }

    #[test]
    fn common_verbs_match_go() {
        assert_eq!(
            f(
                "%s-%d-%v-%q",
                &["a".into(), 5.into(), true.into(), "b\"c".into()]
            ),
            "a-5-true-\"b\\\"c\""
        );
        assert_eq!(
            f(
                "%5d|%-4s|%05d|%x|%X",
                &[
                    42.into(),
                    "ab".into(),
                    (-42).into(),
                    255.into(),
                    "hi".into()
                ]
            ),
            "   42|ab  |-0042|ff|6869"
        );
        assert_eq!(
            f("%.2f %e %g", &[1.23456.into(), 1500.0.into(), 0.5.into()]),
            "1.23 1.500000e+03 0.5"
        );
        assert_eq!(f("100%%", &[]), "100%");
    }

    #[test]
    fn mismatches_print_go_markers() {
        assert_eq!(f("%d", &["x".into()]), "%!d(string=x)");
        assert_eq!(f("%s %s", &["x".into()]), "x %!s(MISSING)");
        assert_eq!(f("%s", &["x".into(), 1.into()]), "x%!(EXTRA int=1)");
    }

    #[test]
    fn print_spaces_only_between_non_strings() {
        assert_eq!(sprint(&[1.into(), 2.into(), "a".into(), 3.into()]), "1 2a3");
        assert_eq!(sprintln(&["a".into(), 1.into()]), "a 1\n");
        assert_eq!(sprint(&[Value::Null]), "<nil>");
    }
}
