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
//! `trustpub` binary).
//!
//! With `TRUSTPUB_LOAD_REFUSED=1` every token is for another audience, so
//! every answer is a 401 (anything else counts as an error): the path a
//! flood of bad tokens takes, each attempt audited.
//!
//! With `TRUSTPUB_LOAD_POSTGRES_URL` (a PostgreSQL server's URL, as the
//! tests take it) every run gets a fresh PostgreSQL database there instead
//! of a SQLite file, dropped after the run.
//!
//! To compare two builds in one run, set `TRUSTPUB_LOAD_ALTERNATIVE` to
//! another `trustpub` binary and/or `TRUSTPUB_LOAD_ALTERNATIVE_EVALUATOR` to
//! another component: the two run in turn, `TRUSTPUB_LOAD_ROUNDS` times
//! (default 4; the alternative first in every other round), each on a fresh
//! database with the same tokens, and the report ends with alternative /
//! main per round and the median of those ratios.

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
#[path = "common/postgres.rs"]
mod pg;
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
fn mint(idp: &TestIdpServer, count: usize, now: u64, audience: &str) -> Vec<String> {
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
                                audience,
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

/// A server build and the component it runs.
struct Variant {
    label: &'static str,
    binary: String,
    evaluator: String,
}

/// What one run of every token through one server measured.
struct Measured {
    exchanges_per_second: f64,
    latencies: Vec<Duration>,
    errors: usize,
    rss_mib: Option<f64>,
    server_cpu_us: Option<f64>,
    generator_cpu_us: Option<f64>,
}

/// The build to measure, and the one to compare it with when
/// `TRUSTPUB_LOAD_ALTERNATIVE` (a `trustpub` binary) or
/// `TRUSTPUB_LOAD_ALTERNATIVE_EVALUATOR` (a component) is set.
fn variants() -> Vec<Variant> {
    let main = Variant {
        label: "main",
        binary: std::env::var("TRUSTPUB_LOAD_SERVER")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_trustpub").to_string()),
        evaluator: concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/components/entra-id.wasm"
        )
        .to_string(),
    };
    let binary = std::env::var("TRUSTPUB_LOAD_ALTERNATIVE").ok();
    let evaluator = std::env::var("TRUSTPUB_LOAD_ALTERNATIVE_EVALUATOR").ok();
    if binary.is_none() && evaluator.is_none() {
        return vec![main];
    }
    let alternative = Variant {
        label: "alternative",
        binary: binary.unwrap_or_else(|| main.binary.clone()),
        evaluator: evaluator.unwrap_or_else(|| main.evaluator.clone()),
    };
    vec![main, alternative]
}

async fn run() {
    let exchanges = setting("TRUSTPUB_LOAD_EXCHANGES", 20_000);
    let connections = setting("TRUSTPUB_LOAD_CONNECTIONS", 16);
    let variants = variants();
    // Two builds alternate, round after round, so a busy minute of the
    // machine's other tenants lands on both; every other round the
    // alternative goes first (main, alt, alt, main, …), so a machine that
    // slowly gets busier or quieter does not favour whichever runs first.
    let rounds = setting(
        "TRUSTPUB_LOAD_ROUNDS",
        if variants.len() > 1 { 4 } else { 1 },
    );
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let idp = TestIdpServer::start(TestIdp::rs256("load").expect("key"), loopback)
        .await
        .expect("idp");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let started = Instant::now();
    // Every server starts with an empty database, so each can take the
    // same tokens once.
    // Refused tokens: the evaluator's audience check fails them all.
    let refused = std::env::var_os("TRUSTPUB_LOAD_REFUSED").is_some();
    let (audience, expected) = if refused {
        ("api://another-audience", 401)
    } else {
        (AUD, 200)
    };
    let tokens = mint(&idp, exchanges, now, audience);
    eprintln!(
        "{exchanges} tokens minted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let ring_per_sec = ring_verifications_per_second(&idp, &tokens[0]);

    let mut runs = Vec::new();
    for round in 1..=rounds {
        let mut order: Vec<&Variant> = variants.iter().collect();
        if round % 2 == 0 {
            order.reverse();
        }
        for variant in order {
            let measured = drive(variant, &idp, &tokens, connections, expected).await;
            eprintln!(
                "{} {round}: {:.0} exchanges/s",
                variant.label, measured.exchanges_per_second
            );
            let column = if rounds == 1 && variants.len() == 1 {
                "value".to_string()
            } else {
                format!("{} {round}", variant.label)
            };
            runs.push((column, measured));
        }
    }
    println!(
        "{exchanges} exchanges over {connections} connections per run{}\n",
        if refused {
            ", every token refused (401 expected)"
        } else {
            ""
        }
    );
    print_runs(&runs);
    if variants.len() > 1 {
        print_ratios(&runs);
    }
    println!("\nbare ring RS256 verifications/s (1 core): {ring_per_sec:.0}");
    idp.stop().await;
}

/// Starts `variant` on a fresh database, sends every token through it, and
/// stops it.
async fn drive(
    variant: &Variant,
    idp: &TestIdpServer,
    tokens: &[String],
    connections: usize,
    expected: u16,
) -> Measured {
    let dir = tempfile::tempdir().expect("tempdir");
    let postgres = std::env::var("TRUSTPUB_LOAD_POSTGRES_URL").ok();
    let database = match &postgres {
        Some(admin) => {
            let admin = admin.clone();
            tokio::task::spawn_blocking(move || pg::create_database(&admin))
                .await
                .expect("create the database")
        }
        None => format!("sqlite://{}", dir.path().join("load.db").display()),
    };
    let config = format!(
        r#"listen = "127.0.0.1:0"
database = "{database}"
admin_token = "{ADMIN}"
# One client address and one user send all the load.
rate_limit_per_address_per_minute = 0
rate_limit_per_username_per_minute = 0
max_concurrent_exchanges = 4096
# In the run's directory, on PostgreSQL too (whose default is the working
# directory's `trustpub-compiled/`).
compiled_cache_dir = "{compiled}"

[[providers]]
name = "entra-id"
evaluator = "{evaluator}"
jwks_url = "{jwks}"
[providers.config]
audience = "{AUD}"
"#,
        compiled = dir.path().join("compiled").display(),
        evaluator = variant.evaluator,
        jwks = idp.jwks_url(),
    );
    let config_path = dir.path().join("trustpub.toml");
    std::fs::write(&config_path, config).expect("config");
    let mut server = Command::new(&variant.binary)
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
    common::bench_user_and_policy(&reqwest::Client::new(), &base, ADMIN).await;

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
    let cpu_before = cpu_seconds(server.id());
    let own_cpu_before = cpu_seconds(std::process::id());
    let start = Instant::now();
    let (mut latencies, errors) = send_all(&address, &requests, connections, expected);
    let elapsed = start.elapsed();
    let rss_mib = peak_rss_mib(server.id());
    let cpu = cpu_seconds(server.id()).zip(cpu_before).map(|(a, b)| a - b);
    let own_cpu = cpu_seconds(std::process::id())
        .zip(own_cpu_before)
        .map(|(a, b)| a - b);
    let _ = server.kill();
    let _ = server.wait();
    if let Some(admin) = postgres {
        tokio::task::spawn_blocking(move || pg::drop_database(&admin, &database))
            .await
            .expect("drop the database");
    }
    latencies.sort();
    let per_exchange = |seconds: f64| seconds * 1e6 / tokens.len() as f64;
    Measured {
        exchanges_per_second: tokens.len() as f64 / elapsed.as_secs_f64(),
        latencies,
        errors,
        rss_mib,
        server_cpu_us: cpu.map(per_exchange),
        generator_cpu_us: own_cpu.map(per_exchange),
    }
}

/// One thread per connection, each sending its next request when the last
/// answer is in (a closed loop, as wrk does). Returns every latency and the
/// number of answers other than `expected`.
fn send_all(
    address: &str,
    requests: &Arc<Vec<Vec<u8>>>,
    connections: usize,
    expected: u16,
) -> (Vec<Duration>, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let (address, requests, next) = (address.to_string(), requests.clone(), next.clone());
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
                        Ok(status) => status == expected,
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
    let mut latencies = Vec::with_capacity(requests.len());
    let mut errors = 0;
    for c in clients {
        let (l, e) = c.join().expect("client");
        latencies.extend(l);
        errors += e;
    }
    (latencies, errors)
}

/// A measure's name and how to show it for one run.
type Row = (&'static str, fn(&Measured) -> String);

fn milliseconds(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn or_unknown(value: Option<String>) -> String {
    value.unwrap_or_else(|| "unknown (no /proc)".into())
}

const ROWS: [Row; 8] = [
    ("exchanges/s", |m| format!("{:.0}", m.exchanges_per_second)),
    ("p50", |m| milliseconds(percentile(&m.latencies, 0.50))),
    ("p99", |m| milliseconds(percentile(&m.latencies, 0.99))),
    ("p99.9", |m| milliseconds(percentile(&m.latencies, 0.999))),
    ("errors", |m| m.errors.to_string()),
    ("server peak RSS", |m| {
        or_unknown(m.rss_mib.map(|mib| format!("{mib:.1} MiB")))
    }),
    ("server CPU per exchange", |m| {
        or_unknown(m.server_cpu_us.map(|us| format!("{us:.0} µs")))
    }),
    ("load generator CPU per exchange", |m| {
        or_unknown(m.generator_cpu_us.map(|us| format!("{us:.0} µs")))
    }),
];

/// A table with a column per run.
fn print_runs(runs: &[(String, Measured)]) {
    let header: Vec<&str> = runs.iter().map(|(column, _)| column.as_str()).collect();
    println!("| measure | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(runs.len()));
    for (name, show) in ROWS {
        let cells: Vec<String> = runs.iter().map(|(_, m)| show(m)).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
}

/// Alternative over main, round by round: the comparison the two builds
/// were run for.
fn print_ratios(runs: &[(String, Measured)]) {
    println!(
        "\n| round | exchanges/s, alternative / main | server CPU per exchange, alternative / main |"
    );
    println!("|---|---|---|");
    let (mut throughput, mut cpu_ratios) = (Vec::new(), Vec::new());
    for (round, pair) in runs.chunks_exact(2).enumerate() {
        // Each round ran both, in either order.
        let (main, alternative) = if pair[0].0.starts_with("main") {
            (&pair[0].1, &pair[1].1)
        } else {
            (&pair[1].1, &pair[0].1)
        };
        let ratio = alternative.exchanges_per_second / main.exchanges_per_second;
        throughput.push(ratio);
        let cpu = alternative
            .server_cpu_us
            .zip(main.server_cpu_us)
            .map(|(a, b)| a / b);
        cpu_ratios.extend(cpu);
        let cpu = cpu.map_or("unknown".into(), |r| format!("{r:.2}x"));
        println!("| {} | {ratio:.2}x | {cpu} |", round + 1);
    }
    let cpu = median(&mut cpu_ratios).map_or("unknown".into(), |r| format!("{r:.2}x"));
    let throughput = median(&mut throughput).map_or("unknown".into(), |r| format!("{r:.2}x"));
    println!("| median | {throughput} | {cpu} |");
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}
