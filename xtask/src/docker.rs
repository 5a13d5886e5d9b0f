//! The `docker` CLI against one engine, for the demo and the benchmarks.

use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// An engine reached with `docker -H <host>`.
#[derive(Debug, Clone)]
pub struct Docker {
    pub host: String,
}

impl Docker {
    pub fn new(host: &str) -> Self {
        Docker {
            host: host.to_owned(),
        }
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new("docker");
        command.arg("-H").arg(&self.host).stdin(Stdio::null());
        command
    }

    /// `docker -H host ARGS...`; fails with its stderr, returns its stdout.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self
            .command()
            .args(args)
            .output()
            .with_context(|| format!("cannot run docker {}", args.join(" ")))?;
        if !output.status.success() {
            bail!(
                "docker -H {} {} failed ({}): {}",
                self.host,
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Whether the engine answers (`docker version` succeeds quietly).
    pub fn answers(&self) -> bool {
        self.command()
            .args(["version", "--format", "{{.Server.Version}}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The engine's version.
    pub fn server_version(&self) -> anyhow::Result<String> {
        Ok(self
            .run(&["version", "--format", "{{.Server.Version}}"])?
            .trim()
            .to_owned())
    }

    /// The ids of all containers (running or not) matching `filter`
    /// (`label=k=v`, `name=x`).
    pub fn ids(&self, filter: &str) -> anyhow::Result<Vec<String>> {
        let out = self.run(&["ps", "-aq", "--filter", filter])?;
        Ok(out.split_whitespace().map(str::to_owned).collect())
    }

    /// `docker rm -f -v` of every container matching `filter`; returns how many.
    pub fn remove_all(&self, filter: &str) -> anyhow::Result<usize> {
        let ids = self.ids(filter)?;
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids.iter().map(String::as_str));
            self.run(&args)?;
        }
        Ok(ids.len())
    }
}
