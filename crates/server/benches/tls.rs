//! What TLS costs the API: two servers as `corral server` runs them
//! (`corral_server::start`, SQLite, controllers), one over HTTPS with the
//! internal CA and one over plain HTTP (`TlsMode::Off`, which only
//! benchmarks can choose), side by side, alternating which goes first.
//! Two loads: `GET .../services` on keep-alive connections (what the CLI,
//! the UI and agents do), and the same with a new connection per request
//! (the handshake's cost, the worst case). Requests per second and p99.
//!
//! `cargo bench -p corral-server --bench tls` (or `cargo xtask bench
//! tls`); without `--bench` (as `cargo test --all-targets` runs it) it runs
//! a short smoke of the same code. With `--profile-https` too, only the
//! HTTPS keep-alive load runs (for `perf record -g`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use corral_api::Trust;
use corral_server::tls::TlsMode;
use corral_server::{RunningServer, ServerOptions, start};
use corral_types::{Kind, Object, Service, ServiceSpec};

const SERVICES: usize = 50;
const CONCURRENCY: usize = 16;

async fn server(dir: &std::path::Path, tls: TlsMode) -> RunningServer {
    let mut options = ServerOptions::new("127.0.0.1:0", dir);
    options.tls = tls;
    let s = start(options).await.unwrap();
    let client = corral_api::Client::with_trust(&s.url, &s.admin_token, trust(&s)).unwrap();
    for i in 0..SERVICES {
        let svc: Service = Object::new(
            Kind::Service,
            "default",
            &format!("web{i}"),
            ServiceSpec {
                image: "nginx".into(),
                scale: 0,
                ..ServiceSpec::default()
            },
        );
        client.create(&svc).await.unwrap();
    }
    s
}

fn trust(s: &RunningServer) -> Trust {
    if s.url.starts_with("https://") {
        Trust::pinned(&s.ca_pem)
    } else {
        Trust::default()
    }
}

/// Requests per second and p99 of `CONCURRENCY` clients for `for_`; with
/// `reuse` false each request opens its own connection.
async fn load(s: &RunningServer, reuse: bool, for_: Duration) -> (f64, Duration) {
    let url = format!("{}/v1/environments/default/services", s.url);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + for_;
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (url, token, done) = (url.clone(), s.admin_token.clone(), done.clone());
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(trust(s).rustls_config().unwrap())
            .tcp_nodelay(true);
        if !reuse {
            builder = builder.pool_max_idle_per_host(0);
        }
        let http = builder.build().unwrap();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < stop {
                let t = Instant::now();
                let resp = http.get(&url).bearer_auth(&token).send().await.unwrap();
                assert!(resp.status().is_success(), "{}", resp.status());
                let _ = resp.bytes().await.unwrap();
                latencies.push(t.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let p99 = all
        .get(all.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or_default();
    (
        done.load(Ordering::Relaxed) as f64 / for_.as_secs_f64(),
        p99,
    )
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (round, rounds) = if full {
        (Duration::from_secs(5), 3)
    } else {
        (Duration::from_millis(200), 1)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let tls = server(a.path(), TlsMode::Internal).await;
        let plain = server(b.path(), TlsMode::Off).await;
        assert!(tls.url.starts_with("https://") && plain.url.starts_with("http://"));
        // `--profile-https`: only the HTTPS keep-alive load, for a profiler
        // to see where its time goes (`perf record -g`).
        if std::env::args().any(|a| a == "--profile-https") {
            for r in 0..rounds {
                let (rate, p99) = load(&tls, true, round).await;
                println!(
                    "https keep-alive, round {}: {rate:.0} req/s (p99 {:.1} ms)",
                    r + 1,
                    p99.as_secs_f64() * 1e3
                );
            }
            return;
        }
        for reuse in [true, false] {
            let what = if reuse {
                "GET services, keep-alive"
            } else {
                "GET services, a new connection per request"
            };
            for r in 0..rounds {
                // Alternate which side goes first.
                let order: [(&str, &RunningServer); 2] = if r % 2 == 0 {
                    [("https", &tls), ("http", &plain)]
                } else {
                    [("http", &plain), ("https", &tls)]
                };
                let mut got = Vec::new();
                for (name, s) in order {
                    got.push((name, load(s, reuse, round).await));
                }
                got.sort_by_key(|(name, _)| *name);
                let ((_, (http, http_p99)), (_, (https, https_p99))) = (got[0], got[1]);
                println!(
                    "{what}, round {}: http {http:.0} req/s (p99 {:.1} ms), https {https:.0} req/s (p99 {:.1} ms), cost {:.1} %",
                    r + 1,
                    http_p99.as_secs_f64() * 1e3,
                    https_p99.as_secs_f64() * 1e3,
                    (1.0 - https / http) * 100.0
                );
            }
        }
        tls.stop().await;
        plain.stop().await;
    });
}
