//! Signed evaluators: when the operator configures trusted Ed25519 public
//! keys (`evaluator_trusted_keys`), every version admitted — at start-up, by
//! `PUT`, `trustpub evaluator push` or a replaced file — must carry a
//! detached signature by one of them over its SHA-256 digest. The signature
//! is checked before the component is compiled: unsigned code is never
//! even parsed.
//!
//! What is signed is the text `trustpub-evaluator-v1 sha256:<hex digest>`, so
//! a signature made for anything else never verifies here. A signature
//! travels as base64 (one line): in `<component>.sig` beside the file, or
//! in the `X-Trustpub-Signature` header of a `PUT`.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_compact::{KeyPair, PublicKey, SecretKey, Seed, Signature};

/// The header a `PUT /admin/evaluators/{provider}` carries the signature in.
pub const SIGNATURE_HEADER: &str = "x-trustpub-signature";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error(
        "the component is not signed: this server requires a signature by a trusted key (sign it with `trustpub evaluator sign`)"
    )]
    Missing,
    #[error("the signature is not base64 of 64 bytes")]
    Malformed,
    #[error("the signature does not verify for this component with any trusted key")]
    Invalid,
    #[error("trusted key {0}: not base64 of a 32-byte Ed25519 public key")]
    BadTrustedKey(usize),
    #[error("the secret key file is not base64 of a 32-byte Ed25519 seed")]
    BadSecretKey,
}

/// The operator's trusted keys; empty means signatures are not required.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys(Vec<PublicKey>);

impl TrustedKeys {
    /// Keys as `trustpub evaluator keygen` prints them (base64).
    pub fn parse(keys: &[String]) -> Result<Self, SignatureError> {
        keys.iter()
            .enumerate()
            .map(|(i, key)| {
                let bytes = STANDARD
                    .decode(key.trim())
                    .map_err(|_| SignatureError::BadTrustedKey(i + 1))?;
                PublicKey::from_slice(&bytes).map_err(|_| SignatureError::BadTrustedKey(i + 1))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn required(&self) -> bool {
        !self.0.is_empty()
    }

    /// Checks `signature` (base64 text, as written) for the component with
    /// this digest. Passes anything when no key is configured.
    pub fn check(&self, digest: &str, signature: Option<&[u8]>) -> Result<(), SignatureError> {
        if !self.required() {
            return Ok(());
        }
        let text = signature.ok_or(SignatureError::Missing)?;
        let bytes = std::str::from_utf8(text)
            .ok()
            .and_then(|t| STANDARD.decode(t.trim()).ok())
            .ok_or(SignatureError::Malformed)?;
        let signature = Signature::from_slice(&bytes).map_err(|_| SignatureError::Malformed)?;
        let message = signed_message(digest);
        self.0
            .iter()
            .any(|key| key.verify(&message, &signature).is_ok())
            .then_some(())
            .ok_or(SignatureError::Invalid)
    }
}

fn signed_message(digest: &str) -> Vec<u8> {
    format!("trustpub-evaluator-v1 sha256:{digest}").into_bytes()
}

/// Where a component file's signature lives: `<file>.sig`.
pub fn signature_path(component: &Path) -> PathBuf {
    let mut name = component.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// A new signing key: the secret seed and the public key, both base64.
pub fn generate_key() -> (String, String) {
    let pair = KeyPair::from_seed(Seed::generate());
    (
        STANDARD.encode(pair.sk.seed().as_ref()),
        STANDARD.encode(pair.pk.as_ref()),
    )
}

/// The base64 signature of a component (its bytes) with a secret seed.
pub fn sign(secret_seed: &str, component: &[u8]) -> Result<String, SignatureError> {
    let seed = STANDARD
        .decode(secret_seed.trim())
        .ok()
        .and_then(|bytes| Seed::from_slice(&bytes).ok())
        .ok_or(SignatureError::BadSecretKey)?;
    let secret: SecretKey = KeyPair::from_seed(seed).sk;
    let digest = crate::digest::sha256_hex(component);
    Ok(STANDARD.encode(secret.sign(signed_message(&digest), None).as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(public: &str) -> TrustedKeys {
        TrustedKeys::parse(&[public.to_string()]).expect("key")
    }

    #[test]
    fn a_signature_verifies_only_for_its_component_and_key() {
        let (secret, public) = generate_key();
        let component = b"\0asm component bytes";
        let digest = crate::digest::sha256_hex(component);
        let signature = sign(&secret, component).expect("sign");
        let keys = trusted(&public);
        assert_eq!(keys.check(&digest, Some(signature.as_bytes())), Ok(()));
        // Surrounding whitespace (a trailing newline in the .sig file) is fine.
        assert_eq!(
            keys.check(&digest, Some(format!("{signature}\n").as_bytes())),
            Ok(())
        );

        let other = crate::digest::sha256_hex(b"another component");
        assert_eq!(
            keys.check(&other, Some(signature.as_bytes())),
            Err(SignatureError::Invalid)
        );
        let (_, stranger) = generate_key();
        assert_eq!(
            trusted(&stranger).check(&digest, Some(signature.as_bytes())),
            Err(SignatureError::Invalid)
        );
        assert_eq!(keys.check(&digest, None), Err(SignatureError::Missing));
        assert_eq!(
            keys.check(&digest, Some(b"not base64!")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            keys.check(&digest, Some(b"AAAA")),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn any_of_several_trusted_keys_will_do_and_none_means_not_required() {
        let (secret, public) = generate_key();
        let (_, other) = generate_key();
        let keys = TrustedKeys::parse(&[other, public]).expect("keys");
        let digest = crate::digest::sha256_hex(b"c");
        let signature = sign(&secret, b"c").expect("sign");
        assert_eq!(keys.check(&digest, Some(signature.as_bytes())), Ok(()));
        assert!(!TrustedKeys::default().required());
        assert_eq!(TrustedKeys::default().check(&digest, None), Ok(()));
    }

    #[test]
    fn bad_keys_are_refused_with_their_position() {
        let (_, public) = generate_key();
        let err = TrustedKeys::parse(&[public, "c2hvcnQ=".into()]).expect_err("short key");
        assert_eq!(err, SignatureError::BadTrustedKey(2));
        assert_eq!(sign("nope", b"c"), Err(SignatureError::BadSecretKey));
    }

    #[test]
    fn the_signature_file_sits_beside_the_component() {
        assert_eq!(
            signature_path(Path::new("/srv/trustpub/entra-id.wasm")),
            PathBuf::from("/srv/trustpub/entra-id.wasm.sig")
        );
    }
}
