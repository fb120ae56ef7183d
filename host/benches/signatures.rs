//! The cost of checking one RS256 signature: the host's whole check
//! (`verify_jws`: header, key lookup, signature, registered claims, key
//! issuer binding) against a bare `ring` verification of the same token's
//! signature (the floor), and against `jwt-simple`'s pure-Rust RSA (what
//! the host used before). Two more rows time what the exchange reads of the
//! same token before verifying it (its `iss` and `kid`, to route): the
//! host's `RoutingFields::read` and the SDK's full parse it replaced. The
//! rows run interleaved, round by round, so a noisy neighbour affects all
//! of them alike; the ratios are what to read.
//!
//! `cargo bench -p trustpub --bench signatures` (about 30 seconds).

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_simple::prelude::{RS256PublicKey, RSAPublicKeyLike, VerificationOptions};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use trustpub::idp::{TestIdp, entra_app_token_claims};
use trustpub::jose::jws::{DEFAULT_MAX_TOKEN_BYTES, verify_jws};
use trustpub::jose::key_set::{KeyMaterial, KeySet};
use trustpub::jose::routing::RoutingFields;
use trustpub_guest::UnverifiedJwt;

const ROUNDS: usize = 31;
const PER_ROUND: u32 = 200;

/// A measured row: its name, what it runs, and its per-round samples.
type Row<'a> = (&'static str, &'a mut dyn FnMut(), Vec<Duration>);

/// Mean time per call over `PER_ROUND` calls.
fn per_call(f: &mut dyn FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..PER_ROUND {
        f();
    }
    start.elapsed() / PER_ROUND
}

fn main() {
    let idp = TestIdp::rs256("bench").expect("key");
    let keys = KeySet::from_json(&idp.jwks().to_string()).expect("jwks");
    let key = keys.get("bench").expect("the key");
    let KeyMaterial::Rsa { n, e } = &key.material else {
        unreachable!("an RSA key")
    };
    let claims = entra_app_token_claims(
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "0d5a3b1c-7e21-4c8e-9f6d-1b2a3c4d5e6f",
        "api://AzureADTokenExchange",
        1_800_000_000,
        "bench-uti",
    );
    let token = idp.mint(&claims).expect("mint");
    let (input, signature) = token.rsplit_once('.').expect("a JWS");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64");
    let jwt_simple_key = RS256PublicKey::from_components(n, e).expect("key");
    let options = VerificationOptions {
        accept_future: true,
        ..Default::default()
    };

    let mut bare_ring = || {
        RsaPublicKeyComponents { n, e }
            .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &signature)
            .expect("verifies");
    };
    let mut host = || {
        black_box(
            verify_jws(
                black_box(&token),
                "https://login.microsoftonline.com",
                &keys,
                DEFAULT_MAX_TOKEN_BYTES,
            )
            .expect("verifies"),
        );
    };
    let mut pure_rust = || {
        jwt_simple_key
            .verify_token::<serde_json::Value>(black_box(&token), Some(options.clone()))
            .expect("verifies");
    };
    let mut routing_read = || {
        black_box(RoutingFields::read(black_box(&token)).expect("readable"));
    };
    let mut routing_full_parse = || {
        let jwt = UnverifiedJwt::parse(black_box(&token)).expect("a JWT");
        black_box(jwt.claims.string("iss").expect("iss").to_string());
        black_box(
            jwt.header
                .get("kid")
                .and_then(|v| v.as_str())
                .map(str::to_string),
        );
    };
    let mut rows: [Row; 5] = [
        ("bare ring RS256 verification", &mut bare_ring, Vec::new()),
        ("host verify_jws (ring)", &mut host, Vec::new()),
        ("jwt-simple pure-Rust RS256", &mut pure_rust, Vec::new()),
        (
            "routing read (RoutingFields::read)",
            &mut routing_read,
            Vec::new(),
        ),
        (
            "routing read, SDK full parse (before)",
            &mut routing_full_parse,
            Vec::new(),
        ),
    ];
    for round in 0..=ROUNDS {
        for (_, f, samples) in rows.iter_mut() {
            let t = per_call(*f);
            // Round 0 warms caches and the CPU's frequency up.
            if round > 0 {
                samples.push(t);
            }
        }
    }
    let medians: Vec<Duration> = rows
        .iter_mut()
        .map(|(_, _, s)| {
            s.sort();
            s[s.len() / 2]
        })
        .collect();
    println!("| what | median per call | vs bare ring |");
    println!("|---|---|---|");
    for ((name, _, _), median) in rows.iter().zip(&medians) {
        println!(
            "| {name} | {:.1} µs | {:.2}x |",
            median.as_secs_f64() * 1e6,
            median.as_secs_f64() / medians[0].as_secs_f64()
        );
    }
}
