//! Live resource stats: what agents sample (hosts and the containers of
//! their instances) and report, and what `GET .../stats` streams.

use serde::{Deserialize, Serialize};

use crate::client::Line;
use crate::{ApiError, Client};

/// Samples in one report at most (one per 5 s for an hour, per series).
pub const MAX_SAMPLES_PER_SERIES: usize = 720;
/// Instances in one report at most.
pub const MAX_INSTANCES_PER_REPORT: usize = 10_000;

/// One sample of a host, an instance or a service: gauges at `time_ms`,
/// and rates over the interval before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Percent of one core, as `docker stats` counts it (200: two cores busy).
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    /// The container's memory limit (the host's memory when it has none),
    /// or the host's memory.
    pub memory_limit_bytes: u64,
    pub net_rx_bytes_per_s: u64,
    pub net_tx_bytes_per_s: u64,
    pub disk_read_bytes_per_s: u64,
    pub disk_write_bytes_per_s: u64,
    /// Hosts only: the filesystem the agent's engine keeps its data on.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disk_used_bytes: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disk_total_bytes: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// `POST /v1/environments/{env}/nodes/{node}/stats`: what an agent sampled
/// since its last report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsReport {
    /// The host's samples, oldest first.
    pub host: Vec<Sample>,
    pub instances: Vec<InstanceSamples>,
}

/// The samples of one instance (its primary and sidekicks together).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSamples {
    pub instance: String,
    /// The service it belongs to, for the service's sums.
    pub service: String,
    pub samples: Vec<Sample>,
}

/// What a series is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    Node,
    Instance,
    Service,
}

impl std::fmt::Display for SeriesKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SeriesKind::Node => "node",
            SeriesKind::Instance => "instance",
            SeriesKind::Service => "service",
        })
    }
}

/// One line of `GET .../stats`: a sample of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsLine {
    pub kind: SeriesKind,
    pub name: String,
    #[serde(flatten)]
    pub sample: Sample,
}

/// `GET /v1/environments/{env}/stats` parameters: at most one of `node`,
/// `instance`, `service` and `nodes` (none: the latest of every instance;
/// `nodes`: the latest of every node).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatsQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Every node's samples (the hosts page).
    pub nodes: bool,
    /// History from this time on (ms since the epoch); 0: the latest only.
    pub since_ms: u64,
    /// Keep streaming new samples.
    pub follow: bool,
}

impl Client {
    /// An agent's report of its samples.
    pub async fn report_stats(
        &self,
        env: &str,
        node: &str,
        report: &StatsReport,
    ) -> Result<(), ApiError> {
        let path = format!("/v1/environments/{env}/nodes/{node}/stats");
        let _: serde_json::Value = self
            .json(self.http.post(self.url(&path)).json(report))
            .await?;
        Ok(())
    }

    /// The samples `query` selects, as JSON lines; with `follow`, new
    /// ones as they arrive.
    pub async fn stats(&self, env: &str, query: &StatsQuery) -> Result<StatsStream, ApiError> {
        let path = format!("/v1/environments/{env}/stats");
        let resp = self
            .send(self.http.get(self.url(&path)).query(query))
            .await?;
        let url = resp.url().to_string();
        Ok(crate::client::decoded_lines(
            resp.bytes_stream(),
            url,
            |line, url| {
                Line::Item(serde_json::from_slice(line).map_err(|e| ApiError::Decode {
                    url: url.to_string(),
                    message: e.to_string(),
                }))
            },
        ))
    }
}

/// The lines of `GET .../stats`.
pub type StatsStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<StatsLine, ApiError>> + Send>>;
