#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use corral_compose::{Loaded, export, load};
use corral_types::SourceFile;

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fixture file as a SourceFile named by its file name.
pub fn file(rel: &str) -> SourceFile {
    let path = fixture_dir().join(rel);
    let content = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    SourceFile { name, content }
}

pub fn src(name: &str, content: &str) -> SourceFile {
    SourceFile {
        name: name.into(),
        content: content.into(),
    }
}

pub fn no_vars() -> BTreeMap<String, String> {
    BTreeMap::new()
}

pub fn load_ok(files: &[SourceFile]) -> Loaded {
    load("demo", files, &no_vars()).unwrap_or_else(|e| panic!("load failed: {e}"))
}

pub fn load_err(yaml: &str) -> String {
    match load("demo", &[src("docker-compose.yml", yaml)], &no_vars()) {
        Ok(l) => panic!("expected an error, loaded {l:#?}"),
        Err(e) => e.to_string(),
    }
}

pub fn warnings(yaml: &str) -> Vec<String> {
    load_ok(&[src("docker-compose.yml", yaml)])
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// export then load gives the same services; returns the exported files.
pub fn assert_round_trip(stack: &str, loaded: &Loaded) -> Vec<SourceFile> {
    let files = export(stack, &loaded.services, &loaded.volumes);
    let again = load(stack, &files, &no_vars())
        .unwrap_or_else(|e| panic!("exported files do not load: {e}\n{}", files[0].content));
    assert_eq!(
        again.services,
        loaded.services,
        "round trip changed the services; exported:\n{}",
        files
            .iter()
            .map(|f| format!("--- {}\n{}", f.name, f.content))
            .collect::<String>()
    );
    files
}
