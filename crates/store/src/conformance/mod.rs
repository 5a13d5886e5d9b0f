//! One suite of properties every [`Store`] backend must have.
//!
//! Each property is a public function taking a fresh, empty store. A backend
//! runs them all with one `#[test]` per property:
//!
//! ```ignore
//! corral_store::conformance_tests!(memory, corral_store::MemoryStore::new());
//! ```
//!
//! The expression is evaluated once per test and must give a value whose
//! type implements [`Store`]. A backend that needs a fixture kept alive (a
//! temporary directory, a server) wraps both in [`Guarded`].
//! [`run_all`] runs every property in one call instead.
//!
//! To add a property: write it in `writes.rs` or `watches.rs` and add its
//! name to `__store_conformance_properties!` below.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod watches;
mod writes;

use std::collections::BTreeMap;
use std::time::Duration;

use corral_types::{Kind, Meta, RawObject};

use crate::{Event, Listing, Op, Query, Revision, Store, StoreError, Watch};

pub use watches::*;
pub use writes::*;

/// The one list of property names; calls back into [`conformance_tests!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_properties {
    ($($prefix:tt)*) => {
        $crate::conformance_tests! { $($prefix)*
            create_assigns_the_next_revision_and_keeps_caller_fields,
            create_of_an_existing_object_is_already_exists_and_changes_nothing,
            get_of_a_missing_object_is_not_found,
            update_with_the_current_revision_succeeds_with_a_new_revision,
            update_with_stale_revision_is_a_conflict_and_changes_nothing,
            update_of_a_missing_object_is_not_found_and_changes_nothing,
            delete_with_stale_revision_is_a_conflict_and_changes_nothing,
            delete_without_a_revision_is_unconditional,
            delete_of_a_missing_object_is_not_found_and_changes_nothing,
            delete_event_carries_the_deletion_revision,
            apply_assigns_consecutive_revisions_in_op_order,
            apply_is_all_or_nothing,
            apply_of_no_ops_changes_nothing,
            list_filters_by_environment_kind_and_label_selector,
            list_is_sorted_by_environment_then_name_and_reports_the_current_revision,
            a_paged_list_gives_every_object_once_in_key_order,
            environment_objects_are_keyed_by_their_own_name,
            concurrent_writers_get_distinct_consecutive_revisions,
            watch_from_zero_replays_history_in_order,
            watch_resumes_from_a_revision_without_gaps_or_repeats,
            watch_only_delivers_events_matching_the_query,
            watch_delivers_live_events_in_revision_order_under_concurrent_writers,
            watch_from_before_compaction_is_an_error,
            compaction_keeps_current_objects_and_the_revision_counter,
            a_watch_by_label_sees_only_its_objects_and_all_of_them,
            a_watcher_that_falls_behind_gets_lagged_and_others_do_not,
            a_dropped_watch_stops_costing_anything,
            a_watch_with_nothing_to_deliver_still_reports_the_current_revision,
        }
    };
}

/// Generates `mod $name` with one `#[test]` per conformance property, each
/// on a fresh store made by evaluating `$make` (names in `$make` resolve as
/// in the module calling the macro).
#[macro_export]
macro_rules! conformance_tests {
    ($name:ident, $make:expr $(,)?) => {
        $crate::__store_conformance_properties!(@tests [$name, $make]);
    };
    (@tests [$name:ident, $make:expr] $($prop:ident,)*) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $prop() {
                    let store = $make;
                    $crate::conformance::$prop(&store);
                }
            )*
        }
    };
    (@table $($prop:ident,)*) => {
        /// Every property, by name.
        pub const PROPERTIES: &[(&str, fn(&dyn $crate::Store))] = &[
            $((stringify!($prop), $prop),)*
        ];
    };
}

crate::__store_conformance_properties!(@table);

/// Runs every property, each on a fresh store from `make`, panicking on the
/// first failure with the property's name.
pub fn run_all(make: &dyn Fn() -> Box<dyn Store>) {
    for (name, property) in PROPERTIES {
        let store = make();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| property(&*store)));
        if let Err(panic) = outcome {
            eprintln!("store conformance property {name} failed");
            std::panic::resume_unwind(panic);
        }
    }
}

/// A store together with something that must outlive it (a temporary
/// directory, a test server). Delegates every method to the store.
pub struct Guarded<S, G> {
    store: S,
    _guard: G,
}

impl<S: Store, G: Send + Sync + 'static> Guarded<S, G> {
    pub fn new(store: S, guard: G) -> Self {
        Guarded {
            store,
            _guard: guard,
        }
    }
}

impl<S: Store, G: Send + Sync + 'static> Store for Guarded<S, G> {
    fn get(&self, kind: Kind, environment: &str, name: &str) -> Result<RawObject, StoreError> {
        self.store.get(kind, environment, name)
    }
    fn list(&self, query: &Query) -> Result<Listing, StoreError> {
        self.store.list(query)
    }
    fn create(&self, obj: RawObject) -> Result<RawObject, StoreError> {
        self.store.create(obj)
    }
    fn update(&self, obj: RawObject) -> Result<RawObject, StoreError> {
        self.store.update(obj)
    }
    fn delete(
        &self,
        kind: Kind,
        environment: &str,
        name: &str,
        revision: Option<Revision>,
    ) -> Result<RawObject, StoreError> {
        self.store.delete(kind, environment, name, revision)
    }
    fn apply(&self, ops: Vec<Op>) -> Result<Vec<RawObject>, StoreError> {
        self.store.apply(ops)
    }
    fn watch(&self, query: Query, from: Revision) -> Result<Watch, StoreError> {
        self.store.watch(query, from)
    }
    fn current_revision(&self) -> Result<Revision, StoreError> {
        self.store.current_revision()
    }
    fn compact(&self, keep_after: Revision) -> Result<(), StoreError> {
        self.store.compact(keep_after)
    }
    fn watcher_count(&self) -> Option<usize> {
        self.store.watcher_count()
    }
}

// ---- helpers shared by the properties ----

/// A not-yet-stored object with caller-made uid, time and generation.
fn object(kind: Kind, environment: &str, name: &str, labels: &[(&str, &str)]) -> RawObject {
    RawObject {
        kind,
        meta: Meta {
            environment: environment.to_string(),
            name: name.to_string(),
            uid: format!("uid-{environment}-{name}"),
            revision: 0,
            generation: 1,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            created: "2026-01-02T03:04:05Z".to_string(),
        },
        spec: serde_json::json!({ "image": "whoami", "scale": 1 }),
        status: serde_json::json!({}),
    }
}

fn service(environment: &str, name: &str) -> RawObject {
    object(Kind::Service, environment, name, &[])
}

/// `(environment, name)` of each item, for comparing listings.
fn names(items: &[RawObject]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|o| (o.meta.environment.clone(), o.meta.name.clone()))
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building a tokio runtime")
}

/// The next event, failing the test if none arrives within five seconds.
fn next_event(rt: &tokio::runtime::Runtime, watch: &mut Watch) -> Event {
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), watch.next()).await })
        .expect("watch produced no event within 5s")
        .expect("watch failed")
}

/// Fails the test if the watch delivers anything within a short while.
fn assert_quiet(rt: &tokio::runtime::Runtime, watch: &mut Watch) {
    let got =
        rt.block_on(async { tokio::time::timeout(Duration::from_millis(100), watch.next()).await });
    if let Ok(ev) = got {
        panic!("expected no more events, got {ev:?}");
    }
}

/// Asserts nothing was written: same revision, no event after it.
fn assert_unchanged(store: &dyn Store, revision: Revision) {
    assert_eq!(
        store.current_revision().unwrap(),
        revision,
        "revision moved"
    );
    let rt = runtime();
    let mut watch = store.watch(Query::default(), revision).unwrap();
    assert_quiet(&rt, &mut watch);
}
