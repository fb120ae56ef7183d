//! What only the SQLite engine has: its file, pragmas and schema version.
//! Everything both engines do is in the shared suite (`suite/`).

#![allow(clippy::unwrap_used)]

use super::*;

fn temp_store() -> (tempfile::TempDir, String, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trustpub.db").to_str().unwrap().to_string();
    let store = SqliteStore::open(&path).unwrap();
    (dir, path, store)
}

#[test]
fn open_sets_pragmas_and_schema_version() {
    let (_dir, _path, store) = temp_store();
    let conn = store.conn().unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    let sync: i64 = conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    let fk: i64 = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!((mode.as_str(), sync, fk), ("wal", 2, 1));
    assert_eq!(version, MIGRATIONS.len() as i64);
}

#[test]
fn open_rejects_a_schema_newer_than_this_build() {
    let (_dir, path, store) = temp_store();
    store
        .conn()
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    drop(store);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::Database(m) if m.contains("schema version 99")),
        "{err:?}"
    );
}

#[test]
fn open_in_missing_directory_is_a_database_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("trustpub.db");
    let err = SqliteStore::open(path.to_str().unwrap()).unwrap_err();
    assert!(
        matches!(&err, StoreError::Database(m) if m.contains("does not exist")),
        "{err:?}"
    );
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn open_via_url() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("url.db");
    let store = crate::store::open(&format!("sqlite://{}", path.display())).unwrap();
    store.ping().unwrap();
    assert!(path.exists());
    assert!(matches!(
        crate::store::open("mysql://user:secret@x/db"),
        Err(StoreError::UnsupportedUrl(scheme)) if scheme == "mysql"
    ));
}

/// The exchange's lookup by one index key, with or without a username,
/// builds no temporary b-tree (an `IN (subquery)`, an `ORDER BY` or an
/// automatic index would each open one per lookup) and reads only through
/// indexes.
#[test]
fn the_lookup_by_one_key_builds_no_temporary_b_tree() {
    let (_dir, _path, store) = temp_store();
    let conn = store.conn().unwrap();
    for of_user in [false, true] {
        let sql = policy_index::candidates_sql(1, of_user);
        let values = vec!["x"; if of_user { 3 } else { 2 }];
        // One text column of what SQLite says about the statement.
        let column = |explain: &str, index: usize| -> Vec<String> {
            let mut stmt = conn.prepare(&format!("{explain} {sql}")).unwrap();
            stmt.query_map(rusqlite::params_from_iter(&values), |r| r.get(index))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        let opcodes = column("EXPLAIN", 1);
        for temporary in ["OpenEphemeral", "SorterOpen", "OpenAutoindex"] {
            assert!(
                !opcodes.iter().any(|op| op == temporary),
                "{temporary} in the lookup (of_user {of_user}): {opcodes:?}"
            );
        }
        let steps = column("EXPLAIN QUERY PLAN", 3);
        assert!(
            steps.iter().all(|s| !s.starts_with("SCAN")),
            "a table scan in the lookup (of_user {of_user}): {steps:?}"
        );
    }
}

/// The log is copied into the database by the checkpoint thread, not by
/// the writer: after a hundred exchanges — some thousand pages of log, below
/// the writer's own threshold — every page is copied without anyone else
/// checkpointing. Read from the log's shared index (SQLite's documented
/// layout: `mxFrame` at byte 16, `nBackfill` at byte 96).
#[test]
fn the_log_is_copied_into_the_database_beside_the_writer() {
    use crate::store::suite::{exchange, new_policy};
    let (dir, _path, store) = temp_store();
    store.create_user("alice", 1_000).unwrap();
    let policy = store
        .create_policy(&new_policy("alice", "entra-id"), 1_000)
        .unwrap();
    for i in 0..100 {
        store
            .commit_exchange(exchange(
                policy.id,
                &format!("jti-{i}"),
                &format!("hash-{i}"),
                &[],
            ))
            .unwrap();
    }
    let index = || {
        let shm = std::fs::read(dir.path().join("trustpub.db-shm")).unwrap();
        let at = |offset: usize| u32::from_ne_bytes(shm[offset..offset + 4].try_into().unwrap());
        (at(16), at(96))
    };
    let (logged, _) = index();
    assert!(
        logged > 500 && logged < WRITER_CHECKPOINT_PAGES,
        "{logged} pages logged: the writer would not checkpoint yet"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (logged, copied) = index();
        if copied == logged {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{copied} of {logged} pages copied after 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
