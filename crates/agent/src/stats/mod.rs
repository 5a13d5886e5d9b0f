//! Live stats: every `AgentOptions::stats_interval` the agent samples its
//! host and the containers of its instances (files only: /proc, statfs,
//! cgroups; see `read.rs`), and posts what it sampled to
//! `POST .../nodes/{node}/stats` at the heartbeat interval (at least the
//! sample interval), so that 5,000 nodes make no more stats requests than
//! heartbeats. The server keeps the last hour (`server/src/stats_book.rs`).

mod counters;
mod read;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_api::stats::{InstanceSamples, MAX_SAMPLES_PER_SERIES, Sample, StatsReport};
use corral_engine::{ContainerEngine, ContainerState};
use corral_types::ContainerLabels;
use tokio::sync::watch;

use crate::Shared;
use counters::Counters;
use read::CgroupPaths;

/// A container being followed: where its counters are, and the last reading.
struct Tracked {
    instance: String,
    service: String,
    pid: u32,
    paths: CgroupPaths,
    last: Counters,
}

/// Turns readings into samples; keeps the previous reading of each.
pub struct Sampler {
    disk: PathBuf,
    host: Option<Counters>,
    containers: HashMap<String, Option<Tracked>>,
}

/// What one round sampled.
#[derive(Debug, Default)]
pub struct Round {
    pub host: Option<Sample>,
    /// Per instance: (instance, service, the sum of its containers).
    pub instances: Vec<(String, String, Sample)>,
}

impl Sampler {
    /// Reports the filesystem of `disk` as the host's disk.
    pub fn new(disk: PathBuf) -> Sampler {
        Sampler {
            disk,
            host: None,
            containers: HashMap::new(),
        }
    }

    /// One round: the host, then every running container of an instance
    /// (a container seen for the first time gives its first sample a round
    /// later: rates need two readings).
    pub async fn round(&mut self, engine: &dyn ContainerEngine) -> Round {
        let now_ms = now_ms();
        let mut round = Round::default();
        let host = read::host(now_ms, &self.disk);
        if let (Some(before), Some(now)) = (&self.host, &host) {
            round.host = counters::rates(before, now);
        }
        let host_memory = host.map_or(0, |h| h.memory_limit_bytes);
        self.host = host;
        let Ok(listed) = engine.list(ContainerLabels::INSTANCE).await else {
            return round;
        };
        let running: Vec<_> = listed
            .into_iter()
            .filter(|c| c.state == ContainerState::Running)
            .collect();
        self.containers
            .retain(|id, _| running.iter().any(|c| &c.id == id));
        let mut sums: HashMap<String, (String, Sample)> = HashMap::new();
        for c in &running {
            let tracked = match self.containers.get_mut(&c.id) {
                Some(t) => t,
                None => {
                    let found = track(engine, &c.id, &c.labels, now_ms, host_memory).await;
                    self.containers.insert(c.id.clone(), found);
                    continue;
                }
            };
            // A container Corral cannot read (no process on this host) is
            // remembered as such, and not asked about again.
            let Some(t) = tracked else { continue };
            let Some(now) = read::container(now_ms, t.pid, &t.paths, host_memory) else {
                continue;
            };
            if let Some(sample) = counters::rates(&t.last, &now) {
                let entry = sums
                    .entry(t.instance.clone())
                    .or_insert_with(|| (t.service.clone(), Sample::default()));
                add(&mut entry.1, &sample, host_memory);
            }
            t.last = now;
        }
        round.instances = sums
            .into_iter()
            .map(|(instance, (service, sample))| (instance, service, sample))
            .collect();
        round.instances.sort_by(|a, b| a.0.cmp(&b.0));
        round
    }
}

async fn track(
    engine: &dyn ContainerEngine,
    id: &str,
    labels: &std::collections::BTreeMap<String, String>,
    now_ms: u64,
    host_memory: u64,
) -> Option<Tracked> {
    let pid = engine.pid(id).await.ok().flatten()?;
    let paths = read::cgroup_paths(pid)?;
    let last = read::container(now_ms, pid, &paths, host_memory)?;
    Some(Tracked {
        instance: labels.get(ContainerLabels::INSTANCE)?.clone(),
        service: labels
            .get(ContainerLabels::SERVICE)
            .cloned()
            .unwrap_or_default(),
        pid,
        paths,
        last,
    })
}

/// Adds a container's sample into its instance's (sidekicks and primary).
fn add(sum: &mut Sample, s: &Sample, host_memory: u64) {
    sum.time_ms = sum.time_ms.max(s.time_ms);
    sum.cpu_percent = ((sum.cpu_percent + s.cpu_percent) * 100.0).round() / 100.0;
    sum.memory_bytes += s.memory_bytes;
    sum.memory_limit_bytes = (sum.memory_limit_bytes + s.memory_limit_bytes).min(host_memory);
    sum.net_rx_bytes_per_s += s.net_rx_bytes_per_s;
    sum.net_tx_bytes_per_s += s.net_tx_bytes_per_s;
    sum.disk_read_bytes_per_s += s.disk_read_bytes_per_s;
    sum.disk_write_bytes_per_s += s.disk_write_bytes_per_s;
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// Samples every `interval` and reports at the heartbeat interval, until
/// shutdown. Samples a failed report kept wait for the next one (at most
/// an hour's worth per series).
pub(crate) async fn run(
    shared: Arc<Shared>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut sampler = Sampler::new(PathBuf::from("/"));
    let mut pending = StatsReport::default();
    let mut last_report = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let round = sampler.round(shared.engine.as_ref()).await;
        keep(&mut pending, round);
        let every = interval.max(shared.heartbeat_interval());
        if last_report.elapsed() + Duration::from_millis(50) < every {
            continue;
        }
        last_report = Instant::now();
        let opts = &shared.options;
        match shared
            .client
            .report_stats(&opts.environment, &opts.name, &pending)
            .await
        {
            Ok(()) => pending = StatsReport::default(),
            Err(e) => tracing::debug!("stats report: {e}"),
        }
    }
}

/// Adds a round to what is waiting to be reported, dropping the oldest
/// samples of a series beyond [`MAX_SAMPLES_PER_SERIES`].
fn keep(pending: &mut StatsReport, round: Round) {
    if let Some(host) = round.host {
        pending.host.push(host);
        trim(&mut pending.host);
    }
    for (instance, service, sample) in round.instances {
        match pending
            .instances
            .iter_mut()
            .find(|i| i.instance == instance)
        {
            Some(series) => {
                series.samples.push(sample);
                trim(&mut series.samples);
            }
            None => pending.instances.push(InstanceSamples {
                instance,
                service,
                samples: vec![sample],
            }),
        }
    }
}

fn trim(samples: &mut Vec<Sample>) {
    if samples.len() > MAX_SAMPLES_PER_SERIES {
        let extra = samples.len() - MAX_SAMPLES_PER_SERIES;
        samples.drain(..extra);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn pending_samples_are_bounded_per_series() {
        let mut pending = StatsReport::default();
        for i in 0..(MAX_SAMPLES_PER_SERIES as u64 + 10) {
            let sample = Sample {
                time_ms: i,
                ..Sample::default()
            };
            keep(
                &mut pending,
                Round {
                    host: Some(sample),
                    instances: vec![("web-1".into(), "web".into(), sample)],
                },
            );
        }
        assert_eq!(pending.host.len(), MAX_SAMPLES_PER_SERIES);
        assert_eq!(pending.host[0].time_ms, 10);
        assert_eq!(pending.instances.len(), 1);
        assert_eq!(pending.instances[0].samples.len(), MAX_SAMPLES_PER_SERIES);
    }

    #[test]
    fn an_instances_containers_add_up_within_the_hosts_memory() {
        let mut sum = Sample::default();
        let one = Sample {
            time_ms: 5,
            cpu_percent: 10.5,
            memory_bytes: 100,
            memory_limit_bytes: 600,
            net_rx_bytes_per_s: 1,
            ..Sample::default()
        };
        add(&mut sum, &one, 1_000);
        add(&mut sum, &one, 1_000);
        assert_eq!(sum.cpu_percent, 21.0);
        assert_eq!(sum.memory_bytes, 200);
        assert_eq!(sum.memory_limit_bytes, 1_000);
        assert_eq!(sum.net_rx_bytes_per_s, 2);
    }
}
