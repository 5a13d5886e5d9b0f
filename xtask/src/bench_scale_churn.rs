//! The churn phase of `cargo xtask bench scale`: after the deploy, a share
//! of the simulated nodes die at once (their agents are aborted, no
//! goodbye; their fake engines and containers stay, like a host whose link
//! went down), the server notices, then they come back and adopt their
//! containers. Measures the time to notice, the time to be back, the API
//! latency meanwhile, and that no container was duplicated.

use std::time::{Duration, Instant};

use anyhow::bail;
use corral_api::Client;
use corral_types::NodeState;

use crate::bench_scale_fleet::Fleet;
use crate::bench_scale_probe::{Probe, percentile};

const ENV: &str = "default";
const POLL: Duration = Duration::from_millis(250);

/// What the churn phase measured.
#[derive(Debug, Clone, Default)]
pub struct ChurnFigures {
    pub killed: usize,
    /// From the kill until the server marked all of them disconnected
    /// (bounded below by the node timeout).
    pub seconds_to_detect: f64,
    /// From the restart until all of them were active again.
    pub seconds_to_return: f64,
    /// From the restart until the fake engines held exactly the expected
    /// containers again and every service counted them running.
    pub seconds_to_settle: f64,
    pub containers_before: usize,
    pub containers_after: usize,
    pub api_p99_ms: f64,
    pub probe_errors: u64,
}

pub struct ChurnRun<'a> {
    pub client: &'a Client,
    pub nodes: &'a mut Fleet,
    pub node_count: usize,
    pub share_percent: usize,
    pub expected_running: u64,
    pub probe_every: Duration,
    pub timeout: Duration,
}

impl ChurnRun<'_> {
    pub async fn run(self) -> anyhow::Result<ChurnFigures> {
        let killed = (self.node_count * self.share_percent / 100).max(1);
        let mut figures = ChurnFigures {
            killed,
            containers_before: self.nodes.container_count().await?,
            ..ChurnFigures::default()
        };
        eprintln!("==> churn: {killed} nodes die");
        let probe = Probe::start(self.client, self.probe_every, self.timeout)?;
        let t0 = Instant::now();
        self.nodes.kill(0, killed).await?;
        let deadline = t0 + self.timeout;
        wait_nodes(self.client, deadline, |active, disconnected| {
            disconnected >= killed && active + disconnected >= self.node_count
        })
        .await?;
        figures.seconds_to_detect = t0.elapsed().as_secs_f64();
        eprintln!(
            "    all {killed} disconnected after {:.1}s; they come back",
            figures.seconds_to_detect
        );
        let t1 = Instant::now();
        self.nodes.revive(0, killed).await?;
        let deadline = t1 + self.timeout;
        wait_nodes(self.client, deadline, |active, _| active >= self.node_count).await?;
        figures.seconds_to_return = t1.elapsed().as_secs_f64();
        loop {
            let running = running_count(self.client).await;
            let containers = self.nodes.container_count().await?;
            // Settled: every instance runs, and the engines hold exactly one
            // container per instance (none lost, no duplicate), whatever
            // they held before (a deploy may end with a few surplus
            // containers the agents are still removing).
            if running >= self.expected_running && containers as u64 == self.expected_running {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "churn: timed out with {running} of {} running and {containers} containers for them (had {} before)",
                    self.expected_running,
                    figures.containers_before
                );
            }
            tokio::time::sleep(POLL).await;
        }
        figures.seconds_to_settle = t1.elapsed().as_secs_f64();
        let probed = probe.finish()?;
        figures.api_p99_ms = percentile(&probed.all_ms(), 99.0);
        figures.probe_errors = probed.errors;
        figures.containers_after = self.nodes.container_count().await?;
        Ok(figures)
    }
}

/// Polls the node list until `done(active, disconnected)`.
async fn wait_nodes(
    client: &Client,
    deadline: Instant,
    done: impl Fn(usize, usize) -> bool,
) -> anyhow::Result<()> {
    let (mut active, mut disconnected) = (0, 0);
    while Instant::now() < deadline {
        if let Ok(list) = client.nodes(ENV).await {
            active = count(&list.items, NodeState::Active);
            disconnected = count(&list.items, NodeState::Disconnected);
            if done(active, disconnected) {
                return Ok(());
            }
        }
        tokio::time::sleep(POLL).await;
    }
    bail!("churn: timed out with {active} nodes active and {disconnected} disconnected")
}

fn count(nodes: &[corral_types::Node], state: NodeState) -> usize {
    nodes.iter().filter(|n| n.status.state == state).count()
}

async fn running_count(client: &Client) -> u64 {
    match client.services(ENV).await {
        Ok(list) => list.items.iter().map(|s| u64::from(s.status.running)).sum(),
        Err(_) => 0,
    }
}

/// Milliseconds from each instance's creation (its placement: new
/// instances are written already placed) to its container's start as the
/// agent reported it: watch delivery, the agent's pass and the start.
/// Returns (p50, p99, max); None when no instance has both times.
pub fn delivery_lag_ms(instances: &[corral_types::Instance]) -> Option<(f64, f64, f64)> {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    let lags: Vec<f64> = instances
        .iter()
        .filter_map(|i| {
            let created = OffsetDateTime::parse(&i.meta.created, &Rfc3339).ok()?;
            let started = OffsetDateTime::parse(&i.status.started_at, &Rfc3339).ok()?;
            Some((started - created).as_seconds_f64() * 1000.0)
        })
        .collect();
    if lags.is_empty() {
        return None;
    }
    let max = lags.iter().copied().fold(f64::MIN, f64::max);
    Some((percentile(&lags, 50.0), percentile(&lags, 99.0), max))
}
