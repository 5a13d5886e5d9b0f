//! The SQLite store (kine-style): a `log` of every event and an `objects`
//! table of current state, both written in one transaction per batch.
//!
//! One connection behind a mutex serializes writes. Events are published
//! while the mutex is still held, right after the commit, so the live channel
//! carries them in revision order.

mod schema;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use corral_types::{Kind, RawObject};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::broadcast;

use crate::memory::WATCH_CHANNEL_CAPACITY;
use crate::write::{self, Staging};
use crate::{Event, EventType, Listing, Op, Query, Revision, Store, StoreError, Watch};
use schema::{BodyRow, LogRow};

/// A durable store in one SQLite file (WAL, `synchronous=FULL`): a write is
/// on disk before it is acknowledged.
pub struct SqliteStore {
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
    /// The database path, for error messages.
    what: String,
}

struct State {
    conn: Connection,
    revision: Revision,
    compacted: Revision,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let what = path.display().to_string();
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Backend(format!("opening sqlite database {what}: {e}")))?;
        Self::with_connection(conn, what)
    }

    /// A private in-memory database (for tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let what = ":memory:".to_string();
        let conn = Connection::open_in_memory()
            .map_err(|e| StoreError::Backend(format!("opening sqlite database {what}: {e}")))?;
        Self::with_connection(conn, what)
    }

    fn with_connection(mut conn: Connection, what: String) -> Result<Self, StoreError> {
        let loaded = schema::init(&mut conn, &what)?;
        let (events, _) = broadcast::channel(WATCH_CHANNEL_CAPACITY);
        Ok(SqliteStore {
            state: Mutex::new(State {
                conn,
                revision: loaded.revision,
                compacted: loaded.compacted,
            }),
            events,
            what,
        })
    }

    /// A failed transaction rolls back when dropped, so a poisoned lock still
    /// guards a consistent database.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fail(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| StoreError::Backend(format!("sqlite database {}: {e}", self.what))
    }

    /// Checks `ops` inside one transaction and commits only if all pass; then
    /// publishes the events and advances the counter.
    fn commit(&self, ops: Vec<Op>) -> Result<Vec<Event>, StoreError> {
        let mut state = self.lock();
        let revision = state.revision;
        let tx = state
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.fail())?;
        let mut staging = TxStaging {
            tx: &tx,
            store: self,
        };
        // On error `tx` is dropped here, which rolls back.
        let events = write::stage(&mut staging, revision, ops)?;
        tx.commit().map_err(self.fail())?;
        for ev in &events {
            state.revision = ev.revision();
            // Nobody listening is fine.
            let _ = self.events.send(ev.clone());
        }
        Ok(events)
    }
}

struct TxStaging<'a> {
    tx: &'a Transaction<'a>,
    store: &'a SqliteStore,
}

impl Staging for TxStaging<'_> {
    fn current(
        &mut self,
        kind: Kind,
        environment: &str,
        name: &str,
    ) -> Result<Option<RawObject>, StoreError> {
        let row = self
            .tx
            .prepare_cached(
                "SELECT revision, body FROM objects
                 WHERE kind = ?1 AND environment = ?2 AND name = ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![kind.as_str(), environment, name], BodyRow::from_row)
                    .optional()
            })
            .map_err(self.store.fail())?;
        row.map(BodyRow::decode).transpose()
    }

    fn record(&mut self, event: &Event) -> Result<(), StoreError> {
        let obj = &event.object;
        let (body, labels) = schema::encode(obj)?;
        let fail = self.store.fail();
        let key = params![obj.kind.as_str(), obj.meta.environment, obj.meta.name];
        self.tx
            .prepare_cached(
                "INSERT INTO log (revision, event_type, kind, environment, name, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    obj.meta.revision,
                    schema::event_type_str(event.event_type),
                    obj.kind.as_str(),
                    obj.meta.environment,
                    obj.meta.name,
                    body,
                ])
            })
            .map_err(&fail)?;
        match event.event_type {
            EventType::Created | EventType::Updated => self
                .tx
                .prepare_cached(
                    "INSERT INTO objects (kind, environment, name, revision, labels, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (kind, environment, name) DO UPDATE SET
                        revision = excluded.revision,
                        labels = excluded.labels,
                        body = excluded.body",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        obj.kind.as_str(),
                        obj.meta.environment,
                        obj.meta.name,
                        obj.meta.revision,
                        labels,
                        body,
                    ])
                }),
            EventType::Deleted => self
                .tx
                .prepare_cached(
                    "DELETE FROM objects WHERE kind = ?1 AND environment = ?2 AND name = ?3",
                )
                .and_then(|mut stmt| stmt.execute(key)),
        }
        .map_err(&fail)?;
        Ok(())
    }
}

/// The list statement for the parts of a query SQL can use; labels are
/// filtered afterwards. With a kind, the primary key gives the order.
fn list_sql(query: &Query) -> &'static str {
    match (query.kind.is_some(), query.environment.is_some()) {
        (true, true) => {
            "SELECT revision, body FROM objects WHERE kind = ?1 AND environment = ?2
             ORDER BY environment, name, kind"
        }
        (true, false) => {
            "SELECT revision, body FROM objects WHERE kind = ?1
             ORDER BY environment, name, kind"
        }
        (false, true) => {
            "SELECT revision, body FROM objects WHERE environment = ?1
             ORDER BY environment, name, kind"
        }
        (false, false) => "SELECT revision, body FROM objects ORDER BY environment, name, kind",
    }
}

impl Store for SqliteStore {
    fn get(&self, kind: Kind, environment: &str, name: &str) -> Result<RawObject, StoreError> {
        let state = self.lock();
        let row = state
            .conn
            .prepare_cached(
                "SELECT revision, body FROM objects
                 WHERE kind = ?1 AND environment = ?2 AND name = ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![kind.as_str(), environment, name], BodyRow::from_row)
                    .optional()
            })
            .map_err(self.fail())?;
        drop(state);
        match row {
            Some(row) => row.decode(),
            None => Err(write::not_found(kind, environment, name)),
        }
    }

    fn list(&self, query: &Query) -> Result<Listing, StoreError> {
        let state = self.lock();
        let mut args: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(2);
        let kind = query.kind.map(Kind::as_str);
        if let Some(kind) = &kind {
            args.push(kind);
        }
        if let Some(environment) = &query.environment {
            args.push(environment);
        }
        let rows = state
            .conn
            .prepare_cached(list_sql(query))
            .and_then(|mut stmt| {
                stmt.query_map(args.as_slice(), BodyRow::from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.fail())?;
        let revision = state.revision;
        drop(state);
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let obj = row.decode()?;
            if query.selector.matches(&obj.meta.labels) {
                items.push(obj);
            }
        }
        write::sort_for_listing(&mut items);
        Ok(Listing { items, revision })
    }

    fn create(&self, obj: RawObject) -> Result<RawObject, StoreError> {
        write::single(self.commit(vec![Op::Create(obj)])?)
    }

    fn update(&self, obj: RawObject) -> Result<RawObject, StoreError> {
        write::single(self.commit(vec![Op::Update(obj)])?)
    }

    fn delete(
        &self,
        kind: Kind,
        environment: &str,
        name: &str,
        revision: Option<Revision>,
    ) -> Result<RawObject, StoreError> {
        write::single(self.commit(vec![Op::Delete {
            kind,
            environment: environment.to_string(),
            name: name.to_string(),
            revision,
        }])?)
    }

    fn apply(&self, ops: Vec<Op>) -> Result<Vec<RawObject>, StoreError> {
        Ok(self.commit(ops)?.into_iter().map(|ev| ev.object).collect())
    }

    fn watch(&self, query: Query, from: Revision) -> Result<Watch, StoreError> {
        let state = self.lock();
        // Subscribe first: anything committed after this is delivered live,
        // anything before is in the backlog; `Watch` drops the overlap.
        let live = self.events.subscribe();
        if from < state.compacted {
            return Err(StoreError::Compacted {
                requested: from,
                oldest: state.compacted,
            });
        }
        let rows = state
            .conn
            .prepare_cached(
                "SELECT revision, event_type, body FROM log
                 WHERE revision > ?1
                   AND (?2 IS NULL OR kind = ?2)
                   AND (?3 IS NULL OR environment = ?3)
                 ORDER BY revision",
            )
            .and_then(|mut stmt| {
                stmt.query_map(
                    params![from, query.kind.map(Kind::as_str), query.environment],
                    LogRow::from_row,
                )?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.fail())?;
        drop(state);
        let backlog = rows
            .into_iter()
            .map(LogRow::decode)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Watch::new(query, backlog, live, from))
    }

    fn current_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.lock().revision)
    }

    /// Deletes log rows at or below `keep_after` and records the compaction
    /// point in `meta`, so it survives a restart.
    fn compact(&self, keep_after: Revision) -> Result<(), StoreError> {
        let mut state = self.lock();
        let keep_after = keep_after.min(state.revision);
        if keep_after <= state.compacted {
            return Ok(());
        }
        let tx = state
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.fail())?;
        tx.prepare_cached("DELETE FROM log WHERE revision <= ?1")
            .and_then(|mut stmt| stmt.execute([keep_after]))
            .map_err(self.fail())?;
        schema::write_meta(&tx, schema::META_COMPACTED, keep_after).map_err(self.fail())?;
        tx.commit().map_err(self.fail())?;
        state.compacted = keep_after;
        tracing::debug!(keep_after, "compacted store history");
        Ok(())
    }
}
