//! Sweeps the real-world corpus (`CORRAL_CORPUS`, default `../shared/corpus`
//! beside the workspace): every file either loads and round-trips through
//! export, or fails with a `file:line: key: message` error. Never panics.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use corral_compose::load;
use corral_types::SourceFile;

fn corpus() -> Option<PathBuf> {
    let dir = match std::env::var_os("CORRAL_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    dir.is_dir().then_some(dir)
}

fn read(path: &Path, name: &str) -> SourceFile {
    SourceFile {
        name: name.to_string(),
        content: std::fs::read_to_string(path).unwrap_or_default(),
    }
}

/// Each case: a label and its files.
fn cases(root: &Path) -> Vec<(String, Vec<SourceFile>)> {
    let mut out = Vec::new();
    let dirs = |p: PathBuf| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    };
    for d in dirs(root.join("compose")) {
        for name in ["compose.yaml", "compose.yml"] {
            let p = d.join(name);
            if p.is_file() {
                out.push((p.display().to_string(), vec![read(&p, name)]));
            }
        }
    }
    for t in dirs(root.join("rancher-catalog/templates")) {
        for v in dirs(t) {
            let dc = v.join("docker-compose.yml");
            if !dc.is_file() {
                continue;
            }
            let mut files = vec![read(&dc, "docker-compose.yml")];
            let rc = v.join("rancher-compose.yml");
            if rc.is_file() {
                files.push(read(&rc, "rancher-compose.yml"));
            }
            out.push((v.display().to_string(), files));
        }
    }
    out
}

fn has_key_shape(msg: &str) -> bool {
    // FILE:LINE: KEY: message
    let mut parts = msg.splitn(4, ':');
    let (Some(file), Some(line), Some(key), Some(_)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !file.is_empty() && line.parse::<usize>().is_ok() && !key.trim().is_empty()
}

#[test]
fn corpus_files_load_and_round_trip_or_fail_naming_a_key() {
    let Some(root) = corpus() else {
        println!("corpus not found, skipped");
        return;
    };
    let mut loaded = 0;
    let mut rejected: BTreeMap<String, usize> = BTreeMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for (label, files) in cases(&root) {
        match load("corpus", &files, &BTreeMap::new()) {
            Ok(l) => {
                assert_round_trip("corpus", &l);
                loaded += 1;
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(has_key_shape(&msg), "{label}: {msg}");
                let d = e.diagnostic();
                for section in ["secrets", "configs"] {
                    assert!(
                        !(d.key == section || d.key.contains(&format!(".{section}"))),
                        "{label}: compose {section} are supported: {msg}"
                    );
                }
                *rejected.entry(e.category().to_string()).or_default() += 1;
                let d = e.diagnostic();
                let last = d.key.rsplit('.').next().unwrap_or(&d.key).to_string();
                let short: String = d.message.chars().take(60).collect();
                *reasons
                    .entry(format!("{}: {last}: {short}", e.category()))
                    .or_default() += 1;
                println!("rejected {label}: {msg}");
            }
        }
    }
    println!("loaded: {loaded}");
    for (k, n) in &rejected {
        println!("rejected ({k}): {n}");
    }
    let mut top: Vec<_> = reasons.into_iter().collect();
    top.sort_by_key(|r| std::cmp::Reverse(r.1));
    for (r, n) in top.iter().take(25) {
        println!("{n:4}  {r}");
    }
}
