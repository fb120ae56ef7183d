//! Several `trustpub serve` hosts on one PostgreSQL database, as behind a
//! load balancer: what one host writes, the others use; a token is accepted
//! once across hosts; a host killed under load loses no key it answered.
//! Each test gets a fresh database on the server `cargo xtask test` starts.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Mutex;
use trustpub_tests::postgres::TestDatabase;
use trustpub_tests::server::{OID, TestServer, entra_token};

const NO_RATE_LIMITS: &str =
    "rate_limit_per_address_per_minute = 0\nrate_limit_per_username_per_minute = 0";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_policy_created_on_one_host_is_used_by_another() {
    let Some(db) = TestDatabase::create("a_policy_created_on_one_host_is_used_by_another") else {
        return;
    };
    let a = TestServer::new().database(db.url()).spawn().await;
    let b = a.another_host();

    let token = entra_token(&a.entra, OID);
    let (status, body, _) = b.exchange(&token, "contoso").await;
    assert_eq!(status, 200, "{body}");
    let key = body["apiKey"].as_str().expect("apiKey");
    let on_a = a.svc.introspect(key).await;
    assert_eq!(on_a["active"], json!(true), "{on_a}");
    assert_eq!(
        on_a["policy_id"],
        json!(a.policy_id.expect("policy")),
        "{on_a}"
    );

    // The key revoked on A is revoked for B.
    assert_eq!(a.svc.revoke(key).await, 204);
    assert_eq!(b.introspect(key).await["active"], json!(false));
    // Both hosts list the same policies and audit.
    let policies_a = a.svc.get_json("/admin/policies").await;
    assert_eq!(b.get_json("/admin/policies").await, policies_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_token_sent_to_two_hosts_at_once_yields_one_key_per_round() {
    let Some(db) = TestDatabase::create("one_token_sent_to_two_hosts_at_once") else {
        return;
    };
    let a = TestServer::new()
        .database(db.url())
        .settings(NO_RATE_LIMITS)
        .spawn()
        .await;
    let b = a.another_host();
    const ROUNDS: usize = 40;
    let mut keys = Vec::new();
    for round in 0..ROUNDS {
        let token = entra_token(&a.entra, OID);
        let (on_a, on_b) = tokio::join!(
            a.svc.exchange(&token, "contoso"),
            b.exchange(&token, "contoso")
        );
        let answers = [on_a, on_b];
        let minted: Vec<&Value> = answers
            .iter()
            .filter(|(status, _, _)| *status == 200)
            .map(|(_, body, _)| body)
            .collect();
        assert_eq!(
            minted.len(),
            1,
            "round {round}: {:?}",
            answers.iter().map(|a| (a.0, &a.1)).collect::<Vec<_>>()
        );
        let refused = answers
            .iter()
            .find(|(status, _, _)| *status != 200)
            .expect("one refused");
        assert_eq!(refused.0, 401, "round {round}: {}", refused.1);
        keys.push(minted[0]["apiKey"].as_str().expect("apiKey").to_string());
    }
    let stored = db.query_i64("SELECT count(*) FROM api_keys");
    assert_eq!(stored, ROUNDS as i64);
    for key in &keys {
        assert_eq!(b.introspect(key).await["active"], json!(true));
    }
}

/// What one exchange attempt ended with before the kill.
enum Attempt {
    Minted {
        token: String,
        key: String,
    },
    /// No answer: the host died while the request was in flight.
    Interrupted {
        token: String,
    },
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_host_killed_under_load_loses_no_key_and_its_tokens_stay_used() {
    let Some(db) = TestDatabase::create("a_host_killed_under_load") else {
        return;
    };
    let mut a = TestServer::new()
        .database(db.url())
        .settings(NO_RATE_LIMITS)
        .spawn()
        .await;
    let b = a.another_host();
    let tokens: Vec<String> = (0..240).map(|_| entra_token(&a.entra, OID)).collect();
    let tokens = Arc::new(Mutex::new(tokens));
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let minted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Half the workers on A, half on B.
    let targets = [a.svc.url("/api/v2/token"), b.url("/api/v2/token")];
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let url = targets[i % 2].clone();
            let (tokens, attempts, minted) = (tokens.clone(), attempts.clone(), minted.clone());
            let http = reqwest::Client::new();
            tokio::spawn(async move {
                while let Some(token) = tokens.lock().await.pop() {
                    let sent = http
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({"username": "contoso", "tokenType": "ApiKey"}))
                        .send()
                        .await;
                    let attempt = match sent {
                        Err(_) => Attempt::Interrupted { token },
                        Ok(r) if r.status() == 200 => match r.json::<Value>().await {
                            Ok(body) => {
                                minted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                Attempt::Minted {
                                    token,
                                    key: body["apiKey"].as_str().expect("apiKey").to_string(),
                                }
                            }
                            Err(_) => Attempt::Interrupted { token },
                        },
                        // Refused by a host: not a promise, nothing to check.
                        Ok(_) => continue,
                    };
                    attempts.lock().await.push(attempt);
                }
            })
        })
        .collect();
    while minted.load(std::sync::atomic::Ordering::Relaxed) < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    a.svc.sigkill();
    for w in workers {
        w.await.expect("worker");
    }
    let attempts = attempts.lock().await;
    let mut keys = 0;
    for attempt in attempts.iter() {
        match attempt {
            Attempt::Minted { token, key } => {
                keys += 1;
                let info = b.introspect(key).await;
                assert_eq!(
                    info["active"],
                    json!(true),
                    "a key answered 200 was lost: {info}"
                );
                let (status, body, _) = b.exchange(token, "contoso").await;
                assert_eq!(status, 401, "a used token minted again: {body}");
            }
            Attempt::Interrupted { token } => {
                // Committed whole or not at all: a second try gets at most
                // one key, and a third none.
                let (first, _, _) = b.exchange(token, "contoso").await;
                assert!(first == 200 || first == 401, "{first}");
                let (second, _, _) = b.exchange(token, "contoso").await;
                assert_eq!(second, 401);
            }
        }
    }
    assert!(keys >= 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_evaluator_pushed_to_one_host_serves_on_the_other_without_a_failed_exchange() {
    use crate::hot_swap::{active_digest, copy_evaluator, put, sha256, variant};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    use trustpub_tests::server::{Service, config_on, start_idp};

    let Some(db) = TestDatabase::create("an_evaluator_pushed_to_one_host_serves_on_the_other")
    else {
        return;
    };
    let idp = start_idp("k1").await;
    // Each host has its evaluator file of its own, as on two machines.
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let settings = format!("{NO_RATE_LIMITS}\nwatch_evaluators = false");
    let host = |dir: &std::path::Path| {
        let evaluator = copy_evaluator(dir);
        let settings = format!(
            "{settings}\ncompiled_cache_dir = \"{}\"",
            dir.join("compiled").display()
        );
        Service::start(dir, &config_on(db.url(), &idp, &settings, &evaluator))
    };
    let a = host(dir_a.path());
    let b = host(dir_b.path());
    a.user_with_policy("contoso", OID).await;
    let before = active_digest(&b).await;

    // Load on B throughout the push.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let exchanged = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tokens: Vec<String> = (0..2000).map(|_| entra_token(&idp, OID)).collect();
    let tokens = Arc::new(Mutex::new(tokens));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (stop, failures, exchanged, tokens) = (
                stop.clone(),
                failures.clone(),
                exchanged.clone(),
                tokens.clone(),
            );
            let url = b.url("/api/v2/token");
            let http = reqwest::Client::new();
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Some(token) = tokens.lock().await.pop() else {
                        break;
                    };
                    let r = http
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({"username": "contoso", "tokenType": "ApiKey"}))
                        .send()
                        .await
                        .expect("send");
                    let status = r.status().as_u16();
                    if status != 200 {
                        failures
                            .lock()
                            .await
                            .push((status, r.text().await.unwrap_or_default()));
                    }
                    exchanged.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();
    while exchanged.load(Ordering::Relaxed) < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let bytes = variant(
        &std::fs::read(dir_a.path().join("entra-id.wasm")).expect("read"),
        "cluster-v2",
    );
    let new_digest = sha256(&bytes);
    assert_ne!(new_digest, before);
    let (status, body) = put(&a, bytes).await;
    assert_eq!(status, 200, "{body}");
    let pushed = Instant::now();
    let deadline = pushed + Duration::from_secs(30);
    while active_digest(&b).await != new_digest {
        assert!(
            Instant::now() < deadline,
            "B never adopted the new evaluator"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // For docs/BENCHMARKS.md; not a pass/fail criterion.
    eprintln!("cluster: push on A → active on B in {:?}", pushed.elapsed());
    let served_before = exchanged.load(Ordering::Relaxed);
    while exchanged.load(Ordering::Relaxed) < served_before + 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    assert!(
        failures.lock().await.is_empty(),
        "{:?}",
        failures.lock().await
    );
    // Both hosts show one digest; B's own file holds the new version, so a
    // restart of B keeps it.
    assert_eq!(active_digest(&a).await, new_digest);
    assert_eq!(
        sha256(&std::fs::read(dir_b.path().join("entra-id.wasm")).expect("read")),
        new_digest
    );
    // B's keys are now minted by the new version.
    let minted = b.audit("limit=1").await;
    assert_eq!(minted[0]["evaluator_digest"], json!(new_digest), "{minted}");

    // A rollback on B is the cluster's too: A goes back to the first version.
    let r = b
        .admin(reqwest::Method::POST, "/admin/evaluators/entra-id/rollback")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(active_digest(&b).await, before);
    let deadline = Instant::now() + Duration::from_secs(30);
    while active_digest(&a).await != before {
        assert!(Instant::now() < deadline, "A never followed the rollback");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
