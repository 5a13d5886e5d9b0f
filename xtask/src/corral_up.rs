//! Building the release `corral` binary and running `corral up` as a child
//! of xtask: its URL and token, its CLI, and stopping it.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How long `corral up` may take to print its URL, and to stop.
const START_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The line `corral up` prints once its API listens.
const UP_LINE: &str = "corral is up at ";

/// `cargo build --release -p corral`; returns the binary's path.
pub fn build_release() -> anyhow::Result<PathBuf> {
    eprintln!("==> cargo build --release -p corral");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = corral_testing::workspace_root();
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .args(["build", "--release", "-p", "corral"])
        .stdin(Stdio::null())
        .status()
        .context("cannot run cargo build --release -p corral")?;
    if !status.success() {
        bail!("cargo build --release -p corral failed ({status})");
    }
    let binary = release_binary();
    if !binary.is_file() {
        bail!("{} was not built", binary.display());
    }
    Ok(binary)
}

/// `target/release/corral` (honouring `CARGO_TARGET_DIR`).
pub fn release_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| corral_testing::workspace_root().join("target"));
    target.join("release/corral")
}

/// How to run `corral up`.
pub struct UpOptions {
    pub binary: PathBuf,
    pub docker_host: String,
    /// Extra arguments after `corral up`.
    pub args: Vec<OsString>,
    /// `XDG_CONFIG_HOME` for the child (where it writes the client config);
    /// `None` keeps ours.
    pub config_home: Option<PathBuf>,
    /// `XDG_DATA_HOME` for the child; `None` keeps ours.
    pub data_home: Option<PathBuf>,
    /// Whether to copy the child's standard output to ours.
    pub echo: bool,
}

/// A running `corral up`; stopped (SIGTERM) when dropped.
pub struct CorralUp {
    child: Child,
    pub binary: PathBuf,
    pub url: String,
    pub token: String,
    /// The CA the client config pins.
    pub ca_pem: String,
    config_home: Option<PathBuf>,
}

impl CorralUp {
    /// Starts `corral up` and waits until it prints its URL, then reads the
    /// token from the client config it wrote.
    pub fn start(options: &UpOptions) -> anyhow::Result<Self> {
        let mut command = Command::new(&options.binary);
        command
            .arg("up")
            .args(&options.args)
            .env("DOCKER_HOST", &options.docker_host)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if let Some(dir) = &options.config_home {
            command.env("XDG_CONFIG_HOME", dir);
        }
        if let Some(dir) = &options.data_home {
            command.env("XDG_DATA_HOME", dir);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot run {} up", options.binary.display()))?;
        let stdout = child.stdout.take().context("corral up has no stdout")?;
        let (tx, rx) = mpsc::channel();
        let echo = options.echo;
        std::thread::spawn(move || forward_stdout(stdout, echo, &tx));
        let mut up = CorralUp {
            child,
            binary: options.binary.clone(),
            url: String::new(),
            token: String::new(),
            ca_pem: String::new(),
            config_home: options.config_home.clone(),
        };
        up.url = up.wait_for_url(&rx)?;
        let config = config_path(options.config_home.as_deref());
        (up.token, up.ca_pem) = read_token(&config, &up.url)?;
        Ok(up)
    }

    fn wait_for_url(&mut self, rx: &mpsc::Receiver<String>) -> anyhow::Result<String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(url) => return Ok(url),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
            if let Some(status) = self.child.try_wait().context("cannot wait for corral up")? {
                bail!("corral up exited ({status}) before it was up (see its output above)");
            }
        }
        bail!(
            "corral up did not print its URL within {}s",
            START_TIMEOUT.as_secs()
        )
    }

    /// The exit status if it has exited.
    pub fn try_wait(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait().context("cannot wait for corral up")
    }

    /// `corral ARGS...` (the CLI) against this server; returns stdout.
    pub fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self
            .cli_command(args)
            .output()
            .with_context(|| format!("cannot run corral {}", args.join(" ")))?;
        if !output.status.success() {
            bail!(
                "corral {} failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The `corral` CLI command pointed at this server.
    pub fn cli_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env("CORRAL_URL", &self.url)
            .env("CORRAL_TOKEN", &self.token)
            .stdin(Stdio::null());
        // The config `corral up` wrote pins the CA for this URL.
        if let Some(dir) = &self.config_home {
            command.env("XDG_CONFIG_HOME", dir);
        }
        command
    }

    /// SIGTERM, then wait (SIGKILL after a timeout).
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.terminate()
    }

    fn terminate(&mut self) -> anyhow::Result<()> {
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stdin(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if self.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        bail!(
            "corral up did not stop within {}s of SIGTERM: killed",
            STOP_TIMEOUT.as_secs()
        )
    }
}

impl Drop for CorralUp {
    fn drop(&mut self) {
        if let Err(error) = self.terminate() {
            eprintln!("warning: {error:#}");
        }
    }
}

/// Copies the child's lines to our stdout (when `echo`) and sends the URL
/// of the `corral is up at URL` line.
fn forward_stdout(stdout: std::process::ChildStdout, echo: bool, tx: &mpsc::Sender<String>) {
    let mut out = std::io::stdout();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if echo {
            let _ = writeln!(out, "{line}");
        }
        if let Some(url) = line.strip_prefix(UP_LINE) {
            let _ = tx.send(url.trim().to_owned());
        }
    }
}

/// Where `corral up` writes the client config for a given `XDG_CONFIG_HOME`.
pub fn config_path(config_home: Option<&Path>) -> PathBuf {
    let from_env = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let base = config_home
        .map(Path::to_path_buf)
        .or(from_env)
        .unwrap_or_else(|| home.join(".config"));
    base.join("corral/config.json")
}

/// The token and the CA in the client config at `path`, which must name `url`.
fn read_token(path: &Path, url: &str) -> anyhow::Result<(String, String)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the client config {}", path.display()))?;
    let config: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("cannot parse the client config {}", path.display()))?;
    let found_url = config.get("url").and_then(|v| v.as_str()).unwrap_or("");
    if found_url != url {
        bail!(
            "the client config {} names {found_url}, not {url}",
            path.display()
        );
    }
    let field = |name: &str| {
        config
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .with_context(|| format!("no {name} in {}", path.display()))
    };
    Ok((field("token")?, field("ca_pem")?))
}

/// Polls `check` every `every` until it yields a value or `timeout` passes.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match check() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last_error = Some(error),
        }
        if Instant::now() >= deadline {
            let detail = last_error.map(|e| format!(" (last error: {e:#})"));
            bail!(
                "timed out after {}s waiting for {what}{}",
                timeout.as_secs(),
                detail.unwrap_or_default()
            );
        }
        std::thread::sleep(every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_path_prefers_the_given_home() {
        let path = config_path(Some(Path::new("/tmp/x")));
        assert_eq!(path, PathBuf::from("/tmp/x/corral/config.json"));
    }

    #[test]
    fn read_token_checks_the_url() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"url":"https://127.0.0.1:1","token":"t","ca_pem":"c"}"#,
        )
        .unwrap();
        assert_eq!(
            read_token(&path, "https://127.0.0.1:1").unwrap(),
            ("t".to_string(), "c".to_string())
        );
        assert!(read_token(&path, "https://127.0.0.1:2").is_err());
    }

    #[test]
    fn wait_for_times_out_with_the_last_error() {
        let error = wait_for::<()>("nothing", Duration::ZERO, Duration::ZERO, || {
            bail!("still broken")
        })
        .unwrap_err();
        assert!(format!("{error:#}").contains("still broken"), "{error:#}");
    }
}
