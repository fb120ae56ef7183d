//! The outside load benchmark: `trustpub serve` as its own process on
//! loopback with a durable SQLite database, driven by this process over
//! `CONNECTIONS` keep-alive connections with a fresh, pre-minted token per
//! request. Reports exchanges/s, latency percentiles, errors and the
//! server's peak RSS, and in the same run the machine's bare `ring` RS256
//! verifications/s on one core (the floor any exchange pays).
//!
//! `cargo xtask components && cargo bench -p trustpub --bench load`
//! (`TRUSTPUB_LOAD_EXCHANGES`, `TRUSTPUB_LOAD_CONNECTIONS` override the
//! defaults of 20,000 and 16).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde_json::json;
use trustpub::idp::{TestIdp, TestIdpServer, entra_app_token_claims};
use trustpub::jose::key_set::{KeyMaterial, KeySet};

mod common;
use common::{AUD, OID, TID};

const ADMIN: &str = "load-admin-token-0123456789abcdef";

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

/// Tokens minted on every core: RSA signing is the slow part of the setup.
fn mint(idp: &TestIdpServer, count: usize, now: u64) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..count)
                        .step_by(threads)
                        .map(|i| {
                            let claims = entra_app_token_claims(
                                TID,
                                OID,
                                AUD,
                                now,
                                &format!("load-{now}-{i}"),
                            );
                            idp.mint(&claims).expect("mint")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("minting thread"))
            .collect()
    })
}

/// Bare `ring` RS256 verifications per second on this thread, for one second.
fn ring_verifications_per_second(idp: &TestIdpServer, token: &str) -> f64 {
    let keys = KeySet::from_json(&idp.jwks().to_string()).expect("jwks");
    let key = keys.get("load").expect("key");
    let KeyMaterial::Rsa { n, e } = &key.material else {
        unreachable!("an RSA key")
    };
    let (input, signature) = token.rsplit_once('.').expect("a JWS");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64");
    let start = Instant::now();
    let mut done = 0u32;
    while start.elapsed() < Duration::from_secs(1) {
        RsaPublicKeyComponents { n, e }
            .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &signature)
            .expect("verifies");
        done += 1;
    }
    f64::from(done) / start.elapsed().as_secs_f64()
}

/// Peak resident memory of a process, from Linux's `/proc`.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel's USER_HZ, 100 on Linux.
    Some(ticks / 100.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

async fn run() {
    let exchanges = setting("TRUSTPUB_LOAD_EXCHANGES", 20_000);
    let connections = setting("TRUSTPUB_LOAD_CONNECTIONS", 16);
    let dir = tempfile::tempdir().expect("tempdir");
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let idp = TestIdpServer::start(TestIdp::rs256("load").expect("key"), loopback)
        .await
        .expect("idp");
    let config = format!(
        r#"listen = "127.0.0.1:0"
database = "sqlite://{db}"
admin_token = "{ADMIN}"
# One client address and one user send all the load.
rate_limit_per_address_per_minute = 0
rate_limit_per_username_per_minute = 0
max_concurrent_exchanges = 4096

[[providers]]
name = "entra-id"
evaluator = "{evaluator}"
jwks_url = "{jwks}"
[providers.config]
audience = "{AUD}"
"#,
        db = dir.path().join("load.db").display(),
        evaluator = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/components/entra-id.wasm"
        ),
        jwks = idp.jwks_url(),
    );
    let config_path = dir.path().join("trustpub.toml");
    std::fs::write(&config_path, config).expect("config");
    let mut server = Command::new(env!("CARGO_BIN_EXE_trustpub"))
        .args(["serve", "--config", &config_path.display().to_string()])
        .env_remove("TRUSTPUB_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn trustpub serve (run `cargo xtask components` first)");
    let stdout = server.stdout.take().expect("stdout");
    let base = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("trustpub listening on ")
                .map(|u| u.trim().to_string())
        })
        .expect("trustpub serve did not start");

    let http = reqwest::Client::new();
    common::bench_user_and_policy(&http, &base, ADMIN).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let started = Instant::now();
    let tokens = Arc::new(mint(&idp, exchanges, now));
    eprintln!(
        "{exchanges} tokens minted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let ring_per_sec = ring_verifications_per_second(&idp, &tokens[0]);

    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = cpu_seconds(server.id());
    let start = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let (http, base, tokens, next) =
                (http.clone(), base.clone(), tokens.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else {
                        break (latencies, errors);
                    };
                    let sent = Instant::now();
                    let answer = http
                        .post(format!("{base}/api/v2/token"))
                        .bearer_auth(token)
                        .json(&json!({"username": "bench", "tokenType": "ApiKey"}))
                        .send()
                        .await;
                    let ok = match answer {
                        Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    latencies.push(sent.elapsed());
                    errors += usize::from(!ok);
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(exchanges);
    let mut errors = 0;
    for c in clients {
        let (l, e) = c.await.expect("client");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    let rss = peak_rss_mib(server.id());
    let cpu = cpu_seconds(server.id()).zip(cpu_before).map(|(a, b)| a - b);
    let _ = server.kill();
    let _ = server.wait();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("| measure | value |");
    println!("|---|---|");
    println!("| exchanges | {exchanges} over {connections} connections |");
    println!(
        "| exchanges/s | {:.0} |",
        exchanges as f64 / elapsed.as_secs_f64()
    );
    println!("| p50 | {:.2} ms |", ms(percentile(&latencies, 0.50)));
    println!("| p99 | {:.2} ms |", ms(percentile(&latencies, 0.99)));
    println!("| p99.9 | {:.2} ms |", ms(percentile(&latencies, 0.999)));
    println!("| errors | {errors} |");
    match rss {
        Some(mib) => println!("| server peak RSS | {mib:.1} MiB |"),
        None => println!("| server peak RSS | unknown (no /proc) |"),
    }
    if let Some(cpu) = cpu {
        println!(
            "| server CPU per exchange | {:.0} µs |",
            cpu * 1e6 / exchanges as f64
        );
    }
    println!("| bare ring RS256 verifications/s (1 core) | {ring_per_sec:.0} |");
    idp.stop().await;
}
