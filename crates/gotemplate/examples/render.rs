//! Renders a template file with answers given as `KEY=VALUE` arguments:
//! `cargo run -p corral-gotemplate --example render -- FILE [KEY=VALUE ...]`.

use corral_gotemplate::{Value, render};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: render FILE [KEY=VALUE ...]");
        std::process::exit(2);
    };
    let source = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let values = args.filter_map(|a| {
        a.split_once('=')
            .map(|(k, v)| (k.to_string(), Value::from(v)))
    });
    let data = Value::map([
        ("Values", Value::Map(values.collect())),
        ("Stack", Value::map([("Name", "demo")])),
    ]);
    match render(&path, &source, &data) {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
