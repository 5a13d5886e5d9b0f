//! The audit log: every write, every login and every refused request, with
//! who, how they authenticated, from where, in which environment, what,
//! and the result code.
//!
//! Records go to their own SQLite file (`audit.db` in the data directory),
//! not to the store: they are not desired state, nobody watches them, and
//! keeping them out of the revision log keeps the controllers' and agents'
//! watches free of them. A writer thread takes records from a channel and
//! inserts them in batches, so a request never waits for the audit disk;
//! it keeps at most [`AuditLimits::max_records`] records no older than
//! [`AuditLimits::max_age_s`], pruned as it goes.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

pub use corral_api::{AuditQuery, AuditRecord};

/// How much the audit log keeps.
#[derive(Debug, Clone, Copy)]
pub struct AuditLimits {
    pub max_records: u64,
    pub max_age_s: u64,
}

impl Default for AuditLimits {
    /// 100,000 records, 90 days.
    fn default() -> Self {
        AuditLimits {
            max_records: 100_000,
            max_age_s: 90 * 24 * 3600,
        }
    }
}

/// Where audit records go.
pub trait AuditLog: Send + Sync {
    /// Takes a record; never blocks on the disk.
    fn record(&self, record: AuditRecord);
    /// The records matching `query`, newest first.
    fn query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, String>;
    /// Waits until every record taken so far is queryable.
    fn flush(&self);
}

fn matches(r: &AuditRecord, q: &AuditQuery) -> bool {
    r.time_ms >= q.since_ms
        && q.user.as_deref().is_none_or(|u| r.user == u)
        && q.environment.as_deref().is_none_or(|e| r.environment == e)
}

/// Keeps records in memory (tests, and servers on a memory store).
#[derive(Default)]
pub struct MemoryAudit {
    records: Mutex<VecDeque<AuditRecord>>,
    limits: AuditLimits,
}

impl MemoryAudit {
    pub fn new(limits: AuditLimits) -> Self {
        MemoryAudit {
            records: Mutex::default(),
            limits,
        }
    }
}

impl AuditLog for MemoryAudit {
    fn record(&self, record: AuditRecord) {
        let Ok(mut records) = self.records.lock() else {
            return;
        };
        records.push_back(record);
        let max = usize::try_from(self.limits.max_records).unwrap_or(usize::MAX);
        while records.len() > max {
            records.pop_front();
        }
    }

    fn query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, String> {
        let records = self.records.lock().map_err(|e| e.to_string())?;
        Ok(records
            .iter()
            .rev()
            .filter(|r| matches(r, query))
            .take(query.limit_or_default())
            .cloned()
            .collect())
    }

    fn flush(&self) {}
}

enum Message {
    Record(Box<AuditRecord>),
    Flush(std::sync::mpsc::Sender<()>),
}

/// Records in `audit.db`, written by one thread.
pub struct SqliteAudit {
    tx: Mutex<std::sync::mpsc::Sender<Message>>,
    reader: Mutex<rusqlite::Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    user TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit(time_ms);
";

fn open(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

impl SqliteAudit {
    /// Opens (or creates) the audit database at `path`.
    pub fn open(path: &Path, limits: AuditLimits) -> anyhow::Result<Arc<Self>> {
        let writer = open(path)?;
        writer.execute_batch(SCHEMA)?;
        let reader = open(path)?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("audit".into())
            .spawn(move || write_loop(writer, rx, limits))?;
        Ok(Arc::new(SqliteAudit {
            tx: Mutex::new(tx),
            reader: Mutex::new(reader),
        }))
    }
}

fn write_loop(
    mut conn: rusqlite::Connection,
    rx: std::sync::mpsc::Receiver<Message>,
    limits: AuditLimits,
) {
    let mut since_prune = 0u64;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
            if batch.len() >= 512 {
                break;
            }
        }
        let mut waiting = Vec::new();
        let mut newest = 0;
        let result = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO audit (time_ms, user, record) VALUES (?1, ?2, ?3)",
                )?;
                for message in batch {
                    match message {
                        Message::Record(r) => {
                            newest = newest.max(r.time_ms);
                            let text = serde_json::to_string(&r).unwrap_or_default();
                            insert.execute(rusqlite::params![
                                i64::try_from(r.time_ms).unwrap_or(i64::MAX),
                                r.user,
                                text
                            ])?;
                            since_prune += 1;
                        }
                        Message::Flush(done) => waiting.push(done),
                    }
                }
            }
            if since_prune >= 1000 || !waiting.is_empty() {
                since_prune = 0;
                prune(&tx, limits, newest)?;
            }
            tx.commit()
        })();
        if let Err(e) = result {
            tracing::error!("audit log: {e}");
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

fn prune(conn: &rusqlite::Connection, limits: AuditLimits, now_ms: u64) -> rusqlite::Result<()> {
    let max = i64::try_from(limits.max_records).unwrap_or(i64::MAX);
    conn.execute(
        "DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?1",
        [max],
    )?;
    if now_ms > 0 {
        let cutoff = now_ms.saturating_sub(limits.max_age_s.saturating_mul(1000));
        conn.execute(
            "DELETE FROM audit WHERE time_ms < ?1",
            [i64::try_from(cutoff).unwrap_or(0)],
        )?;
    }
    Ok(())
}

impl AuditLog for SqliteAudit {
    fn record(&self, record: AuditRecord) {
        if let Ok(tx) = self.tx.lock() {
            let _ = tx.send(Message::Record(Box::new(record)));
        }
    }

    fn query(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, String> {
        let conn = self.reader.lock().map_err(|e| e.to_string())?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT record FROM audit WHERE time_ms >= ?1 AND (?2 IS NULL OR user = ?2) \
                 ORDER BY id DESC",
            )
            .map_err(|e| e.to_string())?;
        let since = i64::try_from(q.since_ms).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(rusqlite::params![since, q.user], |row| {
                row.get::<_, String>(0)
            })
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for row in rows {
            let text = row.map_err(|e| e.to_string())?;
            let Ok(record) = serde_json::from_str::<AuditRecord>(&text) else {
                continue;
            };
            if matches(&record, q) {
                out.push(record);
                if out.len() >= q.limit_or_default() {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn flush(&self) {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        if let Ok(tx) = self.tx.lock()
            && tx.send(Message::Flush(done_tx)).is_ok()
        {
            let _ = done_rx.recv_timeout(std::time::Duration::from_secs(5));
        }
    }
}

/// A note a handler leaves on its response for the audit record: who the
/// caller claimed to be (a login), and what it did, without secrets.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuditNote {
    pub user: Option<String>,
    pub summary: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn record(i: u64, user: &str) -> AuditRecord {
        AuditRecord {
            time_ms: 1_000_000 + i,
            user: user.into(),
            summary: format!("write {i}"),
            code: 200,
            ..AuditRecord::default()
        }
    }

    #[test]
    fn the_sqlite_audit_log_keeps_at_most_its_limit_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let log = SqliteAudit::open(
            &dir.path().join("audit.db"),
            AuditLimits {
                max_records: 10,
                max_age_s: 3600,
            },
        )
        .unwrap();
        for i in 0..25 {
            log.record(record(i, if i % 2 == 0 { "alice" } else { "bob" }));
        }
        log.flush();
        let all = log.query(&AuditQuery::default()).unwrap();
        assert_eq!(all.len(), 10);
        assert_eq!(all[0].summary, "write 24");
        let alice = log
            .query(&AuditQuery {
                user: Some("alice".into()),
                ..AuditQuery::default()
            })
            .unwrap();
        assert!(alice.iter().all(|r| r.user == "alice"));
    }

    #[test]
    fn records_older_than_the_age_limit_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let log = SqliteAudit::open(
            &dir.path().join("audit.db"),
            AuditLimits {
                max_records: 100,
                max_age_s: 10,
            },
        )
        .unwrap();
        log.record(record(0, "old"));
        let mut newer = record(0, "new");
        newer.time_ms += 60_000;
        log.record(newer);
        log.flush();
        let all = log.query(&AuditQuery::default()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].user, "new");
    }
}
