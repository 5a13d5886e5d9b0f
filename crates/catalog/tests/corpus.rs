//! Every template of the community catalog in `../shared/corpus` (or
//! `CORRAL_CORPUS`) is listed, and every version renders with its default
//! answers and loads as a stack (the launch dry run's reading), or is
//! refused with a message naming the question, file line or key, and that
//! refusal is in `tests/known_refusals.txt` with its reason. The sweep fails
//! when the corpus is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use corral_catalog::{bind_answer_secrets, read_repository, render};
use corral_types::{AppRef, Question, QuestionType, VersionInfo};

fn corpus() -> PathBuf {
    let dir = match std::env::var_os("CORRAL_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    assert!(
        dir.join("rancher-catalog/templates").is_dir(),
        "the corpus is missing at {} (set CORRAL_CORPUS)",
        dir.display()
    );
    dir
}

/// An answer for a required question without a default, as a user would
/// give one: the type's simplest valid value.
fn sample_answer(q: &Question) -> String {
    match q.kind {
        QuestionType::Int => q.min.unwrap_or(1).max(1).to_string(),
        QuestionType::Boolean => "true".into(),
        QuestionType::Enum => q.options.first().cloned().unwrap_or_default(),
        QuestionType::Service => "other/service".into(),
        QuestionType::Certificate => "example-cert".into(),
        _ => {
            let n = q.min_length.unwrap_or(8).max(8);
            "answer12345678".chars().cycle().take(n).collect()
        }
    }
}

fn answers_for(v: &VersionInfo) -> BTreeMap<String, String> {
    v.meta
        .questions
        .iter()
        .filter(|q| q.required && q.default.as_deref().unwrap_or("").is_empty())
        .map(|q| (q.variable.clone(), sample_answer(q)))
        .collect()
}

fn known_refusals() -> BTreeMap<String, String> {
    let text = include_str!("known_refusals.txt");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .map(|(id, why)| (id.to_string(), why.trim().to_string()))
        .collect()
}

#[test]
fn every_corpus_template_is_listed_and_every_version_renders_and_loads_or_is_a_known_refusal() {
    let root = corpus().join("rancher-catalog");
    let folders: BTreeSet<String> = std::fs::read_dir(root.join("templates"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    let repo = read_repository("community", &root);
    let listed: BTreeSet<String> = repo.templates.iter().map(|t| t.folder.clone()).collect();

    let mut refused = BTreeMap::new();
    let (mut versions, mut templated, mut loaded) = (0, 0, 0);
    // Password answers given, and environment variables delivered from them.
    let (mut passwords, mut delivered) = (0, 0);
    for t in &repo.templates {
        for v in &t.versions {
            versions += 1;
            let tpl = v.files.iter().any(|f| f.name.ends_with(".tpl"));
            templated += usize::from(tpl);
            let id = format!("{}:{}", t.folder, v.folder);
            let outcome = render(v, "demo", &answers_for(v))
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    let mut loaded = corral_compose::load("demo", &r.files, &r.variables)
                        .map_err(|e| e.to_string())?;
                    let app = AppRef {
                        answers: r.variables.clone(),
                        ..AppRef::default()
                    };
                    bind_answer_secrets(&app, &mut loaded).map_err(|e| e.to_string())?;
                    passwords += r.secret_values.len();
                    delivered += loaded
                        .services
                        .values()
                        .flat_map(|s| &s.secrets)
                        .filter(|m| !m.env.is_empty())
                        .count();
                    Ok(())
                });
            match outcome {
                Ok(_) => loaded += 1,
                Err(e) => {
                    println!("refused {id}: {e}");
                    refused.insert(id, e);
                }
            }
        }
    }
    println!(
        "{} templates, {versions} versions ({templated} with .tpl files), {loaded} load, {} refused; \
         {passwords} password answers, {delivered} variables delivered from their secrets",
        listed.len(),
        refused.len()
    );
    // Every password answer of the corpus is a whole environment value.
    assert!(passwords >= 20, "{passwords} password answers");
    assert!(
        delivered >= passwords,
        "{delivered} of {passwords} delivered"
    );
    assert!(repo.errors.is_empty(), "{:#?}", repo.errors);
    assert_eq!(listed, folders, "every template folder is listed");
    assert!(listed.len() >= 90, "{} templates read", listed.len());
    assert!(versions >= 220, "{versions} versions read");
    assert!(templated >= 60, "{templated} templated versions read");
    let known = known_refusals();
    let now: BTreeSet<&String> = refused.keys().collect();
    let listed_refusals: BTreeSet<&String> = known.keys().collect();
    let new: Vec<_> = now
        .difference(&listed_refusals)
        .map(|id| format!("{id}: {}", refused[*id]))
        .collect();
    let fixed: Vec<_> = listed_refusals.difference(&now).collect();
    assert!(
        new.is_empty(),
        "refusals not in tests/known_refusals.txt:\n{}",
        new.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "these load now; remove them from tests/known_refusals.txt: {fixed:?}"
    );
}
