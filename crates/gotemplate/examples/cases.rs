//! Reads difftest cases (`[{"src": .., "data": ..}]` as JSON) on stdin and
//! prints each result as `{"ok": OUTPUT}` or `{"err": MESSAGE}`; see `difftest/`.

use corral_gotemplate::{Value, render};
use std::io::Read;

fn main() {
    let mut s = String::new();
    let _ = std::io::stdin().read_to_string(&mut s);
    let cases: Vec<serde_json::Value> = serde_json::from_str(&s).unwrap_or_default();
    let mut out = Vec::new();
    for c in cases {
        let src = c.get("src").and_then(|v| v.as_str()).unwrap_or("");
        let data = Value::from_json(c.get("data").cloned().unwrap_or_default());
        out.push(match render("t", src, &data) {
            Ok(o) => serde_json::json!({"ok": o}),
            Err(e) => serde_json::json!({"err": e.to_string()}),
        });
    }
    println!("{}", serde_json::Value::Array(out));
}
