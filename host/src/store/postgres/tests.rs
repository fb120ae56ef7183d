//! What only the PostgreSQL engine has: migrations under concurrent starts,
//! the advisory lock of the purge, outages as `Unavailable`. Each test runs
//! on a fresh database of `TRUSTPUB_TEST_POSTGRES_URL` (skipped, saying so,
//! when it is unset).

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::*;
use crate::store::suite::engines::TestDb;

fn admin(db: &TestDb) -> postgres::Client {
    postgres::Client::connect(db.url(), NoTls).unwrap()
}

#[test]
fn hosts_starting_at_once_apply_each_migration_once() {
    let Some(db) = TestDb::postgres() else { return };
    let barrier = Arc::new(Barrier::new(8));
    let url = db.url().to_string();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (barrier, url) = (barrier.clone(), url.clone());
            std::thread::spawn(move || {
                barrier.wait();
                PostgresStore::open(&url, &PostgresOptions::default()).map(|_| ())
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let applied: i64 = admin(&db)
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, schema::MIGRATIONS.len() as i64);
}

#[test]
fn a_schema_newer_than_this_build_is_refused() {
    let Some(db) = TestDb::postgres() else { return };
    drop(db.open());
    admin(&db)
        .execute("INSERT INTO schema_migrations (version) VALUES (99)", &[])
        .unwrap();
    let err = PostgresStore::open(db.url(), &PostgresOptions::default()).unwrap_err();
    assert!(
        matches!(&err, StoreError::Database(m) if m.contains("schema version 99")),
        "{err:?}"
    );
}

#[test]
fn a_purge_is_skipped_while_another_host_holds_the_lock() {
    let Some(db) = TestDb::postgres() else { return };
    let store = db.open();
    store.create_user("alice", 1).unwrap();
    store
        .record_audit(&AuditEvent {
            at: 10,
            provider: None,
            username: "alice".into(),
            outcome: AuditOutcome::BadToken,
            detail: None,
            policy_id: None,
            evaluator_digest: None,
            subject: None,
            client_addr: None,
            check: None,
            near_misses: Vec::new(),
        })
        .unwrap();
    let mut other_host = admin(&db);
    other_host
        .execute("SELECT pg_advisory_lock($1)", &[&PURGE_LOCK])
        .unwrap();
    assert_eq!(store.purge_audit(100).unwrap(), 0, "the other host purges");
    assert_eq!(store.list_audit(None, 10).unwrap().len(), 1);
    other_host
        .execute("SELECT pg_advisory_unlock($1)", &[&PURGE_LOCK])
        .unwrap();
    assert_eq!(store.purge_audit(100).unwrap(), 1);
}

#[test]
fn an_unreachable_server_is_unavailable_within_the_timeout() {
    // A port nothing listens on: refused at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let options = PostgresOptions {
        timeout: Duration::from_millis(500),
        pool_size: 2,
    };
    let started = Instant::now();
    let err = PostgresStore::open(
        &format!("postgres://u:secret@127.0.0.1:{port}/db"),
        &options,
    )
    .unwrap_err();
    assert!(matches!(&err, StoreError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("secret"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_server_gone_after_start_makes_calls_unavailable() {
    let Some(db) = TestDb::postgres() else { return };
    let options = PostgresOptions {
        timeout: Duration::from_millis(500),
        pool_size: 2,
    };
    let store = PostgresStore::open(db.url(), &options).unwrap();
    store.ping().unwrap();
    // Ends this database's sessions, as a server restart does, and keeps
    // new ones out.
    let mut admin = admin(&db);
    let name: String = admin
        .query_one("SELECT current_database()", &[])
        .unwrap()
        .get(0);
    drop(admin);
    let mut server = postgres::Client::connect(
        &crate::store::suite::engines::with_database(db.url(), "postgres"),
        NoTls,
    )
    .unwrap();
    server
        .batch_execute(&format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .unwrap();
    let err = store.get_user("alice").unwrap_err();
    assert!(matches!(&err, StoreError::Unavailable(_)), "{err:?}");
    // Back: the pool replaces its dead connections by itself.
    server
        .batch_execute(&format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
        ))
        .unwrap();
    store.ping().unwrap();
    assert!(store.get_user("alice").unwrap().is_none());
}
