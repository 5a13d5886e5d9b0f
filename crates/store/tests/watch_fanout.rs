//! Watch fan-out micro benchmark (ignored): thousands of agents, each
//! watching the instances of its own node (`io.corral.node=<node>`), while
//! one writer creates instances spread over the nodes.
//!
//! Run with `cargo test -p corral-store --release --test watch_fanout -- --ignored --nocapture`;
//! `FANOUT_WATCHERS` and `FANOUT_EVENTS` change the sizes (default 5,000 and 50,000).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test fixtures

use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_store::{
    Event, EventType, MemoryStore, Query, SqliteStore, Store, WatchError, WatchHub,
};
use corral_types::{Kind, LabelSelector, Meta, RawObject};

const NODE_LABEL: &str = "io.corral.node";
const ENVIRONMENT: &str = "default";

/// An instance placed on `node`, shaped like the ones the controllers write.
fn instance(name: &str, node: &str) -> RawObject {
    RawObject {
        kind: Kind::Instance,
        meta: Meta {
            environment: ENVIRONMENT.to_string(),
            name: name.to_string(),
            uid: format!("uid-{name}"),
            generation: 1,
            labels: [
                (NODE_LABEL.to_string(), node.to_string()),
                ("io.corral.service".to_string(), "web".to_string()),
            ]
            .into_iter()
            .collect(),
            created: "2026-01-02T03:04:05Z".to_string(),
            ..Meta::default()
        },
        spec: serde_json::json!({
            "service": "web",
            "node": node,
            "launch": { "image": "corral-whoami", "ports": [{ "published": 8080, "target": 80 }],
                        "environment": { "A": "1", "B": "2" } },
        }),
        status: serde_json::json!({ "state": "pending" }),
    }
}

fn node(i: usize) -> String {
    format!("node-{i:05}")
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `watchers` node watches (each draining on a runtime with one worker) and
/// `events` creates from this thread, round robin over the nodes.
fn fan_out(backend: &str, store: &dyn Store, watchers: usize, events: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..watchers)
        .map(|i| {
            let query = Query::kind(Kind::Instance)
                .in_environment(ENVIRONMENT)
                .with_selector(LabelSelector::equals(NODE_LABEL, &node(i)));
            let mut watch = store.watch(query, 0).unwrap();
            let expected = events / watchers + usize::from(i < events % watchers);
            rt.spawn(async move {
                let mut received = 0;
                while received < expected {
                    match tokio::time::timeout(Duration::from_secs(600), watch.next()).await {
                        Ok(Ok(ev)) => {
                            assert_eq!(ev.object.meta.labels[NODE_LABEL], node(i));
                            received += 1;
                        }
                        Ok(Err(WatchError::Lagged)) => return (received, true),
                        Ok(Err(e)) => panic!("watch {i} failed: {e}"),
                        Err(_) => panic!("watch {i} got {received} of {expected} events"),
                    }
                }
                (received, false)
            })
        })
        .collect();

    let objects: Vec<RawObject> = (0..events)
        .map(|e| instance(&format!("web-{e}"), &node(e % watchers.max(1))))
        .collect();
    let started = Instant::now();
    for obj in objects {
        store.create(obj).unwrap();
    }
    let committed = started.elapsed();
    let (mut received, mut lagged) = (0, 0);
    for task in tasks {
        let (n, lag) = rt.block_on(task).unwrap();
        received += n;
        lagged += usize::from(lag);
    }
    let delivered = started.elapsed();
    let rate = |d: Duration| events as f64 / d.as_secs_f64();
    println!(
        "{backend}: {watchers} watchers, {events} creates: committed in {committed:.2?} ({:.0} creates/s), \
         all delivered after {delivered:.2?} ({:.0} events/s); {received} received, {lagged} watchers lagged",
        rate(committed),
        rate(delivered),
    );
}

/// The hub alone: `events` published one by one (as a store does) to
/// `watchers` node watches, nobody reading (no channel fills up).
fn hub_alone(watchers: usize, events: usize) {
    let hub = WatchHub::new(0);
    let subscriptions: Vec<_> = (0..watchers)
        .map(|i| {
            hub.subscribe(
                &Query::kind(Kind::Instance)
                    .in_environment(ENVIRONMENT)
                    .with_selector(LabelSelector::equals(NODE_LABEL, &node(i))),
            )
        })
        .collect();
    let events: Vec<Arc<Event>> = (0..events)
        .map(|e| {
            let mut object = instance(&format!("web-{e}"), &node(e % watchers.max(1)));
            object.meta.revision = e as u64 + 1;
            Arc::new(Event {
                event_type: EventType::Created,
                object,
            })
        })
        .collect();
    let started = Instant::now();
    for ev in &events {
        hub.publish([ev]);
    }
    let elapsed = started.elapsed();
    assert_eq!(hub.watcher_count(), watchers);
    println!(
        "hub alone, {watchers} watchers, {} events: published in {elapsed:.2?} ({:.0} events/s)",
        events.len(),
        events.len() as f64 / elapsed.as_secs_f64(),
    );
    drop(subscriptions);
}

#[test]
#[ignore = "micro benchmark"]
fn bench_label_watch_fan_out() {
    let watchers = env_usize("FANOUT_WATCHERS", 5_000);
    let events = env_usize("FANOUT_EVENTS", 50_000);
    hub_alone(watchers, events);
    fan_out("memory", &MemoryStore::new(), 0, events);
    fan_out("memory", &MemoryStore::new(), watchers, events);
    let sqlite = || SqliteStore::open_in_memory().unwrap();
    fan_out("sqlite in memory", &sqlite(), 0, events);
    fan_out("sqlite in memory", &sqlite(), watchers, events);
}
