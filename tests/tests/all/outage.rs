//! PostgreSQL stopped and started again while a host serves: requests fail
//! fast with 503 and a JSON error (never a 500, never a hang), `/healthz`
//! says not ready, and service resumes by itself when the database is back;
//! every key answered with 200 is still active afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;
use trustpub_tests::postgres::TestPostgresServer;
use trustpub_tests::server::{OID, Service, TestServer, entra_token};

const SETTINGS: &str = "rate_limit_per_address_per_minute = 0
rate_limit_per_username_per_minute = 0
database_timeout_ms = 1000";

async fn healthz(svc: &Service) -> (u16, Value) {
    let r = svc
        .http
        .get(svc.url("/healthz"))
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stopped_and_started_under_load_gives_only_503s_then_recovers() {
    let Some(pg) = TestPostgresServer::start("postgres_stopped_and_started_under_load") else {
        return;
    };
    let s = TestServer::new()
        .database(&pg.url())
        .settings(SETTINGS)
        .spawn()
        .await;
    let tokens: Vec<String> = (0..1500).map(|_| entra_token(&s.entra, OID)).collect();
    let tokens = Arc::new(Mutex::new(tokens));
    let answers = Arc::new(Mutex::new(Vec::<(u16, Value)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let url = s.svc.url("/api/v2/token");
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (tokens, answers, stop, url) =
                (tokens.clone(), answers.clone(), stop.clone(), url.clone());
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
                        .expect("the host answers throughout");
                    let status = r.status().as_u16();
                    let body = r.json::<Value>().await.expect("a JSON body");
                    answers.lock().await.push((status, body));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect();
    let minted = |answers: &[(u16, Value)]| answers.iter().filter(|(s, _)| *s == 200).count();
    while minted(&answers.lock().await) < 10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    pg.stop();
    let token = entra_token(&s.entra, OID);
    let started = Instant::now();
    let (status, body, headers) = s.svc.exchange(&token, "contoso").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("database")),
        "{body}"
    );
    assert!(headers.contains_key("retry-after"));
    // Bounded by the configured timeout (1 s) plus slack for a slow machine.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let (status, health) = healthz(&s.svc).await;
    assert_eq!(
        (status, &health["status"]),
        (503, &json!("unavailable")),
        "{health}"
    );
    // An operator call fails the same way.
    let r = s.svc.get_json("/admin/policies").await;
    assert!(r["error"].is_string(), "{r}");

    pg.resume();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if healthz(&s.svc).await.0 == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the host did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body, _) = s.svc.exchange(&entra_token(&s.entra, OID), "contoso").await;
    assert_eq!(status, 200, "{body}");

    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    let answers = answers.lock().await;
    for (status, body) in answers.iter() {
        assert!(*status == 200 || *status == 503, "{status}: {body}");
        if *status == 503 {
            assert!(body["error"].is_string(), "{body}");
        }
    }
    for (_, body) in answers.iter().filter(|(s, _)| *s == 200) {
        let key = body["apiKey"].as_str().expect("apiKey");
        assert_eq!(
            s.svc.introspect(key).await["active"],
            json!(true),
            "a key answered 200 was lost"
        );
    }
}
