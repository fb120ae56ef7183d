//! Exchanges per second over HTTP on loopback — unique tokens, each a full
//! exchange with a durable SQLite commit — next to the machine's raw RS256
//! verifications per second with the same crypto, in one run.
//!
//! `cargo xtask components && cargo bench -p trustpub --bench exchange`

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
mod common;

use common::{AUD, OID, TID};
use trustpub::config::{ProviderSettings, Settings};
use trustpub::idp::{TestIdp, TestIdpServer, entra_app_token_claims};
use trustpub::jose::jws::{DEFAULT_MAX_TOKEN_BYTES, verify_jws};
use trustpub::jose::key_set::KeySet;

const EXCHANGES: usize = 2_000;
const CLIENTS: usize = 16;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let idp = TestIdpServer::start(TestIdp::rs256("bench").expect("key"), loopback)
        .await
        .expect("idp");
    let admin = "bench-admin-token-0123456789";
    let settings = Settings {
        listen: loopback,
        database: format!("sqlite://{}", dir.path().join("bench.db").display()),
        // Load from one address for one user: the limits would refuse it.
        rate_limit_per_address_per_minute: 0,
        rate_limit_per_username_per_minute: 0,
        max_concurrent_exchanges: 4096,
        admin_token: Some(admin.into()),
        providers: vec![ProviderSettings::new(
            "entra-id",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/components/entra-id.wasm"
            ),
            &idp.jwks_url(),
            toml::toml! { audience = "api://AzureADTokenExchange" },
        )],
        ..Settings::default()
    };
    let server = trustpub::server::start(&settings)
        .await
        .expect("server (run `cargo xtask components` first)");
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    common::bench_user_and_policy(&http, &base, admin).await;

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let tokens: Vec<String> = (0..EXCHANGES)
        .map(|i| {
            idp.mint(&entra_app_token_claims(
                TID,
                OID,
                AUD,
                now,
                &format!("bench-{i}"),
            ))
            .expect("mint")
        })
        .collect();

    // Raw RS256 verification with the same code path the sandbox import uses.
    let keys = KeySet::from_json(&idp.jwks().to_string()).expect("jwks");
    let iss = format!("https://login.microsoftonline.com/{TID}/v2.0");
    let start = Instant::now();
    for token in &tokens {
        verify_jws(token, &iss, &keys, DEFAULT_MAX_TOKEN_BYTES).expect("valid");
    }
    let verify_per_sec = tokens.len() as f64 / start.elapsed().as_secs_f64();

    let tokens = Arc::new(tokens);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (http, base, tokens, next) =
                (http.clone(), base.clone(), tokens.clone(), next.clone());
            tokio::spawn(async move {
                let mut ok = 0usize;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else { break ok };
                    let r = http
                        .post(format!("{base}/api/v2/token"))
                        .bearer_auth(token)
                        .json(&json!({"username": "bench", "tokenType": "ApiKey"}))
                        .send()
                        .await
                        .expect("send");
                    ok += usize::from(r.status() == 200);
                }
            })
        })
        .collect();
    let mut ok = 0;
    for c in clients {
        ok += c.await.expect("client");
    }
    let elapsed = start.elapsed();
    assert_eq!(ok, EXCHANGES, "every exchange succeeds");
    let exchanges_per_sec = EXCHANGES as f64 / elapsed.as_secs_f64();
    println!("RS256 verifications/s (1 thread)         {verify_per_sec:>10.0}");
    println!("exchanges/s over HTTP ({CLIENTS} clients)       {exchanges_per_sec:>10.0}");
    println!(
        "exchange / raw verification                {:>9.2}x",
        exchanges_per_sec / verify_per_sec
    );
    server.stop().await;
    idp.stop().await;
}
