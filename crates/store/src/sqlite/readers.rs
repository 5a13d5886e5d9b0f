//! Read connections to an on-disk database. In WAL mode they read a
//! committed snapshot while the writer writes, so reads do not wait for a
//! group commit's fsync.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;

use super::schema;

/// Idle connections kept for reuse; more are opened when all are busy.
const MAX_IDLE: usize = 16;

pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(super) fn new(path: PathBuf) -> Self {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A connection cannot be left inconsistent by a panic: it is taken out
    /// of the list while in use.
    fn lock(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle connection, or a new one.
    pub(super) fn take(&self) -> Result<Connection, rusqlite::Error> {
        if let Some(conn) = self.lock().pop() {
            return Ok(conn);
        }
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(schema::BUSY_TIMEOUT)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }

    /// Returns a connection taken with [`Readers::take`] for reuse.
    pub(super) fn give(&self, conn: Connection) {
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE && conn.is_autocommit() {
            idle.push(conn);
        }
    }
}
