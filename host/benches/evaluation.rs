//! The cost of deciding one exchange as the number of stored policies grows:
//! `validate` in a fresh sandbox, the candidate lookup by index key in a real
//! SQLite file, then `match-candidates` — at 1, 11, 10,000 and 1,000,000
//! stored entra-id policies. Beside it, in the same run: the same crate
//! compiled natively (same lookup), and regorus evaluating the same checks
//! and tenant/object match written in Rego over 11 and 10,000 policies. Signatures are not checked (a payload-only verifier) so the rows
//! compare rules, lookup and sandbox, not RSA; one row adds RS256 for scale.
//! The component is called as the exchange calls it, with the `iss` the
//! exchange read to route the token; routing itself is in neither row.
//! Rows take turns in rounds, so a burst of other work on this shared
//! machine lands on all of them and the ratios within one run hold.
//!
//! `cargo xtask components && cargo bench -p trustpub --bench evaluation`
//! (about 3 minutes, a third of it writing the 1,000,000 policies).
//!
//! For a profiler, `TRUSTPUB_EVAL_ONLY=component|component-rs256|native|regorus`
//! runs that row alone at 11 policies, `TRUSTPUB_EVAL_RUNS` times (1,000),
//! with the alternative build below when one is given.
//! `TRUSTPUB_EVAL_ALTERNATIVE=<file.wasm>` adds a row for another build of
//! the entra-id component (another opt-level, say) in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::params;
use serde_json::json;
use trustpub::idp::{TestIdp, entra_app_token_claims};
use trustpub::jose::jws::{DEFAULT_MAX_TOKEN_BYTES, KeyVerifier};
use trustpub::jose::key_set::KeySet;
use trustpub::runtime::{
    Evaluation, EvaluatorRuntime, LoadedEvaluator, SandboxLimits, SharedVerifier,
};
use trustpub::store::{SqliteStore, Store, StoredPolicy};
use trustpub::{Candidate, Validation};
use trustpub_entra_id::EntraId;
use trustpub_guest::{MatchResult, Session, SignatureVerifier};

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID: &str = "0d5a3b1c-7e21-4c8e-9f6d-1b2a3c4d5e6f";
/// The bench token's `iss` (checked when it is minted).
const ISSUER: &str = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
const AUD: &str = "api://AzureADTokenExchange";
const PROVIDER: &str = "entra-id";
/// Samples per row (in `ROUNDS` interleaved rounds).
const ITERATIONS: usize = 2_000;
const ROUNDS: usize = 20;
const USERS: u64 = 100;

/// Returns the payload without checking the signature: isolates the cost
/// of the rules (and of crossing into the sandbox) from the crypto. Like the
/// host's verifier it returns the payload's text as the token carries it, so
/// the evaluator can tell it is the text it parsed already (an earlier
/// version re-serialized it, which made both rows parse the payload twice
/// where an exchange parses it once).
struct PayloadOnly;

impl SignatureVerifier for PayloadOnly {
    fn verify_jws(&self, token: &str, _issuer: &str) -> Result<String, String> {
        let payload = token.split('.').nth(1).ok_or("not a JWS")?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| "the payload is not base64url")?;
        String::from_utf8(bytes).map_err(|_| "the payload is not UTF-8".to_string())
    }
}

/// The object id of stored policy `i`; policy 0 is the token's.
fn oid(i: u64) -> String {
    if i == 0 {
        OID.to_string()
    } else {
        format!("{:08x}-7e21-4c8e-9f6d-{:012x}", i % 0xffff_ffff, i)
    }
}

/// A store with `n` entra-id policies spread over 100 users, written in one
/// transaction straight into the schema (the API would take one disk sync
/// per policy). The keys are what the evaluator's `check-criteria` gives.
fn store_with(n: u64, dir: &std::path::Path) -> Arc<SqliteStore> {
    let path = dir.join(format!("policies-{n}.db"));
    let path = path.to_str().expect("utf-8 path");
    drop(SqliteStore::open(path).expect("schema"));
    let mut conn = rusqlite::Connection::open(path).expect("open");
    conn.pragma_update(None, "synchronous", "OFF")
        .expect("pragma");
    let tx = conn.transaction().expect("tx");
    for u in 0..USERS {
        tx.execute(
            "INSERT INTO users (id, username, created_at) VALUES (?1, ?2, 0)",
            params![u as i64 + 1, format!("user{u}")],
        )
        .expect("user");
    }
    {
        let mut policy = tx
            .prepare(
                "INSERT INTO policies (id, user_id, provider, owner, criteria, scopes, created_at, renewed_at) \
                 VALUES (?1, ?2, ?3, 'owner', ?4, '[]', 0, 0)",
            )
            .expect("prepare");
        let mut key = tx
            .prepare("INSERT INTO policy_index_keys (provider, key, policy_id) VALUES (?1, ?2, ?3)")
            .expect("prepare");
        for i in 0..n {
            let oid = oid(i);
            let criteria = json!({"tid": TID, "oid": oid}).to_string();
            let id = i as i64 + 1;
            policy
                .execute(params![id, (i % USERS) as i64 + 1, PROVIDER, criteria])
                .expect("policy");
            key.execute(params![PROVIDER, format!("{TID}/{oid}"), id])
                .expect("key");
        }
    }
    tx.commit().expect("commit");
    Arc::new(SqliteStore::open(path).expect("reopen"))
}

fn candidates(store: &SqliteStore, keys: &[String]) -> Vec<Candidate> {
    store
        .candidates(PROVIDER, keys, None)
        .expect("lookup")
        .into_iter()
        .map(|p: StoredPolicy| Candidate {
            id: p.id,
            criteria: p.criteria,
            pins: p.pins,
        })
        .collect()
}

/// Validate, look up, match in one sandbox.
fn through_component(
    evaluator: &LoadedEvaluator,
    verifier: &SharedVerifier,
    store: &SqliteStore,
    token: &str,
    config: &str,
    now: u64,
) {
    let mut session = evaluator.session_with(verifier.clone()).expect("instance");
    // As the exchange calls it: it has read `iss` to route the token already,
    // and the native row does not route at all.
    let validation = session.validate_routed(token, ISSUER, config, now);
    let Validation::Valid(facts) = validation.expect("validate") else {
        panic!("the bench token is valid");
    };
    let found = candidates(store, &facts.lookup_keys);
    match session.match_candidates(&found).expect("match") {
        Evaluation::Matched(m) => assert_eq!(m.policy_id, 1),
        other => panic!("{other:?}"),
    }
}

/// The same, natively.
fn native(
    store: &SqliteStore,
    token: &str,
    config: &str,
    now: u64,
    verifier: &dyn SignatureVerifier,
) {
    let mut session = Session::<EntraId>::new();
    let Validation::Valid(facts) = session.validate(token, config, now, verifier) else {
        panic!("the bench token is valid");
    };
    let found = candidates(store, &facts.lookup_keys);
    assert!(matches!(
        session.match_candidates(&found),
        MatchResult::Matched(ref m) if m.policy_id == 1
    ));
}

/// The entra-id evaluator's checks and match in Rego: the token's claims
/// (decoded from the payload, as the payload-only verifier gives them to the
/// component) and the provider's config are the input, the policies data.
const REGO: &str = r#"
package trustpub
import rego.v1

claims := input.claims
skew := input.config.clock_skew_seconds

valid if {
    parts := split(claims.iss, "/")
    count(parts) == 5
    startswith(claims.iss, "https://login.microsoftonline.com/")
    parts[4] == "v2.0"
    lower(parts[3]) == lower(claims.tid)
    claims.aud == input.config.audience
    claims.exp + skew >= input.now
    claims.nbf - skew <= input.now
    claims.iat - skew <= input.now
    claims.ver == "2.0"
    not claims.scp
    object.get(claims, "idtyp", "app") == "app"
    lower(claims.sub) == lower(claims.oid)
    claims.azpacr == "2"
    is_string(claims.uti)
    claims.uti != ""
}

matched contains p.id if {
    valid
    some p in data.policies
    lower(p.tid) == lower(claims.tid)
    lower(p.oid) == lower(claims.oid)
}
"#;

/// regorus with `n` entra-id policies as data, deciding from the token's
/// payload: decode, then the checks and the match above.
fn rego_engine(n: u64) -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine
        .add_policy("trustpub.rego".into(), REGO.into())
        .expect("rego");
    let policies: Vec<_> = (0..n)
        .map(|i| json!({"id": i + 1, "tid": TID, "oid": oid(i)}))
        .collect();
    engine
        .add_data_json(&json!({"policies": policies}).to_string())
        .expect("data");
    engine
}

fn through_rego(engine: &mut regorus::Engine, token: &str, config: &str, now: u64) {
    let claims = PayloadOnly.verify_jws(token, "").expect("payload");
    let input = format!(r#"{{"claims":{claims},"config":{config},"now":{now}}}"#);
    engine.set_input_json(&input).expect("input");
    let matched = engine
        .eval_rule("data.trustpub.matched".into())
        .expect("eval");
    let matched: serde_json::Value =
        serde_json::from_str(&matched.to_json_str().expect("json")).expect("json");
    assert_eq!(
        matched,
        json!([1]),
        "the bench token matches policy 1 alone"
    );
}

fn main() {
    let component = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/components/entra-id.wasm"
    ))
    .expect("target/components/entra-id.wasm: run `cargo xtask components` first");
    let runtime = EvaluatorRuntime::new(SandboxLimits::default()).expect("runtime");
    let evaluator = runtime.load(&component).expect("load");
    let alternative = std::env::var_os("TRUSTPUB_EVAL_ALTERNATIVE").map(|path| {
        runtime
            .load(&std::fs::read(path).expect("TRUSTPUB_EVAL_ALTERNATIVE"))
            .expect("load the alternative build")
    });
    let idp = TestIdp::rs256("bench").expect("key");
    let keys = Arc::new(KeySet::from_json(&idp.jwks().to_string()).expect("jwks"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = entra_app_token_claims(TID, OID, AUD, now, "bench-uti");
    assert_eq!(claims["iss"], ISSUER, "the routed issuer is the token's");
    let token = idp.mint(&claims).expect("mint");
    let config = json!({"audience": AUD, "clock_skew_seconds": 300}).to_string();
    let payload_only: SharedVerifier = Arc::new(PayloadOnly);
    let rs256: SharedVerifier = Arc::new(KeyVerifier::new(keys, DEFAULT_MAX_TOKEN_BYTES));
    let dir = tempfile::tempdir().expect("tempdir");

    if let Ok(only) = std::env::var("TRUSTPUB_EVAL_ONLY") {
        // One row at 11 policies, for a profiler (callgrind, perf).
        let runs = std::env::var("TRUSTPUB_EVAL_RUNS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(1_000);
        let store = store_with(11, dir.path());
        let mut engine = rego_engine(11);
        let evaluator = alternative.as_ref().unwrap_or(&evaluator);
        for _ in 0..runs {
            match only.as_str() {
                "component" => {
                    through_component(evaluator, &payload_only, &store, &token, &config, now)
                }
                "component-rs256" => {
                    through_component(evaluator, &rs256, &store, &token, &config, now)
                }
                "native" => native(&store, &token, &config, now, &PayloadOnly),
                "regorus" => through_rego(&mut engine, &token, &config, now),
                other => panic!(
                    "TRUSTPUB_EVAL_ONLY={other}: component, component-rs256, native or regorus"
                ),
            }
        }
        return;
    }

    let stores: Vec<(u64, Arc<SqliteStore>)> = [1u64, 11, 10_000, 1_000_000]
        .into_iter()
        .map(|n| {
            let started = Instant::now();
            let store = store_with(n, dir.path());
            eprintln!(
                "{n} policies written in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            (n, store)
        })
        .collect();
    let store = |n: u64| -> &SqliteStore {
        stores
            .iter()
            .find(|(m, _)| *m == n)
            .map(|(_, s)| s.as_ref())
            .expect("written above")
    };
    let (s11, s1m) = (store(11), store(1_000_000));
    let keys = vec![format!("{TID}/{OID}")];
    let (mut rego_11, mut rego_10k) = (rego_engine(11), rego_engine(10_000));

    let mut rows: Vec<Row> = Vec::new();
    for &(n, ref store) in &stores {
        let component = Row::new(format!("component, {n} stored policies"), || {
            through_component(&evaluator, &payload_only, store, &token, &config, now)
        });
        rows.push(component);
        if n == 11 {
            if let Some(alt) = &alternative {
                // Another build of the same evaluator (e.g. another opt-level).
                rows.push(Row::new("component (alternative build), 11", || {
                    through_component(alt, &payload_only, s11, &token, &config, now)
                }));
            }
            rows.push(Row::new("component, 11, RS256 verified", || {
                through_component(&evaluator, &rs256, s11, &token, &config, now)
            }));
            rows.push(Row::new("native, 11 stored policies", || {
                native(s11, &token, &config, now, &PayloadOnly)
            }));
            rows.push(Row::new("native, 11, RS256 verified", || {
                native(s11, &token, &config, now, rs256.as_ref())
            }));
            rows.push(Row::new("lookup alone (SQLite, the token's key)", || {
                assert_eq!(candidates(s11, &keys).len(), 1)
            }));
            rows.push(Row::new("sandbox alone: instantiate, then drop", || {
                drop(
                    evaluator
                        .session_with(payload_only.clone())
                        .expect("instance"),
                )
            }));
        }
    }
    rows.push(Row::new("native, 1000000 stored policies", || {
        native(s1m, &token, &config, now, &PayloadOnly)
    }));
    // regorus: the same checks and match, policies as data (no index).
    rows.push(Row::new("regorus, 11 policies", || {
        through_rego(&mut rego_11, &token, &config, now)
    }));
    // ~90 ms a run: fewer samples keep the bench to minutes.
    rows.push(
        Row::new("regorus, 10000 policies", || {
            through_rego(&mut rego_10k, &token, &config, now)
        })
        .sampled(5),
    );

    measure_interleaved(&mut rows);

    let base = rows
        .iter()
        .find(|row| row.name == "component, 11 stored policies")
        .map(|row| row.stats().p50)
        .expect("11 row");
    println!(
        "{:<44} {:>10} {:>10} {:>12}",
        "decision (validate + lookup + match)", "p50", "p99", "p50 ratio"
    );
    for row in &rows {
        let s = row.stats();
        println!(
            "{:<44} {:>7.1} µs {:>7.1} µs {:>11.2}x",
            row.name,
            s.p50.as_secs_f64() * 1e6,
            s.p99.as_secs_f64() * 1e6,
            s.p50.as_secs_f64() / base.as_secs_f64()
        );
    }
}

struct Stats {
    p50: Duration,
    p99: Duration,
}

/// One measured row: what it runs and the samples taken so far.
struct Row<'a> {
    name: String,
    run: Box<dyn FnMut() + 'a>,
    per_round: usize,
    samples: Vec<Duration>,
}

impl<'a> Row<'a> {
    fn new(name: impl Into<String>, run: impl FnMut() + 'a) -> Self {
        Self {
            name: name.into(),
            run: Box::new(run),
            per_round: ITERATIONS / ROUNDS,
            samples: Vec::new(),
        }
    }

    /// Takes `per_round` samples in each round instead of the default.
    fn sampled(mut self, per_round: usize) -> Self {
        self.per_round = per_round;
        self
    }

    fn stats(&self) -> Stats {
        let mut samples = self.samples.clone();
        samples.sort();
        Stats {
            p50: samples[samples.len() / 2],
            p99: samples[samples.len() * 99 / 100],
        }
    }
}

/// Rows take turns, `ROUNDS` times, after one warm-up round: the machine is
/// shared, and a burst of another tenant's work then lands on every row
/// instead of on whichever row happened to run during it, so the ratios
/// within one run hold.
fn measure_interleaved(rows: &mut [Row<'_>]) {
    for row in rows.iter_mut() {
        for _ in 0..row.per_round {
            (row.run)();
        }
    }
    for _ in 0..ROUNDS {
        for row in rows.iter_mut() {
            for _ in 0..row.per_round {
                let start = Instant::now();
                (row.run)();
                row.samples.push(start.elapsed());
            }
        }
    }
}
