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

/// Commits that arrive while a group is being written go to PostgreSQL
/// together in the next one: one transaction (their rows share its id),
/// each commit with its own outcome, and nothing written of a refused one.
#[test]
fn commits_queued_behind_a_group_share_one_transaction_each_with_its_own_outcome() {
    use crate::store::suite::{exchange, new_policy};
    let Some(db) = TestDb::postgres() else { return };
    let store = Arc::new(PostgresStore::open(db.url(), &PostgresOptions::default()).unwrap());
    store.create_user("alice", 100).unwrap();
    let id = store
        .create_policy(&new_policy("alice", "entra-id"), 200)
        .unwrap()
        .id;

    // Another session holds the policy's row: the first group's call waits
    // in PostgreSQL until it lets go.
    let mut other = admin(&db);
    let mut hold = other.transaction().unwrap();
    hold.execute(
        "SELECT 1 FROM policies WHERE id = $1 FOR UPDATE",
        &[&(id as i64)],
    )
    .unwrap();
    let commit = |x: ExchangeCommit| {
        let store = store.clone();
        std::thread::spawn(move || store.commit_exchange(x))
    };
    let first = commit(exchange(id, "jti-0", "hash-0", &[("tid", "t1")]));
    let mut watch = admin(&db);
    let deadline = Instant::now() + Duration::from_secs(10);
    while watch
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0)
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "the first group never reached the lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    let mut unstorable = exchange(id, "jti-4", "hash-4", &[]);
    unstorable.keep_token_id_until = u64::MAX;
    let behind = vec![
        commit(exchange(id, "jti-1", "hash-1a", &[("tid", "t1")])),
        commit(exchange(id, "jti-1", "hash-1b", &[("tid", "t1")])),
        commit(exchange(id, "jti-2", "hash-2", &[("tid", "t2")])),
        commit(exchange(999_999, "jti-3", "hash-3", &[])),
        commit(unstorable),
        commit(exchange(id, "jti-5", "hash-5", &[("tid", "t1")])),
    ];
    while store.commits.waiting() < behind.len() {
        assert!(Instant::now() < deadline, "the commits never queued");
        std::thread::sleep(Duration::from_millis(5));
    }
    hold.commit().unwrap();

    first.join().unwrap().unwrap();
    let results: Vec<_> = behind.into_iter().map(|h| h.join().unwrap()).collect();
    let jti_1 = [&results[0], &results[1]];
    assert_eq!(jti_1.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(
        jti_1.iter().any(|r| matches!(r, Err(StoreError::Replay))),
        "{results:?}"
    );
    assert!(
        matches!(results[2], Err(StoreError::PinConflict)),
        "{results:?}"
    );
    assert!(
        matches!(results[3], Err(StoreError::NotFound(_))),
        "{results:?}"
    );
    assert!(
        matches!(&results[4], Err(StoreError::Database(m)) if m.contains("too large")),
        "{results:?}"
    );
    assert!(results[5].is_ok(), "{results:?}");

    let mut check = admin(&db);
    let row = check
        .query_one(
            "SELECT count(*), count(DISTINCT xmin::text) FROM api_keys",
            &[],
        )
        .unwrap();
    let (keys, transactions): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(
        (keys, transactions),
        (3, 2),
        "the first key, then one group"
    );
    let mut ids: Vec<String> = check
        .query("SELECT token_id FROM used_token_ids", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        ["jti-0", "jti-1", "jti-5"],
        "refused commits took no token id"
    );
    let audits: i64 = check
        .query_one("SELECT count(*) FROM audit_events", &[])
        .unwrap()
        .get(0);
    assert_eq!(audits, 3);
    assert_eq!(
        store.get_policy(id).unwrap().unwrap().pins,
        [("tid".to_string(), "t1".to_string())]
    );
}

/// Two hosts' groups lock policies, then token ids, in one order: commits
/// spread over several policies, each token sent to both hosts under
/// different policies, end with one key per token and no deadlock error.
#[test]
fn two_hosts_groups_over_shared_policies_and_tokens_never_deadlock() {
    use crate::store::suite::{exchange, new_policy};
    let Some(db) = TestDb::postgres() else { return };
    let hosts: Vec<Arc<PostgresStore>> = (0..2)
        .map(|_| Arc::new(PostgresStore::open(db.url(), &PostgresOptions::default()).unwrap()))
        .collect();
    hosts[0].create_user("alice", 100).unwrap();
    let policies: Vec<u64> = (0..3)
        .map(|_| {
            hosts[0]
                .create_policy(&new_policy("alice", "entra-id"), 200)
                .unwrap()
                .id
        })
        .collect();
    let (tokens, rounds) = (12, 4);
    let sends = tokens * 2;
    for round in 0..rounds {
        let barrier = Arc::new(Barrier::new(sends));
        let handles: Vec<_> = (0..sends)
            .map(|i| {
                let (barrier, host) = (barrier.clone(), hosts[i % 2].clone());
                // The same token on both hosts, under different policies.
                let token = i / 2;
                let policy = policies[(token + i % 2) % policies.len()];
                std::thread::spawn(move || {
                    barrier.wait();
                    let x = exchange(
                        policy,
                        &format!("r{round}-jti-{token}"),
                        &format!("r{round}-hash-{i}"),
                        &[],
                    );
                    (token, host.commit_exchange(x))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        for token in 0..tokens {
            let outcomes: Vec<_> = results.iter().filter(|(t, _)| *t == token).collect();
            assert_eq!(
                outcomes.iter().filter(|(_, r)| r.is_ok()).count(),
                1,
                "round {round}, token {token}: {outcomes:?}"
            );
            assert!(
                outcomes
                    .iter()
                    .all(|(_, r)| matches!(r, Ok(()) | Err(StoreError::Replay))),
                "round {round}, token {token}: {outcomes:?}"
            );
        }
    }
}

/// The last reference to a store may go on a thread that drives tokio (the
/// audit log's task at shutdown): closing its connections must not panic
/// there, which would abort the process.
#[test]
fn a_store_dropped_on_an_async_thread_closes_without_panicking() {
    let Some(db) = TestDb::postgres() else { return };
    let store = PostgresStore::open(db.url(), &PostgresOptions::default()).unwrap();
    store.ping().unwrap();
    // The pool's own threads let go of it once they have opened its idle
    // connections; until then the last reference might be theirs.
    std::thread::sleep(Duration::from_millis(300));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    runtime
        .block_on(runtime.spawn(async move { drop(store) }))
        .expect("dropped without a panic");
    // The database's sessions of that store end.
    let mut admin = admin(&db);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sessions: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        if sessions == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{sessions} sessions still open");
        std::thread::sleep(Duration::from_millis(20));
    }
}
