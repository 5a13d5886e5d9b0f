//! sprig's string functions. Note sprig's argument order: the string being
//! worked on comes last, so that it can be piped (`.x | replace "a" "b"`).

use std::collections::BTreeMap;

use super::{MAX_LIST, MAX_STRING, strval};
use crate::funcs::{FnError, FnResult, Func, exact, int_arg, str_arg};
use crate::printf::quote;
use crate::value::Value;

pub(super) fn lookup(name: &str) -> Option<Func> {
    let f: Func = match name {
        "trim" => |a| s1(a, |s| s.trim_matches(char::is_whitespace).to_string()),
        "upper" => |a| s1(a, str::to_uppercase),
        "lower" => |a| s1(a, str::to_lowercase),
        "title" => |a| s1(a, title),
        "untitle" => |a| s1(a, untitle),
        "nospace" => |a| s1(a, |s| s.chars().filter(|c| !c.is_whitespace()).collect()),
        "b64enc" => |a| s1(a, |s| b64enc(s.as_bytes())),
        "b64dec" => b64dec_fn,
        "trimAll" => |a| s2(a, |cut, s| s.trim_matches(|c| cut.contains(c)).to_string()),
        "trimPrefix" => |a| s2(a, |p, s| s.strip_prefix(p).unwrap_or(s).to_string()),
        "trimSuffix" => |a| s2(a, |p, s| s.strip_suffix(p).unwrap_or(s).to_string()),
        "contains" => |a| b2(a, |sub, s| s.contains(sub)),
        "hasPrefix" => |a| b2(a, |p, s| s.starts_with(p)),
        "hasSuffix" => |a| b2(a, |p, s| s.ends_with(p)),
        "replace" => replace,
        "repeat" => repeat,
        "substr" => substr,
        "trunc" => trunc,
        "indent" => |a| indent(a, false),
        "nindent" => |a| indent(a, true),
        "quote" => |a| {
            Ok(Value::String(
                non_nil(a)
                    .map(|v| quote(&strval(v)))
                    .collect::<Vec<_>>()
                    .join(" "),
            ))
        },
        "squote" => |a| {
            Ok(Value::String(
                non_nil(a)
                    .map(|v| format!("'{}'", strval(v)))
                    .collect::<Vec<_>>()
                    .join(" "),
            ))
        },
        "cat" => |a| {
            Ok(Value::String(
                non_nil(a).map(strval).collect::<Vec<_>>().join(" "),
            ))
        },
        "split" => |a| split_fn(a, true),
        "splitList" => |a| split_fn(a, false),
        "splitn" => splitn,
        "join" => join,
        _ => return None,
    };
    Some(f)
}

fn non_nil(args: &[Value]) -> impl Iterator<Item = &Value> {
    args.iter().filter(|v| !matches!(v, Value::Null))
}

fn s1(args: &[Value], f: fn(&str) -> String) -> FnResult {
    Ok(Value::String(f(str_arg(&exact(args, 1)?[0])?)))
}

fn s2(args: &[Value], f: fn(&str, &str) -> String) -> FnResult {
    let a = exact(args, 2)?;
    Ok(Value::String(f(str_arg(&a[0])?, str_arg(&a[1])?)))
}

fn b2(args: &[Value], f: fn(&str, &str) -> bool) -> FnResult {
    let a = exact(args, 2)?;
    Ok(Value::Bool(f(str_arg(&a[0])?, str_arg(&a[1])?)))
}

fn too_long(len: usize) -> Result<(), FnError> {
    if len > MAX_STRING {
        return Err(FnError::Call(format!(
            "result would be {len} bytes, over the limit of {MAX_STRING}"
        )));
    }
    Ok(())
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let mut prev_sep = true;
    s.chars()
        .map(|c| {
            let out = if prev_sep {
                c.to_uppercase().next().unwrap_or(c)
            } else {
                c
            };
            prev_sep = !(c.is_alphanumeric() || c == '_');
            out
        })
        .collect()
}

fn untitle(s: &str) -> String {
    let mut prev_space = true;
    s.chars()
        .map(|c| {
            let out = if prev_space {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                c
            };
            prev_space = c.is_whitespace();
            out
        })
        .collect()
}

/// `replace OLD NEW STRING`: every occurrence.
fn replace(args: &[Value]) -> FnResult {
    let a = exact(args, 3)?;
    let (old, new, s) = (str_arg(&a[0])?, str_arg(&a[1])?, str_arg(&a[2])?);
    let count = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    too_long(s.len().saturating_add(count.saturating_mul(new.len())))?;
    Ok(Value::String(s.replace(old, new)))
}

/// `repeat COUNT STRING`.
fn repeat(args: &[Value]) -> FnResult {
    let a = exact(args, 2)?;
    let (n, s) = (int_arg(&a[0])?, str_arg(&a[1])?);
    let n =
        usize::try_from(n).map_err(|_| FnError::Call("strings: negative Repeat count".into()))?;
    too_long(n.saturating_mul(s.len()))?;
    Ok(Value::String(s.repeat(n)))
}

/// The largest char boundary at or below `i`.
fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `substr START END STRING` (byte offsets; a negative START means 0, a
/// negative or too large END means the end).
fn substr(args: &[Value]) -> FnResult {
    let a = exact(args, 3)?;
    let (start, end, s) = (int_arg(&a[0])?, int_arg(&a[1])?, str_arg(&a[2])?);
    let start = usize::try_from(start).unwrap_or(0);
    let end = usize::try_from(end)
        .ok()
        .filter(|e| *e <= s.len())
        .unwrap_or(s.len());
    if start > end {
        return Err(FnError::Call(format!(
            "slice bounds out of range [{start}:{end}]"
        )));
    }
    Ok(Value::String(
        s[floor_boundary(s, start)..floor_boundary(s, end)].to_string(),
    ))
}

/// `trunc N STRING`: the first N bytes, or the last -N bytes.
fn trunc(args: &[Value]) -> FnResult {
    let a = exact(args, 2)?;
    let (n, s) = (int_arg(&a[0])?, str_arg(&a[1])?);
    let len = s.len() as i64;
    let out = if n < 0 && len + n > 0 {
        &s[floor_boundary(s, (len + n) as usize)..]
    } else if n >= 0 && len > n {
        &s[..floor_boundary(s, n as usize)]
    } else {
        s
    };
    Ok(Value::String(out.to_string()))
}

/// `indent N STRING` / `nindent N STRING`.
fn indent(args: &[Value], newline: bool) -> FnResult {
    let a = exact(args, 2)?;
    let (n, s) = (int_arg(&a[0])?, str_arg(&a[1])?);
    let n = usize::try_from(n).unwrap_or(0);
    let lines = s.matches('\n').count() + 1;
    too_long(s.len().saturating_add(lines.saturating_mul(n)))?;
    let pad = " ".repeat(n);
    let out = format!("{pad}{}", s.replace('\n', &format!("\n{pad}")));
    Ok(Value::String(if newline {
        format!("\n{out}")
    } else {
        out
    }))
}

/// Go's `strings.Split`: an empty separator splits into characters.
fn go_split<'a>(s: &'a str, sep: &str, limit: Option<usize>) -> Vec<&'a str> {
    if sep.is_empty() {
        let mut out: Vec<&str> = Vec::new();
        for (i, c) in s.char_indices() {
            if limit.is_some_and(|l| out.len() + 1 == l) {
                out.push(&s[i..]);
                break;
            }
            out.push(&s[i..i + c.len_utf8()]);
        }
        return out;
    }
    match limit {
        Some(l) => s.splitn(l, sep).collect(),
        None => s.split(sep).collect(),
    }
}

fn parts_value(parts: Vec<&str>, as_map: bool) -> FnResult {
    if parts.len() > MAX_LIST {
        return Err(FnError::Call(format!("more than {MAX_LIST} parts")));
    }
    if as_map {
        let m: BTreeMap<String, Value> = parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| (format!("_{i}"), Value::from(p)))
            .collect();
        return Ok(Value::Map(m));
    }
    Ok(Value::List(parts.into_iter().map(Value::from).collect()))
}

/// `split SEP STRING` gives a map `_0`, `_1`, ...; `splitList` a list.
fn split_fn(args: &[Value], as_map: bool) -> FnResult {
    let a = exact(args, 2)?;
    let (sep, s) = (str_arg(&a[0])?, str_arg(&a[1])?);
    parts_value(go_split(s, sep, None), as_map)
}

/// `splitn SEP N STRING`: at most N parts, as a map.
fn splitn(args: &[Value]) -> FnResult {
    let a = exact(args, 3)?;
    let (sep, n, s) = (str_arg(&a[0])?, int_arg(&a[1])?, str_arg(&a[2])?);
    if n == 0 {
        return Ok(Value::Map(BTreeMap::new()));
    }
    parts_value(go_split(s, sep, usize::try_from(n).ok()), true)
}

/// `join SEP LIST`: elements as strings, nils left out; a non-list is one
/// element.
fn join(args: &[Value]) -> FnResult {
    let a = exact(args, 2)?;
    let sep = str_arg(&a[0])?;
    let parts: Vec<String> = match &a[1] {
        Value::List(l) => non_nil(l).map(strval).collect(),
        Value::Null => Vec::new(),
        other => vec![strval(other)],
    };
    too_long(parts.iter().map(|p| p.len() + sep.len()).sum())?;
    Ok(Value::String(parts.join(sep)))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64enc(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// sprig's `b64dec` returns the error text instead of failing.
fn b64dec_fn(args: &[Value]) -> FnResult {
    let s = str_arg(&exact(args, 1)?[0])?;
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for (i, c) in s.trim_end_matches('=').bytes().enumerate() {
        let Some(v) = B64.iter().position(|b| *b == c) else {
            return Ok(Value::String(format!(
                "illegal base64 data at input byte {i}"
            )));
        };
        bits = (bits << 6) | v as u32;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Ok(Value::String(String::from_utf8_lossy(&out).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::call;
    use super::*;

    #[test]
    fn contains_and_prefixes_take_the_needle_first() {
        assert_eq!(
            call("contains", &["cat".into(), "catch".into()]),
            Ok(true.into())
        );
        // The corpus writes `contains .Values.VOLUME_DRIVER "/"`: true when
        // "/" contains the driver name, as in sprig.
        assert_eq!(
            call("contains", &["local".into(), "/".into()]),
            Ok(false.into())
        );
        assert_eq!(
            call("hasPrefix", &["ab".into(), "abc".into()]),
            Ok(true.into())
        );
        assert_eq!(
            call("hasSuffix", &["bc".into(), "abc".into()]),
            Ok(true.into())
        );
        assert!(call("contains", &[Value::Null, "/".into()]).is_err());
    }

    #[test]
    fn split_gives_underscore_keys_and_splitlist_a_list() {
        let m = call("split", &["$".into(), "a$b".into()]);
        assert_eq!(m, Ok(Value::map([("_0", "a"), ("_1", "b")])));
        assert_eq!(
            call("splitList", &[",".into(), "a,,b".into()]),
            Ok(vec!["a", "", "b"].into())
        );
        assert_eq!(
            call("splitList", &["".into(), "ab".into()]),
            Ok(vec!["a", "b"].into())
        );
        assert_eq!(
            call("splitn", &[",".into(), 2.into(), "a,b,c".into()]),
            Ok(Value::map([("_0", "a"), ("_1", "b,c")]))
        );
    }

    #[test]
    fn string_edits_follow_sprig() {
        assert_eq!(call("trim", &["  a b \n".into()]), Ok("a b".into()));
        assert_eq!(
            call("trimAll", &["$".into(), "$5.00$".into()]),
            Ok("5.00".into())
        );
        assert_eq!(
            call("trimPrefix", &["-".into(), "-x".into()]),
            Ok("x".into())
        );
        assert_eq!(call("upper", &["aé".into()]), Ok("AÉ".into()));
        assert_eq!(
            call("title", &["hello wide-world".into()]),
            Ok("Hello Wide-World".into())
        );
        assert_eq!(
            call("replace", &[" ".into(), "-".into(), "a b c".into()]),
            Ok("a-b-c".into())
        );
        assert_eq!(
            call("repeat", &[3.into(), "ab".into()]),
            Ok("ababab".into())
        );
        assert_eq!(
            call("substr", &[1.into(), 3.into(), "hello".into()]),
            Ok("el".into())
        );
        assert_eq!(
            call("trunc", &[(-2).into(), "hello".into()]),
            Ok("lo".into())
        );
        assert_eq!(
            call("nindent", &[2.into(), "a\nb".into()]),
            Ok("\n  a\n  b".into())
        );
        assert_eq!(
            call("quote", &["a\"".into(), 1.into()]),
            Ok("\"a\\\"\" \"1\"".into())
        );
        assert_eq!(
            call("join", &["-".into(), vec![1, 2].into()]),
            Ok("1-2".into())
        );
        assert_eq!(
            call("cat", &["a".into(), Value::Null, 2.into()]),
            Ok("a 2".into())
        );
    }

    #[test]
    fn huge_results_are_refused() {
        assert!(call("repeat", &[(1i64 << 40).into(), "ab".into()]).is_err());
        assert!(call("repeat", &[(-1).into(), "ab".into()]).is_err());
        assert!(call("indent", &[(1i64 << 40).into(), "a".into()]).is_err());
    }

    #[test]
    fn base64_round_trips() {
        for s in ["", "f", "fo", "foo", "foob", "hello world"] {
            let enc = b64enc(s.as_bytes());
            assert_eq!(call("b64dec", &[enc.into()]), Ok(s.into()));
        }
        assert_eq!(b64enc(b"foob"), "Zm9vYg==");
    }
}
