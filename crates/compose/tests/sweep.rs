//! Sweeps the real-world corpus (`CORRAL_CORPUS`, default `../shared/corpus`
//! beside the workspace): every file either loads and round-trips through
//! export, or fails with a `file:line: key: message` error. Never panics.
//! Catalog templates are loaded twice: as written (answers unset, as a
//! plain `corral stack deploy` would) and with the default answers of their
//! questions (as the catalog launches them). A missing corpus fails the test.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use corral_compose::load;
use corral_types::SourceFile;

/// Files the default corpus holds: compose files, and catalog template
/// versions with a plain (not `.tpl`) docker-compose.yml.
const DEFAULT_COMPOSE_FILES: usize = 26;
const DEFAULT_TEMPLATE_VERSIONS: usize = 168;

/// The corpus and whether it is the default one (`CORRAL_CORPUS` unset).
fn corpus() -> (PathBuf, bool) {
    match std::env::var_os("CORRAL_CORPUS") {
        Some(d) => (PathBuf::from(d), false),
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
            true,
        ),
    }
}

/// The `default:` of each question of a rancher-compose.yml's `.catalog`,
/// by variable: what the catalog substitutes when nothing is answered.
fn default_answers(files: &[SourceFile]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(rc) = files.iter().find(|f| f.name == "rancher-compose.yml") else {
        return out;
    };
    let mut variable: Option<String> = None;
    let unquote = |v: &str| v.trim().trim_matches('"').trim_matches('\'').to_string();
    for line in rc.content.lines() {
        let t = line.trim_start().trim_start_matches("- ");
        if let Some(v) = t.strip_prefix("variable:") {
            variable = Some(unquote(v));
        } else if let (Some(d), Some(var)) = (t.strip_prefix("default:"), &variable) {
            out.insert(var.clone(), unquote(d));
        }
    }
    out
}

fn read(path: &Path, name: &str) -> SourceFile {
    SourceFile {
        name: name.to_string(),
        content: std::fs::read_to_string(path).unwrap_or_default(),
    }
}

/// Each case: a label, its files, and whether it is a catalog template.
fn cases(root: &Path) -> Vec<(String, Vec<SourceFile>, bool)> {
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
                out.push((p.display().to_string(), vec![read(&p, name)], false));
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
            out.push((v.display().to_string(), files, true));
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

/// Loads every case with the variables `vars` gives it; prints and
/// counts the rejections. Returns how many loaded.
fn sweep(
    what: &str,
    cases: &[(String, Vec<SourceFile>, bool)],
    vars: impl Fn(&[SourceFile]) -> BTreeMap<String, String>,
) -> usize {
    let mut loaded = 0;
    let mut rejected: BTreeMap<String, usize> = BTreeMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for (label, files, template) in cases {
        match load("corpus", files, &vars(files)) {
            Ok(l) => {
                for name in l.services.keys() {
                    // What the server checks a stack's services against.
                    let named = corral_types::validate_name("service", name);
                    assert!(named.is_ok(), "{label}: {named:?}");
                }
                assert_round_trip("corpus", &l);
                loaded += 1;
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(has_key_shape(&msg), "{label}: {msg}");
                if *template {
                    for reason in FIXED_REASONS {
                        assert!(!msg.contains(reason), "{label}: {msg}");
                    }
                }
                let d = e.diagnostic();
                for section in ["secrets", "configs"] {
                    assert!(
                        !(d.key == section || d.key.contains(&format!(".{section}"))),
                        "{label}: compose {section} are supported: {msg}"
                    );
                }
                *rejected.entry(e.category().to_string()).or_default() += 1;
                let last = d.key.rsplit('.').next().unwrap_or(&d.key).to_string();
                let short: String = d.message.chars().take(60).collect();
                *reasons
                    .entry(format!("{}: {last}: {short}", e.category()))
                    .or_default() += 1;
                println!("rejected ({what}) {label}: {msg}");
            }
        }
    }
    println!("{what}: loaded {loaded} of {}", cases.len());
    for (k, n) in &rejected {
        println!("{what}: rejected ({k}): {n}");
    }
    let mut top: Vec<_> = reasons.into_iter().collect();
    top.sort_by_key(|r| std::cmp::Reverse(r.1));
    for (r, n) in top.iter().take(25) {
        println!("{n:4}  {r}");
    }
    loaded
}

/// The reasons the loader once refused Rancher templates for, that it now
/// translates (issue 15): none of them may come back.
const FIXED_REASONS: &[&str] = &[
    "the Rancher 1.0-1.5 form is not supported",
    "duplicate key",
    "\"host\" is not supported",
    "unknown affinity",
];

#[test]
fn corpus_files_load_and_round_trip_or_fail_naming_a_key() {
    let (root, default) = corpus();
    assert!(
        root.is_dir(),
        "corpus not found at {} (set CORRAL_CORPUS to its folder)",
        root.display()
    );
    let cases = cases(&root);
    let templates = cases.iter().filter(|c| c.2).count();
    println!(
        "read {} compose files and {templates} template versions",
        cases.len() - templates
    );
    if default {
        assert_eq!(cases.len() - templates, DEFAULT_COMPOSE_FILES);
        assert_eq!(templates, DEFAULT_TEMPLATE_VERSIONS);
    } else {
        assert!(
            !cases.is_empty(),
            "no compose file or template in the corpus"
        );
    }
    sweep("as written", &cases, |_| BTreeMap::new());
    let catalog: Vec<_> = cases.iter().filter(|c| c.2).cloned().collect();
    let loaded = sweep("default answers", &catalog, default_answers);
    if default {
        // Raise as the loader learns more; never lower.
        assert!(loaded >= MIN_TEMPLATES_LOADED, "{loaded} templates loaded");
    }
}

/// Template versions of the default corpus that load with their default
/// answers.
const MIN_TEMPLATES_LOADED: usize = 166;
