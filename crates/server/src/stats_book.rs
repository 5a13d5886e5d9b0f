//! The last hour of live stats, in memory (never in the store's revision
//! log): a series per node, instance and service of each environment, in
//! two tiers: every sample of the last 5 minutes, then one average per
//! minute for the rest of the hour, so a series holds at most about 120
//! samples (under 10 KiB). At most `max_series` series are kept; a series
//! that got nothing for an hour is dropped. New samples are also broadcast
//! to the followers of `GET .../stats`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use corral_api::stats::{Sample, SeriesKind, StatsLine, StatsReport};
use tokio::sync::broadcast;

/// Every sample is kept this long.
const RECENT_MS: u64 = 5 * 60 * 1000;
/// Older ones are averaged per this much time...
const BUCKET_MS: u64 = 60 * 1000;
/// ... and kept this long.
const HOUR_MS: u64 = 60 * 60 * 1000;
/// Samples of a service closer than this replace the last one.
const SERVICE_STEP_MS: u64 = 5 * 1000;
/// An instance's latest sample counts towards its service this long.
const FRESH_MS: u64 = 60 * 1000;
/// Series at most, by default (about 100 MB when all are full).
pub const DEFAULT_MAX_SERIES: usize = 10_000;

type Key = (String, SeriesKind, String);

#[derive(Debug, Default)]
struct Series {
    /// For an instance: its service.
    service: String,
    recent: VecDeque<Sample>,
    /// Per-minute averages, with the number of samples in each.
    older: VecDeque<(Sample, u32)>,
}

impl Series {
    fn push(&mut self, sample: Sample) {
        if self
            .recent
            .back()
            .is_some_and(|l| l.time_ms >= sample.time_ms)
        {
            return;
        }
        self.recent.push_back(sample);
        let cut = sample.time_ms.saturating_sub(RECENT_MS);
        while let Some(old) = self.recent.front().copied().filter(|s| s.time_ms < cut) {
            self.recent.pop_front();
            self.fold(old);
        }
        let hour = sample.time_ms.saturating_sub(HOUR_MS);
        while self.older.front().is_some_and(|(s, _)| s.time_ms < hour) {
            self.older.pop_front();
        }
    }

    /// Averages `s` into its minute.
    fn fold(&mut self, s: Sample) {
        match self.older.back_mut() {
            Some((avg, n)) if avg.time_ms / BUCKET_MS == s.time_ms / BUCKET_MS => {
                let k = f64::from(*n);
                let mean = |a: u64, b: u64| ((a as f64 * k + b as f64) / (k + 1.0)) as u64;
                avg.cpu_percent = (avg.cpu_percent * k + s.cpu_percent) / (k + 1.0);
                avg.memory_bytes = mean(avg.memory_bytes, s.memory_bytes);
                avg.memory_limit_bytes = s.memory_limit_bytes;
                avg.net_rx_bytes_per_s = mean(avg.net_rx_bytes_per_s, s.net_rx_bytes_per_s);
                avg.net_tx_bytes_per_s = mean(avg.net_tx_bytes_per_s, s.net_tx_bytes_per_s);
                avg.disk_read_bytes_per_s =
                    mean(avg.disk_read_bytes_per_s, s.disk_read_bytes_per_s);
                avg.disk_write_bytes_per_s =
                    mean(avg.disk_write_bytes_per_s, s.disk_write_bytes_per_s);
                avg.disk_used_bytes = s.disk_used_bytes;
                avg.disk_total_bytes = s.disk_total_bytes;
                avg.time_ms = s.time_ms;
                *n += 1;
            }
            _ => self.older.push_back((s, 1)),
        }
    }

    fn latest(&self) -> Option<Sample> {
        self.recent
            .back()
            .copied()
            .or_else(|| self.older.back().map(|(s, _)| *s))
    }

    fn since(&self, since_ms: u64) -> impl Iterator<Item = Sample> + '_ {
        self.older
            .iter()
            .map(|(s, _)| *s)
            .chain(self.recent.iter().copied())
            .filter(move |s| s.time_ms >= since_ms)
    }
}

/// What [`StatsBook::select`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    Node(String),
    Instance(String),
    Service(String),
    /// The latest of every instance.
    AllInstances,
    /// The latest of every node.
    AllNodes,
}

impl Selection {
    /// Whether a broadcast line belongs to this selection.
    pub fn matches(&self, line: &StatsLine) -> bool {
        match self {
            Selection::Node(n) => line.kind == SeriesKind::Node && &line.name == n,
            Selection::Instance(n) => line.kind == SeriesKind::Instance && &line.name == n,
            Selection::Service(n) => line.kind == SeriesKind::Service && &line.name == n,
            Selection::AllInstances => line.kind == SeriesKind::Instance,
            Selection::AllNodes => line.kind == SeriesKind::Node,
        }
    }
}

/// The book of every environment's series.
pub struct StatsBook {
    series: Mutex<HashMap<Key, Series>>,
    max_series: usize,
    lines: broadcast::Sender<Arc<(String, StatsLine)>>,
}

impl std::fmt::Debug for StatsBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsBook")
            .field("max_series", &self.max_series)
            .finish_non_exhaustive()
    }
}

impl StatsBook {
    pub fn new(max_series: usize) -> StatsBook {
        let (lines, _) = broadcast::channel(4096);
        StatsBook {
            series: Mutex::new(HashMap::new()),
            max_series,
            lines,
        }
    }

    /// New lines of every environment (`(env, line)`), from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<(String, StatsLine)>> {
        self.lines.subscribe()
    }

    /// Takes node `node`'s report; the number of series it could not keep
    /// (beyond `max_series`).
    pub fn ingest(&self, env: &str, node: &str, report: &StatsReport, now_ms: u64) -> usize {
        let mut out = Vec::new();
        let mut refused = 0;
        let mut all = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let mut touched: Vec<&str> = Vec::new();
        let mut put =
            |all: &mut HashMap<Key, Series>, kind, name: &str, service: &str, s: &[Sample]| {
                let key = (env.to_string(), kind, name.to_string());
                if !all.contains_key(&key) && all.len() >= self.max_series {
                    return false;
                }
                let series = all.entry(key).or_default();
                series.service = service.to_string();
                for sample in s {
                    series.push(*sample);
                    out.push(StatsLine {
                        kind,
                        name: name.to_string(),
                        sample: *sample,
                    });
                }
                true
            };
        if !report.host.is_empty() && !put(&mut all, SeriesKind::Node, node, "", &report.host) {
            refused += 1;
        }
        for inst in &report.instances {
            if !put(
                &mut all,
                SeriesKind::Instance,
                &inst.instance,
                &inst.service,
                &inst.samples,
            ) {
                refused += 1;
            } else if !inst.service.is_empty() && !touched.contains(&inst.service.as_str()) {
                touched.push(&inst.service);
            }
        }
        let sums = service_sums(&all, env, &touched, now_ms);
        for service in touched {
            let Some(&sum) = sums.get(service) else {
                continue;
            };
            let key = (env.to_string(), SeriesKind::Service, service.to_string());
            if !all.contains_key(&key) && all.len() >= self.max_series {
                refused += 1;
                continue;
            }
            let series = all.entry(key).or_default();
            match series.recent.back_mut() {
                Some(last) if sum.time_ms < last.time_ms + SERVICE_STEP_MS => *last = sum,
                _ => series.push(sum),
            }
            out.push(StatsLine {
                kind: SeriesKind::Service,
                name: service.to_string(),
                sample: sum,
            });
        }
        all.retain(|_, s| s.latest().is_some_and(|l| l.time_ms + HOUR_MS >= now_ms));
        drop(all);
        for line in out {
            let _ = self.lines.send(Arc::new((env.to_string(), line)));
        }
        refused
    }

    /// The samples of a selection since `since_ms` (0: the latest only).
    pub fn select(&self, env: &str, selection: &Selection, since_ms: u64) -> Vec<StatsLine> {
        let all = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let one = |kind, name: &str| {
            let key = (env.to_string(), kind, name.to_string());
            let Some(series) = all.get(&key) else {
                return Vec::new();
            };
            let line = |sample| StatsLine {
                kind,
                name: name.to_string(),
                sample,
            };
            if since_ms == 0 {
                series.latest().map(line).into_iter().collect()
            } else {
                series.since(since_ms).map(line).collect()
            }
        };
        match selection {
            Selection::Node(n) => one(SeriesKind::Node, n),
            Selection::Instance(n) => one(SeriesKind::Instance, n),
            Selection::Service(n) => one(SeriesKind::Service, n),
            Selection::AllInstances => latest_of_kind(&all, env, SeriesKind::Instance),
            Selection::AllNodes => latest_of_kind(&all, env, SeriesKind::Node),
        }
    }

    pub fn max_series(&self) -> usize {
        self.max_series
    }

    /// Series held now.
    pub fn series_count(&self) -> usize {
        self.series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The latest sample of every series of `kind` in `env`, by name.
fn latest_of_kind(all: &HashMap<Key, Series>, env: &str, kind: SeriesKind) -> Vec<StatsLine> {
    let mut lines: Vec<StatsLine> = all
        .iter()
        .filter(|((e, k, _), _)| e == env && *k == kind)
        .filter_map(|((_, k, name), s)| {
            s.latest().map(|sample| StatsLine {
                kind: *k,
                name: name.clone(),
                sample,
            })
        })
        .collect();
    lines.sort_by(|a, b| a.name.cmp(&b.name));
    lines
}

/// The sums of the fresh latest samples of each of `services`' instances.
fn service_sums(
    all: &HashMap<Key, Series>,
    env: &str,
    services: &[&str],
    now_ms: u64,
) -> HashMap<String, Sample> {
    let mut sums: HashMap<String, Sample> = HashMap::new();
    // One pass over the series for every service a report touched.
    for ((e, kind, _), series) in all.iter() {
        if e != env || *kind != SeriesKind::Instance || !services.contains(&series.service.as_str())
        {
            continue;
        }
        let Some(s) = series.latest().filter(|s| s.time_ms + FRESH_MS >= now_ms) else {
            continue;
        };
        let t = sums.entry(series.service.clone()).or_default();
        t.time_ms = t.time_ms.max(s.time_ms);
        t.cpu_percent = ((t.cpu_percent + s.cpu_percent) * 100.0).round() / 100.0;
        t.memory_bytes += s.memory_bytes;
        t.memory_limit_bytes += s.memory_limit_bytes;
        t.net_rx_bytes_per_s += s.net_rx_bytes_per_s;
        t.net_tx_bytes_per_s += s.net_tx_bytes_per_s;
        t.disk_read_bytes_per_s += s.disk_read_bytes_per_s;
        t.disk_write_bytes_per_s += s.disk_write_bytes_per_s;
    }
    sums
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use corral_api::stats::InstanceSamples;

    use super::*;

    fn sample(time_ms: u64, cpu: f64) -> Sample {
        Sample {
            time_ms,
            cpu_percent: cpu,
            memory_bytes: 100,
            ..Sample::default()
        }
    }

    fn report(time_ms: u64) -> StatsReport {
        StatsReport {
            host: vec![sample(time_ms, 50.0)],
            instances: vec![
                InstanceSamples {
                    instance: "web-1".into(),
                    service: "web".into(),
                    samples: vec![sample(time_ms, 10.0)],
                },
                InstanceSamples {
                    instance: "web-2".into(),
                    service: "web".into(),
                    samples: vec![sample(time_ms, 20.0)],
                },
            ],
        }
    }

    #[test]
    fn an_hour_of_samples_every_5_s_is_kept_in_about_120_points() {
        let book = StatsBook::new(10);
        let start = 10 * HOUR_MS;
        for i in 0..(2 * 720) {
            book.ingest("dev", "n1", &report(start + i * 5_000), start + i * 5_000);
        }
        let now = start + (2 * 720 - 1) * 5_000;
        let all = book.select("dev", &Selection::Node("n1".into()), 1);
        assert!((115..=125).contains(&all.len()), "{}", all.len());
        assert!(all.first().unwrap().sample.time_ms + HOUR_MS + BUCKET_MS >= now);
        assert!(
            all.windows(2)
                .all(|w| w[0].sample.time_ms < w[1].sample.time_ms)
        );
        // The averages keep the level.
        assert!(
            all.iter()
                .all(|l| (l.sample.cpu_percent - 50.0).abs() < 1e-9)
        );
        let latest = book.select("dev", &Selection::Node("n1".into()), 0);
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].sample.time_ms, now);
    }

    #[test]
    fn a_service_is_the_sum_of_its_instances() {
        let book = StatsBook::new(10);
        book.ingest("dev", "n1", &report(1_000), 1_000);
        let service = book.select("dev", &Selection::Service("web".into()), 0);
        assert_eq!(service.len(), 1);
        assert_eq!(service[0].sample.cpu_percent, 30.0);
        assert_eq!(service[0].sample.memory_bytes, 200);
        let instances = book.select("dev", &Selection::AllInstances, 0);
        let names: Vec<&str> = instances.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["web-1", "web-2"]);
        let nodes = book.select("dev", &Selection::AllNodes, 0);
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].name, "n1");
        assert!(book.select("other", &Selection::AllInstances, 0).is_empty());
    }

    #[test]
    fn the_number_of_series_is_bounded_and_stale_ones_go() {
        let book = StatsBook::new(3);
        // Node, two instances: the service is one too many.
        assert_eq!(book.ingest("dev", "n1", &report(1_000), 1_000), 1);
        assert_eq!(book.series_count(), 3);
        let later = 1_000 + HOUR_MS + 1;
        let host_only = StatsReport {
            host: vec![sample(later, 1.0)],
            instances: Vec::new(),
        };
        book.ingest("dev", "n1", &host_only, later);
        assert_eq!(book.series_count(), 1);
    }

    #[test]
    fn followers_get_each_new_line() {
        let book = StatsBook::new(10);
        let mut rx = book.subscribe();
        book.ingest("dev", "n1", &report(1_000), 1_000);
        let mut kinds = Vec::new();
        while let Ok(line) = rx.try_recv() {
            assert_eq!(line.0, "dev");
            kinds.push(line.1.kind);
        }
        assert_eq!(
            kinds,
            [
                SeriesKind::Node,
                SeriesKind::Instance,
                SeriesKind::Instance,
                SeriesKind::Service
            ]
        );
    }
}
