//! `Verified<T>`: an evaluator's typed claims, as only the SDK can make them.
//!
//! The pipeline builds one after the host verified the signature and the
//! standard checks passed; its constructor is private to the SDK. The rules
//! that decide a match (`Provider::matches`, `Provider::lookup_keys`, pins)
//! take `&Verified<T>`, so no rule can be fed claims from the unverified
//! token, from a test's hand-made struct or from anywhere else.

use std::ops::Deref;

use crate::claims::Claims;

#[derive(Debug, Clone)]
pub struct Verified<T> {
    claims: T,
    all: Claims,
    issuer: String,
    subject: String,
    token_id: String,
}

impl<T> Verified<T> {
    pub(crate) fn new(
        claims: T,
        all: Claims,
        issuer: String,
        subject: String,
        token_id: String,
    ) -> Self {
        Self {
            claims,
            all,
            issuer,
            subject,
            token_id,
        }
    }

    /// Every verified claim, for rules about claims the typed struct does
    /// not hold (e.g. "the token has no `scp` claim, not even `null`").
    pub fn claims(&self) -> &Claims {
        &self.all
    }

    /// The verified `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The verified `sub`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The token id (the replay key).
    pub fn token_id(&self) -> &str {
        &self.token_id
    }
}

impl<T> Deref for Verified<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.claims
    }
}
