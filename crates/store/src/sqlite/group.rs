//! Group commit: concurrent writers share one transaction and one fsync.
//!
//! A writer queues its request. If no writer is leading, it becomes the
//! leader; otherwise it waits for its answer, or to be made leader. The
//! leader takes everything queued so far (its own request first, up to
//! [`MAX_GROUP`] requests), runs it in one `IMMEDIATE` transaction, each
//! request in its own savepoint: a rejected request is rolled back to its
//! savepoint, consumes no revision and fails alone. After the commit the
//! leader publishes the events in revision order, still holding the writer
//! lock, answers every request, and hands the lead to the oldest request
//! still queued. A request is answered only after its transaction committed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender, TryRecvError};

use corral_types::{Kind, RawObject};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::schema::{self, BodyRow};
use super::{SqliteStore, Writer};
use crate::write::{self, Staging};
use crate::{Event, EventType, Op, Revision, StoreError};

/// The most requests one transaction carries.
const MAX_GROUP: usize = 512;

/// The events are shared with the watch hub: made once, copied by nobody
/// under the writer lock.
type Answer = Result<Vec<Arc<Event>>, StoreError>;

/// What a waiting writer is told.
enum Reply {
    /// Its request was committed (or rejected).
    Done(Answer),
    /// It leads the next group; its request is first in the queue.
    Lead,
}

/// One caller's batch and where its answer goes.
struct Request {
    ops: Vec<Op>,
    reply: SyncSender<Reply>,
}

/// Requests waiting for a group, and whether some writer is leading.
#[derive(Default)]
pub(super) struct Queue {
    pending: VecDeque<Request>,
    leading: bool,
}

/// Passes the lead on when the leader is done, also if it panicked, so
/// queued writers are never stranded.
struct Lead<'a> {
    store: &'a SqliteStore,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut queue = self.store.lock_queue();
        while let Some(next) = queue.pending.front() {
            if next.reply.try_send(Reply::Lead).is_ok() {
                return;
            }
            // Its caller is gone; nobody waits for it.
            queue.pending.pop_front();
        }
        queue.leading = false;
    }
}

impl SqliteStore {
    /// Commits `ops` atomically (possibly in a group with other callers'
    /// requests) and returns their events once they are on disk.
    pub(super) fn commit(&self, ops: Vec<Op>) -> Answer {
        let (reply, answer) = mpsc::sync_channel(1);
        let lead_now = {
            let mut queue = self.lock_queue();
            queue.pending.push_back(Request { ops, reply });
            !std::mem::replace(&mut queue.leading, true)
        };
        if !lead_now {
            match answer.recv() {
                Ok(Reply::Done(result)) => return result,
                Ok(Reply::Lead) => {}
                Err(_) => return Err(lost()),
            }
        }
        let _lead = Lead { store: self };
        let group = self.take_group();
        let mut writer = self.lock_writer();
        self.run_group(&mut writer, group);
        drop(writer);
        // Our request was first in the group, so it has been answered.
        match answer.try_recv() {
            Ok(Reply::Done(result)) => result,
            Ok(Reply::Lead) | Err(TryRecvError::Empty | TryRecvError::Disconnected) => Err(lost()),
        }
    }

    fn take_group(&self) -> Vec<Request> {
        let mut queue = self.lock_queue();
        let n = queue.pending.len().min(MAX_GROUP);
        queue.pending.drain(..n).collect()
    }

    /// Runs `group` in one transaction, publishes the events and answers
    /// every request. Called with the writer lock held.
    fn run_group(&self, writer: &mut Writer, group: Vec<Request>) {
        let (replies, batches): (Vec<_>, Vec<_>) =
            group.into_iter().map(|r| (r.reply, r.ops)).unzip();
        match self.stage_group(writer, batches) {
            Ok(answers) => {
                let events = || answers.iter().flatten().flatten();
                if let Some(last) = events().last() {
                    writer.revision = last.revision();
                }
                self.hub.publish(events());
                self.publish_revision(writer.revision);
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // A caller that went away does not care.
                    let _ = reply.try_send(Reply::Done(answer));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for reply in replies {
                    let _ = reply.try_send(Reply::Done(Err(StoreError::Backend(msg.clone()))));
                }
            }
        }
    }

    /// Stages every batch in its own savepoint of one transaction and
    /// commits. `Err` means nothing was committed.
    fn stage_group(
        &self,
        writer: &mut Writer,
        batches: Vec<Vec<Op>>,
    ) -> Result<Vec<Answer>, StoreError> {
        let mut revision = writer.revision;
        let mut tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.fail())?;
        let mut answers = Vec::with_capacity(batches.len());
        for ops in batches {
            let answer = self.stage_one(&mut tx, revision, ops);
            match &answer {
                Ok(events) => {
                    if let Some(last) = events.last() {
                        revision = last.revision();
                    }
                }
                // Some errors (a full disk, I/O) make SQLite roll back the
                // whole transaction; then nothing of the group can commit.
                Err(e) if tx.is_autocommit() => {
                    return Err(StoreError::Backend(format!(
                        "sqlite database {}: transaction aborted: {e}",
                        self.what
                    )));
                }
                Err(_) => {}
            }
            answers.push(answer);
        }
        // On error `tx` is dropped, which rolls back.
        tx.commit().map_err(self.fail())?;
        Ok(answers)
    }

    /// Stages one request in a savepoint; on error the savepoint is rolled
    /// back, so the request leaves no trace.
    fn stage_one(&self, tx: &mut Transaction<'_>, revision: Revision, ops: Vec<Op>) -> Answer {
        let sp = tx.savepoint().map_err(self.fail())?;
        let mut staging = TxStaging {
            conn: &sp,
            store: self,
        };
        // On error `sp` is dropped, which rolls back to it and releases it.
        let events = write::stage(&mut staging, revision, ops)?;
        sp.commit().map_err(self.fail())?;
        Ok(events.into_iter().map(Arc::new).collect())
    }
}

fn lost() -> StoreError {
    StoreError::Backend("the group commit lost a write request".to_string())
}

struct TxStaging<'a> {
    conn: &'a Connection,
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
            .conn
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
        self.conn
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
                .conn
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
                .conn
                .prepare_cached(
                    "DELETE FROM objects WHERE kind = ?1 AND environment = ?2 AND name = ?3",
                )
                .and_then(|mut stmt| stmt.execute(key)),
        }
        .map_err(&fail)?;
        Ok(())
    }
}
