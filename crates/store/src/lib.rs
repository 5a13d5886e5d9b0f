//! The object store: revisioned get, list, create, update, delete and watch.
//!
//! Every write gets the next revision of one global, monotonically increasing
//! counter (like etcd). The store never calls `now()` and never makes ids:
//! `meta.uid` and `meta.created` come from the caller. Backends:
//! [`SqliteStore`] (the default, durable before a write is acknowledged) and
//! [`MemoryStore`] (unit tests). [`conformance`] is one suite run on every
//! backend.

pub mod conformance;
mod hub;
mod memory;
mod sqlite;
mod write;

use std::collections::VecDeque;
use std::sync::Arc;

use corral_types::{Kind, LabelSelector, RawObject};

pub use hub::{Subscription, WATCH_CHANNEL_CAPACITY, WatchHub};
pub use memory::{DEFAULT_HISTORY_LIMIT, MemoryStore};
pub use sqlite::SqliteStore;

/// A store revision. Revision 0 is "before anything".
pub type Revision = u64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} {environment}/{name} not found")]
    NotFound {
        kind: Kind,
        environment: String,
        name: String,
    },
    #[error("{kind} {environment}/{name} already exists")]
    AlreadyExists {
        kind: Kind,
        environment: String,
        name: String,
    },
    #[error(
        "{kind} {environment}/{name} was modified: revision {expected} was read but the store holds {actual}"
    )]
    Conflict {
        kind: Kind,
        environment: String,
        name: String,
        expected: Revision,
        actual: Revision,
    },
    /// `oldest` is the lowest revision a watch can still start from.
    #[error("revision {requested} has been compacted; the oldest available is {oldest}")]
    Compacted {
        requested: Revision,
        oldest: Revision,
    },
    #[error("store backend failed: {0}")]
    Backend(String),
}

/// What a list or watch selects. Empty `environment` means all environments.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub kind: Option<Kind>,
    pub environment: Option<String>,
    pub selector: LabelSelector,
    /// Paging (a list only; a watch ignores it): at most `limit` objects
    /// after `after`, in the order (environment, name, kind name).
    pub page: Option<Page>,
}

/// One page of a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The key of the last object of the page before (none: the first).
    pub after: Option<ListKey>,
    /// The most objects the store reads for the page; the label terms it
    /// cannot check in SQL may leave fewer in it.
    pub limit: usize,
}

/// Where an object is in a paged list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ListKey {
    pub environment: String,
    pub name: String,
    /// The kind's name (`Instance`): pages are ordered by it as text.
    pub kind: String,
}

impl ListKey {
    pub fn of(obj: &RawObject) -> Self {
        ListKey {
            environment: obj.meta.environment.clone(),
            name: obj.meta.name.clone(),
            kind: obj.kind.as_str().to_string(),
        }
    }
}

impl Query {
    pub fn kind(kind: Kind) -> Self {
        Query {
            kind: Some(kind),
            ..Query::default()
        }
    }

    pub fn in_environment(mut self, environment: &str) -> Self {
        self.environment = Some(environment.to_string());
        self
    }

    pub fn with_selector(mut self, selector: LabelSelector) -> Self {
        self.selector = selector;
        self
    }

    pub fn with_page(mut self, page: Page) -> Self {
        self.page = Some(page);
        self
    }

    /// True when `obj` is selected.
    pub fn matches(&self, obj: &RawObject) -> bool {
        self.kind.is_none_or(|k| k == obj.kind)
            && self
                .environment
                .as_deref()
                .is_none_or(|e| e == obj.meta.environment)
            && self.selector.matches(&obj.meta.labels)
    }
}

/// A page of objects and the store revision it was read at.
#[derive(Debug, Clone)]
pub struct Listing {
    pub items: Vec<RawObject>,
    pub revision: Revision,
    /// For a paged list whose page was full: where the next page starts
    /// (after this key). `None`: nothing follows.
    pub next: Option<ListKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Created,
    Updated,
    Deleted,
}

/// One change. For `Deleted`, `object` is the last state with the deletion's revision.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub object: RawObject,
}

impl Event {
    pub fn revision(&self) -> Revision {
        self.object.meta.revision
    }
}

/// A watch: first the events already committed after the starting revision,
/// then live ones. Events come in revision order with no gaps or repeats.
/// Dropping it unregisters it from its store's [`WatchHub`].
pub struct Watch {
    query: Query,
    backlog: VecDeque<Event>,
    live: Subscription,
    last: Revision,
}

impl Watch {
    /// Builds a watch from the backlog read *after* subscribing to `live`, so
    /// that no event is lost between the two.
    pub fn new(query: Query, backlog: Vec<Event>, live: Subscription, from: Revision) -> Self {
        Watch {
            query,
            backlog: backlog.into(),
            live,
            last: from,
        }
    }

    /// The next matching event. `Err(Lagged)` means the watcher fell too far
    /// behind (after the events it already had); restart the watch from
    /// [`Watch::last_revision`]. Cancel safe.
    pub async fn next(&mut self) -> Result<Event, WatchError> {
        // Usually the only holder by now: no copy.
        self.next_shared().await.map(Arc::unwrap_or_clone)
    }

    /// [`Watch::next`], as the event the other watches share (for a reader
    /// that only reads it: no copy, however many watches hold it).
    pub async fn next_shared(&mut self) -> Result<Arc<Event>, WatchError> {
        while let Some(ev) = self.backlog.pop_front() {
            if self.take(&ev) {
                return Ok(Arc::new(ev));
            }
        }
        loop {
            let Some(ev) = self.live.recv().await else {
                return Err(if self.live.lagged() {
                    WatchError::Lagged
                } else {
                    WatchError::Closed
                });
            };
            if self.take(&ev) {
                return Ok(ev);
            }
        }
    }

    /// Records `ev` as seen; true if it is new and matches.
    fn take(&mut self, ev: &Event) -> bool {
        if ev.revision() <= self.last {
            return false;
        }
        self.last = ev.revision();
        self.query.matches(&ev.object)
    }

    /// The revision up to which the watch has seen every event (matching or
    /// not): a restart from it misses nothing and repeats nothing. With
    /// nothing pending it is the store's last published revision.
    pub fn last_revision(&self) -> Revision {
        match self.live.settled() {
            Some(published) if self.backlog.is_empty() => self.last.max(published),
            _ => self.last,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    #[error("watcher fell behind; restart from the last revision")]
    Lagged,
    #[error("store closed")]
    Closed,
}

/// The store. Implementations are cheap to share (`Arc<dyn Store>`).
///
/// Methods are synchronous: backends are local and fast; callers on an async
/// runtime that need to avoid blocking use `spawn_blocking`.
pub trait Store: Send + Sync + 'static {
    /// The object, with its current revision.
    fn get(&self, kind: Kind, environment: &str, name: &str) -> Result<RawObject, StoreError>;

    /// Objects matching `query`, ordered by (environment, name), and the revision read at.
    fn list(&self, query: &Query) -> Result<Listing, StoreError>;

    /// Stores a new object (its `meta.revision` is ignored) and returns it with its revision.
    fn create(&self, obj: RawObject) -> Result<RawObject, StoreError> {
        one_write(self.apply(vec![Op::Create(obj)])?)
    }

    /// Replaces an object if its stored revision equals `obj.meta.revision`
    /// (the revision the caller read), else `Conflict`.
    fn update(&self, obj: RawObject) -> Result<RawObject, StoreError> {
        one_write(self.apply(vec![Op::Update(obj)])?)
    }

    /// Deletes an object. With `Some(rev)` the stored revision must equal `rev`.
    /// Returns the deleted object carrying the deletion's revision.
    fn delete(
        &self,
        kind: Kind,
        environment: &str,
        name: &str,
        revision: Option<Revision>,
    ) -> Result<RawObject, StoreError> {
        one_write(self.apply(vec![Op::Delete {
            kind,
            environment: environment.to_string(),
            name: name.to_string(),
            revision,
        }])?)
    }

    /// Applies several creates/updates/deletes atomically: all succeed or none.
    fn apply(&self, ops: Vec<Op>) -> Result<Vec<RawObject>, StoreError>;

    /// Events after revision `from` that match `query`. Fails with
    /// `Compacted` if `from` is older than the history the store keeps.
    fn watch(&self, query: Query, from: Revision) -> Result<Watch, StoreError>;

    /// The latest revision.
    fn current_revision(&self) -> Result<Revision, StoreError>;

    /// Forgets the history at or below `keep_after` (clamped to the current
    /// revision); current objects are kept. Afterwards, watching from a
    /// revision below `keep_after` fails with `Compacted`.
    fn compact(&self, keep_after: Revision) -> Result<(), StoreError> {
        let _ = keep_after;
        Err(StoreError::Backend(
            "this backend does not support compaction".to_string(),
        ))
    }

    /// How many live watches the store is feeding (`None` if it cannot
    /// tell). For tests: a dropped watch must stop costing anything.
    #[doc(hidden)]
    fn watcher_count(&self) -> Option<usize> {
        None
    }
}

/// The object of a one-op [`Store::apply`].
fn one_write(objects: Vec<RawObject>) -> Result<RawObject, StoreError> {
    objects
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Backend("a write produced no event".to_string()))
}

/// One write in an atomic [`Store::apply`].
#[derive(Debug, Clone)]
pub enum Op {
    Create(RawObject),
    Update(RawObject),
    Delete {
        kind: Kind,
        environment: String,
        name: String,
        revision: Option<Revision>,
    },
}
