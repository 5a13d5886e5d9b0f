//! SQLite group commit: many concurrent writers, each with its own result,
//! sharing transactions; plus a throughput micro benchmark (ignored).
#![allow(clippy::unwrap_used, clippy::panic)] // test fixtures

use std::collections::BTreeMap;
use std::time::Instant;

use corral_store::{Op, Query, SqliteStore, Store, StoreError};
use corral_types::{Kind, Meta, RawObject};

fn service(name: &str) -> RawObject {
    RawObject {
        kind: Kind::Service,
        meta: Meta {
            environment: "dev".to_string(),
            name: name.to_string(),
            uid: format!("uid-{name}"),
            generation: 1,
            created: "2026-01-02T03:04:05Z".to_string(),
            ..Meta::default()
        },
        spec: serde_json::json!({ "image": "whoami" }),
        status: serde_json::Value::Null,
    }
}

const THREADS: usize = 16;
const CYCLES: usize = 50; // 4 writes each: 200 writes per thread

/// What one writer thread saw: its successful writes and its final objects.
#[derive(Default)]
struct Seen {
    written: Vec<(u64, RawObject)>,
    live: BTreeMap<String, RawObject>,
}

/// One writer: per cycle a create, an update, a stale update (must be a
/// conflict) and either an `apply` that must fail as a whole or a delete.
fn writer(store: &dyn Store, t: usize) -> Seen {
    let mut seen = Seen::default();
    for c in 0..CYCLES {
        let name = format!("t{t}-{c}");
        let created = store.create(service(&name)).unwrap();
        let mut next = created.clone();
        next.spec = serde_json::json!({ "image": "whoami", "cycle": c });
        let updated = store.update(next).unwrap();
        assert!(updated.meta.revision > created.meta.revision);
        match store.update(created.clone()) {
            Err(StoreError::Conflict {
                expected, actual, ..
            }) => {
                assert_eq!(expected, created.meta.revision);
                assert_eq!(actual, updated.meta.revision);
            }
            other => panic!("a stale update must conflict, got {other:?}"),
        }
        seen.written.push((created.meta.revision, created));
        if c % 2 == 0 {
            let extra = format!("t{t}-{c}-extra");
            let ops = vec![Op::Create(service(&extra)), Op::Create(service(&name))];
            assert!(matches!(
                store.apply(ops),
                Err(StoreError::AlreadyExists { .. })
            ));
            assert!(matches!(
                store.get(Kind::Service, "dev", &extra),
                Err(StoreError::NotFound { .. })
            ));
            seen.live.insert(name, updated.clone());
        } else {
            let deleted = store
                .delete(Kind::Service, "dev", &name, Some(updated.meta.revision))
                .unwrap();
            seen.written.push((deleted.meta.revision, deleted));
        }
        seen.written.push((updated.meta.revision, updated));
    }
    seen
}

/// Reads `n` events from a watch from revision 0.
fn watch_all(store: &dyn Store, n: usize) -> Vec<u64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut watch = store.watch(Query::default(), 0).unwrap();
    (0..n)
        .map(|_| {
            rt.block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(30), watch.next()).await
            })
            .unwrap()
            .unwrap()
            .revision()
        })
        .collect()
}

fn concurrent_writers_share_commits_but_keep_their_own_results(store: &dyn Store) {
    // Successful writes: a create and an update per cycle, a delete every
    // other cycle.
    let total = THREADS * (CYCLES * 2 + CYCLES / 2);
    let (seen, live_watch) = std::thread::scope(|s| {
        let watcher = s.spawn(|| watch_all(store, total));
        let writers: Vec<_> = (0..THREADS)
            .map(|t| s.spawn(move || writer(store, t)))
            .collect();
        let seen: Vec<Seen> = writers.into_iter().map(|h| h.join().unwrap()).collect();
        (seen, watcher.join().unwrap())
    });
    let mut by_revision = BTreeMap::new();
    let mut expected_live = BTreeMap::new();
    for s in seen {
        for (rev, obj) in s.written {
            assert!(
                by_revision.insert(rev, obj).is_none(),
                "revision {rev} twice"
            );
        }
        expected_live.extend(s.live);
    }
    let all: Vec<u64> = (1..=total as u64).collect();
    assert_eq!(by_revision.keys().copied().collect::<Vec<_>>(), all);
    assert_eq!(store.current_revision().unwrap(), total as u64);
    let listing = store.list(&Query::default()).unwrap();
    assert_eq!(listing.revision, total as u64);
    assert_eq!(
        listing.items,
        expected_live.into_values().collect::<Vec<_>>()
    );
    assert_eq!(live_watch, all);
    assert_eq!(watch_all(store, total), all);
    // The history holds exactly what each writer was told.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut watch = store.watch(Query::default(), 0).unwrap();
    for (rev, obj) in by_revision {
        let ev = rt.block_on(watch.next()).unwrap();
        assert_eq!(ev.revision(), rev);
        assert_eq!(ev.object, obj);
    }
}

#[test]
fn concurrent_writers_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("corral.db")).unwrap();
    concurrent_writers_share_commits_but_keep_their_own_results(&store);
    // And it all survives a reopen.
    let before = store.list(&Query::default()).unwrap();
    drop(store);
    let store = SqliteStore::open(&dir.path().join("corral.db")).unwrap();
    let after = store.list(&Query::default()).unwrap();
    assert_eq!(after.revision, before.revision);
    assert_eq!(after.items, before.items);
}

#[test]
fn concurrent_writers_in_memory() {
    let store = SqliteStore::open_in_memory().unwrap();
    concurrent_writers_share_commits_but_keep_their_own_results(&store);
}

/// `threads` x `each` creates on a fresh on-disk store; returns writes/s.
fn creates_per_second(threads: usize, each: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("corral.db")).unwrap();
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let store = &store;
            s.spawn(move || {
                for i in 0..each {
                    store.create(service(&format!("t{t}-{i}"))).unwrap();
                }
            });
        }
    });
    let elapsed = started.elapsed();
    assert_eq!(store.current_revision().unwrap(), (threads * each) as u64);
    let rate = (threads * each) as f64 / elapsed.as_secs_f64();
    println!("{threads} threads x {each} creates: {elapsed:.2?}, {rate:.0} writes/s");
    rate
}

/// Run with `cargo test -p corral-store --release --test group_commit -- --ignored --nocapture`
/// (set `TMPDIR` to put the database on the disk to measure).
#[test]
#[ignore = "micro benchmark"]
fn bench_concurrent_creates() {
    creates_per_second(1, 2_000);
    creates_per_second(8, 1_000);
    creates_per_second(64, 125);
}
