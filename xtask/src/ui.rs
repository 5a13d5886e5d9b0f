//! `cargo xtask ui build|test`: the web UI (`ui/`), built with npm from its
//! committed lock file into `ui/dist`, which `corral-ui-assets` embeds in
//! the binary at compile time.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

/// Node.js releases older than this cannot run Vite 8.
const NODE_MIN: (u32, u32) = (20, 19);

#[derive(Debug, Args)]
pub struct UiArgs {
    #[command(subcommand)]
    action: UiAction,
}

#[derive(Debug, Subcommand)]
enum UiAction {
    /// `npm ci` and `vite build` into ui/dist (then `cargo build` embeds it).
    Build,
    /// `npm ci`, tsc --noEmit, eslint, vitest, then the browser test against
    /// a real `corral server` (which this builds with the UI embedded).
    Test {
        /// Skip the browser test.
        #[arg(long)]
        no_browser: bool,
    },
}

pub fn ui(args: &UiArgs) -> anyhow::Result<()> {
    match args.action {
        UiAction::Build => {
            install()?;
            build()
        }
        UiAction::Test { no_browser } => {
            install()?;
            checks()?;
            if !no_browser {
                build()?;
                browser()?;
            }
            Ok(())
        }
    }
}

/// `ui/` in the workspace.
pub fn dir() -> PathBuf {
    corral_testing::workspace_root().join("ui")
}

/// `npm ci`: node_modules exactly as package-lock.json says.
pub fn install() -> anyhow::Result<()> {
    check_node()?;
    npm(&["ci", "--no-audit", "--no-fund"])
}

/// `tsc --noEmit`, `eslint` and the unit tests (vitest).
pub fn checks() -> anyhow::Result<()> {
    npm(&["run", "typecheck"])?;
    npm(&["run", "lint"])?;
    npm(&["run", "test"])
}

/// `vite build` into ui/dist.
pub fn build() -> anyhow::Result<()> {
    npm(&["run", "build"])?;
    let index = dir().join("dist/index.html");
    if !index.is_file() {
        bail!("npm run build wrote no {}", index.display());
    }
    eprintln!(
        "==> UI built into {}; `cargo build` embeds it",
        index.parent().unwrap_or(&index).display()
    );
    Ok(())
}

/// `cargo xtask bench ui`: builds the UI and the release `corral` (which
/// embeds it), then `npm run bench` (ui/bench/ui.bench.ts) against it: the
/// first page's JavaScript, a dashboard of 1,000 services and 10,000
/// instances, a burst of 1,000 watch events; target/bench/ui.json.
pub fn bench() -> anyhow::Result<()> {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.is_file() {
        bail!("no {}: run `cargo xtask setup` as root", chromium.display());
    }
    install()?;
    build()?;
    let binary = crate::corral_up::build_release()?;
    let out = target_dir().join("bench");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut command = npm_command(&["run", "bench"]);
    command
        .env("CORRAL_BIN", &binary)
        .env("CHROMIUM", chromium)
        .env("CORRAL_BENCH_OUT", out.join("ui.json"));
    run(&mut command, "npm run bench")?;
    eprintln!("==> wrote {}", out.join("ui.json").display());
    Ok(())
}

/// The browser test: builds `corral` (embedding ui/dist), starts the
/// private engine with the busybox image (the container page's test runs
/// `corral up` on it), and runs ui/e2e with them and Debian's Chromium.
pub fn browser() -> anyhow::Result<()> {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.is_file() {
        bail!("no {}: run `cargo xtask setup` as root", chromium.display());
    }
    let binary = build_corral()?;
    let engine = corral_testing::test_engine()?;
    corral_testing::ensure_busybox_image(&engine)?;
    let screenshots = target_dir().join("ui");
    let mut command = npm_command(&["run", "e2e"]);
    command
        .env("CORRAL_BIN", &binary)
        .env("CHROMIUM", chromium)
        .env("CORRAL_UI_SCREENSHOTS", &screenshots)
        .env("CORRAL_E2E_DOCKER_HOST", &engine.docker_host)
        .env("CORRAL_E2E_IMAGE", corral_testing::BUSYBOX_IMAGE);
    eprintln!("==> npm run e2e");
    crate::failures::run(&mut command, "npm run e2e", crate::failures::Runner::Vitest)?;
    eprintln!("==> screenshots in {}", screenshots.display());
    Ok(())
}

/// `target/` (honouring `CARGO_TARGET_DIR`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| corral_testing::workspace_root().join("target"))
}

/// `cargo build -p corral` (debug); the binary's path.
fn build_corral() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(corral_testing::workspace_root())
        .args(["build", "-p", "corral"])
        .stdin(Stdio::null());
    run(&mut command, "cargo build -p corral")?;
    let binary = target_dir().join("debug/corral");
    if !binary.is_file() {
        bail!("{} was not built", binary.display());
    }
    Ok(binary)
}

/// Node.js and npm are there, and Node.js is recent enough.
fn check_node() -> anyhow::Result<()> {
    let missing = "the web UI is built with Node.js (20.19 or newer) and npm: \
                   run `cargo xtask setup` as root, or install them";
    let out = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run node: {missing}"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match parse_version(&version) {
        Some(v) if v >= NODE_MIN => {}
        _ => bail!("node {version:?} is too old or unknown: {missing}"),
    }
    Command::new("npm")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("cannot run npm: {missing}"))?;
    Ok(())
}

/// `v20.19.2` -> (20, 19).
fn parse_version(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn npm_command(args: &[&str]) -> Command {
    let mut command = Command::new("npm");
    command.current_dir(dir()).args(args).stdin(Stdio::null());
    command
}

fn npm(args: &[&str]) -> anyhow::Result<()> {
    run(&mut npm_command(args), &format!("npm {}", args.join(" ")))
}

fn run(command: &mut Command, what: &str) -> anyhow::Result<()> {
    eprintln!("==> {what}");
    let status = command
        .status()
        .with_context(|| format!("cannot run {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions_are_read() {
        assert_eq!(parse_version("v20.19.2"), Some((20, 19)));
        assert_eq!(parse_version("v18.19.0\n".trim()), Some((18, 19)));
        assert_eq!(parse_version("garbage"), None);
        assert!(parse_version("v22.1.0").is_some_and(|v| v >= NODE_MIN));
        assert!(parse_version("v20.18.0").is_some_and(|v| v < NODE_MIN));
    }
}
