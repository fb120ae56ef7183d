//! Exchanges per second and p99 latency on SQLite, on PostgreSQL with one
//! host, and with two hosts on one PostgreSQL database; then how long after
//! a `PUT` of a new evaluator on host A the first exchange on host B is
//! decided by it. Hosts are in-process servers on loopback.
//!
//! Needs a PostgreSQL server: `TRUSTPUB_TEST_POSTGRES_URL=postgres://… \
//! cargo bench -p trustpub --bench cluster` (`cargo xtask test` shows how to
//! start a throwaway one; the bench creates and drops its own databases).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
mod common;
#[path = "common/postgres.rs"]
mod pg;

use common::{AUD, OID, TID};
use trustpub::config::{ProviderSettings, Settings};
use trustpub::idp::{TestIdp, TestIdpServer, entra_app_token_claims};
use trustpub::server::RunningServer;

const EXCHANGES: usize = 2_000;
const CLIENTS: usize = 16;
const ADMIN: &str = "bench-admin-token-0123456789";

fn main() {
    let Ok(admin_url) = std::env::var("TRUSTPUB_TEST_POSTGRES_URL") else {
        eprintln!("cluster bench: set TRUSTPUB_TEST_POSTGRES_URL to a PostgreSQL server");
        return;
    };
    let databases: Vec<String> = (0..2).map(|_| pg::create_database(&admin_url)).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(&databases));
    drop(runtime);
    for url in &databases {
        pg::drop_database(&admin_url, url);
    }
}

async fn host(database: &str, dir: &Path, idp: &TestIdpServer) -> RunningServer {
    let evaluator = dir.join("entra-id.wasm");
    if !evaluator.exists() {
        std::fs::copy(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/components/entra-id.wasm"
            ),
            &evaluator,
        )
        .expect("copy the component (run `cargo xtask components` first)");
    }
    let settings = Settings {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        database: database.to_string(),
        rate_limit_per_address_per_minute: 0,
        rate_limit_per_username_per_minute: 0,
        max_concurrent_exchanges: 4096,
        watch_evaluators: false,
        compiled_cache_dir: Some(dir.join("compiled")),
        admin_token: Some(ADMIN.into()),
        providers: vec![ProviderSettings::new(
            "entra-id",
            evaluator.to_str().expect("path"),
            &idp.jwks_url(),
            toml::toml! { audience = "api://AzureADTokenExchange" },
        )],
        ..Settings::default()
    };
    trustpub::server::start(&settings).await.expect("server")
}

fn tokens(idp: &TestIdpServer, tag: &str, n: usize) -> Vec<String> {
    let now = trustpub::clock::unix_now();
    (0..n)
        .map(|i| {
            idp.mint(&entra_app_token_claims(
                TID,
                OID,
                AUD,
                now,
                &format!("{tag}-{i}"),
            ))
            .expect("mint")
        })
        .collect()
}

/// Sends every token once, `CLIENTS` at a time, spread over `bases`;
/// returns exchanges/s and the p99 latency.
async fn load(bases: &[String], tokens: Vec<String>) -> (f64, Duration) {
    let http = reqwest::Client::new();
    let tokens = Arc::new(tokens);
    let bases = Arc::new(bases.to_vec());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (http, bases, tokens, next) =
                (http.clone(), bases.clone(), tokens.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else {
                        break latencies;
                    };
                    let base = &bases[i % bases.len()];
                    let sent = Instant::now();
                    let r = http
                        .post(format!("{base}/api/v2/token"))
                        .bearer_auth(token)
                        .json(&json!({"username": "bench", "tokenType": "ApiKey"}))
                        .send()
                        .await
                        .expect("send");
                    assert_eq!(r.status(), 200, "every exchange succeeds");
                    latencies.push(sent.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for c in clients {
        latencies.extend(c.await.expect("client"));
    }
    let rate = tokens.len() as f64 / start.elapsed().as_secs_f64();
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    (rate, p99)
}

fn variant(bytes: &[u8], tag: &str) -> Vec<u8> {
    let name = b"trustpub-bench-variant";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0);
    out.push(payload.len() as u8);
    out.extend_from_slice(&payload);
    out
}

async fn active_digest(http: &reqwest::Client, base: &str) -> String {
    let list: Value = http
        .get(format!("{base}/admin/evaluators"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    list[0]["digest"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("sha256:")
        .to_string()
}

async fn run(databases: &[String]) {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let idp = TestIdpServer::start(TestIdp::rs256("bench").expect("key"), loopback)
        .await
        .expect("idp");
    let http = reqwest::Client::new();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();

    let sqlite = format!("sqlite://{}", dirs[0].path().join("bench.db").display());
    let one = host(&sqlite, dirs[0].path(), &idp).await;
    let base = format!("http://{}", one.addr);
    common::bench_user_and_policy(&http, &base, ADMIN).await;
    let (rate, p99) = load(
        std::slice::from_ref(&base),
        tokens(&idp, "sqlite", EXCHANGES),
    )
    .await;
    println!("SQLite, one host              {rate:>8.0} exchanges/s   p99 {p99:>8.1?}");
    one.stop().await;

    let one = host(&databases[0], dirs[1].path(), &idp).await;
    let base = format!("http://{}", one.addr);
    common::bench_user_and_policy(&http, &base, ADMIN).await;
    let (rate, p99) = load(std::slice::from_ref(&base), tokens(&idp, "pg1", EXCHANGES)).await;
    println!("PostgreSQL, one host          {rate:>8.0} exchanges/s   p99 {p99:>8.1?}");
    one.stop().await;

    let a = host(&databases[1], dirs[1].path(), &idp).await;
    let b = host(&databases[1], dirs[2].path(), &idp).await;
    let (base_a, base_b) = (format!("http://{}", a.addr), format!("http://{}", b.addr));
    common::bench_user_and_policy(&http, &base_a, ADMIN).await;
    let bases = [base_a.clone(), base_b.clone()];
    let (rate, p99) = load(&bases, tokens(&idp, "pg2", EXCHANGES)).await;
    println!("PostgreSQL, two hosts         {rate:>8.0} exchanges/s   p99 {p99:>8.1?}");

    let component = std::fs::read(dirs[1].path().join("entra-id.wasm")).expect("component");
    let mut samples = Vec::new();
    let mut probe = tokens(&idp, "push", 2_000).into_iter();
    for round in 0..5 {
        let bytes = variant(&component, &format!("round-{round}"));
        let digest = trustpub::runtime::component_digest(&bytes);
        let sent = Instant::now();
        let r = http
            .put(format!("{base_a}/admin/evaluators/entra-id"))
            .bearer_auth(ADMIN)
            .body(bytes)
            .send()
            .await
            .expect("put");
        assert_eq!(r.status(), 200);
        // The first exchange B answers after it runs the new digest.
        loop {
            let adopted = active_digest(&http, &base_b).await == digest;
            let token = probe.next().expect("enough tokens");
            let r = http
                .post(format!("{base_b}/api/v2/token"))
                .bearer_auth(token)
                .json(&json!({"username": "bench", "tokenType": "ApiKey"}))
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 200);
            if adopted {
                break;
            }
        }
        samples.push(sent.elapsed());
    }
    samples.sort();
    println!(
        "PUT on A → first exchange by the new digest on B: median {:.1?} (min {:.1?}, max {:.1?}, 5 rounds)",
        samples[2], samples[0], samples[4]
    );
    a.stop().await;
    b.stop().await;
    idp.stop().await;
}
