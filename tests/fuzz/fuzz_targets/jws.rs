//! The host's JWS verification and JWKS parsing. A fixed key set holds an
//! RS256 key bound to an issuer template and an ES256 key; one token is
//! validly signed by each. Inputs are either arbitrary text or an edit of a
//! valid token (a splice at some position), so the fuzzer explores both the
//! parsers and the paths past a good signature. Nothing may panic, and only
//! the exact signed header and payload of a valid token may ever verify.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use trustpub::idp::{SigningAlg, SigningKey};
use trustpub::jose::jws::{KeyResolver, verify_jws};
use trustpub::jose::key_set::KeySet;

const ISSUER: &str = "https://login.example/11111111-2222-3333-4444-555555555555/v2.0";

struct Fixture {
    keys: KeySet,
    /// Valid tokens: RS256 (issuer-bound key) and ES256.
    valid: [String; 2],
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rsa = SigningKey::generate(SigningAlg::Rs256, "rsa-1").expect("rsa key");
        let ec = SigningKey::generate(SigningAlg::Es256, "ec-1").expect("ec key");
        let mut rsa_jwk = rsa.public_jwk();
        rsa_jwk["issuer"] = json!("https://login.example/{tenantid}/v2.0");
        let jwks = json!({"keys": [rsa_jwk, ec.public_jwk()]}).to_string();
        let claims = json!({
            "iss": ISSUER, "tid": "11111111-2222-3333-4444-555555555555",
            "sub": "s", "aud": "a", "exp": 1_900_000_000u64, "jti": "j"
        });
        Fixture {
            keys: KeySet::from_json(&jwks).expect("the fixture's JWKS"),
            valid: [
                rsa.sign(&claims).expect("rs256"),
                ec.sign(&claims).expect("es256"),
            ],
        }
    })
}

fn signing_input(token: &str) -> &str {
    token.rsplit_once('.').map_or(token, |(input, _)| input)
}

/// First byte odd: splice the rest into a valid token (which one, where and
/// how much to cut from the next bytes). Otherwise the text as it is.
fn token_from(data: &[u8]) -> Option<String> {
    let (&mode, rest) = data.split_first()?;
    if mode % 2 == 0 {
        return std::str::from_utf8(rest).ok().map(str::to_string);
    }
    let [which, at_hi, at_lo, cut, insert @ ..] = rest else {
        return None;
    };
    let base = fixture().valid[usize::from(which % 2)].as_bytes();
    let at = usize::from(u16::from_be_bytes([*at_hi, *at_lo])) % (base.len() + 1);
    let end = (at + usize::from(cut % 16)).min(base.len());
    let mut spliced = base[..at].to_vec();
    spliced.extend_from_slice(insert);
    spliced.extend_from_slice(&base[end..]);
    String::from_utf8(spliced).ok()
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    if let Some(token) = token_from(data) {
        if let Ok(payload) = verify_jws(&token, ISSUER, &fixture.keys, 16 * 1024) {
            assert!(
                fixture
                    .valid
                    .iter()
                    .any(|v| signing_input(v) == signing_input(&token)),
                "a token that was never signed verified: {token}"
            );
            assert!(serde_json::from_str::<serde_json::Value>(&payload).is_ok_and(|v| v.is_object()));
        }
    }
    // The same bytes as a JWKS document: parsing never panics, and a kid
    // published twice for different keys is never resolved.
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(set) = KeySet::from_json(text) {
            let kids: Vec<String> = set.kids().map(str::to_string).collect();
            for kid in kids {
                let resolved = set.resolve(ISSUER, &kid);
                assert_eq!(resolved.is_err(), set.is_ambiguous(&kid));
            }
        }
    }
});
