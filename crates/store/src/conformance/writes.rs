//! Properties of get, list, create, update, delete and apply.

use corral_types::{Kind, LabelSelector};

use super::{assert_unchanged, names, object, service};
use crate::{EventType, Op, Query, Store, StoreError};

pub fn create_assigns_the_next_revision_and_keeps_caller_fields(store: &dyn Store) {
    let start = store.current_revision().unwrap();
    let mut given = object(Kind::Service, "dev", "web", &[("app", "web")]);
    given.meta.revision = 77; // ignored
    let created = store.create(given.clone()).unwrap();
    assert_eq!(created.meta.revision, start + 1);
    assert_eq!(created.meta.uid, given.meta.uid);
    assert_eq!(created.meta.created, given.meta.created);
    assert_eq!(created.meta.generation, given.meta.generation);
    assert_eq!(created.meta.labels, given.meta.labels);
    assert_eq!(created.spec, given.spec);
    assert_eq!(created.status, given.status);
    assert_eq!(store.get(Kind::Service, "dev", "web").unwrap(), created);
    assert_eq!(store.current_revision().unwrap(), start + 1);

    let second = store.create(service("dev", "api")).unwrap();
    assert_eq!(second.meta.revision, start + 2);
}

pub fn create_of_an_existing_object_is_already_exists_and_changes_nothing(store: &dyn Store) {
    let first = store.create(service("dev", "web")).unwrap();
    let mut again = service("dev", "web");
    again.spec = serde_json::json!({ "image": "other" });
    let err = store.create(again).unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyExists { kind: Kind::Service, environment, name }
            if environment == "dev" && name == "web"),
        "{err:?}"
    );
    assert_eq!(store.get(Kind::Service, "dev", "web").unwrap(), first);
    assert_unchanged(store, first.meta.revision);

    // The same name in another environment or of another kind is another object.
    store.create(service("prod", "web")).unwrap();
    store
        .create(object(Kind::Instance, "dev", "web", &[]))
        .unwrap();
}

pub fn get_of_a_missing_object_is_not_found(store: &dyn Store) {
    store.create(service("dev", "web")).unwrap();
    for (kind, env, name) in [
        (Kind::Service, "dev", "api"),
        (Kind::Service, "prod", "web"),
        (Kind::Instance, "dev", "web"),
    ] {
        let err = store.get(kind, env, name).unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    }
}

pub fn update_with_the_current_revision_succeeds_with_a_new_revision(store: &dyn Store) {
    let created = store.create(service("dev", "web")).unwrap();
    let mut changed = created.clone();
    changed.spec = serde_json::json!({ "image": "whoami:2" });
    changed.meta.generation = 2;
    let updated = store.update(changed.clone()).unwrap();
    assert_eq!(updated.meta.revision, created.meta.revision + 1);
    assert_eq!(updated.spec, changed.spec);
    assert_eq!(updated.meta.generation, 2);
    assert_eq!(store.get(Kind::Service, "dev", "web").unwrap(), updated);
    assert_eq!(store.current_revision().unwrap(), updated.meta.revision);
}

pub fn update_with_stale_revision_is_a_conflict_and_changes_nothing(store: &dyn Store) {
    let created = store.create(service("dev", "web")).unwrap();
    let mut first = created.clone();
    first.spec = serde_json::json!({ "image": "first" });
    let current = store.update(first).unwrap();

    let mut stale = created.clone();
    stale.spec = serde_json::json!({ "image": "stale" });
    let err = store.update(stale).unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { expected, actual, .. }
            if expected == created.meta.revision && actual == current.meta.revision),
        "{err:?}"
    );
    assert_eq!(store.get(Kind::Service, "dev", "web").unwrap(), current);
    assert_unchanged(store, current.meta.revision);
}

pub fn update_of_a_missing_object_is_not_found_and_changes_nothing(store: &dyn Store) {
    let other = store.create(service("dev", "other")).unwrap();
    let err = store.update(service("dev", "web")).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert!(store.get(Kind::Service, "dev", "web").is_err());
    assert_unchanged(store, other.meta.revision);
}

pub fn delete_with_stale_revision_is_a_conflict_and_changes_nothing(store: &dyn Store) {
    let created = store.create(service("dev", "web")).unwrap();
    let current = store.update(created.clone()).unwrap();
    let err = store
        .delete(Kind::Service, "dev", "web", Some(created.meta.revision))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { expected, actual, .. }
            if expected == created.meta.revision && actual == current.meta.revision),
        "{err:?}"
    );
    assert_eq!(store.get(Kind::Service, "dev", "web").unwrap(), current);
    assert_unchanged(store, current.meta.revision);

    let deleted = store
        .delete(Kind::Service, "dev", "web", Some(current.meta.revision))
        .unwrap();
    assert_eq!(deleted.meta.revision, current.meta.revision + 1);
}

pub fn delete_without_a_revision_is_unconditional(store: &dyn Store) {
    let created = store.create(service("dev", "web")).unwrap();
    store.update(created).unwrap();
    store.delete(Kind::Service, "dev", "web", None).unwrap();
    let err = store.get(Kind::Service, "dev", "web").unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    // The name is free again.
    store.create(service("dev", "web")).unwrap();
}

pub fn delete_of_a_missing_object_is_not_found_and_changes_nothing(store: &dyn Store) {
    let other = store.create(service("dev", "other")).unwrap();
    for revision in [None, Some(other.meta.revision)] {
        let err = store
            .delete(Kind::Service, "dev", "web", revision)
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    }
    assert_unchanged(store, other.meta.revision);
}

pub fn delete_event_carries_the_deletion_revision(store: &dyn Store) {
    let created = store
        .create(object(Kind::Service, "dev", "web", &[("app", "web")]))
        .unwrap();
    let deleted = store.delete(Kind::Service, "dev", "web", None).unwrap();
    assert_eq!(deleted.meta.revision, created.meta.revision + 1);
    let mut expected = created.clone();
    expected.meta.revision = deleted.meta.revision;
    assert_eq!(
        deleted, expected,
        "the last state, with the deletion's revision"
    );
    assert_eq!(store.current_revision().unwrap(), deleted.meta.revision);

    let rt = super::runtime();
    let mut watch = store
        .watch(Query::default(), created.meta.revision)
        .unwrap();
    let ev = super::next_event(&rt, &mut watch);
    assert_eq!(ev.event_type, EventType::Deleted);
    assert_eq!(ev.revision(), deleted.meta.revision);
    assert_eq!(ev.object, deleted);
}

pub fn apply_assigns_consecutive_revisions_in_op_order(store: &dyn Store) {
    let base = store
        .create(service("dev", "existing"))
        .unwrap()
        .meta
        .revision;
    let mut a = service("dev", "a");
    a.meta.revision = base + 1; // the revision its create gets, so the update can name it
    let out = store
        .apply(vec![
            Op::Create(service("dev", "a")),
            Op::Create(service("dev", "b")),
            Op::Update(a),
            Op::Delete {
                kind: Kind::Service,
                environment: "dev".to_string(),
                name: "b".to_string(),
                revision: Some(base + 2),
            },
            Op::Delete {
                kind: Kind::Service,
                environment: "dev".to_string(),
                name: "existing".to_string(),
                revision: Some(base),
            },
        ])
        .unwrap();
    let revisions: Vec<_> = out.iter().map(|o| o.meta.revision).collect();
    assert_eq!(revisions, (base + 1..=base + 5).collect::<Vec<_>>());
    assert_eq!(store.current_revision().unwrap(), base + 5);
    let listing = store.list(&Query::default()).unwrap();
    assert_eq!(
        names(&listing.items),
        [("dev".to_string(), "a".to_string())]
    );
    assert_eq!(listing.items[0].meta.revision, base + 3);

    let rt = super::runtime();
    let mut watch = store.watch(Query::default(), base).unwrap();
    let types: Vec<_> = (0..5)
        .map(|_| super::next_event(&rt, &mut watch).event_type)
        .collect();
    use EventType::{Created, Deleted, Updated};
    assert_eq!(types, [Created, Created, Updated, Deleted, Deleted]);
}

pub fn apply_is_all_or_nothing(store: &dyn Store) {
    let x = store.create(service("dev", "x")).unwrap();
    let x = store.update(x).unwrap();
    let base = x.meta.revision;
    let mut stale_x = x.clone();
    stale_x.meta.revision = base - 1;
    let failing_batches = vec![
        vec![Op::Create(service("dev", "y")), Op::Update(stale_x)],
        vec![
            Op::Create(service("dev", "z")),
            Op::Create(service("dev", "z")),
        ],
        vec![
            Op::Delete {
                kind: Kind::Service,
                environment: "dev".to_string(),
                name: "x".to_string(),
                revision: None,
            },
            Op::Update(service("dev", "missing")),
        ],
    ];
    for ops in failing_batches {
        assert!(store.apply(ops).is_err());
        let listing = store.list(&Query::default()).unwrap();
        assert_eq!(
            names(&listing.items),
            [("dev".to_string(), "x".to_string())]
        );
        assert_eq!(listing.items[0], x);
        assert_unchanged(store, base);
    }
    // The counter did not move: the next write gets the next revision.
    let next = store.create(service("dev", "y")).unwrap();
    assert_eq!(next.meta.revision, base + 1);
}

pub fn apply_of_no_ops_changes_nothing(store: &dyn Store) {
    let base = store.create(service("dev", "x")).unwrap().meta.revision;
    assert!(store.apply(Vec::new()).unwrap().is_empty());
    assert_unchanged(store, base);
}

pub fn list_filters_by_environment_kind_and_label_selector(store: &dyn Store) {
    let web = [("app", "web"), ("tier", "front")];
    store
        .create(object(Kind::Service, "dev", "web", &web))
        .unwrap();
    store
        .create(object(Kind::Service, "dev", "db", &[("app", "db")]))
        .unwrap();
    store
        .create(object(Kind::Service, "prod", "web", &web))
        .unwrap();
    store
        .create(object(Kind::Instance, "dev", "web-1", &web))
        .unwrap();
    store.create(object(Kind::Node, "", "node-1", &[])).unwrap();

    let list = |q: Query| names(&store.list(&q).unwrap().items);
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(e, n)| (e.to_string(), n.to_string()))
            .collect()
    };
    assert_eq!(list(Query::default()).len(), 5);
    assert_eq!(
        list(Query::kind(Kind::Service)),
        pairs(&[("dev", "db"), ("dev", "web"), ("prod", "web")])
    );
    assert_eq!(
        list(Query::kind(Kind::Service).in_environment("dev")),
        pairs(&[("dev", "db"), ("dev", "web")])
    );
    assert_eq!(
        list(Query::default().in_environment("dev")),
        pairs(&[("dev", "db"), ("dev", "web"), ("dev", "web-1")])
    );
    assert_eq!(
        list(Query::default().with_selector(LabelSelector::equals("app", "web"))),
        pairs(&[("dev", "web"), ("dev", "web-1"), ("prod", "web")])
    );
    let selector = LabelSelector::parse("app=web,tier").unwrap();
    assert_eq!(
        list(
            Query::kind(Kind::Service)
                .in_environment("prod")
                .with_selector(selector)
        ),
        pairs(&[("prod", "web")])
    );
    let not_web = LabelSelector::parse("app!=web").unwrap();
    assert_eq!(
        list(Query::kind(Kind::Service).with_selector(not_web)),
        pairs(&[("dev", "db")])
    );
    assert!(list(Query::default().in_environment("nowhere")).is_empty());
    assert_eq!(list(Query::kind(Kind::Node)), pairs(&[("", "node-1")]));
}

pub fn list_is_sorted_by_environment_then_name_and_reports_the_current_revision(store: &dyn Store) {
    for (env, name) in [("b", "2"), ("a", "3"), ("b", "1"), ("a", "1"), ("c", "0")] {
        store.create(service(env, name)).unwrap();
    }
    let listing = store.list(&Query::kind(Kind::Service)).unwrap();
    let expected: Vec<(String, String)> =
        [("a", "1"), ("a", "3"), ("b", "1"), ("b", "2"), ("c", "0")]
            .iter()
            .map(|(e, n)| (e.to_string(), n.to_string()))
            .collect();
    assert_eq!(names(&listing.items), expected);
    assert_eq!(listing.revision, store.current_revision().unwrap());
    assert_eq!(listing.revision, 5);

    // A deletion moves the revision even though it leaves nothing to list.
    let deleted = store.delete(Kind::Service, "c", "0", None).unwrap();
    let listing = store.list(&Query::kind(Kind::Service)).unwrap();
    assert_eq!(listing.revision, deleted.meta.revision);
    assert_eq!(listing.items.len(), 4);
}

pub fn a_paged_list_gives_every_object_once_in_key_order(store: &dyn Store) {
    for i in 0..7 {
        let labels: &[(&str, &str)] = if i % 2 == 0 { &[("app", "web")] } else { &[] };
        store
            .create(object(Kind::Service, "a", &format!("s{i}"), labels))
            .unwrap();
    }
    store.create(service("b", "s0")).unwrap();
    store.create(object(Kind::Node, "", "n1", &[])).unwrap();
    let page = |after: Option<crate::ListKey>, query: Query| {
        store
            .list(&query.with_page(crate::Page { after, limit: 3 }))
            .unwrap()
    };
    // Every service of every environment, three at a time.
    let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        let listing = page(after.clone(), Query::kind(Kind::Service));
        assert!(listing.items.len() <= 3);
        seen.extend(names(&listing.items));
        pages += 1;
        match listing.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    let mut whole = names(&store.list(&Query::kind(Kind::Service)).unwrap().items);
    whole.sort();
    assert_eq!(seen, whole, "each once, in key order");
    assert_eq!(pages, 3);

    // A label term the SQL cannot answer filters the page read: fewer
    // items, the same continuation.
    let web = LabelSelector::parse("app!=db,app").unwrap();
    let first = page(
        None,
        Query::kind(Kind::Service)
            .in_environment("a")
            .with_selector(web),
    );
    assert_eq!(
        names(&first.items),
        [
            ("a".to_string(), "s0".to_string()),
            ("a".into(), "s2".into())
        ]
    );
    assert_eq!(first.next.map(|k| k.name).as_deref(), Some("s2"));
}

pub fn environment_objects_are_keyed_by_their_own_name(store: &dyn Store) {
    let env = object(Kind::Environment, "prod", "prod", &[]);
    let created = store.create(env).unwrap();
    assert_eq!(
        store.get(Kind::Environment, "prod", "prod").unwrap(),
        created
    );
    let listing = store.list(&Query::kind(Kind::Environment)).unwrap();
    assert_eq!(listing.items, [created]);
    // A service in that environment is a different object.
    store.create(service("prod", "prod")).unwrap();
    assert_eq!(
        store
            .list(&Query::default().in_environment("prod"))
            .unwrap()
            .items
            .len(),
        2
    );
}

pub fn concurrent_writers_get_distinct_consecutive_revisions(store: &dyn Store) {
    const WRITERS: usize = 4;
    const EACH: usize = 25;
    let start = store.current_revision().unwrap();
    let mut revisions: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                s.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let obj = service("dev", &format!("w{w}-{i}"));
                            store.create(obj).unwrap().meta.revision
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    revisions.sort_unstable();
    let total = (WRITERS * EACH) as u64;
    assert_eq!(revisions, (start + 1..=start + total).collect::<Vec<_>>());
    assert_eq!(store.current_revision().unwrap(), start + total);
    assert_eq!(
        store.list(&Query::default()).unwrap().items.len(),
        WRITERS * EACH
    );
}
