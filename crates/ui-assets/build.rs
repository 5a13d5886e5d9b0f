//! Embeds `ui/dist` (what `cargo xtask ui build` writes): generates a table
//! of every file with its content type, each body an `include_bytes!`. No
//! `ui/dist`, no files: the crate still compiles and the server answers a
//! page saying how to build the UI.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let ui = manifest.join("../../ui");
    let dist = ui.join("dist");
    // A directory is scanned whole for changes. Without dist/, the ui
    // directory is watched instead, so that its appearance is noticed.
    if dist.is_dir() {
        println!("cargo:rerun-if-changed={}", dist.display());
    } else {
        println!("cargo:rerun-if-changed={}", ui.display());
    }
    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        collect(&dist, &dist, &mut files);
    }
    files.sort();
    let mut code = String::from("&[\n");
    for (path, file) in &files {
        let _ = writeln!(
            code,
            "    Asset {{ path: {path:?}, body: include_bytes!({file:?}), content_type: {:?} }},",
            content_type(path)
        );
    }
    code.push(']');
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::write(out.join("assets.rs"), code) {
        // A build script reports failure by panicking; this is its only way.
        panic!("cannot write {}: {e}", out.join("assets.rs").display());
    }
}

/// Every file under `dir`, as (path from `root` with a leading `/`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let url: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let abs = path.canonicalize().unwrap_or(path.clone());
            files.push((
                format!("/{}", url.join("/")),
                abs.to_string_lossy().into_owned(),
            ));
        }
    }
}

// One table of content types for the embedded files and for `--ui-dir`.
include!("src/content_type.rs");
