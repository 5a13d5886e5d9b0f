//! The probe client of the scale benchmark: on a thread and a runtime of
//! its own (so the simulated agents do not delay it), every interval one
//! read (`GET` of the `probe` service) and one write (a `PUT` of it with a
//! changed label), each timed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use corral_api::Client;
use corral_types::{Kind, Object, Service, ServiceSpec};

use crate::bench_scale_mix::IMAGE;

pub const PROBE_SERVICE: &str = "probe";
const ENV: &str = "default";

/// Latencies in milliseconds, and how many requests failed.
#[derive(Debug, Default, Clone)]
pub struct ProbeFigures {
    pub reads_ms: Vec<f64>,
    pub writes_ms: Vec<f64>,
    pub errors: u64,
    pub last_error: String,
}

impl ProbeFigures {
    /// Every latency, reads and writes.
    pub fn all_ms(&self) -> Vec<f64> {
        self.reads_ms
            .iter()
            .chain(&self.writes_ms)
            .copied()
            .collect()
    }
}

/// A probe running on its own thread until [`Probe::finish`].
pub struct Probe {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<anyhow::Result<ProbeFigures>>,
}

/// Creates the `probe` service (scale 0) the probe reads and writes.
pub async fn create_probe_service(client: &Client) -> anyhow::Result<()> {
    let spec = ServiceSpec {
        image: IMAGE.to_string(),
        scale: 0,
        ..ServiceSpec::default()
    };
    let service: Service = Object::new(Kind::Service, ENV, PROBE_SERVICE, spec);
    client
        .create(&service)
        .await
        .context("cannot create the probe service")?;
    Ok(())
}

impl Probe {
    /// Starts probing every `every`, for at most `limit`, with a client of
    /// `client`'s server that has connections of its own: opened, and so
    /// driven, by the probe's runtime. With `client`'s pool, the probe's
    /// requests went through connections driven by the runtime of the
    /// 5,000 simulated agents, and waited for it.
    pub fn start(client: &Client, every: Duration, limit: Duration) -> anyhow::Result<Probe> {
        let client = client
            .with_own_connections()
            .context("cannot make the probe's client")?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("probe".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start the probe's runtime")?;
                Ok(runtime.block_on(probe_loop(&client, &flag, every, limit)))
            })
            .context("cannot start the probe thread")?;
        Ok(Probe { stop, thread })
    }

    /// Stops the probe and returns what it measured.
    pub fn finish(self) -> anyhow::Result<ProbeFigures> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the probe thread panicked"))?
    }
}

async fn probe_loop(
    client: &Client,
    stop: &AtomicBool,
    every: Duration,
    limit: Duration,
) -> ProbeFigures {
    let mut figures = ProbeFigures::default();
    let deadline = Instant::now() + limit;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        tick.tick().await;
        n += 1;
        let started = Instant::now();
        let read = client
            .get::<ServiceSpec, corral_types::ServiceStatus>(ENV, Kind::Service, PROBE_SERVICE)
            .await;
        let mut service = match read {
            Ok(service) => {
                figures.reads_ms.push(ms(started));
                service
            }
            Err(e) => {
                figures.errors += 1;
                figures.last_error = format!("read: {e}");
                continue;
            }
        };
        service
            .meta
            .labels
            .insert("probe".to_string(), n.to_string());
        let started = Instant::now();
        match client.update(&service).await {
            Ok(_) => figures.writes_ms.push(ms(started)),
            Err(e) => {
                figures.errors += 1;
                figures.last_error = format!("write: {e}");
            }
        }
    }
    figures
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// The `p`-th percentile (0..=100) by nearest rank; NaN when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_by_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
        assert_eq!(percentile(&values, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }
}
