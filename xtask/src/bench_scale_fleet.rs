//! The simulated nodes of `bench scale`, in this process or split over
//! several: each agent holds a listener, a watch and pooled connections
//! (about 12 files), so 5,000 of them need about 64,000 open files, and a
//! machine may not let one process have that many (the hard limit here is
//! 20,000). Then the nodes run in child processes (`cargo xtask bench
//! scale-nodes`, this same binary), each with as many as its limit allows,
//! driven over their standard input and output one line at a time; the run
//! is never silently smaller than asked.
//!
//! The protocol (one request line, one answer line): `add F C`, `kill F C`,
//! `revive F C` (answer `ok`), `count`, `running` (a number), `failed` (a
//! JSON array of lines), `stop` (`ok`, then the child exits).

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::bench_scale_nodes::SimNodes;

/// Files one simulated node needs.
pub const FILES_PER_NODE: u64 = 12;
/// Files a process needs besides its nodes.
pub const FILES_BESIDES: u64 = 4096;

/// How many nodes one process with `limit` open files can run.
pub fn nodes_per_process(limit: u64) -> usize {
    (limit.saturating_sub(FILES_BESIDES) / FILES_PER_NODE).max(1) as usize
}

/// The nodes `first..first + count` split into runs of at most `per` nodes.
pub fn split(count: usize, per: usize) -> Vec<(usize, usize)> {
    let per = per.max(1);
    (0..count)
        .step_by(per)
        .map(|first| (first, per.min(count - first)))
        .collect()
}

/// `cargo xtask bench scale-nodes`: the child side.
#[derive(Debug, Clone, Args)]
pub struct NodesArgs {
    #[arg(long)]
    pub url: String,
    /// A file holding the registration token (not the command line).
    #[arg(long)]
    pub token_file: std::path::PathBuf,
    /// A file holding the server's CA (PEM).
    #[arg(long)]
    pub ca_file: std::path::PathBuf,
}

/// The child's loop: runs nodes as the parent asks until `stop` or the
/// end of its input.
pub fn serve(args: &NodesArgs) -> anyhow::Result<()> {
    let token = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("{}", args.token_file.display()))?;
    let ca = std::fs::read_to_string(&args.ca_file)
        .with_context(|| format!("{}", args.ca_file.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(async move {
        let mut nodes = SimNodes::start(&args.url, token.trim(), &ca, 0, 0);
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        let mut out = tokio::io::stdout();
        while let Some(line) = lines.next_line().await? {
            let words: Vec<&str> = line.split_whitespace().collect();
            let range = || -> anyhow::Result<(usize, usize)> {
                match words.as_slice() {
                    [_, f, c] => Ok((f.parse()?, c.parse()?)),
                    _ => bail!("{line:?}: expected VERB FIRST COUNT"),
                }
            };
            let answer = match words.first().copied() {
                Some("add") => range().map(|(f, c)| {
                    nodes.add(f, c);
                    "ok".to_string()
                }),
                Some("kill") => range().map(|(f, c)| {
                    nodes.kill(f, c);
                    "ok".to_string()
                }),
                Some("revive") => range().map(|(f, c)| {
                    nodes.revive(f, c);
                    "ok".to_string()
                }),
                Some("count") => Ok(nodes.container_count().to_string()),
                Some("running") => Ok(nodes.running_containers().to_string()),
                Some("failed") => Ok(serde_json::to_string(&nodes.failed())?),
                Some("stop") => break,
                _ => Err(anyhow::anyhow!("{line:?}: unknown request")),
            };
            let text = answer.unwrap_or_else(|e| format!("error {e:#}"));
            out.write_all(format!("{text}\n").as_bytes()).await?;
            out.flush().await?;
        }
        nodes.stop(Duration::from_secs(30)).await;
        out.write_all(b"ok\n").await?;
        out.flush().await?;
        anyhow::Ok(())
    })
}

/// One child process and the nodes it runs.
pub struct Remote {
    first: usize,
    count: usize,
    child: Child,
    input: ChildStdin,
    output: tokio::io::Lines<BufReader<ChildStdout>>,
}

impl Remote {
    async fn ask(&mut self, request: &str) -> anyhow::Result<String> {
        self.input
            .write_all(format!("{request}\n").as_bytes())
            .await
            .context("writing to a node process")?;
        self.input.flush().await?;
        let line = self
            .output
            .next_line()
            .await?
            .context("a node process ended")?;
        if let Some(e) = line.strip_prefix("error ") {
            bail!("node process: {e}");
        }
        Ok(line)
    }

    /// The part of `first..first + count` this process runs, if any.
    fn overlap(&self, first: usize, count: usize) -> Option<(usize, usize)> {
        let start = first.max(self.first);
        let end = (first + count).min(self.first + self.count);
        (start < end).then(|| (start, end - start))
    }
}

/// The simulated nodes of a run.
pub enum Fleet {
    Local(SimNodes),
    Split(Vec<Remote>),
}

impl Fleet {
    /// Nodes against `url`: in this process when `nodes` fit in its open
    /// file limit `limit` and `exe` is this binary, else in child processes
    /// of `exe`, of that limit each (whose nodes start only when
    /// [`Fleet::add`] asks).
    pub async fn start(
        url: &str,
        token: &str,
        ca_pem: &str,
        nodes: usize,
        limit: u64,
        exe: &std::path::Path,
        dir: &std::path::Path,
    ) -> anyhow::Result<Fleet> {
        let per = nodes_per_process(limit);
        // Another binary (a release build) runs them even when they fit here.
        let this = std::env::current_exe().ok();
        if nodes <= per && this.as_deref() == Some(exe) {
            return Ok(Fleet::Local(SimNodes::start(url, token, ca_pem, 0, 0)));
        }
        let token_file = dir.join("bench-token");
        let ca_file = dir.join("bench-ca.pem");
        std::fs::write(&token_file, token)?;
        std::fs::write(&ca_file, ca_pem)?;
        let parts = split(nodes, per);
        eprintln!(
            "==> {nodes} simulated nodes in {} processes of at most {per} (open files: {limit} each; {})",
            parts.len(),
            exe.display()
        );
        let mut remotes = Vec::new();
        for (first, count) in parts {
            let mut child = Command::new(exe)
                .args(["bench", "scale-nodes", "--url", url])
                .arg("--token-file")
                .arg(&token_file)
                .arg("--ca-file")
                .arg(&ca_file)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("cannot start {}", exe.display()))?;
            let input = child.stdin.take().context("no stdin")?;
            let output = BufReader::new(child.stdout.take().context("no stdout")?).lines();
            remotes.push(Remote {
                first,
                count,
                child,
                input,
                output,
            });
        }
        Ok(Fleet::Split(remotes))
    }

    async fn each(&mut self, verb: &str, first: usize, count: usize) -> anyhow::Result<()> {
        match self {
            Fleet::Local(n) => {
                match verb {
                    "add" => n.add(first, count),
                    "kill" => n.kill(first, count),
                    _ => n.revive(first, count),
                }
                Ok(())
            }
            Fleet::Split(remotes) => {
                for r in remotes {
                    if let Some((f, c)) = r.overlap(first, count) {
                        r.ask(&format!("{verb} {f} {c}")).await?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Starts nodes `first..first + count`.
    pub async fn add(&mut self, first: usize, count: usize) -> anyhow::Result<()> {
        self.each("add", first, count).await
    }

    /// Kills the agents of nodes `first..first + count` (see [`SimNodes::kill`]).
    pub async fn kill(&mut self, first: usize, count: usize) -> anyhow::Result<()> {
        self.each("kill", first, count).await
    }

    /// Starts those agents again on their engines.
    pub async fn revive(&mut self, first: usize, count: usize) -> anyhow::Result<()> {
        self.each("revive", first, count).await
    }

    async fn sum(&mut self, verb: &str) -> anyhow::Result<usize> {
        match self {
            Fleet::Local(n) => Ok(if verb == "count" {
                n.container_count()
            } else {
                n.running_containers()
            }),
            Fleet::Split(remotes) => {
                let mut total = 0;
                for r in remotes {
                    total += r.ask(verb).await?.parse::<usize>()?;
                }
                Ok(total)
            }
        }
    }

    /// Containers on all the fake engines, in any state.
    pub async fn container_count(&mut self) -> anyhow::Result<usize> {
        self.sum("count").await
    }

    /// Containers running on all the fake engines.
    pub async fn running_containers(&mut self) -> anyhow::Result<usize> {
        self.sum("running").await
    }

    /// Agents that ended on their own (see [`SimNodes::failed`]).
    pub async fn failed(&mut self) -> anyhow::Result<Vec<String>> {
        match self {
            Fleet::Local(n) => Ok(n.failed()),
            Fleet::Split(remotes) => {
                let mut all = Vec::new();
                for r in remotes {
                    let lines: Vec<String> = serde_json::from_str(&r.ask("failed").await?)?;
                    all.extend(lines);
                }
                Ok(all)
            }
        }
    }

    /// CPU seconds the simulated nodes have used so far: this process's
    /// when they run here (the bench's own threads included), else the sum
    /// of the child processes'.
    pub fn cpu_seconds(&self) -> f64 {
        let of = |pid: &str| {
            crate::bench_scale_server::cpu_by_thread(pid)
                .values()
                .sum::<f64>()
        };
        match self {
            Fleet::Local(_) => of("self"),
            Fleet::Split(remotes) => remotes
                .iter()
                .filter_map(|r| r.child.id())
                .map(|pid| of(&pid.to_string()))
                .sum(),
        }
    }

    /// Stops every agent (in every process) within `timeout`.
    pub async fn stop(self, timeout: Duration) {
        match self {
            Fleet::Local(n) => n.stop(timeout).await,
            Fleet::Split(remotes) => {
                for mut r in remotes {
                    let stopped = tokio::time::timeout(timeout, r.ask("stop")).await;
                    if !matches!(stopped, Ok(Ok(_))) {
                        let _ = r.child.start_kill();
                    }
                    let _ = tokio::time::timeout(Duration::from_secs(5), r.child.wait()).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_split_into_processes_within_their_file_limit() {
        assert_eq!(nodes_per_process(20_000), 1325);
        assert_eq!(nodes_per_process(1000), 1);
        assert_eq!(
            split(5000, 1325),
            [(0, 1325), (1325, 1325), (2650, 1325), (3975, 1025)]
        );
        assert_eq!(split(10, 20), [(0, 10)]);
        assert_eq!(split(0, 5), []);
    }
}
