//! The data a template sees: a small dynamic value, like Go's `interface{}`
//! holding JSON-shaped data.

use std::collections::BTreeMap;
use std::fmt;

/// A template value. Maps keep their keys sorted, which is also the order
/// Go's `range` visits them in.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// Go's `nil`; also what a missing map key evaluates to.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    String(String),
    /// A list (Go slice).
    List(Vec<Value>),
    /// A map with string keys.
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// Converts JSON data (numbers that fit an `i64` become [`Value::Int`]).
    pub fn from_json(json: serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => {
                Value::List(a.into_iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(o) => Value::Map(
                o.into_iter()
                    .map(|(k, v)| (k, Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Go's truth: false, 0, "", nil and empty lists and maps are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }

    /// The Go type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
        }
    }

    /// Builds a map from `(key, value)` pairs.
    pub fn map<K: Into<String>, V: Into<Value>>(pairs: impl IntoIterator<Item = (K, V)>) -> Value {
        Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// A measure of a value's size (one per node, one per 16 bytes of string),
/// counted up to `limit` and no further.
pub(crate) fn weigh(v: &Value, limit: u64) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total += 1;
        match v {
            Value::String(s) => total += s.len() as u64 / 16,
            Value::List(l) => stack.extend(l.iter()),
            Value::Map(m) => {
                for (k, v) in m {
                    total += k.len() as u64 / 16;
                    stack.push(v);
                }
            }
            _ => {}
        }
        if total > limit {
            return total;
        }
    }
    total
}

/// Formats a float as Go's `%v` does: the shortest digits, in exponent form
/// when the exponent is below -4 or at least 6 (`1e+06`, `100000`).
pub(crate) fn format_float_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Shortest round-trip digits, as "d.ddde±x".
    let sci = format!("{:e}", f);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        return go_exp(sign, &digits, exp);
    }
    let nd = digits.len() as i32;
    let dp = exp + 1;
    let mut out = String::from(sign);
    if dp <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-dp) as usize));
        out.push_str(&digits);
    } else if dp >= nd {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (dp - nd) as usize));
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

fn go_exp(sign: &str, digits: &str, exp: i32) -> String {
    let mut out = String::from(sign);
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let esign = if exp < 0 { '-' } else { '+' };
    out.push_str(&format!("e{}{:02}", esign, exp.abs()));
    out
}

impl fmt::Display for Value {
    /// Go's `%v`: `<nil>` for nil, `[a b]` for lists, `map[k:v]` for maps.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("<nil>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&format_float_v(*x)),
            Value::String(s) => f.write_str(s),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("map[")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}:{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}
impl From<BTreeMap<String, Value>> for Value {
    fn from(m: BTreeMap<String, Value>) -> Self {
        Value::Map(m)
    }
}
impl From<serde_json::Value> for Value {
    fn from(j: serde_json::Value) -> Self {
        Value::from_json(j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truthiness_follows_go() {
        for v in [
            Value::Null,
            false.into(),
            0.into(),
            0.0.into(),
            "".into(),
            Value::List(vec![]),
        ] {
            assert!(!v.truthy(), "{v:?}");
        }
        assert!(!Value::Map(BTreeMap::new()).truthy());
        for v in [
            true.into(),
            1.into(),
            0.5.into(),
            "0".into(),
            Value::from(vec![1]),
        ] {
            assert!(v.truthy(), "{v:?}");
        }
    }

    #[test]
    fn weight_counts_nodes_and_string_bytes_and_stops_at_the_limit() {
        let v = Value::from(vec!["x".repeat(160), "y".into()]);
        assert_eq!(weigh(&v, 1000), 13);
        assert!(weigh(&Value::from(vec![0; 1000]), 10) <= 11);
    }

    #[test]
    fn floats_print_like_go_percent_v() {
        assert_eq!(format_float_v(1.5), "1.5");
        assert_eq!(format_float_v(100000.0), "100000");
        assert_eq!(format_float_v(0.0001), "0.0001");
        assert_eq!(format_float_v(0.00001), "1e-05");
        assert_eq!(format_float_v(3.0), "3");
        assert_eq!(format_float_v(1e6), "1e+06");
        assert_eq!(format_float_v(-1234567.0), "-1.234567e+06");
    }

    #[test]
    fn lists_and_maps_print_like_go() {
        let v = Value::map([("b", Value::from(vec![1, 2])), ("a", "x".into())]);
        assert_eq!(v.to_string(), "map[a:x b:[1 2]]");
    }

    #[test]
    fn from_json_keeps_ints_and_floats_apart() {
        let v = Value::from_json(serde_json::json!({"a": 1, "b": 1.5, "c": [true, null]}));
        assert_eq!(
            v,
            Value::map([
                ("a", Value::Int(1)),
                ("b", Value::Float(1.5)),
                ("c", Value::List(vec![Value::Bool(true), Value::Null]))
            ])
        );
    }
}
