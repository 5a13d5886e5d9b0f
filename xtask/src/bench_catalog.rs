//! `cargo xtask bench catalog`: what the catalog costs on the real server
//! (`corral server`, a child process, release with `--release`). A git
//! repository of 130 templates (the community corpus's 93, and copies of
//! some under other names up to 130) is added as a global `file://`
//! catalog; then: the refresh (clone and read), listing every template
//! (`GET .../templates`) and rendering and dry-running a launch of one plain
//! and one `.tpl` template (`POST .../apps` with `dry_run`), each N times
//! (median and p95), the server's memory before and after, and the cache
//! on disk. The goal (issue 15): under 50 ms to list and to dry-run.
//! Writes target/bench/catalog.json.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use corral_api::{CatalogRequest, Client, LaunchRequest};
use corral_types::{QuestionType, TemplateInfo, VersionInfo};
use serde_json::json;

use crate::bench_scale_server::ServerChild;

const ENV: &str = "default";
/// The catalog's size (the figure).
const TEMPLATES: usize = 130;

#[derive(Debug, Clone, Args)]
pub struct CatalogArgs {
    /// Build and run the server in release.
    #[arg(long)]
    pub release: bool,
    /// Requests per measured figure.
    #[arg(long, default_value_t = 30)]
    pub rounds: usize,
}

pub fn bench_catalog(args: &CatalogArgs) -> anyhow::Result<()> {
    let corpus = corral_testing::workspace_root().join("../shared/corpus/rancher-catalog");
    if !corpus.join("templates").is_dir() {
        bail!("the corpus is missing at {}", corpus.display());
    }
    let binary = if args.release {
        crate::corral_up::build_release()?
    } else {
        crate::bench_scale::build_debug()?
    };
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let repo = tmp.path().join("repo");
    let made = make_repository(&corpus, &repo)?;
    eprintln!("==> a repository of {made} templates at {}", repo.display());
    let server = ServerChild::start(&binary, tmp.path(), 4096)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let result = runtime.block_on(measure(&server, &repo, args.rounds.max(1)));
    let cache = dir_bytes(&server.data_dir.join("catalogs"));
    if let Err(e) = server.stop() {
        eprintln!("warning: {e:#}");
    }
    let mut figures = result?;
    figures["cache_on_disk_mb"] = json!(cache as f64 / 1e6);
    figures["server_profile"] = json!(if args.release { "release" } else { "debug" });
    figures["machine"] = crate::bench_scale_report::machine();
    println!("{}", serde_json::to_string_pretty(&figures)?);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| corral_testing::workspace_root().join("target"));
    let out = target.join("bench/catalog.json");
    std::fs::create_dir_all(target.join("bench"))?;
    std::fs::write(&out, serde_json::to_string_pretty(&figures)? + "\n")?;
    println!("figures written to {}", out.display());
    Ok(())
}

async fn measure(
    server: &ServerChild,
    repo: &Path,
    rounds: usize,
) -> anyhow::Result<serde_json::Value> {
    let client = Client::with_trust(&server.url, &server.token, server.trust())?;
    let rss_before = server.status_kib("VmRSS").unwrap_or(0);
    let url = format!("file://{}", repo.display());
    let req = CatalogRequest {
        name: "community".into(),
        url,
        ..CatalogRequest::default()
    };
    client.create_catalog(None, &req).await?;
    let t = Instant::now();
    client.refresh_catalog(None, "community").await?;
    let refresh_ms = t.elapsed().as_secs_f64() * 1e3;
    let listed = client.templates(ENV, None).await?;
    let community = listed.iter().filter(|t| t.catalog == "community").count();
    if community < TEMPLATES {
        bail!("the catalog lists {community} templates, not {TEMPLATES}");
    }
    let list_ms = timed(rounds, || async {
        client.templates(ENV, None).await.map(drop)
    })
    .await?;
    let (plain, tpl) = pick(&client, &listed).await?;
    let mut dry_runs = BTreeMap::new();
    for (kind, (id, answers)) in [("plain", plain), ("tpl", tpl)] {
        let req = LaunchRequest {
            name: "bench".into(),
            template: id.clone(),
            answers,
            dry_run: true,
        };
        let ms = timed(rounds, || async {
            client.launch(ENV, &req).await.map(drop)
        })
        .await?;
        dry_runs.insert(
            kind,
            json!({"template": id, "median_ms": ms.0, "p95_ms": ms.1}),
        );
    }
    let rss_after = server.status_kib("VmRSS").unwrap_or(0);
    Ok(json!({
        "templates": community,
        "rounds": rounds,
        "refresh_ms": refresh_ms,
        "list": {"median_ms": list_ms.0, "p95_ms": list_ms.1},
        "dry_run": dry_runs,
        "server_rss_before_mb": rss_before as f64 * 1024.0 / 1e6,
        "server_rss_after_mb": rss_after as f64 * 1024.0 / 1e6,
    }))
}

/// Median and p95 of `rounds` calls of `f`, in milliseconds.
async fn timed<F, Fut>(rounds: usize, mut f: F) -> anyhow::Result<(f64, f64)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), corral_api::ApiError>>,
{
    f().await?; // warm
    let mut ms = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        f().await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Ok((at(0.5), at(0.95)))
}

/// A plain and a `.tpl` template whose default version asks nothing that
/// needs an answer from elsewhere, with answers for its required questions.
async fn pick(
    client: &Client,
    listed: &[TemplateInfo],
) -> anyhow::Result<(
    (String, BTreeMap<String, String>),
    (String, BTreeMap<String, String>),
)> {
    let (mut plain, mut tpl) = (None, None);
    for t in listed
        .iter()
        .filter(|t| t.catalog == "community" && !t.folder.contains("-copy"))
    {
        let full = client.template(ENV, "community", &t.folder).await?;
        let Some(v) = full
            .versions
            .iter()
            .find(|v| v.folder == full.default_version)
        else {
            continue;
        };
        let Some(answers) = answers_for(v) else {
            continue;
        };
        let id = format!("community/{}:{}", t.folder, v.folder);
        let is_tpl = v.files.iter().any(|f| f.name.ends_with(".tpl"));
        let slot = if is_tpl { &mut tpl } else { &mut plain };
        if slot.is_none() && v.files.len() >= 2 {
            *slot = Some((id, answers));
        }
        if plain.is_some() && tpl.is_some() {
            break;
        }
    }
    match (plain, tpl) {
        (Some(p), Some(t)) => Ok((p, t)),
        _ => bail!("no plain and .tpl template that launches with simple answers"),
    }
}

/// Answers for the required questions without a default; none if one
/// needs a service or certificate of the environment.
fn answers_for(v: &VersionInfo) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for q in &v.meta.questions {
        if matches!(q.kind, QuestionType::Service | QuestionType::Certificate) {
            return None;
        }
        if q.required && q.default.is_none() {
            let answer = match q.kind {
                QuestionType::Int => q.min.unwrap_or(1).max(1).to_string(),
                QuestionType::Boolean => "true".into(),
                QuestionType::Enum => q.options.first()?.clone(),
                _ => "answer12345678".into(),
            };
            out.insert(q.variable.clone(), answer);
        }
    }
    Some(out)
}

/// Copies the corpus's templates into a new git repository at `repo`, and
/// copies of the first ones under new names until there are [`TEMPLATES`].
fn make_repository(corpus: &Path, repo: &Path) -> anyhow::Result<usize> {
    let from = corpus.join("templates");
    let to = repo.join("templates");
    std::fs::create_dir_all(&to)?;
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&from)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for f in &folders {
        copy_dir(
            f,
            &to.join(f.file_name().context("a folder without a name")?),
        )?;
    }
    let mut count = folders.len();
    for (i, f) in folders
        .iter()
        .cycle()
        .take(TEMPLATES.saturating_sub(count))
        .enumerate()
    {
        let name = format!(
            "{}-copy{i}",
            f.file_name().and_then(|n| n.to_str()).unwrap_or("t")
        );
        copy_dir(f, &to.join(name))?;
        count += 1;
    }
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@localhost",
            "commit",
            "-qm",
            "catalog",
        ],
    ] {
        let status = Command::new("git").args(args).current_dir(repo).status()?;
        if !status.success() {
            bail!("git {args:?} failed in {}", repo.display());
        }
    }
    Ok(count)
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)?.flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else if path.is_file() {
            std::fs::copy(&path, &target)?;
        }
    }
    Ok(())
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                dir_bytes(&p)
            } else {
                e.metadata().map_or(0, |m| m.len())
            }
        })
        .sum()
}
