//! One test per reason a signature is refused.

use jwt_simple::prelude::{HS256Key, KeyMetadata, MACLike};
use serde_json::json;

use super::*;
use crate::idp::{SigningAlg, SigningKey, TestIdp};
use crate::jwt_segment as seg;

fn idp() -> TestIdp {
    TestIdp::new(vec![
        SigningKey::generate(SigningAlg::Rs256, "rsa-1").expect("rsa key"),
        SigningKey::generate(SigningAlg::Es256, "ec-1").expect("ec key"),
    ])
}

fn keys(idp: &TestIdp) -> KeySet {
    KeySet::from_json(&idp.jwks().to_string()).expect("jwks")
}

fn claims() -> serde_json::Value {
    json!({"iss": "https://issuer.example", "exp": 1, "sub": "s"})
}

const ISS: &str = "https://issuer.example";
const MAX: usize = DEFAULT_MAX_TOKEN_BYTES;

#[test]
fn rs256_verifies_and_returns_the_payload() {
    let idp = idp();
    let token = idp.keys()[0].sign(&claims()).expect("sign");
    let payload = verify_jws(&token, ISS, &keys(&idp), MAX).expect("valid signature");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&payload).expect("json"),
        claims()
    );
}

#[test]
fn es256_verifies() {
    let idp = idp();
    let token = idp.keys()[1].sign(&claims()).expect("sign");
    assert!(verify_jws(&token, ISS, &keys(&idp), MAX).is_ok());
}

#[test]
fn lifetime_is_not_judged_here() {
    let idp = idp();
    let token = idp.keys()[0]
        .sign(&json!({"exp": 1, "nbf": 9_999_999_999u64, "iat": 9_999_999_999u64}))
        .expect("sign");
    assert!(
        verify_jws(&token, ISS, &keys(&idp), MAX).is_ok(),
        "the evaluator judges lifetime"
    );
}

#[test]
fn tampered_payload_is_refused() {
    let idp = idp();
    let token = idp.keys()[0].sign(&claims()).expect("sign");
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        seg(&json!({"iss": ISS, "sub": "admin"})),
        parts[2]
    );
    assert_eq!(
        verify_jws(&forged, ISS, &keys(&idp), MAX),
        Err(VerifyError::BadSignature("rsa-1".into()))
    );
}

#[test]
fn signature_by_another_key_with_same_kid_is_refused() {
    let idp = idp();
    let impostor = SigningKey::generate(SigningAlg::Rs256, "rsa-1").expect("rsa key");
    let token = impostor.sign(&claims()).expect("sign");
    assert_eq!(
        verify_jws(&token, ISS, &keys(&idp), MAX),
        Err(VerifyError::BadSignature("rsa-1".into()))
    );
}

#[test]
fn alg_none_is_refused() {
    let token = format!(
        "{}.{}.c2ln",
        seg(&json!({"alg": "none", "kid": "rsa-1"})),
        seg(&claims())
    );
    assert_eq!(
        verify_jws(&token, ISS, &keys(&idp()), MAX),
        Err(VerifyError::AlgNone)
    );
}

#[test]
fn hmac_with_the_public_key_as_secret_is_refused() {
    let idp = idp();
    let jwk = idp.keys()[0].public_jwk();
    let secret = jwk["n"].as_str().expect("n").as_bytes().to_vec();
    let key = HS256Key::from_bytes(&secret).with_key_id("rsa-1");
    let token = key
        .authenticate(jwt_simple::prelude::JWTClaims {
            issued_at: None,
            expires_at: None,
            invalid_before: None,
            issuer: None,
            subject: None,
            audiences: None,
            jwt_id: None,
            nonce: None,
            custom: claims(),
        })
        .expect("hmac");
    assert_eq!(
        verify_jws(&token, ISS, &keys(&idp), MAX),
        Err(VerifyError::Hmac("HS256".into()))
    );
}

#[test]
fn unsupported_algorithm_is_refused() {
    let token = format!(
        "{}.{}.c2ln",
        seg(&json!({"alg": "EdDSA", "kid": "rsa-1"})),
        seg(&claims())
    );
    assert_eq!(
        verify_jws(&token, ISS, &keys(&idp()), MAX),
        Err(VerifyError::UnsupportedAlg("EdDSA".into()))
    );
}

#[test]
fn keys_carried_by_the_token_are_refused() {
    let idp = idp();
    let cases = [
        (
            "jku",
            KeyMetadata::default().with_key_set_url("http://127.0.0.1:9/jwks"),
        ),
        (
            "x5u",
            KeyMetadata::default().with_certificate_url("http://127.0.0.1:9/cert"),
        ),
    ];
    for (header, metadata) in cases {
        let token = idp.keys()[0]
            .sign_with_metadata(&claims(), metadata)
            .expect("sign");
        assert_eq!(
            verify_jws(&token, ISS, &keys(&idp), MAX),
            Err(VerifyError::EmbeddedKey(header)),
            "{header}"
        );
    }
    let jwk_header = json!({"alg": "RS256", "kid": "rsa-1", "jwk": idp.keys()[0].public_jwk()});
    let token = format!("{}.{}.c2ln", seg(&jwk_header), seg(&claims()));
    assert_eq!(
        verify_jws(&token, ISS, &keys(&idp), MAX),
        Err(VerifyError::EmbeddedKey("jwk"))
    );
}

#[test]
fn critical_extensions_are_refused() {
    let token = format!(
        "{}.{}.c2ln",
        seg(&json!({"alg": "RS256", "kid": "rsa-1", "crit": ["exp"]})),
        seg(&claims())
    );
    assert_eq!(
        verify_jws(&token, ISS, &keys(&idp()), MAX),
        Err(VerifyError::Critical)
    );
}

#[test]
fn missing_and_unknown_kid_are_refused() {
    let idp = idp();
    let token = format!("{}.{}.c2ln", seg(&json!({"alg": "RS256"})), seg(&claims()));
    assert_eq!(
        verify_jws(&token, ISS, &keys(&idp), MAX),
        Err(VerifyError::MissingKid)
    );
    let other = SigningKey::generate(SigningAlg::Es256, "elsewhere").expect("ec key");
    let token = other.sign(&claims()).expect("sign");
    assert_eq!(
        verify_jws(&token, ISS, &keys(&idp), MAX),
        Err(VerifyError::UnknownKid("elsewhere".into()))
    );
}

#[test]
fn algorithm_must_fit_the_key() {
    let idp = idp();
    // An ES256 header naming the RSA key.
    let token = format!(
        "{}.{}.c2ln",
        seg(&json!({"alg": "ES256", "kid": "rsa-1"})),
        seg(&claims())
    );
    assert!(matches!(
        verify_jws(&token, ISS, &keys(&idp), MAX),
        Err(VerifyError::AlgKeyMismatch { .. })
    ));
}

#[test]
fn oversize_and_malformed_tokens_are_refused() {
    let idp = idp();
    let token = idp.keys()[0]
        .sign(&json!({"pad": "x".repeat(MAX)}))
        .expect("sign");
    assert_eq!(
        verify_jws(&token, ISS, &keys(&idp), MAX),
        Err(VerifyError::TooLong(MAX))
    );
    assert_eq!(
        verify_jws("a.b", ISS, &keys(&idp), MAX),
        Err(VerifyError::Malformed)
    );
    assert_eq!(
        verify_jws("a.b.c.d", ISS, &keys(&idp), MAX),
        Err(VerifyError::Malformed)
    );
    assert_eq!(
        verify_jws("!!.b.c", ISS, &keys(&idp), MAX),
        Err(VerifyError::BadHeader)
    );
}

#[test]
fn no_keys_means_no_verification() {
    let token = idp().keys()[0].sign(&claims()).expect("sign");
    assert_eq!(
        verify_jws(&token, ISS, &NoKeys, MAX),
        Err(VerifyError::UnknownIssuer(ISS.into()))
    );
}

/// A JWKS whose only key says which issuer it signs for.
fn keys_bound_to(idp: &TestIdp, issuer: &str) -> KeySet {
    let mut jwks = idp.jwks();
    jwks["keys"][0]["issuer"] = json!(issuer);
    KeySet::from_json(&jwks.to_string()).expect("jwks")
}

#[test]
fn a_key_bound_to_an_issuer_verifies_only_that_issuers_tokens() {
    let idp = idp();
    let tenant_a = "https://login.microsoftonline.com/aaaa/v2.0";
    let bound = keys_bound_to(&idp, tenant_a);
    let sign = |iss: &str| {
        idp.keys()[0]
            .sign(&json!({"iss": iss, "tid": "aaaa", "exp": 1}))
            .expect("sign")
    };
    verify_jws(&sign(tenant_a), ISS, &bound, MAX).expect("its own issuer");
    let other = "https://login.microsoftonline.com/bbbb/v2.0";
    assert_eq!(
        verify_jws(&sign(other), ISS, &bound, MAX),
        Err(VerifyError::KeyIssuerMismatch {
            kid: "rsa-1".into(),
            expected: tenant_a.into()
        })
    );
}

#[test]
fn entras_tenant_placeholder_binds_a_common_key_to_the_tokens_own_tenant() {
    let idp = idp();
    let bound = keys_bound_to(&idp, "https://login.microsoftonline.com/{tenantid}/v2.0");
    let sign = |iss: &str, tid: &str| {
        idp.keys()[0]
            .sign(&json!({"iss": iss, "tid": tid, "exp": 1}))
            .expect("sign")
    };
    let a = "https://login.microsoftonline.com/aaaa/v2.0";
    verify_jws(&sign(a, "aaaa"), ISS, &bound, MAX).expect("iss names its own tid");
    // An iss naming tenant A on a token that claims tenant B.
    let err = verify_jws(&sign(a, "bbbb"), ISS, &bound, MAX).expect_err("tenant confusion");
    assert!(
        matches!(&err, VerifyError::KeyIssuerMismatch { expected, .. } if expected.contains("bbbb")),
        "{err}"
    );
    // Keys without issuer metadata are not bound (other IdPs).
    verify_jws(&sign(a, "bbbb"), ISS, &keys(&idp), MAX).expect("unbound key");
}

#[test]
fn registered_claims_of_the_wrong_type_are_named_not_called_a_bad_signature() {
    let idp = idp();
    for (claims, expected) in [
        (
            json!({"exp": "1"}),
            "the exp claim is not a number of seconds",
        ),
        (
            json!({"nbf": -1}),
            "the nbf claim is not a number of seconds",
        ),
        (
            json!({"iat": {"a": 1}}),
            "the iat claim is not a number of seconds",
        ),
        (
            json!({"aud": 7}),
            "the aud claim is not a string or a list of strings",
        ),
        (
            json!({"aud": ["a", 7]}),
            "the aud claim is not a string or a list of strings",
        ),
        (json!({"iss": 1}), "the iss claim is not a string"),
        (json!({"jti": ["x"]}), "the jti claim is not a string"),
    ] {
        let token = idp.keys()[0].sign(&claims).expect("sign");
        assert_eq!(
            verify_jws(&token, ISS, &keys(&idp), MAX),
            Err(VerifyError::MalformedClaims(expected.into())),
            "{claims}"
        );
    }
    // Well-typed claims, floats included, verify.
    for fine in [
        json!({"exp": 1.5e9}),
        json!({"aud": ["a", "b"], "iss": ISS}),
    ] {
        let token = idp.keys()[0].sign(&fine).expect("sign");
        verify_jws(&token, ISS, &keys(&idp), MAX).unwrap_or_else(|e| panic!("{fine}: {e}"));
    }
}

/// A JWKS of one RSA key (no `alg`, so every RSA algorithm may use it).
fn rsa_jwks(kid: &str, pair: &jwt_simple::prelude::RS256KeyPair) -> KeySet {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let c = pair.public_key().to_components();
    let jwks = json!({"keys": [{"kty": "RSA", "kid": kid, "n": b64(&c.n), "e": b64(&c.e)}]});
    KeySet::from_json(&jwks.to_string()).expect("jwks")
}

#[test]
fn every_supported_rsa_and_ec_algorithm_verifies_and_refuses_a_forgery() {
    use jwt_simple::prelude::*;
    let rsa = RS256KeyPair::generate(2048).expect("rsa");
    let der = rsa.to_der().expect("der");
    let keys = rsa_jwks("r", &rsa);
    let payload = Claims::with_custom_claims(json!({"sub": "s"}), Duration::from_secs(60));
    macro_rules! signed {
        ($ty:ty) => {
            <$ty>::from_der(&der)
                .expect("key")
                .with_key_id("r")
                .sign(payload.clone())
                .expect("sign")
        };
    }
    let tokens = [
        signed!(RS256KeyPair),
        signed!(RS384KeyPair),
        signed!(RS512KeyPair),
        signed!(PS256KeyPair),
        signed!(PS384KeyPair),
        signed!(PS512KeyPair),
    ];
    for token in &tokens {
        verify_jws(token, ISS, &keys, MAX).unwrap_or_else(|e| panic!("{token}: {e}"));
        // The same signature over another payload.
        let (input, sig) = token.rsplit_once('.').expect("jws");
        let (header, _) = input.split_once('.').expect("jws");
        let forged = format!("{header}.{}.{sig}", seg(&json!({"sub": "t"})));
        assert_eq!(
            verify_jws(&forged, ISS, &keys, MAX),
            Err(VerifyError::BadSignature("r".into()))
        );
    }
    let p384 = ES384KeyPair::generate().with_key_id("e");
    let point = p384.public_key().public_key().to_bytes_uncompressed();
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-384", "kid": "e", "x": b64(&point[1..49]), "y": b64(&point[49..97])}]});
    let ec_keys = KeySet::from_json(&jwks.to_string()).expect("jwks");
    let token = p384.sign(payload).expect("sign");
    verify_jws(&token, ISS, &ec_keys, MAX).expect("ES384");
}
