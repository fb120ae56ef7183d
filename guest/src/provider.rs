//! `Provider`: an identity provider's rules, and nothing else.
//!
//! An evaluator built on the SDK describes its provider (constants), names
//! three serde types (its settings, its typed claims, its criteria) and writes
//! the rules that differ between providers. The SDK runs the pipeline every
//! evaluator needs, in this order, and stops at the first failure:
//!
//! 1. `config` — the provider config parses ([`Config`]) and passes
//!    [`Provider::check_config`];
//! 2. `malformed` — the token is a compact JWS of JSON objects;
//! 3. `issuer` — the unverified `iss` fits one of [`Provider::ISSUERS`] or is
//!    an issuer the operator configured, and passes [`Provider::check_issuer`];
//! 4. `signature` — the host verifies the signature with that issuer's keys;
//!    `issuer` — the verified `iss` equals the unverified one;
//! 5. `audience` — `aud` names a configured audience (exactly one with
//!    [`Provider::SINGLE_AUDIENCE`]);
//! 6. `lifetime` — `iat` present (with [`Provider::REQUIRE_IAT`]), then `exp`,
//!    `nbf`, `iat` within `clock_skew_seconds`;
//! 7. `token-id` — the first of [`Provider::TOKEN_ID_CLAIMS`] present, non-blank;
//! 8. `claims` — `sub`, then the typed claims ([`Provider::Claims`]) parse;
//! 9. the provider's own checks ([`Provider::RULES`], in table order), with
//!    their own check names;
//! 10. lookup keys ([`Provider::lookup_keys`]).
//!
//! `match` then tries each candidate in order: criteria that do not parse
//! never match; pins ([`Provider::PINS`]) are checked first and fail closed;
//! then [`Provider::matches`]. The first match wins.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::issuer::IssuerMatch;
use crate::pins::Pin;
use crate::rules::Rule;
use crate::verified::Verified;

pub trait Provider: 'static {
    /// `info().name`: lowercase letters, digits and `-`.
    const NAME: &'static str;
    /// `info().version`: the evaluator crate's own version. Write
    /// `env!("CARGO_PKG_VERSION")` in the evaluator crate.
    const VERSION: &'static str;
    /// Issuer patterns (`info().issuers`); `{name}` is one path segment.
    const ISSUERS: &'static [&'static str];
    /// What the patterns are, with its article, for the issuer check's
    /// message: "the iss claim 'x' is not {ISSUER_KIND} (patterns)".
    const ISSUER_KIND: &'static str;
    /// A JSON Schema of the criteria (`info().criteria-schema`). Its
    /// `required` and `properties` also word the message for criteria that
    /// do not parse ("{NAME} criteria must be an object with …").
    const CRITERIA_SCHEMA: &'static str;
    /// What an index key is, for operators (`info().index-key`).
    const INDEX_KEY: &'static str;
    /// Claims holding the token id, in order of preference.
    const TOKEN_ID_CLAIMS: &'static [&'static str] = &["jti"];
    /// The token must name exactly one audience: one minted for several
    /// relying parties could be replayed at any of them.
    const SINGLE_AUDIENCE: bool = true;
    /// The token must carry `iat`.
    const REQUIRE_IAT: bool = true;
    /// The pin table (see [`crate::pins`]); empty when no name can change hands.
    const PINS: &'static [Pin<Self::Claims>] = &[];
    /// The provider's own checks of a verified token, in order (see
    /// [`crate::rules`]).
    const RULES: &'static [Rule<Self::Claims, Self::Config>] = &[];

    /// The provider's own settings, flattened into the standard [`Config`]
    /// (use [`crate::config::NoSettings`] when there are none).
    type Config: DeserializeOwned + 'static;
    /// The claims the rules read, as a serde struct (see [`crate::typed`]).
    type Claims: DeserializeOwned + 'static;
    /// A policy's criteria; refuse unknown fields with `deny_unknown_fields`.
    type Criteria: DeserializeOwned + Serialize;

    /// Checks the provider's own settings; the message completes
    /// "the {NAME} provider configuration …".
    fn check_config(_settings: &Self::Config) -> Result<(), String> {
        Ok(())
    }

    /// Refuses an accepted issuer before its signature is checked (check
    /// `issuer`), e.g. one that fits a pattern but was not configured.
    fn check_issuer(
        _issuer: &IssuerMatch<'_>,
        _config: &Config<Self::Config>,
    ) -> Result<(), String> {
        Ok(())
    }

    /// The keys policies this token could match are stored under (at least
    /// one). A policy matching the token must have one of them among its
    /// [`Provider::index_keys`]: normalize exactly as matching does.
    fn lookup_keys(token: &Verified<Self::Claims>) -> Vec<String>;

    /// Validates and normalizes parsed criteria (e.g. lowercases
    /// case-insensitive names). It must be idempotent.
    fn normalize(criteria: Self::Criteria) -> Result<Self::Criteria, String> {
        Ok(criteria)
    }

    /// The keys a policy is stored under (at least one).
    fn index_keys(criteria: &Self::Criteria) -> Vec<String>;

    /// Whether the operator's configuration allows such a policy at all
    /// (e.g. its tenant is among the allowed ones); `Err` refuses the
    /// criteria when the policy is written, with a message for the operator.
    fn allows(_criteria: &Self::Criteria, _config: &Config<Self::Config>) -> Result<(), String> {
        Ok(())
    }

    /// Whether a policy's criteria trust the token; `Err` is the near-miss
    /// reason for the audit log (never shown to the client), e.g. "workflow
    /// is build.yml, the policy wants release.yml". By default the index key
    /// is the whole criteria: the policy's key must be one of the token's
    /// ([`crate::rules::same_key`], named by [`Provider::INDEX_KEY`]).
    fn matches(criteria: &Self::Criteria, token: &Verified<Self::Claims>) -> Result<(), String> {
        let (policy, token) = (Self::index_keys(criteria), Self::lookup_keys(token));
        crate::rules::same_key(Self::INDEX_KEY, &policy, &token)
    }
}
