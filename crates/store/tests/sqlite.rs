//! SQLite-specific properties: durability across reopen, clear open errors.

use std::path::Path;

use corral_store::{Query, SqliteStore, Store, StoreError};
use corral_types::{Kind, Meta, RawObject};

fn service(name: &str) -> RawObject {
    RawObject {
        kind: Kind::Service,
        meta: Meta {
            environment: "dev".to_string(),
            name: name.to_string(),
            uid: format!("uid-{name}"),
            generation: 1,
            created: "2026-01-02T03:04:05Z".to_string(),
            ..Meta::default()
        },
        spec: serde_json::json!({ "image": "whoami" }),
        status: serde_json::Value::Null,
    }
}

fn backend_error(path: &Path) -> String {
    match SqliteStore::open(path) {
        Err(StoreError::Backend(msg)) => msg,
        Err(other) => panic!("expected a backend error, got {other:?}"),
        Ok(_) => panic!("opening {} should fail", path.display()),
    }
}

#[test]
fn data_and_revision_counter_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corral.db");
    let (a, b) = {
        let store = SqliteStore::open(&path).unwrap();
        let a = store.create(service("a")).unwrap();
        let b = store.create(service("b")).unwrap();
        let b = store.update(b).unwrap();
        store.create(service("c")).unwrap();
        store.delete(Kind::Service, "dev", "c", None).unwrap();
        (a, b)
    };
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.current_revision().unwrap(), 5);
    assert_eq!(store.get(Kind::Service, "dev", "a").unwrap(), a);
    assert_eq!(store.get(Kind::Service, "dev", "b").unwrap(), b);
    assert!(store.get(Kind::Service, "dev", "c").is_err());
    assert_eq!(store.list(&Query::default()).unwrap().items, [a, b]);
    assert_eq!(store.create(service("d")).unwrap().meta.revision, 6);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut watch = store.watch(Query::default(), 0).unwrap();
    let revisions: Vec<u64> = (0..6)
        .map(|_| rt.block_on(watch.next()).unwrap().revision())
        .collect();
    assert_eq!(revisions, [1, 2, 3, 4, 5, 6]);
}

#[test]
fn compaction_point_and_revision_survive_reopen_even_with_an_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corral.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.create(service("a")).unwrap();
        store.delete(Kind::Service, "dev", "a", None).unwrap();
        store.compact(2).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.current_revision().unwrap(), 2);
    assert!(matches!(
        store.watch(Query::default(), 1).err(),
        Some(StoreError::Compacted {
            requested: 1,
            oldest: 2
        })
    ));
    assert_eq!(store.create(service("b")).unwrap().meta.revision, 3);
}

#[test]
fn corrupt_file_is_a_backend_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    std::fs::write(&path, vec![0x5a_u8; 8192]).unwrap();
    let msg = backend_error(&path);
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}

#[test]
fn unwritable_path_is_a_backend_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("corral.db");
    let msg = backend_error(&path);
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}

#[test]
fn newer_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corral.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE meta SET value = 99 WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    drop(conn);
    let msg = backend_error(&path);
    assert!(msg.contains("unsupported schema version 99"), "{msg}");
}

#[test]
fn a_write_is_on_disk_when_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corral.db");
    let store = SqliteStore::open(&path).unwrap();
    let a = store.create(service("a")).unwrap();
    // A second, independent connection sees it while the first is still open.
    let other = SqliteStore::open(&path).unwrap();
    assert_eq!(other.get(Kind::Service, "dev", "a").unwrap(), a);
}
