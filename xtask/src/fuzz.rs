//! `cargo xtask fuzz`: runs a cargo-fuzz target of `fuzz/` (the compose
//! parser) for a while from a seed corpus built at run time, and fails when
//! the fuzzer found a crash.
//!
//! Runs on the stable toolchain: `cargo fuzz run --sanitizer none` passes
//! only `-C` flags (sancov coverage) and `--cfg fuzzing` to rustc; the
//! default address sanitizer would need `-Zsanitizer` (nightly). The code
//! under test is safe Rust, so ASan adds little.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use anyhow::{Context, bail};
use clap::Args;
use corral_testing::workspace_root;

/// The targets of fuzz/Cargo.toml.
const TARGETS: &[&str] = &["compose_load", "interpolate_env"];

#[derive(Debug, Clone, Args)]
pub struct FuzzArgs {
    /// The fuzz target: compose_load or interpolate_env.
    #[arg(long, default_value = "compose_load")]
    pub target: String,
    /// How long to fuzz (libFuzzer's -max_total_time).
    #[arg(long, default_value_t = 600)]
    pub seconds: u64,
    /// Extra libFuzzer arguments (after `--`), e.g. `-jobs=2`.
    #[arg(last = true)]
    pub fuzzer_args: Vec<String>,
}

/// Figures libFuzzer printed.
#[derive(Debug, Default)]
struct Figures {
    /// The last status line (`#N ... cov: C ft: F corp: ... exec/s: E`).
    last_status: Option<String>,
    /// `Done N runs in S second(s)`.
    done: Option<String>,
    /// `stat::...` lines of -print_final_stats.
    stats: Vec<String>,
}

pub fn fuzz(args: &FuzzArgs) -> anyhow::Result<()> {
    if !TARGETS.contains(&args.target.as_str()) {
        bail!(
            "unknown fuzz target {:?}; the targets are {}",
            args.target,
            TARGETS.join(", ")
        );
    }
    let root = workspace_root();
    ensure_cargo_fuzz()?;

    let corpus = root.join("target/fuzz-corpus").join(&args.target);
    let seeds = seed_corpus(&root, &args.target, &corpus)?;
    eprintln!("==> {seeds} seed inputs in {}", corpus.display());

    let artifacts = root.join("fuzz/artifacts").join(&args.target);
    let log_path = root
        .join("target/fuzz-logs")
        .join(format!("{}.log", args.target));
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let started = SystemTime::now();
    eprintln!(
        "==> cargo fuzz run {} for {}s (log: {})",
        args.target,
        args.seconds,
        log_path.display()
    );
    let mut command = Command::new(cargo());
    command
        .current_dir(&root)
        .args(["fuzz", "run", "--sanitizer", "none", "--target-dir"])
        .arg(root.join("target/fuzz"))
        .arg(&args.target)
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={}", args.seconds))
        .args(["-print_final_stats=1", "-timeout=30"])
        .args(&args.fuzzer_args)
        .stderr(Stdio::piped());
    let (status, figures) = run_logged(&mut command, &log_path)?;

    let found = new_artifacts(&artifacts, started)?;
    eprintln!("==> fuzz {} summary", args.target);
    if let Some(done) = &figures.done {
        eprintln!("    {done}");
    }
    if let Some(line) = &figures.last_status {
        eprintln!("    last status: {line}");
    }
    for stat in &figures.stats {
        eprintln!("    {stat}");
    }
    let corpus_now = count_files(&corpus)?;
    eprintln!("    corpus: {corpus_now} inputs ({seeds} seeds)");
    if !found.is_empty() {
        eprintln!("    crashes in {}:", artifacts.display());
        for path in &found {
            eprintln!("      {}", path.display());
        }
        eprintln!(
            "    reproduce: cargo fuzz run --sanitizer none --target-dir target/fuzz {} <file>",
            args.target
        );
        eprintln!(
            "    minimize:  cargo fuzz tmin --sanitizer none --target-dir target/fuzz {} <file>",
            args.target
        );
        bail!(
            "the fuzzer found {} failing input(s) for {}",
            found.len(),
            args.target
        );
    }
    if !status.success() {
        bail!("cargo fuzz run {} failed ({status})", args.target);
    }
    eprintln!("    no crash");
    Ok(())
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Installs cargo-fuzz from crates.io unless `cargo fuzz` already runs.
fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    let present = Command::new(cargo())
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("==> cargo install cargo-fuzz --locked");
    let status = Command::new(cargo())
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .context("cannot run cargo install cargo-fuzz")?;
    if !status.success() {
        bail!("cargo install cargo-fuzz failed ({status})");
    }
    Ok(())
}

/// The real-world corpus beside the workspace (`CORRAL_CORPUS`).
fn shared_corpus(root: &Path) -> Option<PathBuf> {
    let dir = match std::env::var_os("CORRAL_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => root.join("../shared/corpus"),
    };
    dir.is_dir().then_some(dir)
}

/// Compose and rancher-compose files (also `.yml.tpl` catalog templates).
fn is_compose_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.contains("compose")
        && [".yml", ".yaml", ".yml.tpl"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Every file under `dir`, sorted; nothing when it does not exist.
fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in
            std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))?
        {
            let path = entry
                .with_context(|| format!("cannot list {}", d.display()))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `a` + separator + `b`: the two-file form the targets split again.
fn joined(a: &[u8], separator: u8, b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len() + b.len() + 1);
    out.extend_from_slice(a);
    out.push(separator);
    out.extend_from_slice(b);
    out
}

/// Anchors, aliases and merge keys (the expansions the loader bounds), for
/// `compose_load`.
const ALIAS_SEEDS: &[(&str, &str)] = &[
    (
        "anchors-merge",
        "x-base: &base\n  image: nginx\n  restart: always\n  environment: &env {A: \"1\", B: two}\n\
         services:\n  web:\n    <<: *base\n    environment:\n      <<: *env\n      B: three\n\
         \x20 api:\n    <<: *base\n    image: api:1\n",
    ),
    (
        "anchors-merge-list",
        "x-a: &a {image: a, scale: \"2\"}\nx-b: &b {image: b, user: \"1000\"}\n\
         services:\n  web:\n    <<: [*a, *b]\n    labels: &l [\"k=v\"]\n  db:\n    image: db\n    labels: *l\n",
    ),
    (
        "anchors-scalar-alias",
        "services:\n  web:\n    image: &img nginx:${TAG:-1}\n    command: [*img, &arg \"--x\", *arg]\n  \
         side:\n    image: *img\n",
    ),
    (
        "anchors-nested",
        "x-l0: &l0 [x, x, x, x]\nx-l1: &l1 [*l0, *l0, *l0, *l0]\nx-l2: &l2 [*l1, *l1, *l1, *l1]\n\
         services:\n  web:\n    image: nginx\n    x-keep: *l2\n",
    ),
    (
        "anchors-alias-key",
        "x-k: &k image\nservices:\n  web:\n    *k : nginx\n    <<: {scale: \"1\"}\n",
    ),
];

/// Writes the seed inputs of `target` into `corpus` (kept across runs, with
/// what the fuzzer added); returns how many seeds there are.
fn seed_corpus(root: &Path, target: &str, corpus: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(corpus)
        .with_context(|| format!("cannot create {}", corpus.display()))?;
    let mut dirs = vec![
        root.join("crates/compose/tests/fixtures"),
        root.join("corral/tests/fixtures/stacks"),
    ];
    match shared_corpus(root) {
        Some(dir) => dirs.push(dir),
        None => eprintln!("==> no shared corpus (CORRAL_CORPUS, ../shared/corpus): skipped"),
    }
    let mut compose = Vec::new();
    let mut env = Vec::new();
    for dir in &dirs {
        for path in walk(dir)? {
            if is_compose_file(&path) {
                compose.push(path);
            } else if path.extension().is_some_and(|e| e == "env") {
                env.push(path);
            }
        }
    }

    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    let label = |path: &Path| -> String {
        let rel = path.strip_prefix(root).unwrap_or(path);
        let flat: String = rel
            .to_string_lossy()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("seed-{}", flat.trim_start_matches(['.', '_']))
    };
    let rancher_dirs: BTreeSet<PathBuf> = compose
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "rancher-compose.yml"))
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    match target {
        "compose_load" => {
            for path in &compose {
                seeds.push((label(path), read(path)?));
            }
            // docker-compose.yml \0 rancher-compose.yml, as a stack has them.
            for dir in &rancher_dirs {
                let dc = dir.join("docker-compose.yml");
                if dc.is_file() {
                    let pair = joined(&read(&dc)?, 0, &read(&dir.join("rancher-compose.yml"))?);
                    seeds.push((format!("{}-pair", label(dir)), pair));
                }
            }
            for path in &env {
                let with_env = joined(
                    b"services:\n  web:\n    image: x\n    env_file: .env\n",
                    2,
                    &read(path)?,
                );
                seeds.push((format!("{}-env_file", label(path)), with_env));
            }
            for (name, text) in ALIAS_SEEDS {
                seeds.push((format!("seed-{name}"), text.as_bytes().to_vec()));
            }
        }
        _ => {
            for path in &env {
                seeds.push((label(path), read(path)?));
            }
            // An empty .env, then the compose file.
            for path in &compose {
                seeds.push((
                    format!("{}-compose", label(path)),
                    joined(b"", 0, &read(path)?),
                ));
            }
            let fixtures = root.join("crates/compose/tests/fixtures");
            let pair = (
                fixtures.join("interpolation.env"),
                fixtures.join("interpolation.yml"),
            );
            if pair.0.is_file() && pair.1.is_file() {
                seeds.push((
                    "seed-interpolation-pair".into(),
                    joined(&read(&pair.0)?, 0, &read(&pair.1)?),
                ));
            }
        }
    }
    // Inputs that once crashed (crates/compose/tests/regressions/).
    for path in walk(&root.join("crates/compose/tests/regressions"))? {
        seeds.push((label(&path), read(&path)?));
    }
    for (name, content) in &seeds {
        let path = corpus.join(name);
        std::fs::write(&path, content)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(seeds.len())
}

/// Runs `command` (stderr piped), copying its stderr to ours and to
/// `log_path`, and picks libFuzzer's figures out of it.
fn run_logged(
    command: &mut Command,
    log_path: &Path,
) -> anyhow::Result<(std::process::ExitStatus, Figures)> {
    let mut log = std::fs::File::create(log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut child = command.spawn().context("cannot run cargo fuzz")?;
    let mut figures = Figures::default();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).split(b'\n') {
            let line = line.context("cannot read the fuzzer's output")?;
            let line = String::from_utf8_lossy(&line);
            eprintln!("{line}");
            writeln!(log, "{line}")
                .with_context(|| format!("cannot write {}", log_path.display()))?;
            if line.starts_with('#') && line.contains(" cov: ") {
                figures.last_status = Some(line.to_string());
            } else if line.starts_with("Done ") && line.contains(" runs in ") {
                figures.done = Some(line.to_string());
            } else if line.starts_with("stat::") {
                figures.stats.push(line.to_string());
            }
        }
    }
    let status = child.wait().context("cannot wait for cargo fuzz")?;
    Ok((status, figures))
}

/// Failing inputs libFuzzer wrote into `dir` since `since`.
fn new_artifacts(dir: &Path, since: SystemTime) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in walk(dir)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let failing = ["crash-", "oom-", "timeout-", "leak-"]
            .iter()
            .any(|p| name.starts_with(p));
        let modified = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .with_context(|| format!("cannot stat {}", path.display()))?;
        if failing && modified >= since {
            out.push(path);
        }
    }
    Ok(out)
}

fn count_files(dir: &Path) -> anyhow::Result<usize> {
    Ok(walk(dir)?.len())
}
