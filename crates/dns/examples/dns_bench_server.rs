//! A DNS server over a synthetic environment, for load tests with
//! `dnsperf`: `dns_bench_server PORT SECONDS [UPSTREAM]` (`DNS_WORKERS` sets
//! the UDP workers per socket). Stack `shop` has
//! services `svc0`..`svc49` with 3 serving instances each; the server stops
//! by itself after SECONDS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../src/testkit.rs"]
mod testkit;

use std::sync::Arc;
use std::time::Duration;

use corral_dns::{DnsConfig, serve};
use testkit::{Condition, Env};
use tokio::sync::watch;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).map_or(5353, |p| p.parse().expect("port"));
    let seconds: u64 = args.get(2).map_or(30, |s| s.parse().expect("seconds"));
    let upstream = args
        .get(3)
        .map(|u| vec![u.parse().expect("upstream")])
        .unwrap_or_default();
    let mut env = Env::new();
    for s in 0..50u32 {
        let name = env.service("shop", &format!("svc{s}"), |_| {});
        for i in 1..=3u32 {
            env.instance(&name, i, &format!("10.42.{s}.{i}"), Condition::Serving);
        }
    }
    let config = DnsConfig {
        listen: vec![format!("127.0.0.1:{port}").parse().expect("listen")],
        upstream,
        udp_workers: std::env::var("DNS_WORKERS").map_or(0, |w| w.parse().expect("workers")),
        // dnsperf queries from the loopback.
        clients: vec!["127.0.0.0/8".parse().expect("range")],
        ..DnsConfig::default()
    };
    let (_view_tx, view) = watch::channel(Arc::new(env.snapshot));
    let (shutdown_tx, shutdown) = watch::channel(false);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let _ = shutdown_tx.send(true);
    });
    serve(config, view, shutdown).await.expect("serve");
}
