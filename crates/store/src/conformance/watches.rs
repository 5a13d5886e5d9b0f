//! Properties of watch and compaction.

use corral_types::{Kind, LabelSelector};

use super::{assert_quiet, names, next_event, object, runtime, service};
use crate::{EventType, Query, Store, StoreError};

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
