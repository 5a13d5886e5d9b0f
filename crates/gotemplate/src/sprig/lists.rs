//! sprig's list and dictionary functions, and `until`/`untilStep`/`seq`.

use std::collections::BTreeMap;

use super::{MAX_LIST, strval};
use crate::funcs::{FnError, FnResult, Func, at_least, exact, int_arg, str_arg};
use crate::value::Value;

pub(super) fn lookup(name: &str) -> Option<Func> {
    let f: Func = match name {
        "until" => until,
        "untilStep" => until_step,
        "list" => |a| Ok(Value::List(a.to_vec())),
        "first" => |a| list_op(a, "first", |l| l.first().cloned().unwrap_or(Value::Null)),
        "last" => |a| list_op(a, "last", |l| l.last().cloned().unwrap_or(Value::Null)),
        "rest" => |a| {
            list_op(a, "rest", |l| {
                Value::List(l.iter().skip(1).cloned().collect())
            })
        },
        "initial" => |a| {
            list_op(a, "initial", |l| {
                Value::List(l[..l.len().saturating_sub(1)].to_vec())
            })
        },
        "reverse" => |a| {
            list_op(a, "reverse", |l| {
                Value::List(l.iter().rev().cloned().collect())
            })
        },
        "uniq" => |a| list_op(a, "uniq", uniq),
        "compact" => |a| {
            list_op(a, "compact", |l| {
                Value::List(l.iter().filter(|v| v.truthy()).cloned().collect())
            })
        },
        "sortAlpha" => |a| list_op(a, "sortAlpha", sort_alpha),
        "append" | "push" => append,
        "prepend" => prepend,
        "concat" => concat,
        "has" => has,
        "without" => without,
        "dict" => dict,
        "get" => get,
        "set" => set,
        "unset" => unset,
        "hasKey" => has_key,
        "keys" => keys,
        "values" => |a| map_op(a, |m| Value::List(m.values().cloned().collect())),
        "pick" => |a| pick_omit(a, true),
        "omit" => |a| pick_omit(a, false),
        _ => return None,
    };
    Some(f)
}

fn too_many(n: usize) -> Result<(), FnError> {
    if n > MAX_LIST {
        return Err(FnError::Call(format!(
            "list of {n} elements, over the limit of {MAX_LIST}"
        )));
    }
    Ok(())
}

/// sprig's `untilStep START STOP STEP`: [START, STOP) by STEP.
fn step_list(start: i64, stop: i64, step: i64) -> FnResult {
    let (start, stop, step) = (i128::from(start), i128::from(stop), i128::from(step));
    let count = if (step > 0 && stop > start) || (step < 0 && stop < start) {
        ((stop - start).abs() + step.abs() - 1) / step.abs()
    } else {
        0
    };
    too_many(usize::try_from(count).unwrap_or(usize::MAX))?;
    Ok(Value::List(
        (0..count)
            .map(|i| Value::Int((start + i * step) as i64))
            .collect(),
    ))
}

/// `until N`: [0, N) (counting down for a negative N).
fn until(args: &[Value]) -> FnResult {
    let n = int_arg(&exact(args, 1)?[0])?;
    step_list(0, n, if n < 0 { -1 } else { 1 })
}

fn until_step(args: &[Value]) -> FnResult {
    let a = exact(args, 3)?;
    step_list(int_arg(&a[0])?, int_arg(&a[1])?, int_arg(&a[2])?)
}

fn list_arg<'a>(v: &'a Value, func: &str) -> Result<&'a [Value], FnError> {
    match v {
        Value::List(l) => Ok(l),
        other => Err(FnError::Call(format!(
            "Cannot find {func} on type {}",
            other.type_name()
        ))),
    }
}

fn list_op(args: &[Value], func: &str, f: fn(&[Value]) -> Value) -> FnResult {
    Ok(f(list_arg(&exact(args, 1)?[0], func)?))
}

fn uniq(l: &[Value]) -> Value {
    let mut out: Vec<Value> = Vec::new();
    for v in l {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Value::List(out)
}

fn sort_alpha(l: &[Value]) -> Value {
    let mut s: Vec<String> = l.iter().map(strval).collect();
    s.sort();
    Value::List(s.into_iter().map(Value::String).collect())
}

fn append(args: &[Value]) -> FnResult {
    let a = exact(args, 2)?;
    let mut l = list_arg(&a[0], "append")?.to_vec();
    too_many(l.len() + 1)?;
    l.push(a[1].clone());
    Ok(Value::List(l))
}

fn prepend(args: &[Value]) -> FnResult {
    let a = exact(args, 2)?;
    let l = list_arg(&a[0], "prepend")?;
    too_many(l.len() + 1)?;
    Ok(Value::List(
        std::iter::once(a[1].clone())
            .chain(l.iter().cloned())
            .collect(),
    ))
}

fn concat(args: &[Value]) -> FnResult {
    let mut total = 0usize;
    for a in args {
        total += list_arg(a, "concat")?.len();
    }
    too_many(total)?;
    Ok(Value::List(
        args.iter()
            .flat_map(|a| list_arg(a, "concat").unwrap_or(&[]).iter().cloned())
            .collect(),
    ))
}

/// `has NEEDLE LIST`.
fn has(args: &[Value]) -> FnResult {
    let a = exact(args, 2)?;
    Ok(Value::Bool(match &a[1] {
        Value::List(l) => l.contains(&a[0]),
        _ => false,
    }))
}

/// `without LIST ITEMS...`.
fn without(args: &[Value]) -> FnResult {
    let a = at_least(args, 1)?;
    let l = list_arg(&a[0], "without")?;
    Ok(Value::List(
        l.iter().filter(|v| !a[1..].contains(v)).cloned().collect(),
    ))
}

/// `dict K1 V1 K2 V2 ...`; a lone last key gets "".
fn dict(args: &[Value]) -> FnResult {
    too_many(args.len())?;
    let mut m = BTreeMap::new();
    for pair in args.chunks(2) {
        let v = pair
            .get(1)
            .cloned()
            .unwrap_or_else(|| Value::String(String::new()));
        m.insert(strval(&pair[0]), v);
    }
    Ok(Value::Map(m))
}

fn map_arg(v: &Value) -> Result<&BTreeMap<String, Value>, FnError> {
    match v {
        Value::Map(m) => Ok(m),
        other => Err(crate::funcs::wrong_type("map[string]interface {}", other)),
    }
}

fn map_op(args: &[Value], f: fn(&BTreeMap<String, Value>) -> Value) -> FnResult {
    Ok(f(map_arg(&exact(args, 1)?[0])?))
}

/// `get MAP KEY`: the value or "".
fn get(args: &[Value]) -> FnResult {
    let a = exact(args, 2)?;
    let m = map_arg(&a[0])?;
    Ok(m.get(str_arg(&a[1])?)
        .cloned()
        .unwrap_or_else(|| Value::String(String::new())))
}

/// `set MAP KEY VALUE`: returns the map with the key set (values are
/// immutable here, so the caller's map is not changed, unlike sprig).
fn set(args: &[Value]) -> FnResult {
    let a = exact(args, 3)?;
    let mut m = map_arg(&a[0])?.clone();
    m.insert(str_arg(&a[1])?.to_string(), a[2].clone());
    Ok(Value::Map(m))
}

fn unset(args: &[Value]) -> FnResult {
    let a = exact(args, 2)?;
    let mut m = map_arg(&a[0])?.clone();
    m.remove(str_arg(&a[1])?);
    Ok(Value::Map(m))
}

/// `hasKey MAP KEY`.
fn has_key(args: &[Value]) -> FnResult {
    let a = exact(args, 2)?;
    Ok(Value::Bool(map_arg(&a[0])?.contains_key(str_arg(&a[1])?)))
}

/// `keys MAP...`: the keys, sorted (sprig leaves them in Go's random order).
fn keys(args: &[Value]) -> FnResult {
    let mut out = Vec::new();
    for a in at_least(args, 1)? {
        out.extend(map_arg(a)?.keys().cloned().map(Value::String));
    }
    out.sort_by_key(strval);
    Ok(Value::List(out))
}

fn pick_omit(args: &[Value], pick: bool) -> FnResult {
    let a = at_least(args, 1)?;
    let m = map_arg(&a[0])?;
    let names: Vec<String> = a[1..].iter().map(strval).collect();
    Ok(Value::Map(
        m.iter()
            .filter(|(k, _)| names.contains(k) == pick)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests::call;
    use super::*;

    #[test]
    fn until_counts_from_zero() {
        assert_eq!(call("until", &[3.into()]), Ok(vec![0, 1, 2].into()));
        assert_eq!(call("until", &[(-2).into()]), Ok(vec![0, -1].into()));
        assert_eq!(call("until", &[0.into()]), Ok(Value::List(vec![])));
        assert_eq!(
            call("untilStep", &[1.into(), 8.into(), 3.into()]),
            Ok(vec![1, 4, 7].into())
        );
        assert_eq!(
            call("untilStep", &[1.into(), 8.into(), 0.into()]),
            Ok(Value::List(vec![]))
        );
        assert!(call("until", &["3".into()]).is_err());
    }

    #[test]
    fn until_refuses_huge_counts() {
        assert!(call("until", &[i64::MAX.into()]).is_err());
        assert!(call("untilStep", &[i64::MIN.into(), i64::MAX.into(), 1.into()]).is_err());
    }

    #[test]
    fn list_functions_follow_sprig() {
        let l: Value = vec![3, 1, 3].into();
        assert_eq!(call("first", std::slice::from_ref(&l)), Ok(3.into()));
        assert_eq!(call("last", std::slice::from_ref(&l)), Ok(3.into()));
        assert_eq!(
            call("rest", std::slice::from_ref(&l)),
            Ok(vec![1, 3].into())
        );
        assert_eq!(
            call("initial", std::slice::from_ref(&l)),
            Ok(vec![3, 1].into())
        );
        assert_eq!(
            call("uniq", std::slice::from_ref(&l)),
            Ok(vec![3, 1].into())
        );
        assert_eq!(
            call("append", &[l.clone(), 9.into()]),
            Ok(vec![3, 1, 3, 9].into())
        );
        assert_eq!(call("has", &[1.into(), l.clone()]), Ok(true.into()));
        assert_eq!(call("without", &[l.clone(), 3.into()]), Ok(vec![1].into()));
        assert_eq!(
            call("concat", &[l.clone(), vec![0].into()]),
            Ok(vec![3, 1, 3, 0].into())
        );
        assert_eq!(
            call("sortAlpha", &[vec!["b", "a"].into()]),
            Ok(vec!["a", "b"].into())
        );
        assert!(call("first", &["x".into()]).is_err());
    }

    #[test]
    fn dicts_follow_sprig() {
        let d = call("dict", &["a".into(), 1.into(), "b".into()]);
        assert_eq!(d, Ok(Value::map([("a", Value::Int(1)), ("b", "".into())])));
        let d = Value::map([("a", 1), ("b", 2)]);
        assert_eq!(call("hasKey", &[d.clone(), "a".into()]), Ok(true.into()));
        assert_eq!(call("get", &[d.clone(), "z".into()]), Ok("".into()));
        assert_eq!(
            call("keys", std::slice::from_ref(&d)),
            Ok(vec!["a", "b"].into())
        );
        assert_eq!(
            call("pick", &[d.clone(), "b".into()]),
            Ok(Value::map([("b", 2)]))
        );
        assert_eq!(
            call("omit", &[d.clone(), "b".into()]),
            Ok(Value::map([("a", 1)]))
        );
        assert_eq!(
            call("set", &[d, "c".into(), 3.into()]).map(|m| m.to_string()),
            Ok("map[a:1 b:2 c:3]".into())
        );
    }
}
