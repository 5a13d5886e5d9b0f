//! Connection settings, the schema and its version, and row decoding.

use std::time::Duration;

use corral_types::RawObject;
use rusqlite::{Connection, OptionalExtension, Row};

use crate::{Event, EventType, Revision, StoreError};

/// The schema this code reads and writes. Bump it (and migrate) on any change.
pub(crate) const SCHEMA_VERSION: u64 = 1;

/// How long a statement waits for a lock held by another connection.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log (
    revision    INTEGER PRIMARY KEY,
    event_type  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    environment TEXT NOT NULL,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    kind        TEXT NOT NULL,
    environment TEXT NOT NULL,
    name        TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    labels      TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (kind, environment, name)
);
";

pub(crate) const META_SCHEMA_VERSION: &str = "schema_version";
pub(crate) const META_COMPACTED: &str = "compacted_revision";

/// What a freshly opened database says about its history.
pub(crate) struct Loaded {
    pub revision: Revision,
    pub compacted: Revision,
}

/// Sets the connection up (WAL, full sync, busy timeout), creates or checks
/// the schema, and reads the revision counter and the compaction point.
/// Errors name `what` (the database path).
pub(crate) fn init(conn: &mut Connection, what: &str) -> Result<Loaded, StoreError> {
    let fail =
        |e: rusqlite::Error| StoreError::Backend(format!("opening sqlite database {what}: {e}"));
    // In-memory databases answer "memory"; both are fine.
    let _mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(fail)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(fail)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;

    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(fail)?;
    tx.execute_batch(CREATE_TABLES).map_err(fail)?;
    create_label_indexes(&tx).map_err(fail)?;
    match read_meta(&tx, META_SCHEMA_VERSION).map_err(fail)? {
        None => write_meta(&tx, META_SCHEMA_VERSION, SCHEMA_VERSION).map_err(fail)?,
        Some(v) if v == SCHEMA_VERSION => {}
        Some(v) => {
            return Err(StoreError::Backend(format!(
                "opening sqlite database {what}: unsupported schema version {v} \
                 (this build reads version {SCHEMA_VERSION})"
            )));
        }
    }
    let compacted = read_meta(&tx, META_COMPACTED).map_err(fail)?.unwrap_or(0);
    let max = |sql: &str| -> Result<Revision, StoreError> {
        let value: Option<Revision> = tx.query_row(sql, [], |row| row.get(0)).map_err(fail)?;
        Ok(value.unwrap_or(0))
    };
    let revision = compacted
        .max(max("SELECT MAX(revision) FROM log")?)
        .max(max("SELECT MAX(revision) FROM objects")?);
    tx.commit().map_err(fail)?;
    Ok(Loaded {
        revision,
        compacted,
    })
}

/// An index per label in `listing::INDEXED_LABELS`, on the same expression
/// the list statement filters by. Adding one needs no new schema version:
/// an older build reads and writes the tables as before, and SQLite keeps
/// the index up to date for it.
fn create_label_indexes(conn: &Connection) -> Result<(), rusqlite::Error> {
    for (i, key) in super::listing::INDEXED_LABELS.iter().enumerate() {
        conn.execute_batch(&format!(
            "CREATE INDEX IF NOT EXISTS objects_by_label_{i}
             ON objects (kind, environment, {})",
            super::listing::label_expr(key)
        ))?;
    }
    Ok(())
}

pub(crate) fn read_meta(conn: &Connection, key: &str) -> Result<Option<u64>, rusqlite::Error> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()
}

pub(crate) fn write_meta(conn: &Connection, key: &str, value: u64) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute(rusqlite::params![key, value])?;
    Ok(())
}

pub(crate) fn event_type_str(t: EventType) -> &'static str {
    match t {
        EventType::Created => "created",
        EventType::Updated => "updated",
        EventType::Deleted => "deleted",
    }
}

fn parse_event_type(s: &str) -> Option<EventType> {
    match s {
        "created" => Some(EventType::Created),
        "updated" => Some(EventType::Updated),
        "deleted" => Some(EventType::Deleted),
        _ => None,
    }
}

/// A stored body as read, decoded outside rusqlite so errors keep their context.
pub(crate) struct BodyRow {
    pub revision: Revision,
    pub body: String,
}

impl BodyRow {
    /// Reads `(revision, body)` from the first two columns.
    pub fn from_row(row: &Row<'_>) -> Result<Self, rusqlite::Error> {
        Ok(BodyRow {
            revision: row.get(0)?,
            body: row.get(1)?,
        })
    }

    pub fn decode(self) -> Result<RawObject, StoreError> {
        let mut obj: RawObject = serde_json::from_str(&self.body).map_err(|e| {
            StoreError::Backend(format!(
                "decoding the object stored at revision {}: {e}",
                self.revision
            ))
        })?;
        obj.meta.revision = self.revision;
        Ok(obj)
    }
}

/// A log row as read: `(revision, event_type, body)`.
pub(crate) struct LogRow {
    pub event_type: String,
    pub body: BodyRow,
}

impl LogRow {
    pub fn from_row(row: &Row<'_>) -> Result<Self, rusqlite::Error> {
        Ok(LogRow {
            body: BodyRow {
                revision: row.get(0)?,
                body: row.get(2)?,
            },
            event_type: row.get(1)?,
        })
    }

    pub fn decode(self) -> Result<Event, StoreError> {
        let event_type = parse_event_type(&self.event_type).ok_or_else(|| {
            StoreError::Backend(format!(
                "unknown event type {:?} at revision {}",
                self.event_type, self.body.revision
            ))
        })?;
        Ok(Event {
            event_type,
            object: self.body.decode()?,
        })
    }
}

pub(crate) fn encode(obj: &RawObject) -> Result<(String, String), StoreError> {
    let encode_err = |e: serde_json::Error| {
        StoreError::Backend(format!(
            "encoding {} {}/{}: {e}",
            obj.kind, obj.meta.environment, obj.meta.name
        ))
    };
    let body = serde_json::to_string(obj).map_err(encode_err)?;
    let labels = serde_json::to_string(&obj.meta.labels).map_err(encode_err)?;
    Ok((body, labels))
}
