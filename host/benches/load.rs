//! The outside load benchmark: `trustpub serve` as its own process on
//! loopback with a durable SQLite database, driven by this process over
//! `CONNECTIONS` keep-alive connections (a thread each, sending pre-formatted
//! HTTP/1.1 requests: a light generator, since it shares the machine) with a
//! fresh, pre-minted token per request. Reports exchanges/s, latency
//! percentiles, errors, the server's peak RSS and CPU per exchange, the
//! generator's own CPU per exchange, and in the same run the machine's bare
//! `ring` RS256 verifications/s on one core (the floor any exchange pays).
//!
//! `cargo xtask components && cargo bench -p trustpub --bench load`
//! (`TRUSTPUB_LOAD_EXCHANGES`, `TRUSTPUB_LOAD_CONNECTIONS` override the
//! defaults of 20,000 and 16; `TRUSTPUB_LOAD_SERVER` runs another
//! `trustpub` binary, to compare two builds).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
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

/// The exchange request `NuGet/login` sends, as bytes on the wire.
fn exchange_request(host: &str, token: &str) -> Vec<u8> {
    let body = r#"{"username":"bench","tokenType":"ApiKey"}"#;
    format!(
        "POST /api/v2/token HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A keep-alive HTTP/1.1 connection that sends pre-formatted requests and
/// reads each answer by its `Content-Length`: the least a load generator
/// can do per request, so the server gets as much of the machine as it can.
struct RawConnection {
    stream: BufReader<TcpStream>,
    head: Vec<u8>,
    body: Vec<u8>,
}

impl RawConnection {
    fn open(address: &str) -> std::io::Result<Self> {
        let stream = TcpStream::connect(address)?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
            head: Vec::new(),
            body: Vec::new(),
        })
    }

    /// Sends one request and reads its whole answer; returns the status.
    fn round_trip(&mut self, request: &[u8]) -> std::io::Result<u16> {
        let invalid =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
        self.stream.get_mut().write_all(request)?;
        self.head.clear();
        while !self.head.ends_with(b"\r\n\r\n") {
            if self.stream.read_until(b'\n', &mut self.head)? == 0 {
                return Err(invalid("connection closed"));
            }
        }
        let head = std::str::from_utf8(&self.head).map_err(|_| invalid("head not UTF-8"))?;
        let status = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("no status"))?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .ok_or_else(|| invalid("no Content-Length"))?;
        self.body.resize(length, 0);
        self.stream.read_exact(&mut self.body)?;
        Ok(status)
    }
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
    // Another build of the server, to compare two in one session.
    let binary = std::env::var("TRUSTPUB_LOAD_SERVER")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_trustpub").to_string());
    let mut server = Command::new(binary)
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
    let tokens = mint(&idp, exchanges, now);
    eprintln!(
        "{exchanges} tokens minted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let ring_per_sec = ring_verifications_per_second(&idp, &tokens[0]);

    let address = base
        .strip_prefix("http://")
        .expect("an http:// address")
        .to_string();
    // Formatted before the clock starts, as the tokens were minted.
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        tokens
            .iter()
            .map(|token| exchange_request(&address, token))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = cpu_seconds(server.id());
    let own_cpu_before = cpu_seconds(std::process::id());
    let start = Instant::now();
    // One thread per connection, each sending its next request when the
    // last answer is in (a closed loop, as wrk does).
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let (address, requests, next) = (address.clone(), requests.clone(), next.clone());
            std::thread::spawn(move || {
                let mut connection = RawConnection::open(&address).expect("connect");
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(request) = requests.get(i) else {
                        break (latencies, errors);
                    };
                    let sent = Instant::now();
                    let ok = match connection.round_trip(request) {
                        Ok(status) => status == 200,
                        Err(_) => {
                            // The connection is unusable after a failed read.
                            connection = RawConnection::open(&address).expect("reconnect");
                            false
                        }
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
        let (l, e) = c.join().expect("client");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    let rss = peak_rss_mib(server.id());
    let cpu = cpu_seconds(server.id()).zip(cpu_before).map(|(a, b)| a - b);
    let own_cpu = cpu_seconds(std::process::id())
        .zip(own_cpu_before)
        .map(|(a, b)| a - b);
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
    if let Some(cpu) = own_cpu {
        println!(
            "| load generator CPU per exchange | {:.0} µs |",
            cpu * 1e6 / exchanges as f64
        );
    }
    println!("| bare ring RS256 verifications/s (1 core) | {ring_per_sec:.0} |");
    idp.stop().await;
}
