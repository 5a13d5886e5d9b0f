//! The SQLite store (kine-style): a `log` of every event and an `objects`
//! table of current state, both written in one transaction per group of
//! writes.
//!
//! Writes go through one connection behind the writer lock; concurrent
//! writers share a transaction and its fsync (see `group`). Events are
//! published while the lock is still held, right after the commit, so the
//! watch hub carries them in revision order. Reads of an on-disk database
//! use separate connections (`readers`); an in-memory database has only the
//! writer's connection.

mod group;
mod listing;
mod readers;
mod schema;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use corral_types::{Kind, RawObject};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::write;
use crate::{Listing, Op, Query, Revision, Store, StoreError, Watch, WatchHub};
use group::Queue;
use readers::Readers;
use schema::{BodyRow, LogRow};

/// A durable store in one SQLite file (WAL, `synchronous=FULL`): a write is
/// on disk before it is acknowledged.
pub struct SqliteStore {
    writer: Mutex<Writer>,
    /// Write requests waiting for the next group commit, in arrival order.
    queue: Mutex<Queue>,
    /// `None` for an in-memory database: reads use the writer's connection.
    readers: Option<Readers>,
    /// The last committed revision.
    committed: AtomicU64,
    /// The compaction point.
    compacted: AtomicU64,
    /// The live watches; events are published to it under the writer lock.
    hub: WatchHub,
    /// The database path, for error messages.
    what: String,
}

struct Writer {
    conn: Connection,
    revision: Revision,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let what = path.display().to_string();
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Backend(format!("opening sqlite database {what}: {e}")))?;
        Self::with_connection(conn, what, Some(Readers::new(path.to_path_buf())))
    }

    /// Rewrites the database without the space of deleted rows and empties
    /// the write-ahead log, so that no old version of a row is left in the
    /// files (after values were sealed in place, say). Takes the writer
    /// lock; cost grows with the database.
    pub fn scrub(&self) -> Result<(), StoreError> {
        let writer = self.lock_writer();
        let fail = |e: rusqlite::Error| StoreError::Backend(format!("scrubbing the database: {e}"));
        writer.conn.execute_batch("VACUUM;").map_err(fail)?;
        writer
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(fail)
    }

    /// A private in-memory database (for tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let what = ":memory:".to_string();
        let conn = Connection::open_in_memory()
            .map_err(|e| StoreError::Backend(format!("opening sqlite database {what}: {e}")))?;
        Self::with_connection(conn, what, None)
    }

    fn with_connection(
        mut conn: Connection,
        what: String,
        readers: Option<Readers>,
    ) -> Result<Self, StoreError> {
        let loaded = schema::init(&mut conn, &what)?;
        Ok(SqliteStore {
            writer: Mutex::new(Writer {
                conn,
                revision: loaded.revision,
            }),
            queue: Mutex::new(Queue::default()),
            readers,
            committed: AtomicU64::new(loaded.revision),
            compacted: AtomicU64::new(loaded.compacted),
            hub: WatchHub::new(loaded.revision),
            what,
        })
    }

    /// A failed transaction rolls back when dropped, and the counter moves
    /// only after a commit, so a poisoned lock still guards a consistent
    /// database.
    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The queue is only pushed to and drained, never left half-changed.
    fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish_revision(&self, revision: Revision) {
        self.committed.store(revision, Ordering::SeqCst);
    }

    fn fail(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| StoreError::Backend(format!("sqlite database {}: {e}", self.what))
    }

    /// Runs `f` on a read connection (the writer's, for an in-memory database).
    fn read<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        match &self.readers {
            Some(readers) => {
                let mut conn = readers.take().map_err(self.fail())?;
                let result = f(&mut conn).map_err(self.fail());
                readers.give(conn);
                result
            }
            None => f(&mut self.lock_writer().conn).map_err(self.fail()),
        }
    }

    /// Fails with `Compacted` if the history after `from` is gone.
    fn check_compacted(&self, from: Revision) -> Result<(), StoreError> {
        let oldest = self.compacted.load(Ordering::SeqCst);
        if from < oldest {
            return Err(StoreError::Compacted {
                requested: from,
                oldest,
            });
        }
        Ok(())
    }
}

/// The revision of the snapshot `conn` reads: the newest logged event, or
/// the compaction point if that is newer (compaction may empty the log).
fn snapshot_revision(conn: &Connection) -> Result<Revision, rusqlite::Error> {
    let logged: Option<Revision> = conn
        .prepare_cached("SELECT MAX(revision) FROM log")?
        .query_row([], |row| row.get(0))?;
    let compacted = schema::read_meta(conn, schema::META_COMPACTED)?;
    Ok(logged.unwrap_or(0).max(compacted.unwrap_or(0)))
}

impl Store for SqliteStore {
    fn get(&self, kind: Kind, environment: &str, name: &str) -> Result<RawObject, StoreError> {
        let row = self.read(|conn| {
            conn.prepare_cached(
                "SELECT revision, body FROM objects
                 WHERE kind = ?1 AND environment = ?2 AND name = ?3",
            )?
            .query_row(params![kind.as_str(), environment, name], BodyRow::from_row)
            .optional()
        })?;
        match row {
            Some(row) => row.decode(),
            None => Err(write::not_found(kind, environment, name)),
        }
    }

    fn list(&self, query: &Query) -> Result<Listing, StoreError> {
        let statement = listing::list_statement(query);
        // One read transaction: the rows and the revision are one snapshot.
        let (rows, revision) = self.read(|conn| {
            let tx = conn.transaction()?;
            let rows = tx
                .prepare_cached(&statement.sql)?
                .query_map(
                    rusqlite::params_from_iter(&statement.params),
                    BodyRow::from_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            let revision = snapshot_revision(&tx)?;
            tx.commit()?;
            Ok((rows, revision))
        })?;
        let full_page = query.page.as_ref().is_some_and(|p| rows.len() == p.limit);
        let mut items = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in rows {
            let obj = row.decode()?;
            if full_page {
                last = Some(crate::ListKey::of(&obj));
            }
            if query.selector.matches(&obj.meta.labels) {
                items.push(obj);
            }
        }
        if query.page.is_none() {
            write::sort_for_listing(&mut items);
        }
        Ok(Listing {
            items,
            revision,
            next: last,
        })
    }

    fn apply(&self, ops: Vec<Op>) -> Result<Vec<RawObject>, StoreError> {
        Ok(self
            .commit(ops)?
            .into_iter()
            .map(|ev| Arc::unwrap_or_clone(ev).object)
            .collect())
    }

    fn watch(&self, query: Query, from: Revision) -> Result<Watch, StoreError> {
        // Subscribe first: anything published after this is delivered live;
        // anything published before was committed before, so it is in the
        // backlog read below. `Watch` drops the overlap.
        let live = self.hub.subscribe(&query);
        self.check_compacted(from)?;
        // One read transaction: the compaction point and the backlog are one
        // snapshot, so a concurrent compaction cannot leave a gap unnoticed.
        let (oldest, rows) = self.read(|conn| {
            let tx = conn.transaction()?;
            let oldest = schema::read_meta(&tx, schema::META_COMPACTED)?.unwrap_or(0);
            let rows = tx
                .prepare_cached(
                    "SELECT revision, event_type, body FROM log
                     WHERE revision > ?1
                       AND (?2 IS NULL OR kind = ?2)
                       AND (?3 IS NULL OR environment = ?3)
                     ORDER BY revision",
                )?
                .query_map(
                    params![from, query.kind.map(Kind::as_str), query.environment],
                    LogRow::from_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit()?;
            Ok((oldest, rows))
        })?;
        if from < oldest {
            return Err(StoreError::Compacted {
                requested: from,
                oldest,
            });
        }
        // Only the matching events are kept (as the memory store does): the
        // log holds every event of the kind and environment, and a watch
        // selecting one node's instances would otherwise hold all of them
        // (500 agents rejoining during a deploy of 150,000 instances held
        // gigabytes of other nodes' events).
        let mut backlog = Vec::new();
        for row in rows {
            let event = row.decode()?;
            if query.matches(&event.object) {
                backlog.push(event);
            }
        }
        Ok(Watch::new(query, backlog, live, from))
    }

    fn current_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.committed.load(Ordering::SeqCst))
    }

    fn watcher_count(&self) -> Option<usize> {
        Some(self.hub.watcher_count())
    }

    /// Deletes log rows at or below `keep_after` and records the compaction
    /// point in `meta`, so it survives a restart.
    fn compact(&self, keep_after: Revision) -> Result<(), StoreError> {
        let mut writer = self.lock_writer();
        let keep_after = keep_after.min(writer.revision);
        if keep_after <= self.compacted.load(Ordering::SeqCst) {
            return Ok(());
        }
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.fail())?;
        tx.prepare_cached("DELETE FROM log WHERE revision <= ?1")
            .and_then(|mut stmt| stmt.execute([keep_after]))
            .map_err(self.fail())?;
        schema::write_meta(&tx, schema::META_COMPACTED, keep_after).map_err(self.fail())?;
        tx.commit().map_err(self.fail())?;
        self.compacted.store(keep_after, Ordering::SeqCst);
        tracing::debug!(keep_after, "compacted store history");
        Ok(())
    }
}
