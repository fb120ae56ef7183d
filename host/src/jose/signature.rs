//! The signature primitive under [`super::jws`]: RSA (PKCS#1 v1.5 and PSS)
//! and ECDSA (P-256, P-384) verification by `ring`, the implementation
//! rustls already brings into the build. It is about ten times faster than
//! a pure-Rust RSA verification, and RSA is the largest single cost of an
//! exchange.
//!
//! RSA keys must have 2048 to 8192-bit moduli (as `ring` requires): shorter
//! keys are not safe to trust, and every identity provider we serve signs
//! with 2048 bits or more.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};

use super::key_set::{EcCurve, KeyMaterial, VerifyingKey};

/// Why a signature did not verify: the key cannot make this algorithm's
/// signatures, or the signature is wrong.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum SignatureError {
    AlgKeyMismatch,
    BadSignature,
}

fn rsa_algorithm(alg: &str) -> Option<&'static signature::RsaParameters> {
    Some(match alg {
        "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
        "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
        "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
        "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
        "PS512" => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// JWS carries ECDSA signatures as fixed-size `r || s` (RFC 7518 §3.4).
fn ec_algorithm(curve: EcCurve, alg: &str) -> Option<&'static dyn VerificationAlgorithm> {
    match (curve, alg) {
        (EcCurve::P256, "ES256") => Some(&signature::ECDSA_P256_SHA256_FIXED),
        (EcCurve::P384, "ES384") => Some(&signature::ECDSA_P384_SHA384_FIXED),
        _ => None,
    }
}

/// Verifies `signature` over `signing_input` (the token's `header.payload`)
/// with `key` under the JWS algorithm `alg`.
pub(super) fn verify(
    alg: &str,
    key: &VerifyingKey,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let verified = match &key.material {
        KeyMaterial::Rsa { n, e } => {
            let params = rsa_algorithm(alg).ok_or(SignatureError::AlgKeyMismatch)?;
            RsaPublicKeyComponents { n, e }.verify(params, signing_input, signature)
        }
        KeyMaterial::Ec { curve, sec1 } => {
            let algorithm = ec_algorithm(*curve, alg).ok_or(SignatureError::AlgKeyMismatch)?;
            UnparsedPublicKey::new(algorithm, sec1).verify(signing_input, signature)
        }
    };
    verified.map_err(|_| SignatureError::BadSignature)
}
