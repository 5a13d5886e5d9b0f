//! `.env` parsing and variable interpolation on arbitrary input.
//!
//! Input: UTF-8 (lossily decoded) text. Before the first `\0` it is an
//! `.env` file, after it (if present) a `docker-compose.yml`.
//!
//! Checks: `parse_env_file` and `referenced_variables` never panic; the
//! compose part loads (or fails) without a panic, once with the variables
//! the `.env` part defines and once with none; and every variable that
//! `load` reports as unset (a warning, or the error of `${X:?}`) is one of
//! the `referenced_variables` — the names a client sends from its
//! environment. A name missing there panics on purpose.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use corral_compose::{ComposeError, Diagnostic};
use corral_types::SourceFile;
use libfuzzer_sys::fuzz_target;

/// The variable a diagnostic says is unset, if it says so.
fn unset_name(d: &Diagnostic) -> Option<&str> {
    let m = d.message.strip_prefix("required ").unwrap_or(&d.message);
    let rest = m.strip_prefix("variable ")?;
    let (name, _) = rest.split_once(" is not set")?;
    Some(name)
}

fn check_names(result: &Result<corral_compose::Loaded, ComposeError>, names: &BTreeSet<String>) {
    let diagnostics: Vec<&Diagnostic> = match result {
        Ok(loaded) => loaded.warnings.iter().collect(),
        Err(e) => vec![e.diagnostic()],
    };
    for d in diagnostics {
        if let Some(name) = unset_name(d) {
            assert!(
                names.contains(name),
                "load reports {name} unset ({d}) but referenced_variables {names:?} lacks it"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (env, compose) = match text.split_once('\0') {
        Some((env, compose)) => (env, Some(compose)),
        None => (&*text, None),
    };
    let variables = corral_compose::parse_env_file(".env", env).unwrap_or_default();
    let env_file = SourceFile {
        name: ".env".into(),
        content: env.into(),
    };
    // The env text read as if it were a compose file: every `$` form of
    // the interpolation syntax, without YAML in the way.
    let _ = corral_compose::referenced_variables(std::slice::from_ref(&env_file));
    let Some(compose) = compose else {
        return;
    };
    let files = [
        SourceFile {
            name: "docker-compose.yml".into(),
            content: compose.into(),
        },
        env_file,
    ];
    let names = corral_compose::referenced_variables(&files);
    check_names(&corral_compose::load("fuzz", &files, &variables), &names);
    check_names(
        &corral_compose::load("fuzz", &files, &BTreeMap::new()),
        &names,
    );
});
