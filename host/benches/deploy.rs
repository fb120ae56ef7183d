//! Hot swap and start-up: time from `PUT /admin/evaluators/{provider}` to the
//! first request served by the new version, failed requests while swapping
//! under load, and cold start with and without the compiled cache — each
//! compared as ratios within this one run.
//!
//! `cargo xtask components && cargo bench -p trustpub --bench deploy`

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
mod common;

use common::{AUD, OID, TID};
use trustpub::config::{ProviderSettings, Settings};
use trustpub::idp::{TestIdp, TestIdpServer, entra_app_token_claims};

const ADMIN: &str = "bench-admin-token-0123456789";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

/// The same component with a custom section appended: another digest.
fn variant(bytes: &[u8], tag: u32) -> Vec<u8> {
    let payload = [&[4u8][..], b"tpbv", &tag.to_le_bytes()].concat();
    let mut out = bytes.to_vec();
    out.extend_from_slice(&[0, payload.len() as u8]);
    out.extend_from_slice(&payload);
    out
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let idp = Arc::new(
        TestIdpServer::start(TestIdp::rs256("bench").expect("key"), loopback)
            .await
            .expect("idp"),
    );
    let original = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/components/entra-id.wasm"
    ))
    .expect("run `cargo xtask components` first");
    let evaluator = dir.path().join("entra-id.wasm");
    std::fs::write(&evaluator, &original).expect("write");
    let settings = |cache: bool| Settings {
        listen: loopback,
        database: format!("sqlite://{}", dir.path().join("bench.db").display()),
        // Load from one address for one user: the limits would refuse it.
        rate_limit_per_address_per_minute: 0,
        rate_limit_per_username_per_minute: 0,
        max_concurrent_exchanges: 4096,
        admin_token: Some(ADMIN.into()),
        compiled_cache: cache,
        watch_evaluators: false,
        providers: vec![ProviderSettings::new(
            "entra-id",
            evaluator.clone(),
            &idp.jwks_url(),
            toml::toml! { audience = "api://AzureADTokenExchange" },
        )],
        ..Settings::default()
    };

    // Cold start, alternating so both see the same machine conditions.
    let (mut without, mut with) = (Vec::new(), Vec::new());
    trustpub::server::start(&settings(true))
        .await
        .expect("warm the cache")
        .stop()
        .await;
    for _ in 0..5 {
        for (cache, samples) in [(false, &mut without), (true, &mut with)] {
            let start = Instant::now();
            let server = trustpub::server::start(&settings(cache))
                .await
                .expect("start");
            samples.push(start.elapsed());
            server.stop().await;
        }
    }
    let (without, with) = (median(without), median(with));

    let server = trustpub::server::start(&settings(true))
        .await
        .expect("start");
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    common::bench_user_and_policy(&http, &base, ADMIN).await;
    let next_token = {
        let idp = idp.clone();
        let counter = Arc::new(AtomicUsize::new(0));
        move || {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs();
            idp.mint(&entra_app_token_claims(
                TID,
                OID,
                AUD,
                now,
                &format!("deploy-{n}"),
            ))
            .expect("mint")
        }
    };
    let exchange = {
        let (http, base) = (http.clone(), base.clone());
        move |token: String| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                http.post(format!("{base}/api/v2/token"))
                    .bearer_auth(token)
                    .json(&json!({"username": "bench", "tokenType": "ApiKey"}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        }
    };
    let put = |bytes: Vec<u8>| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let r = http
                .put(format!("{base}/admin/evaluators/entra-id"))
                .bearer_auth(ADMIN)
                .body(bytes)
                .send()
                .await
                .expect("put");
            assert_eq!(r.status(), 200);
        }
    };

    // PUT → first exchange served by the new version. New digests compile;
    // a digest deployed before is a compiled-cache hit.
    let (mut fresh, mut known) = (Vec::new(), Vec::new());
    for round in 0..6u32 {
        for (bytes, samples) in [
            (variant(&original, 1000 + round), &mut fresh),
            (variant(&original, round % 2), &mut known),
        ] {
            let token = next_token();
            let start = Instant::now();
            put(bytes).await;
            assert_eq!(exchange(token).await, 200);
            samples.push(start.elapsed());
        }
    }
    let baseline = {
        let mut samples = Vec::new();
        for _ in 0..6 {
            let token = next_token();
            let start = Instant::now();
            assert_eq!(exchange(token).await, 200);
            samples.push(start.elapsed());
        }
        median(samples)
    };
    let (fresh, known) = (median(fresh), median(known));

    // Failed requests while swapping 20 times under a continuous load.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, ok, failed, next_token) =
            (stop.clone(), ok.clone(), failed.clone(), next_token.clone());
        let exchange = exchange.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let counter = if exchange(next_token()).await == 200 {
                    &ok
                } else {
                    &failed
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    for round in 0..20u32 {
        put(variant(&original, 2000 + round)).await;
    }
    stop.store(true, Ordering::Relaxed);
    load.await.expect("load");

    println!(
        "cold start without compiled cache   {:>8.1} ms",
        ms(without)
    );
    println!(
        "cold start with warm compiled cache {:>8.1} ms   ({:.2}x faster)",
        ms(with),
        without.as_secs_f64() / with.as_secs_f64()
    );
    println!(
        "one exchange, no deploy             {:>8.1} ms",
        ms(baseline)
    );
    println!(
        "PUT new digest -> first exchange    {:>8.1} ms   ({:.1}x one exchange)",
        ms(fresh),
        fresh.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "PUT known digest -> first exchange  {:>8.1} ms   ({:.1}x one exchange)",
        ms(known),
        known.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "exchanges during 20 swaps (each a new digest): {} ok, {} failed",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    server.stop().await;
}
