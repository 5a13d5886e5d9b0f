//! What authorization costs the API: requests per second of `GET
//! .../services` and of status batches through the gated router (a
//! member's session, a node's credential: authentication, role lookup,
//! decision, audit) and through the same handlers behind nothing but the
//! admin-token comparison (`routes::router_without_gates`), side by side,
//! on one SQLite store, alternating A/B rounds. Also the time of one
//! argon2id hash.
//!
//! `cargo bench -p corral-server --bench auth` (or `cargo xtask bench
//! auth`); without `--bench` (as `cargo test --all-targets` runs it) it
//! runs a short smoke of the same code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use corral_api::{
    Client, JoinRequest, MemberRequest, RegisterRequest, StatusBatch, StatusReport, UserCreate,
};
use corral_controllers::{Liveness, SystemClock};
use corral_server::routes::{router, router_without_gates};
use corral_server::{AppState, bootstrap};
use corral_store::{SqliteStore, Store};
use corral_types::{
    Instance, InstanceSpec, InstanceState, InstanceStatus, Kind, Object, Role, Service, ServiceSpec,
};

const ADMIN: &str = "crl_benchadmintoken";
const SERVICES: usize = 50;
const INSTANCES: usize = 20;
const CONCURRENCY: usize = 16;

struct Served {
    url: String,
}

async fn serve(app: axum::Router) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app).await.unwrap();
    });
    Served {
        url: format!("http://{addr}"),
    }
}

/// Requests that succeeded in `for_` with `CONCURRENCY` clients, and the
/// p99 latency.
async fn load(
    make: impl Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
    for_: Duration,
) -> (f64, Duration) {
    let make = Arc::new(make);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + for_;
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let make = make.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut latencies = Vec::new();
            while Instant::now() < stop {
                let t = Instant::now();
                let resp = make(&http, worker).send().await.unwrap();
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

fn seed(store: &dyn Store) {
    for i in 0..SERVICES {
        let mut svc: Service = Object::new(
            Kind::Service,
            "default",
            &format!("web{i}"),
            ServiceSpec {
                image: "nginx".into(),
                scale: 1,
                ..ServiceSpec::default()
            },
        );
        svc.meta.uid = format!("svc-{i}");
        store.create(svc.to_raw().unwrap()).unwrap();
    }
    // Each client is a node of its own, reporting its own instances (an
    // agent has one batch in flight at a time).
    for node in 0..CONCURRENCY {
        for i in 0..INSTANCES {
            let mut inst: Instance = Object::new(
                Kind::Instance,
                "default",
                &format!("web-{node}-{i}"),
                InstanceSpec {
                    node: format!("n{node}"),
                    ..InstanceSpec::default()
                },
            );
            inst.meta.uid = format!("inst-{node}-{i}");
            store.create(inst.to_raw().unwrap()).unwrap();
        }
    }
}

/// A batch of node `node` whose reports change each time, so that every
/// request writes.
fn batch(node: usize, round: u64) -> StatusBatch {
    StatusBatch {
        statuses: (0..INSTANCES)
            .map(|i| StatusReport {
                instance: format!("web-{node}-{i}"),
                uid: String::new(),
                status: InstanceStatus {
                    state: InstanceState::Running,
                    restarts: u32::try_from(round % 1000).unwrap_or(0),
                    ..InstanceStatus::default()
                },
            })
            .collect(),
    }
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
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("corral.db")).unwrap());
        bootstrap(store.as_ref(), &SystemClock, corral_types::DEFAULT_ENV_NETWORK).unwrap();
        seed(store.as_ref());
        let state = AppState::new(
            store.clone(),
            Arc::new(Liveness::with_interval(1)),
            Arc::new(SystemClock),
            ADMIN,
        );
        let gated = serve(router(state.clone())).await;
        let plain = serve(router_without_gates(state)).await;
        let admin = Client::with_trust(&gated.url, ADMIN, Default::default()).unwrap();
        admin
            .create_user(&UserCreate {
                name: "mia".into(),
                password: "mia-password".into(),
                ..UserCreate::default()
            })
            .await
            .unwrap();
        admin
            .add_member("default", &MemberRequest { subject: "mia".into(), role: Role::Member })
            .await
            .unwrap();
        let session = admin.login("mia", "mia-password").await.unwrap().token;
        let mut nodes = Vec::new();
        for n in 0..CONCURRENCY {
            let name = format!("n{n}");
            let credential = admin
                .register(&RegisterRequest {
                    node: name.clone(),
                    environment: "default".into(),
                    ..RegisterRequest::default()
                })
                .await
                .unwrap()
                .credential;
            Client::with_trust(&gated.url, &credential, Default::default())
                .unwrap()
                .join_node("default", &name, &JoinRequest::default())
                .await
                .unwrap();
            nodes.push(credential);
        }
        let nodes = Arc::new(nodes);
        println!("{} services listed per GET, {INSTANCES} reports per status batch, {CONCURRENCY} clients, {} s per round", SERVICES, round.as_secs_f64());
        println!("| request | round | with the gates (req/s, p99) | admin token only (req/s, p99) | cost |");
        println!("|---|---:|---:|---:|---:|");
        let counter = Arc::new(AtomicU64::new(0));
        for r in 1..=rounds {
            for (what, is_batch) in [("GET services", false), ("POST statuses", true)] {
                let mut results = Vec::new();
                for (url, gates) in [(gated.url.clone(), true), (plain.url.clone(), false)] {
                    let counter = counter.clone();
                    let (session, nodes) = (session.clone(), nodes.clone());
                    let make = move |http: &reqwest::Client, worker: usize| {
                        if is_batch {
                            let n = counter.fetch_add(1, Ordering::Relaxed);
                            let token = if gates { nodes[worker].as_str() } else { ADMIN };
                            http.post(format!("{url}/v1/environments/default/nodes/n{worker}/statuses"))
                                .bearer_auth(token)
                                .json(&batch(worker, n))
                        } else {
                            let token = if gates { session.as_str() } else { ADMIN };
                            http.get(format!("{url}/v1/environments/default/services"))
                                .bearer_auth(token)
                        }
                    };
                    results.push(load(make, round).await);
                }
                let (with, without) = (results[0], results[1]);
                println!(
                    "| {what} | {r} | {:.0}, {:.1} ms | {:.0}, {:.1} ms | {:+.1} % |",
                    with.0,
                    with.1.as_secs_f64() * 1e3,
                    without.0,
                    without.1.as_secs_f64() * 1e3,
                    (without.0 - with.0) / without.0 * 100.0
                );
            }
        }
        let hashes = if full { 20 } else { 2 };
        let t = Instant::now();
        for _ in 0..hashes {
            corral_server::access::secrets::hash_password("correct horse battery staple").unwrap();
        }
        println!("argon2id (19 MiB, t=2, p=1): {:.1} ms per hash", t.elapsed().as_secs_f64() * 1e3 / f64::from(hashes));
    });
}
