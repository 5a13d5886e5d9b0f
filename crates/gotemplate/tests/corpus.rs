//! Renders every `.tpl` file of the Rancher community catalog corpus with its
//! version's default answers, as Rancher would, and checks the result is YAML.
//!
//! The corpus is `$CORRAL_CORPUS/rancher-catalog` or, by default,
//! `../shared/corpus/rancher-catalog` beside the workspace. A missing corpus
//! fails the test rather than skipping it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use corral_gotemplate::{Value, render};

fn corpus_dir() -> PathBuf {
    match std::env::var_os("CORRAL_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
    .join("rancher-catalog")
}

/// Every `templates/NAME/N/*.tpl` (and `infra-templates/`), sorted.
fn tpl_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for kind in ["templates", "infra-templates"] {
        let Ok(names) = std::fs::read_dir(root.join(kind)) else {
            continue;
        };
        for name in names.flatten() {
            let Ok(versions) = std::fs::read_dir(name.path()) else {
                continue;
            };
            for version in versions.flatten() {
                let Ok(files) = std::fs::read_dir(version.path()) else {
                    continue;
                };
                for f in files.flatten() {
                    if f.path().extension().is_some_and(|e| e == "tpl") {
                        out.push(f.path());
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// YAML as Rancher and docker-compose v1 read it: a repeated key keeps
/// its last value.
fn yaml(text: &str) -> Result<serde_json::Value, serde_saphyr::Error> {
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
    };
    serde_saphyr::from_str_with_options(text, options)
}

/// A question's answer as Rancher passes it: always a string.
fn answer_string(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The questions of a version: `catalog:` (v2 form) or `.catalog:` in the
/// sibling `rancher-compose.yml`.
fn questions(version_dir: &Path) -> Vec<serde_json::Value> {
    let path = version_dir.join("rancher-compose.yml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let doc = match yaml(&text) {
        Ok(doc) => doc,
        Err(e) => panic!("{}: not YAML: {e}", path.display()),
    };
    let catalog = doc.get("catalog").or_else(|| doc.get(".catalog"));
    catalog
        .and_then(|c| c.get("questions"))
        .and_then(|q| q.as_array())
        .cloned()
        .unwrap_or_default()
}

/// `.Values` from the defaults (an unanswered question is ""), and the
/// questions' types and options for the variations.
fn default_values(qs: &[serde_json::Value]) -> BTreeMap<String, Value> {
    let mut values = BTreeMap::new();
    for q in qs {
        let Some(var) = q.get("variable").and_then(|v| v.as_str()) else {
            continue;
        };
        let default = q.get("default").map(answer_string).unwrap_or_default();
        values.insert(var.to_string(), Value::String(default));
    }
    values
}

fn data(values: BTreeMap<String, Value>) -> Value {
    Value::map([
        ("Values", Value::Map(values)),
        ("Stack", Value::map([("Name", "demo")])),
    ])
}

/// Other answers worth trying: each boolean flipped, each enum option.
fn variations(
    qs: &[serde_json::Value],
    base: &BTreeMap<String, Value>,
) -> Vec<BTreeMap<String, Value>> {
    let mut out = Vec::new();
    for q in qs {
        let Some(var) = q.get("variable").and_then(|v| v.as_str()) else {
            continue;
        };
        let ty = q.get("type").and_then(|t| t.as_str()).unwrap_or("string");
        let answers: Vec<String> = match ty {
            "boolean" => vec!["true".into(), "false".into()],
            "enum" => q
                .get("options")
                .and_then(|o| o.as_array())
                .map_or(Vec::new(), |o| o.iter().map(answer_string).collect()),
            _ => vec!["x".into()],
        };
        for a in answers {
            let mut values = base.clone();
            values.insert(var.to_string(), Value::String(a));
            out.push(values);
        }
    }
    out
}

fn render_yaml(
    path: &Path,
    source: &str,
    values: BTreeMap<String, Value>,
) -> Result<String, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out =
        render(&name, source, &data(values)).map_err(|e| format!("{}: {e}", path.display()))?;
    yaml(&out).map_err(|e| format!("{}: rendered text is not YAML: {e}\n{out}", path.display()))?;
    Ok(out)
}

#[test]
fn every_corpus_template_renders_to_yaml_with_its_default_answers() {
    let root = corpus_dir();
    assert!(
        root.is_dir(),
        "the corpus is missing: {} (set CORRAL_CORPUS)",
        root.display()
    );
    let files = tpl_files(&root);
    let mut failures = Vec::new();
    for path in &files {
        let source =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let qs = path.parent().map(questions).unwrap_or_default();
        match render_yaml(path, &source, default_values(&qs)) {
            Ok(out) => assert!(
                !out.contains("<no value>"),
                "{}: a key is missing:\n{out}",
                path.display()
            ),
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    assert!(
        files.len() >= 60,
        "expected at least 60 .tpl files in the corpus, found {}",
        files.len()
    );
    eprintln!("rendered {} .tpl files of the corpus", files.len());
}

#[test]
fn every_corpus_template_renders_to_yaml_with_each_enum_option_and_boolean_flipped() {
    let root = corpus_dir();
    assert!(
        root.is_dir(),
        "the corpus is missing: {} (set CORRAL_CORPUS)",
        root.display()
    );
    let files = tpl_files(&root);
    let mut renders = 0;
    let mut failures = Vec::new();
    for path in &files {
        let source =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let qs = path.parent().map(questions).unwrap_or_default();
        for values in variations(&qs, &default_values(&qs)) {
            renders += 1;
            if let Err(e) = render_yaml(path, &source, values) {
                failures.push(format!("{}: {e}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {renders} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        files.len() >= 60 && renders > files.len(),
        "{} files, {renders} renders",
        files.len()
    );
    eprintln!(
        "rendered {} .tpl files in {renders} variations",
        files.len()
    );
}

/// Four corpus templates with chosen answers (some keys left out, so that
/// missing keys are exercised too), against the output of Go 1.19's
/// `text/template` for the same input (`tests/golden/`, made with
/// `difftest/main.go`).
#[test]
fn corpus_templates_render_exactly_as_go_does() {
    let root = corpus_dir().join("templates");
    assert!(
        root.is_dir(),
        "the corpus is missing: {} (set CORRAL_CORPUS)",
        root.display()
    );
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for (template, name) in [
        ("gocd/0", "gocd-0"),
        ("traefik/33", "traefik-33"),
        ("sentry/5", "sentry-5"),
        ("drone/7", "drone-7"),
    ] {
        let path = root.join(template).join("docker-compose.yml.tpl");
        let source =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let answers = std::fs::read_to_string(golden.join(format!("{name}.answers.json")))
            .unwrap_or_default();
        let answers: BTreeMap<String, String> = serde_json::from_str(&answers).unwrap_or_default();
        assert!(!answers.is_empty(), "{name}: no answers");
        let values = answers
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let expected =
            std::fs::read_to_string(golden.join(format!("{name}.yml"))).unwrap_or_default();
        let got = render("docker-compose.yml.tpl", &source, &data(values))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, expected, "{template}");
    }
}
