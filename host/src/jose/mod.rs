//! JOSE for the host: verifying JWS signatures ([`jws`]) with keys from a
//! JSON Web Key Set ([`key_set`]), fetched and kept fresh per provider
//! ([`key_cache`]), and reading a token's `iss` and `kid` to route it
//! ([`routing`]). The evaluators call back into [`jws`] through the
//! `crypto` import; the host never decides a token's validity itself.

pub mod jws;
pub mod key_cache;
pub mod key_set;
pub mod routing;
mod signature;
