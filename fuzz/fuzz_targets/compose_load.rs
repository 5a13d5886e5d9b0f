//! `load` on arbitrary input, then `export` and `load` again.
//!
//! Input: UTF-8 (lossily decoded) text. The first `\0`, `\x01` or `\x02`
//! splits it into `docker-compose.yml` and a second file named
//! `rancher-compose.yml` (`\0`), `docker-compose.override.yml` (`\x01`) or
//! `.env` (`\x02`, a data file for `env_file: .env`).
//!
//! Checks: `load` never panics; when it succeeds, `export` of the result
//! loads again (without variables) to the same services and volumes. A
//! round-trip violation panics on purpose: it is a bug in load or export.

#![no_main]

use std::collections::BTreeMap;

use corral_types::SourceFile;
use libfuzzer_sys::fuzz_target;

fn files(text: &str) -> Vec<SourceFile> {
    let first = |content: &str| SourceFile {
        name: "docker-compose.yml".into(),
        content: content.into(),
    };
    let Some(at) = text.find(['\0', '\x01', '\x02']) else {
        return vec![first(text)];
    };
    let name = match text.as_bytes()[at] {
        0 => "rancher-compose.yml",
        1 => "docker-compose.override.yml",
        _ => ".env",
    };
    vec![
        first(&text[..at]),
        SourceFile {
            name: name.into(),
            content: text[at + 1..].into(),
        },
    ]
}

/// Some set, some empty, some holding characters export must escape.
fn variables() -> BTreeMap<String, String> {
    [
        ("TAG", "1.2"),
        ("PORT", "8080"),
        ("EMPTY", ""),
        ("IMAGE", "nginx:alpine"),
        ("DOLLAR", "a$b$$c${X}"),
        ("QUOTE", "it's \"quoted\" #not-a-comment"),
        ("LINES", "one\ntwo: 2\n- three"),
        ("SPACE", "  padded  "),
        ("NUM", "0x1F"),
        ("BOOL", "yes"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn dump(files: &[SourceFile]) -> String {
    files
        .iter()
        .map(|f| format!("--- {}\n{}\n", f.name, f.content))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let input = files(&text);
    let Ok(loaded) = corral_compose::load("fuzz", &input, &variables()) else {
        return;
    };
    let exported = corral_compose::export("fuzz", &loaded.services, &loaded.volumes);
    let again = match corral_compose::load("fuzz", &exported, &BTreeMap::new()) {
        Ok(again) => again,
        Err(e) => panic!(
            "exported files do not load: {e}\ninput:\n{}exported:\n{}",
            dump(&input),
            dump(&exported)
        ),
    };
    if again.services != loaded.services || again.volumes != loaded.volumes {
        panic!(
            "round trip changed the stack\ninput:\n{}exported:\n{}loaded:\n{:#?}\n{:?}\nreloaded:\n{:#?}\n{:?}",
            dump(&input),
            dump(&exported),
            loaded.services,
            loaded.volumes,
            again.services,
            again.volumes
        );
    }
});
