//! The store test-suite, one suite for every engine: each test is a
//! function of a fresh [`TestDb`], instantiated once per engine by
//! `store_suite!` at the bottom (SQLite on a temporary file, PostgreSQL on a
//! fresh database of `TRUSTPUB_TEST_POSTGRES_URL`).

#![allow(clippy::unwrap_used)]

pub(super) mod engines;

use std::sync::{Arc, Barrier};

use self::engines::TestDb;
use super::*;
use crate::store::{NewApiKey, Scope};

pub(super) fn new_policy(username: &str, provider: &str) -> NewPolicy {
    NewPolicy {
        username: username.to_string(),
        provider: provider.to_string(),
        owner: "acme".to_string(),
        criteria: r#"{"tenant":"t1"}"#.to_string(),
        scopes: vec![Scope {
            packages: "acme.*".to_string(),
            actions: vec!["push".to_string()],
        }],
        index_keys: vec!["t1".to_string()],
    }
}

fn audit(username: &str, at: u64, outcome: AuditOutcome) -> AuditEvent {
    AuditEvent {
        at,
        provider: Some("entra-id".to_string()),
        username: username.to_string(),
        outcome,
        detail: None,
        policy_id: None,
        evaluator_digest: None,
        subject: None,
        client_addr: Some("127.0.0.1".to_string()),
        check: None,
        near_misses: Vec::new(),
    }
}

pub(super) fn exchange(
    policy_id: u64,
    token_id: &str,
    key_hash: &str,
    pins: &[(&str, &str)],
) -> ExchangeCommit {
    ExchangeCommit {
        issuer: "https://issuer.example".to_string(),
        token_id: token_id.to_string(),
        keep_token_id_until: 2_000,
        policy_id,
        pins: pins
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        key: NewApiKey {
            hash: key_hash.to_string(),
            username: "alice".to_string(),
            owner: "acme".to_string(),
            scopes: vec![Scope {
                packages: "acme.*".to_string(),
                actions: vec!["push".to_string()],
            }],
            policy_id,
            provider: "entra-id".to_string(),
            evaluator_digest: "sha256:abc".to_string(),
            created_at: 1_500,
            expires_at: 1_500 + 900,
        },
        audit: AuditEvent {
            policy_id: Some(policy_id),
            evaluator_digest: Some("sha256:abc".to_string()),
            subject: Some("sub-1".to_string()),
            ..audit("alice", 1_500, AuditOutcome::Minted)
        },
    }
}

/// A store with user alice and one entra-id policy; returns the policy id.
fn store_with_policy(db: &TestDb) -> (Arc<dyn Store>, u64) {
    let store = db.open();
    store.create_user("alice", 100).unwrap();
    let policy = store
        .create_policy(&new_policy("alice", "entra-id"), 200)
        .unwrap();
    (store, policy.id)
}

/// The pins of [`store_with_policy`]'s policy read the same through every
/// query that returns policies: by id, in the list, as a candidate.
fn assert_pins_read_alike(store: &dyn Store, id: u64, expected: &[(String, String)]) {
    assert_eq!(store.get_policy(id).unwrap().unwrap().pins, expected);
    assert_eq!(store.list_policies(None).unwrap()[0].pins, expected);
    let keys = vec!["t1".to_string()];
    assert_eq!(
        store.candidates("entra-id", &keys, None).unwrap()[0].pins,
        expected
    );
}

fn users_create_list_get_and_duplicate(db: &TestDb) {
    let store = db.open();
    store.ping().unwrap();
    assert_eq!(
        store.create_user("Alice", 10).unwrap(),
        User {
            username: "Alice".to_string(),
            created_at: 10
        }
    );
    store.create_user("bob", 20).unwrap();
    let err = store.create_user("ALICE", 30).unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m == "user 'ALICE' already exists"),
        "{err:?}"
    );
    let users = store.list_users().unwrap();
    assert_eq!(
        users,
        vec![
            User {
                username: "Alice".to_string(),
                created_at: 10
            },
            User {
                username: "bob".to_string(),
                created_at: 20
            }
        ]
    );
    assert_eq!(store.get_user("alice").unwrap().unwrap().username, "Alice");
    assert!(store.get_user("carol").unwrap().is_none());
}

fn create_policy_for_missing_user_is_not_found(db: &TestDb) {
    let store = db.open();
    let err = store
        .create_policy(&new_policy("nobody", "entra-id"), 1)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound(m) if m == "user nobody"),
        "{err:?}"
    );
    assert!(store.list_policies(None).unwrap().is_empty());
}

fn policies_oldest_first_and_filtered_by_provider(db: &TestDb) {
    let store = db.open();
    store.create_user("alice", 1).unwrap();
    store.create_user("bob", 1).unwrap();
    let p1 = store
        .create_policy(&new_policy("alice", "entra-id"), 10)
        .unwrap();
    let p2 = store
        .create_policy(&new_policy("ALICE", "github"), 11)
        .unwrap();
    let p3 = store
        .create_policy(&new_policy("alice", "entra-id"), 12)
        .unwrap();
    let p4 = store
        .create_policy(&new_policy("bob", "entra-id"), 13)
        .unwrap();
    assert_eq!(
        p2.username, "alice",
        "the stored username, not the one asked with"
    );
    assert_eq!(
        (p1.created_at, p1.renewed_at, p1.last_used_at),
        (10, 10, None)
    );
    assert_eq!(store.get_policy(p1.id).unwrap().unwrap(), p1);
    assert!(store.get_policy(9_999).unwrap().is_none());
    assert!(store.get_policy(u64::MAX).unwrap().is_none());

    let ids = |v: Vec<StoredPolicy>| v.into_iter().map(|p| p.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.policies_for("alice", "entra-id").unwrap()),
        vec![p1.id, p3.id]
    );
    assert_eq!(
        ids(store.policies_for("Alice", "github").unwrap()),
        vec![p2.id]
    );
    assert!(store.policies_for("alice", "gitlab").unwrap().is_empty());
    assert_eq!(
        ids(store.list_policies(Some("alice")).unwrap()),
        vec![p1.id, p2.id, p3.id]
    );
    assert_eq!(
        ids(store.list_policies(None).unwrap()),
        vec![p1.id, p2.id, p3.id, p4.id]
    );
    assert_eq!(
        store.list_policies(None).unwrap()[0].scopes,
        new_policy("alice", "x").scopes
    );
}

fn policy_ids_are_never_reused(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    store.delete_policy(id, 300).unwrap();
    let next = store
        .create_policy(&new_policy("alice", "entra-id"), 400)
        .unwrap();
    assert!(next.id > id);
}

fn commit_exchange_then_replay_writes_nothing_more(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    assert!(
        !store
            .token_id_used("https://issuer.example", "jti-1")
            .unwrap()
    );
    store
        .commit_exchange(exchange(id, "jti-1", "hash-1", &[]))
        .unwrap();
    assert!(
        store
            .token_id_used("https://issuer.example", "jti-1")
            .unwrap()
    );
    assert!(
        !store
            .token_id_used("https://other.example", "jti-1")
            .unwrap()
    );

    let key = store.find_key("hash-1").unwrap().unwrap();
    assert_eq!(
        (
            key.policy_id,
            key.created_at,
            key.expires_at,
            key.revoked_at
        ),
        (id, 1_500, 2_400, None)
    );
    assert_eq!(key.scopes, exchange(id, "x", "x", &[]).key.scopes);
    assert_eq!(
        store.get_policy(id).unwrap().unwrap().last_used_at,
        Some(1_500)
    );
    assert_eq!(
        store.list_audit(None, 10).unwrap(),
        vec![exchange(id, "x", "x", &[]).audit]
    );

    let err = store
        .commit_exchange(exchange(id, "jti-1", "hash-2", &[]))
        .unwrap_err();
    assert!(matches!(err, StoreError::Replay), "{err:?}");
    assert!(store.find_key("hash-2").unwrap().is_none());
    assert_eq!(store.list_audit(None, 10).unwrap().len(), 1);
}

fn concurrent_exchanges_of_one_token_yield_one_key(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    let barrier = Arc::new(Barrier::new(20));
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.commit_exchange(exchange(
                    id,
                    "jti-race",
                    &format!("hash-{i}"),
                    &[("tid", "t1")],
                ))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(StoreError::Replay))),
        "{results:?}"
    );
    let keys = (0..20)
        .filter(|i| store.find_key(&format!("hash-{i}")).unwrap().is_some())
        .count();
    assert_eq!(keys, 1);
    assert_eq!(store.list_audit(None, 100).unwrap().len(), 1);
}

/// Many tokens at once, each sent twice: commits that land in one write
/// (SQLite's group commit) keep their own outcome — one key per token, the
/// replay undone alone, every accepted key stored and audited.
fn concurrent_exchanges_of_many_tokens_each_keep_their_own_outcome(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    let sends = 24;
    let barrier = Arc::new(Barrier::new(sends));
    let handles: Vec<_> = (0..sends)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let token = format!("jti-{}", i % (sends / 2));
                let result = store.commit_exchange(exchange(
                    id,
                    &token,
                    &format!("hash-{i}"),
                    &[("tid", "t1")],
                ));
                (i, result)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for token in 0..sends / 2 {
        let outcomes: Vec<_> = results
            .iter()
            .filter(|(i, _)| i % (sends / 2) == token)
            .collect();
        assert_eq!(
            outcomes.iter().filter(|(_, r)| r.is_ok()).count(),
            1,
            "token {token}: {outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .any(|(_, r)| matches!(r, Err(StoreError::Replay)))
        );
    }
    for (i, result) in &results {
        let stored = store.find_key(&format!("hash-{i}")).unwrap().is_some();
        assert_eq!(stored, result.is_ok(), "key {i}");
    }
    assert_eq!(store.list_audit(None, 100).unwrap().len(), sends / 2);
}

/// Two stores on one database: two processes on one SQLite file, two hosts
/// on one PostgreSQL.
fn two_stores_on_one_database_also_serialize(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    let other = db.open();
    let stores = [store, other];
    let barrier = Arc::new(Barrier::new(10));
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let (store, barrier) = (stores[i % 2].clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.commit_exchange(exchange(id, "jti-shared", &format!("hash-{i}"), &[]))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(StoreError::Replay))),
        "{results:?}"
    );
}

fn pins_written_on_first_use_then_enforced(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    store
        .commit_exchange(exchange(
            id,
            "jti-1",
            "hash-1",
            &[("tid", "t1"), ("oid", "o1")],
        ))
        .unwrap();
    let pins = store.get_policy(id).unwrap().unwrap().pins;
    assert_eq!(
        pins,
        vec![
            ("oid".to_string(), "o1".to_string()),
            ("tid".to_string(), "t1".to_string())
        ]
    );

    // Same pins, any order: fine.
    store
        .commit_exchange(exchange(
            id,
            "jti-2",
            "hash-2",
            &[("oid", "o1"), ("tid", "t1")],
        ))
        .unwrap();
    // No pins asked for: nothing to write, no conflict.
    store
        .commit_exchange(exchange(id, "jti-3", "hash-3", &[]))
        .unwrap();

    let err = store
        .commit_exchange(exchange(
            id,
            "jti-4",
            "hash-4",
            &[("tid", "t2"), ("oid", "o1")],
        ))
        .unwrap_err();
    assert!(matches!(err, StoreError::PinConflict), "{err:?}");
    // Rolled back: the token id, key and audit event were not kept.
    assert!(
        !store
            .token_id_used("https://issuer.example", "jti-4")
            .unwrap()
    );
    assert!(store.find_key("hash-4").unwrap().is_none());
    assert_eq!(store.list_audit(None, 100).unwrap().len(), 3);
    assert_pins_read_alike(store.as_ref(), id, &pins);
}

/// A write that fails after the exchange's checks passed (here a second key
/// with an existing key's hash, which the random key never gives) keeps
/// nothing of that exchange: its token id stays unused, its pins unwritten,
/// its audit event unrecorded; what was committed before stays.
fn a_failed_write_keeps_nothing_of_its_exchange(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    store
        .commit_exchange(exchange(id, "jti-1", "hash-1", &[]))
        .unwrap();
    let err = store
        .commit_exchange(exchange(id, "jti-2", "hash-1", &[("tid", "t1")]))
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert!(
        !store
            .token_id_used("https://issuer.example", "jti-2")
            .unwrap()
    );
    assert_pins_read_alike(store.as_ref(), id, &[]);
    assert_eq!(store.list_audit(None, 100).unwrap().len(), 1);
    assert!(
        store
            .token_id_used("https://issuer.example", "jti-1")
            .unwrap()
    );
    // The policy still serves the next exchange.
    store
        .commit_exchange(exchange(id, "jti-3", "hash-3", &[]))
        .unwrap();
}

/// Pins are whatever text a token held: quotes, backslashes, non-ASCII and
/// JSON-looking values come back unchanged, sorted by name.
fn pins_keep_any_text(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    let odd = [
        ("z", r#"a "quoted" \ value"#),
        ("b", "Ünïcødé ☃ 🙂"),
        ("a", r#"["not","an","array"]"#),
        ("m", ""),
    ];
    store
        .commit_exchange(exchange(id, "jti-1", "hash-1", &odd))
        .unwrap();
    let mut expected: Vec<(String, String)> = odd
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    expected.sort();
    assert_pins_read_alike(store.as_ref(), id, &expected);
}

fn commit_exchange_on_deleted_policy_is_not_found(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    store.delete_policy(id, 300).unwrap();
    let err = store
        .commit_exchange(exchange(id, "jti-1", "hash-1", &[("tid", "t1")]))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound(m) if *m == format!("policy {id}")),
        "{err:?}"
    );
    assert!(
        !store
            .token_id_used("https://issuer.example", "jti-1")
            .unwrap()
    );
    assert!(store.find_key("hash-1").unwrap().is_none());
}

fn delete_policy_revokes_its_keys(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    let other = store
        .create_policy(&new_policy("alice", "entra-id"), 201)
        .unwrap()
        .id;
    store
        .commit_exchange(exchange(id, "jti-1", "hash-1", &[("tid", "t1")]))
        .unwrap();
    store
        .commit_exchange(exchange(id, "jti-2", "hash-2", &[("tid", "t1")]))
        .unwrap();
    store
        .commit_exchange(exchange(id, "jti-3", "hash-3", &[("tid", "t1")]))
        .unwrap();
    store
        .commit_exchange(exchange(other, "jti-4", "hash-4", &[]))
        .unwrap();
    assert!(store.revoke_key("hash-3", 250).unwrap());

    assert_eq!(store.delete_policy(id, 300).unwrap(), 2);
    assert!(store.get_policy(id).unwrap().is_none());
    assert_eq!(
        store.find_key("hash-1").unwrap().unwrap().revoked_at,
        Some(300)
    );
    assert_eq!(
        store.find_key("hash-2").unwrap().unwrap().revoked_at,
        Some(300)
    );
    assert_eq!(
        store.find_key("hash-3").unwrap().unwrap().revoked_at,
        Some(250),
        "already revoked: kept"
    );
    assert_eq!(store.find_key("hash-4").unwrap().unwrap().revoked_at, None);

    let err = store.delete_policy(id, 400).unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound(m) if *m == format!("policy {id}")),
        "{err:?}"
    );
    assert!(matches!(
        store.delete_policy(u64::MAX, 400),
        Err(StoreError::NotFound(_))
    ));
}

fn revoke_key_reports_whether_it_changed_anything(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    store
        .commit_exchange(exchange(id, "jti-1", "hash-1", &[]))
        .unwrap();
    assert!(store.revoke_key("hash-1", 700).unwrap());
    assert!(!store.revoke_key("hash-1", 800).unwrap());
    assert!(!store.revoke_key("no-such-hash", 800).unwrap());
    assert_eq!(
        store.find_key("hash-1").unwrap().unwrap().revoked_at,
        Some(700)
    );
    assert!(store.find_key("no-such-hash").unwrap().is_none());
}

fn renew_updates_renewed_at(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    let renewed = store.renew_policy(id, 5_000).unwrap();
    assert_eq!((renewed.created_at, renewed.renewed_at), (200, 5_000));
    assert_eq!(store.get_policy(id).unwrap().unwrap().renewed_at, 5_000);
    assert!(matches!(
        store.renew_policy(id + 1, 5_000),
        Err(StoreError::NotFound(_))
    ));
}

fn purge_removes_only_expired_token_ids(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    for (jti, exp) in [("a", 100), ("b", 200), ("c", 300)] {
        let mut x = exchange(id, jti, &format!("hash-{jti}"), &[]);
        x.keep_token_id_until = exp;
        store.commit_exchange(x).unwrap();
    }
    assert_eq!(store.purge_used_token_ids(200).unwrap(), 1);
    let used = |jti| store.token_id_used("https://issuer.example", jti).unwrap();
    assert_eq!((used("a"), used("b"), used("c")), (false, true, true));
    assert_eq!(store.purge_used_token_ids(u64::MAX).unwrap(), 2);
}

fn audit_retention_deletes_only_older_events(db: &TestDb) {
    let (store, _id) = store_with_policy(db);
    for at in [100, 200, 300] {
        store
            .record_audit(&audit("alice", at, AuditOutcome::BadToken))
            .unwrap();
    }
    assert_eq!(store.purge_audit(200).unwrap(), 1);
    let left: Vec<u64> = store
        .list_audit(Some("alice"), 10)
        .unwrap()
        .iter()
        .map(|e| e.at)
        .collect();
    assert_eq!(left, vec![300, 200]);
    assert_eq!(store.purge_audit(u64::MAX).unwrap(), 2);
}

fn values_beyond_i64_are_errors_not_panics(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    assert!(matches!(
        store.create_user("carol", u64::MAX),
        Err(StoreError::Database(_))
    ));
    let mut x = exchange(id, "jti-1", "hash-1", &[]);
    x.key.expires_at = u64::MAX;
    assert!(matches!(
        store.commit_exchange(x),
        Err(StoreError::Database(_))
    ));
    assert!(
        !store
            .token_id_used("https://issuer.example", "jti-1")
            .unwrap()
    );
}

fn list_audit_most_recent_first_with_limit(db: &TestDb) {
    let store = db.open();
    for i in 0..5u64 {
        let user = if i % 2 == 0 { "alice" } else { "bob" };
        let event = AuditEvent {
            detail: Some(format!("event {i}")),
            ..audit(user, 1_000 + i, AuditOutcome::BadToken)
        };
        store.record_audit(&event).unwrap();
    }
    let at = |v: Vec<AuditEvent>| v.into_iter().map(|e| e.at).collect::<Vec<_>>();
    assert_eq!(
        at(store.list_audit(None, 100).unwrap()),
        vec![1_004, 1_003, 1_002, 1_001, 1_000]
    );
    assert_eq!(at(store.list_audit(None, 2).unwrap()), vec![1_004, 1_003]);
    assert_eq!(
        at(store.list_audit(Some("alice"), 100).unwrap()),
        vec![1_004, 1_002, 1_000]
    );
    assert_eq!(at(store.list_audit(Some("BOB"), 1).unwrap()), vec![1_003]);
    assert!(store.list_audit(None, 0).unwrap().is_empty());
    let first = store.list_audit(None, 1).unwrap().remove(0);
    assert_eq!(
        first,
        AuditEvent {
            detail: Some("event 4".to_string()),
            ..audit("alice", 1_004, AuditOutcome::BadToken)
        }
    );
}

fn everything_survives_reopen(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    store
        .commit_exchange(exchange(id, "jti-1", "hash-1", &[("tid", "t1")]))
        .unwrap();
    store
        .record_audit(&audit("alice", 1_600, AuditOutcome::Unauthorized))
        .unwrap();
    let policies = store.list_policies(None).unwrap();
    let audit_events = store.list_audit(None, 10).unwrap();
    drop(store);

    let store = db.open();
    assert_eq!(
        store.list_users().unwrap(),
        vec![User {
            username: "alice".to_string(),
            created_at: 100
        }]
    );
    assert_eq!(store.list_policies(None).unwrap(), policies);
    assert_eq!(store.find_key("hash-1").unwrap().unwrap().policy_id, id);
    assert!(
        store
            .token_id_used("https://issuer.example", "jti-1")
            .unwrap()
    );
    assert_eq!(store.list_audit(None, 10).unwrap(), audit_events);
    assert!(matches!(
        store.commit_exchange(exchange(id, "jti-1", "hash-9", &[])),
        Err(StoreError::Replay)
    ));
    drop(store);
}

fn a_batch_of_audit_events_is_recorded_whole(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    let batch = vec![
        AuditEvent {
            provider: None,
            client_addr: None,
            ..audit("alice", 1, AuditOutcome::BadToken)
        },
        AuditEvent {
            detail: Some("the token's \"aud\" is 'x' — not ours".to_string()),
            check: Some("audience".to_string()),
            ..audit("alice", 2, AuditOutcome::BadToken)
        },
        AuditEvent {
            policy_id: Some(id),
            evaluator_digest: Some("sha256:abc".to_string()),
            subject: Some("sub-1".to_string()),
            near_misses: vec![AuditNearMiss {
                policy_id: id,
                reason: "tid differs".to_string(),
            }],
            ..audit("alice", 3, AuditOutcome::Unauthorized)
        },
    ];
    store.record_audit_batch(&batch).unwrap();
    let mut stored = store.list_audit(Some("alice"), 10).unwrap();
    stored.reverse();
    assert_eq!(stored, batch, "every field of every event, in order");
}

fn candidates_are_found_by_provider_and_index_key_across_users(db: &TestDb) {
    let store = db.open();
    store.create_user("alice", 1).unwrap();
    store.create_user("bob", 1).unwrap();
    let keyed = |user: &str, provider: &str, keys: &[&str]| NewPolicy {
        index_keys: keys.iter().map(|k| k.to_string()).collect(),
        ..new_policy(user, provider)
    };
    let a1 = store
        .create_policy(&keyed("alice", "gh", &["acme/app"]), 2)
        .unwrap()
        .id;
    let b1 = store
        .create_policy(&keyed("bob", "gh", &["acme/app", "acme/lib"]), 3)
        .unwrap()
        .id;
    let _other_provider = store
        .create_policy(&keyed("bob", "gl", &["acme/app"]), 4)
        .unwrap();
    let _other_key = store
        .create_policy(&keyed("alice", "gh", &["acme/web"]), 5)
        .unwrap();
    let ids = |v: Vec<StoredPolicy>| v.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let app = vec!["acme/app".to_string()];
    assert_eq!(
        ids(store.candidates("gh", &app, None).unwrap()),
        vec![a1, b1]
    );
    assert_eq!(
        ids(store.candidates("gh", &app, Some("BOB")).unwrap()),
        vec![b1]
    );
    let both = vec!["acme/lib".to_string(), "acme/app".to_string()];
    assert_eq!(
        ids(store.candidates("gh", &both, None).unwrap()),
        vec![a1, b1],
        "each policy once"
    );
    assert!(store.candidates("gh", &[], None).unwrap().is_empty());
    assert!(
        store
            .candidates("gh", &["nope".to_string()], None)
            .unwrap()
            .is_empty()
    );

    // Deleting a policy drops its keys with it.
    store.delete_policy(a1, 10).unwrap();
    assert_eq!(ids(store.candidates("gh", &app, None).unwrap()), vec![b1]);
}

fn reindex_replaces_keys_and_records_the_evaluator(db: &TestDb) {
    let store = db.open();
    store.create_user("alice", 1).unwrap();
    let id = store
        .create_policy(&new_policy("alice", "entra-id"), 2)
        .unwrap()
        .id;
    assert_eq!(store.index_digest("entra-id").unwrap(), None);
    assert_eq!(
        store.provider_criteria("entra-id").unwrap(),
        vec![(id, r#"{"tenant":"t1"}"#.to_string())]
    );
    store
        .reindex("entra-id", "sha256:new", &[(id, vec!["t2".to_string()])])
        .unwrap();
    assert_eq!(
        store.index_digest("entra-id").unwrap().as_deref(),
        Some("sha256:new")
    );
    assert!(
        store
            .candidates("entra-id", &["t1".to_string()], None)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .candidates("entra-id", &["t2".to_string()], None)
            .unwrap()
            .len(),
        1
    );
}

fn audit_keeps_check_names_and_near_misses(db: &TestDb) {
    let store = db.open();
    let event = AuditEvent {
        check: Some("audience".to_string()),
        near_misses: vec![AuditNearMiss {
            policy_id: 4,
            reason: "workflow is build.yml, the policy wants release.yml".to_string(),
        }],
        ..audit("alice", 9, AuditOutcome::Unauthorized)
    };
    store.record_audit(&event).unwrap();
    assert_eq!(store.list_audit(None, 1).unwrap(), vec![event]);
}

/// One `#[test]` per suite function and engine: `sqlite::NAME` and
/// `postgres::NAME`.
macro_rules! store_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::TestDb::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    // Without a server the test says so (once) and checks nothing.
                    let Some(db) = super::TestDb::postgres() else { return };
                    super::$name(&db);
                }
            )*
        }
    };
}

store_suite!(
    store_with_policy,
    users_create_list_get_and_duplicate,
    create_policy_for_missing_user_is_not_found,
    policies_oldest_first_and_filtered_by_provider,
    policy_ids_are_never_reused,
    commit_exchange_then_replay_writes_nothing_more,
    concurrent_exchanges_of_one_token_yield_one_key,
    concurrent_exchanges_of_many_tokens_each_keep_their_own_outcome,
    two_stores_on_one_database_also_serialize,
    pins_written_on_first_use_then_enforced,
    pins_keep_any_text,
    a_failed_write_keeps_nothing_of_its_exchange,
    commit_exchange_on_deleted_policy_is_not_found,
    delete_policy_revokes_its_keys,
    revoke_key_reports_whether_it_changed_anything,
    renew_updates_renewed_at,
    purge_removes_only_expired_token_ids,
    audit_retention_deletes_only_older_events,
    values_beyond_i64_are_errors_not_panics,
    list_audit_most_recent_first_with_limit,
    everything_survives_reopen,
    a_batch_of_audit_events_is_recorded_whole,
    candidates_are_found_by_provider_and_index_key_across_users,
    reindex_replaces_keys_and_records_the_evaluator,
    audit_keeps_check_names_and_near_misses,
    audit_counts_group_exchanges_since_a_time_and_the_default_agrees,
    live_keys_leave_out_revoked_and_expired_ones,
);

fn audit_counts_group_exchanges_since_a_time_and_the_default_agrees(db: &TestDb) {
    let store = db.open();
    let bad = |at, check: &str| AuditEvent {
        check: Some(check.to_string()),
        ..audit("alice", at, AuditOutcome::BadToken)
    };
    let events = [
        audit("alice", 100, AuditOutcome::Minted), // before `since`
        audit("alice", 200, AuditOutcome::Minted),
        audit("bob", 201, AuditOutcome::Minted),
        bad(202, "audience"),
        bad(203, "audience"),
        bad(204, "expiry"),
        audit("bob", 205, AuditOutcome::Unauthorized),
        audit("bob", 206, AuditOutcome::PolicyCreated), // an action
    ];
    store.record_audit_batch(&events).unwrap();
    let counts = store.audit_counts(200).unwrap();
    let seen: Vec<(&str, Option<&str>, u64)> = counts
        .iter()
        .map(|c| (c.outcome.as_str(), c.check.as_deref(), c.count))
        .collect();
    assert_eq!(
        seen,
        [
            ("bad-token", Some("audience"), 2),
            ("bad-token", Some("expiry"), 1),
            ("minted", None, 2),
            ("unauthorized", None, 1),
        ]
    );
    assert!(
        counts
            .iter()
            .all(|c| c.provider.as_deref() == Some("entra-id"))
    );
    // The trait's default (for engines without SQL of their own) counts alike.
    let all = store
        .list_audit_of(None, AuditKind::Exchanges, u32::MAX)
        .unwrap();
    assert_eq!(
        AuditCount::tally(all.iter().filter(|e| e.at >= 200)),
        counts
    );
}

fn live_keys_leave_out_revoked_and_expired_ones(db: &TestDb) {
    let (store, id) = store_with_policy(db);
    for (jti, hash) in [("jti-1", "hash-1"), ("jti-2", "hash-2")] {
        store
            .commit_exchange(exchange(id, jti, hash, &[("tid", "t1")]))
            .unwrap();
    }
    assert!(store.revoke_key("hash-1", 1_600).unwrap());
    let live = store.live_keys(1_600).unwrap();
    assert_eq!(
        live.iter().map(|k| k.hash.as_str()).collect::<Vec<_>>(),
        ["hash-2"]
    );
    assert_eq!(live[0].policy_id, id);
    // Past its expiry (created 1500, lives 900 s) no key is live.
    assert!(store.live_keys(2_400).unwrap().is_empty());
}
