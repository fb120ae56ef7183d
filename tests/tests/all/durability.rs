//! What the service promised survives a SIGKILL in the middle of a load:
//! every key a client received is still active after the restart, every
//! token that was exchanged stays used (no second key for it), and an
//! exchange the kill interrupted either committed completely or not at all.
//! A token stays used as long as its provider would accept it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use tokio::sync::Mutex;
use trustpub_tests::server::{
    OID, Service, TestServer, config, entra_claims, entra_token, start_idp,
};

/// What one exchange attempt ended with before the kill.
enum Attempt {
    Minted {
        token: String,
        key: String,
    },
    /// No answer: the process died while the request was in flight.
    Interrupted {
        token: String,
    },
}

const WORKERS: usize = 8;
/// Keys minted before the kill: enough that requests are in flight when it lands.
const KILL_AFTER: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigkill_under_load_loses_no_promised_key_and_allows_no_second_key() {
    let mut s = TestServer::new()
        .settings("rate_limit_per_address_per_minute = 0\nrate_limit_per_username_per_minute = 0")
        .spawn()
        .await;
    let url = s.svc.url("/api/v2/token");
    let minted = Arc::new(AtomicUsize::new(0));
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let tokens: Vec<String> = (0..WORKERS * 40)
        .map(|_| entra_token(&s.entra, OID))
        .collect();
    let tokens = Arc::new(Mutex::new(tokens));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (url, minted, attempts, tokens) = (
                url.clone(),
                minted.clone(),
                attempts.clone(),
                tokens.clone(),
            );
            let http = s.svc.http.clone();
            tokio::spawn(async move {
                while let Some(token) = tokens.lock().await.pop() {
                    let sent = http
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({"username": "contoso", "tokenType": "ApiKey"}))
                        .send()
                        .await;
                    let answer = match sent {
                        Ok(r) => r.json::<Value>().await.ok(),
                        Err(_) => None,
                    };
                    let attempt = match answer.as_ref().and_then(|b| b["apiKey"].as_str()) {
                        Some(key) => {
                            minted.fetch_add(1, Ordering::SeqCst);
                            Attempt::Minted {
                                token,
                                key: key.to_string(),
                            }
                        }
                        None if answer.is_none() => Attempt::Interrupted { token },
                        None => panic!("an exchange under load failed: {answer:?}"),
                    };
                    let interrupted = matches!(attempt, Attempt::Interrupted { .. });
                    attempts.lock().await.push(attempt);
                    if interrupted {
                        return; // The server is gone.
                    }
                }
            })
        })
        .collect();
    while minted.load(Ordering::SeqCst) < KILL_AFTER {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    s.kill_and_restart();
    for worker in workers {
        worker.await.expect("worker");
    }

    let attempts = std::mem::take(&mut *attempts.lock().await);
    let mut keys = 0;
    for attempt in attempts {
        match attempt {
            Attempt::Minted { token, key } => {
                keys += 1;
                assert_eq!(
                    s.svc.introspect(&key).await["active"],
                    true,
                    "a promised key was lost"
                );
                let (status, body, _) = s.svc.exchange(&token, "contoso").await;
                assert_eq!(status, 401, "a second key for one token: {body}");
                assert!(
                    body["error"]
                        .as_str()
                        .is_some_and(|e| e.contains("already been used"))
                );
            }
            Attempt::Interrupted { token } => {
                // Committed before the kill (then used) or not at all (then fresh).
                let (status, body, _) = s.svc.exchange(&token, "contoso").await;
                assert!(
                    status == 200
                        || (status == 401
                            && body["error"]
                                .as_str()
                                .is_some_and(|e| e.contains("already been used"))),
                    "{status} {body}"
                );
            }
        }
    }
    assert!(keys >= KILL_AFTER, "{keys} keys before the kill");
}

/// A provider configured with a larger clock skew than the global one
/// accepts a token that long past its `exp`; the token's id must be kept that
/// long too, across the purge a restart runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_accepted_within_a_providers_own_skew_stays_used_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let idp = start_idp("k1").await;
    // The provider's table is the config's last: this line joins it.
    let config = config(&dir.path().join("db.sqlite"), &idp, "") + "clock_skew_seconds = 3600\n";
    let svc = Service::start(dir.path(), &config);
    svc.user_with_policy("contoso", OID).await;
    let now = trustpub::clock::unix_now();
    let mut claims = entra_claims(OID);
    claims["iat"] = json!(now - 4000);
    claims["nbf"] = json!(now - 4000);
    claims["exp"] = json!(now - 400); // expired, but within the provider's skew
    let token = idp.mint(&claims).expect("mint");
    let (status, body, _) = svc.exchange(&token, "contoso").await;
    assert_eq!(status, 200, "{body}");

    svc.kill();
    let svc = Service::start(dir.path(), &config);
    let (status, body, _) = svc.exchange(&token, "contoso").await;
    assert_eq!(status, 401, "a second key for one token: {body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("already been used")),
        "{body}"
    );
}
