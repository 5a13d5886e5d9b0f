//! The conformance suite on every backend in this crate.
#![allow(clippy::unwrap_used)] // test fixtures

use corral_store::conformance::Guarded;
use corral_store::{MemoryStore, SqliteStore, Store};

/// A SQLite store in a fresh temporary directory, removed with the store.
fn sqlite_on_disk() -> Guarded<SqliteStore, tempfile::TempDir> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("corral.db")).unwrap();
    Guarded::new(store, dir)
}

corral_store::conformance_tests!(memory, MemoryStore::new());
corral_store::conformance_tests!(sqlite_in_memory, SqliteStore::open_in_memory().unwrap());
corral_store::conformance_tests!(sqlite_on_disk, sqlite_on_disk());

#[test]
fn run_all_runs_every_property() {
    corral_store::conformance::run_all(&|| Box::new(MemoryStore::new()) as Box<dyn Store>);
}
