//! Properties of watch and compaction.

use corral_types::{Kind, LabelSelector, RawObject};

use super::{assert_quiet, names, next_event, object, runtime, service};
use crate::{
    Event, EventType, Op, Query, Store, StoreError, WATCH_CHANNEL_CAPACITY, Watch, WatchError,
};

pub fn watch_from_zero_replays_history_in_order(store: &dyn Store) {
    let a = store.create(service("dev", "a")).unwrap();
    let a2 = store.update(a.clone()).unwrap();
    let b = store.create(service("dev", "b")).unwrap();
    let gone = store.delete(Kind::Service, "dev", "a", None).unwrap();

    let rt = runtime();
    let mut watch = store.watch(Query::default(), 0).unwrap();
    let expected = [
        (EventType::Created, a),
        (EventType::Updated, a2),
        (EventType::Created, b),
        (EventType::Deleted, gone),
    ];
    for (event_type, object) in expected {
        let ev = next_event(&rt, &mut watch);
        assert_eq!(ev.event_type, event_type);
        assert_eq!(ev.object, object);
    }
    assert_quiet(&rt, &mut watch);
    assert_eq!(watch.last_revision(), 4);
}

pub fn watch_resumes_from_a_revision_without_gaps_or_repeats(store: &dyn Store) {
    let a = store.create(service("dev", "a")).unwrap();
    store.create(service("dev", "b")).unwrap();
    let listing = store.list(&Query::default()).unwrap();
    let listed_at = listing.revision;

    // Committed between the list and the watch: must not be missed.
    let a2 = store.update(a).unwrap();
    let c = store.create(service("dev", "c")).unwrap();

    let rt = runtime();
    let mut watch = store.watch(Query::default(), listed_at).unwrap();
    assert_eq!(next_event(&rt, &mut watch).object, a2);
    assert_eq!(next_event(&rt, &mut watch).object, c);

    // Then live events, continuing the sequence.
    let d = store.create(service("dev", "d")).unwrap();
    let ev = next_event(&rt, &mut watch);
    assert_eq!(ev.object, d);
    assert_eq!(ev.revision(), listed_at + 3);
    assert_quiet(&rt, &mut watch);

    // Resuming from the last revision seen replays nothing already seen.
    let mut resumed = store
        .watch(Query::default(), watch.last_revision())
        .unwrap();
    assert_quiet(&rt, &mut resumed);
    let e = store.create(service("dev", "e")).unwrap();
    assert_eq!(next_event(&rt, &mut resumed).object, e);
    assert_eq!(next_event(&rt, &mut watch).object, e);
}

pub fn watch_only_delivers_events_matching_the_query(store: &dyn Store) {
    let rt = runtime();
    let query = Query::kind(Kind::Service)
        .in_environment("dev")
        .with_selector(LabelSelector::equals("app", "web"));
    let mut live = store.watch(query.clone(), 0).unwrap();

    store
        .create(object(Kind::Service, "prod", "web", &[("app", "web")]))
        .unwrap();
    store
        .create(object(Kind::Instance, "dev", "web", &[("app", "web")]))
        .unwrap();
    store
        .create(object(Kind::Service, "dev", "db", &[("app", "db")]))
        .unwrap();
    let wanted = store
        .create(object(Kind::Service, "dev", "web", &[("app", "web")]))
        .unwrap();

    let mut replay = store.watch(query, 0).unwrap();
    for watch in [&mut live, &mut replay] {
        let ev = next_event(&rt, watch);
        assert_eq!(ev.object, wanted);
        assert_eq!(watch.last_revision(), wanted.meta.revision);
        assert_quiet(&rt, watch);
    }
}

pub fn watch_delivers_live_events_in_revision_order_under_concurrent_writers(store: &dyn Store) {
    const WRITERS: usize = 4;
    const EACH: usize = 50;
    let start = store.current_revision().unwrap();
    let rt = runtime();
    let mut watch = store.watch(Query::default(), start).unwrap();
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            s.spawn(move || {
                for i in 0..EACH {
                    let created = store.create(service("dev", &format!("w{w}-{i}"))).unwrap();
                    if i % 2 == 0 {
                        store.update(created).unwrap();
                    }
                }
            });
        }
    });
    let total = (WRITERS * (EACH + EACH / 2)) as u64;
    for expected in start + 1..=start + total {
        assert_eq!(next_event(&rt, &mut watch).revision(), expected);
    }
    assert_quiet(&rt, &mut watch);
}

pub fn watch_from_before_compaction_is_an_error(store: &dyn Store) {
    for i in 1..=5 {
        store.create(service("dev", &format!("s{i}"))).unwrap();
    }
    store.compact(3).unwrap();
    let err = store.watch(Query::default(), 2).err().unwrap();
    assert!(
        matches!(
            err,
            StoreError::Compacted {
                requested: 2,
                oldest: 3
            }
        ),
        "{err:?}"
    );
    assert!(store.watch(Query::default(), 0).is_err());

    // From the compaction point on, history is complete.
    let rt = runtime();
    let mut watch = store.watch(Query::default(), 3).unwrap();
    assert_eq!(next_event(&rt, &mut watch).revision(), 4);
    assert_eq!(next_event(&rt, &mut watch).revision(), 5);
    assert_quiet(&rt, &mut watch);
}

pub fn compaction_keeps_current_objects_and_the_revision_counter(store: &dyn Store) {
    let a = store.create(service("dev", "a")).unwrap();
    store.create(service("dev", "b")).unwrap();
    store.delete(Kind::Service, "dev", "b", None).unwrap();
    let before = store.list(&Query::default()).unwrap();

    // Beyond the current revision: clamped, everything so far is forgotten.
    store.compact(1_000).unwrap();
    let after = store.list(&Query::default()).unwrap();
    assert_eq!(after.revision, before.revision);
    assert_eq!(names(&after.items), names(&before.items));
    assert_eq!(store.get(Kind::Service, "dev", "a").unwrap(), a);

    // Compacting again, or to an older point, is harmless.
    store.compact(1).unwrap();
    store.compact(before.revision).unwrap();

    let rt = runtime();
    let mut watch = store.watch(Query::default(), before.revision).unwrap();
    let next = store.create(service("dev", "c")).unwrap();
    assert_eq!(next.meta.revision, before.revision + 1);
    assert_eq!(next_event(&rt, &mut watch).object, next);
}

const NODE: &str = "io.corral.node";

/// An instance in `environment` on `node`, with `app`.
fn placed(kind: Kind, environment: &str, name: &str, node: &str, app: &str) -> RawObject {
    object(kind, environment, name, &[(NODE, node), ("app", app)])
}

fn on_node(node: &str) -> Query {
    Query::kind(Kind::Instance)
        .in_environment("dev")
        .with_selector(LabelSelector::equals(NODE, node))
}

/// Asserts `watch` delivers exactly the events of `history` its query
/// selects, in order, and then nothing.
fn assert_sees_exactly(
    rt: &tokio::runtime::Runtime,
    watch: &mut Watch,
    query: &Query,
    history: &[Event],
    what: &str,
) {
    let expected: Vec<&Event> = history
        .iter()
        .filter(|ev| query.matches(&ev.object))
        .collect();
    assert!(!expected.is_empty(), "{what}: the test must give it events");
    for want in expected {
        let got = next_event(rt, watch);
        assert_eq!(&got, want, "{what}");
    }
    assert_quiet(rt, watch);
}

pub fn a_watch_by_label_sees_only_its_objects_and_all_of_them(store: &dyn Store) {
    const NODES: usize = 12;
    let node = |i: usize| format!("n{}", i % NODES);
    let selector = |s: &str| LabelSelector::parse(s).unwrap();
    let start = store.current_revision().unwrap();

    // Many watches on one label key, two on the same value, ones indexed by
    // another term than the node, and ones that cannot be indexed.
    let mut queries: Vec<(String, Query)> = (0..NODES)
        .map(|i| (format!("node {}", node(i)), on_node(&node(i))))
        .collect();
    queries.push(("second watch of n1".into(), on_node("n1")));
    queries.extend([
        (
            "n2 and web".into(),
            on_node("n2").with_selector(selector("io.corral.node=n2,app=web")),
        ),
        (
            "web and n3".into(),
            on_node("n3").with_selector(selector("app=web,io.corral.node=n3")),
        ),
        (
            "n4 in any environment, any kind".into(),
            Query::default().with_selector(LabelSelector::equals(NODE, "n4")),
        ),
        (
            "placed anywhere".into(),
            Query::kind(Kind::Instance).with_selector(selector("io.corral.node")),
        ),
        (
            "not on n0".into(),
            Query::kind(Kind::Instance).with_selector(selector("io.corral.node!=n0")),
        ),
    ]);
    let rt = runtime();
    let mut live: Vec<Watch> = queries
        .iter()
        .map(|(_, q)| store.watch(q.clone(), start).unwrap())
        .collect();

    // Instances spread over the nodes, in batches; look-alikes of another
    // kind or environment.
    let mut created = Vec::new();
    for batch in 0..6 {
        let mut ops = Vec::new();
        for j in 0..10 {
            let i = batch * 10 + j;
            // Every node gets both apps.
            let app = if (i / NODES).is_multiple_of(2) {
                "web"
            } else {
                "db"
            };
            ops.push(Op::Create(placed(
                Kind::Instance,
                "dev",
                &format!("i{i}"),
                &node(i),
                app,
            )));
        }
        ops.push(Op::Create(placed(
            Kind::Service,
            "dev",
            &format!("s{batch}"),
            &node(batch),
            "web",
        )));
        ops.push(Op::Create(placed(
            Kind::Instance,
            "prod",
            &format!("p{batch}"),
            &node(batch),
            "web",
        )));
        created.extend(store.apply(ops).unwrap());
    }
    // Half-way: a watch that starts with a backlog and continues live.
    let midway = (
        "placed anywhere, from the start, opened midway".to_string(),
        { Query::kind(Kind::Instance).with_selector(selector("io.corral.node")) },
    );
    let mut midway_watch = store.watch(midway.1.clone(), start).unwrap();
    // Moves between nodes (each side sees what its selector matches), a
    // label removed, deletes.
    for (i, obj) in created.iter().enumerate().filter(|(i, _)| i % 5 == 0) {
        let mut moved = obj.clone();
        moved.meta.labels.insert(NODE.to_string(), node(i + 1));
        let moved = store.update(moved).unwrap();
        if i % 10 == 0 {
            store
                .delete(moved.kind, &moved.meta.environment, &moved.meta.name, None)
                .unwrap();
        }
    }
    let mut unplaced = created[1].clone();
    unplaced.meta.labels.remove(NODE);
    store.update(unplaced).unwrap();

    let end = store.current_revision().unwrap();
    let mut all = store.watch(Query::default(), start).unwrap();
    let history: Vec<Event> = (start..end).map(|_| next_event(&rt, &mut all)).collect();

    for ((what, query), watch) in queries.iter().zip(&mut live) {
        assert_sees_exactly(&rt, watch, query, &history, what);
        assert_eq!(watch.last_revision(), end, "{what}");
    }
    assert_sees_exactly(&rt, &mut midway_watch, &midway.1, &history, &midway.0);
    // The same from the stored history alone.
    for (what, query) in &queries {
        let mut replay = store.watch(query.clone(), start).unwrap();
        assert_sees_exactly(&rt, &mut replay, query, &history, what);
    }
}

pub fn a_watcher_that_falls_behind_gets_lagged_and_others_do_not(store: &dyn Store) {
    const BATCH: usize = 512;
    let total = WATCH_CHANNEL_CAPACITY + 100;
    let start = store.current_revision().unwrap();
    let rt = runtime();
    let mut slow = store.watch(on_node("a"), start).unwrap();
    let mut fast = store.watch(on_node("a"), start).unwrap();
    let mut elsewhere = store.watch(on_node("b"), start).unwrap();
    let watchers = store
        .watcher_count()
        .expect("the store counts its watchers");

    let mut written = 0;
    while written < total {
        let n = BATCH.min(total - written);
        let ops = (written..written + n)
            .map(|i| Op::Create(placed(Kind::Instance, "dev", &format!("a{i}"), "a", "web")))
            .collect();
        store.apply(ops).unwrap();
        for i in written..written + n {
            let ev = next_event(&rt, &mut fast);
            assert_eq!(ev.revision(), start + 1 + i as u64);
        }
        written += n;
    }
    let end = start + total as u64;
    assert_quiet(&rt, &mut fast);
    assert_eq!(fast.last_revision(), end);
    assert_quiet(&rt, &mut elsewhere);
    assert_eq!(elsewhere.last_revision(), end);
    assert_eq!(
        store.watcher_count(),
        Some(watchers - 1),
        "the lagging watch is no longer fed"
    );

    // The slow watcher still gets what it had, in order, then `Lagged`.
    for r in start + 1..=start + WATCH_CHANNEL_CAPACITY as u64 {
        assert_eq!(next_event(&rt, &mut slow).revision(), r);
    }
    let lagged = rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(5), slow.next()).await
    });
    assert!(matches!(lagged, Ok(Err(WatchError::Lagged))), "{lagged:?}");
    let resume_at = slow.last_revision();
    assert_eq!(resume_at, start + WATCH_CHANNEL_CAPACITY as u64);

    // Restarting from its last revision misses nothing.
    let mut resumed = store.watch(on_node("a"), resume_at).unwrap();
    for r in resume_at + 1..=end {
        assert_eq!(next_event(&rt, &mut resumed).revision(), r);
    }
    assert_quiet(&rt, &mut resumed);
}

pub fn a_dropped_watch_stops_costing_anything(store: &dyn Store) {
    let base = store
        .watcher_count()
        .expect("the store counts its watchers");
    let rt = runtime();
    let start = store.current_revision().unwrap();
    let mut watches: Vec<Watch> = Vec::new();
    for i in 0..10 {
        watches.push(store.watch(on_node(&format!("n{i}")), start).unwrap());
        watches.push(store.watch(on_node("shared"), start).unwrap());
        let query = Query::default().with_selector(LabelSelector::parse("app!=db").unwrap());
        watches.push(store.watch(query, start).unwrap());
    }
    assert_eq!(store.watcher_count(), Some(base + 30));

    let obj = store
        .create(placed(Kind::Instance, "dev", "x", "shared", "web"))
        .unwrap();
    assert_eq!(next_event(&rt, &mut watches[1]).object, obj);
    // Dropped with events still in their channels, or never read.
    watches.truncate(15);
    assert_eq!(store.watcher_count(), Some(base + 15));
    store
        .create(placed(Kind::Instance, "dev", "y", "shared", "web"))
        .unwrap();
    watches.clear();
    assert_eq!(store.watcher_count(), Some(base));

    // A watch that fails to start leaves nothing behind.
    store.compact(store.current_revision().unwrap()).unwrap();
    assert!(store.watch(on_node("shared"), start).is_err());
    assert_eq!(store.watcher_count(), Some(base));

    // The store goes on as before.
    let mut watch = store
        .watch(on_node("shared"), obj.meta.revision + 1)
        .unwrap();
    assert_eq!(store.watcher_count(), Some(base + 1));
    let z = store
        .create(placed(Kind::Instance, "dev", "z", "shared", "web"))
        .unwrap();
    assert_eq!(next_event(&rt, &mut watch).object, z);
    drop(watch);
    assert_eq!(store.watcher_count(), Some(base));
}

pub fn a_watch_with_nothing_to_deliver_still_reports_the_current_revision(store: &dyn Store) {
    let rt = runtime();
    let start = store.current_revision().unwrap();
    let mut watch = store.watch(on_node("a"), start).unwrap();
    for i in 0..5 {
        store
            .create(placed(Kind::Instance, "dev", &format!("b{i}"), "b", "web"))
            .unwrap();
    }
    assert_quiet(&rt, &mut watch);
    // What a bookmark reports: resuming from it skips only unrelated events.
    let now = store.current_revision().unwrap();
    assert_eq!(watch.last_revision(), now);
    let a = store
        .create(placed(Kind::Instance, "dev", "a1", "a", "web"))
        .unwrap();
    let mut resumed = store.watch(on_node("a"), watch.last_revision()).unwrap();
    assert_eq!(next_event(&rt, &mut resumed).object, a);
    assert_eq!(next_event(&rt, &mut watch).object, a);
}
