//! What a guest returns is checked (and where safe, clamped) before the host
//! uses it: a broken or hostile evaluator must not make the host store
//! unbounded strings, forget a token id early or match a policy it was not
//! given.

use trustpub_guest::claims::MAX_TIMESTAMP;
use trustpub_guest::types::{
    Candidate, CheckedCriteria, MatchResult, Matched, NearMiss, Rejection, TokenFacts, Validation,
};

use super::EvalError;
use super::contract::Contract;

/// Index keys per policy or token, and bytes per key.
pub const MAX_INDEX_KEYS: usize = 16;
pub const MAX_INDEX_KEY_BYTES: usize = 256;
/// Bytes of a near-miss reason kept; longer ones are cut.
pub const MAX_NEAR_MISS_BYTES: usize = 256;
const MAX_CHECK_NAME_BYTES: usize = 64;

fn invalid(message: impl Into<String>) -> EvalError {
    EvalError::InvalidResult(message.into())
}

fn too_long(what: &str, len: usize, max: usize) -> EvalError {
    invalid(format!("{what} is {len} bytes, over the {max}-byte limit"))
}

/// 1..=16 keys of 1..=256 bytes each, without duplicates.
fn index_keys(what: &str, mut keys: Vec<String>) -> Result<Vec<String>, EvalError> {
    if keys.is_empty() {
        return Err(invalid(format!("{what} has no index key")));
    }
    if keys.len() > MAX_INDEX_KEYS {
        return Err(invalid(format!(
            "{what} has {} index keys, over the limit of {MAX_INDEX_KEYS}",
            keys.len()
        )));
    }
    if let Some(bad) = keys
        .iter()
        .find(|k| k.is_empty() || k.len() > MAX_INDEX_KEY_BYTES)
    {
        return Err(invalid(format!(
            "{what} has an index key of {} bytes (1..={MAX_INDEX_KEY_BYTES} allowed)",
            bad.len()
        )));
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

pub(crate) fn checked_criteria(
    contract: Contract,
    result: Result<CheckedCriteria, String>,
    max: usize,
) -> Result<Result<CheckedCriteria, String>, EvalError> {
    match result {
        Err(message) if message.len() > max => {
            Err(too_long("check-criteria's message", message.len(), max))
        }
        Err(message) => Ok(Err(message)),
        Ok(c) if c.criteria.len() > max => {
            Err(too_long("the normalized criteria", c.criteria.len(), max))
        }
        Ok(c) if contract == Contract::V0_1 => Ok(Ok(c)),
        Ok(c) => Ok(Ok(CheckedCriteria {
            index_keys: index_keys("the checked criteria", c.index_keys)?,
            criteria: c.criteria,
        })),
    }
}

fn rejection(r: Rejection, max: usize) -> Result<Rejection, EvalError> {
    let good_name = !r.check.is_empty()
        && r.check.len() <= MAX_CHECK_NAME_BYTES
        && r.check
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !good_name {
        return Err(invalid(format!(
            "the check name '{}' is not 1..={MAX_CHECK_NAME_BYTES} lowercase letters, digits and '-'",
            crate::names::truncated(&r.check, MAX_CHECK_NAME_BYTES)
        )));
    }
    if r.message.len() > max {
        return Err(too_long("the bad-token message", r.message.len(), max));
    }
    Ok(r)
}

/// `now`: the time the token was validated at. An `accepted-until` before
/// the token's `exp` or before now is raised to that floor: the host keeps
/// the token id at least that long, whatever the guest says.
pub(crate) fn validation(
    contract: Contract,
    result: Validation,
    now: u64,
    max: usize,
) -> Result<Validation, EvalError> {
    let facts = match result {
        Validation::BadToken(r) => return Ok(Validation::BadToken(rejection(r, max)?)),
        Validation::Valid(facts) => facts,
    };
    let len = facts.issuer.len() + facts.token_id.len() + facts.subject.len();
    if len > max {
        return Err(too_long("the token facts", len, max));
    }
    if contract == Contract::V0_1 {
        // Known only once the 0.1 evaluator matched (see `session.rs`).
        return Ok(Validation::Valid(facts));
    }
    Ok(Validation::Valid(token_facts(facts, now, true)?))
}

/// The facts of a valid token: a token id to remember, times that fit the
/// store, and lookup keys (a 0.1 evaluator has none: `indexed` false).
pub(super) fn token_facts(
    facts: TokenFacts,
    now: u64,
    indexed: bool,
) -> Result<TokenFacts, EvalError> {
    if facts.token_id.trim().is_empty() {
        return Err(invalid("the token facts have a blank token id"));
    }
    if facts.expires_at > MAX_TIMESTAMP {
        return Err(invalid(format!(
            "the token expires at {}, after 9999-12-31",
            facts.expires_at
        )));
    }
    let lookup_keys = if indexed {
        index_keys("the token facts", facts.lookup_keys)?
    } else {
        Vec::new()
    };
    Ok(TokenFacts {
        accepted_until: facts
            .accepted_until
            .max(facts.expires_at)
            .max(now)
            .min(MAX_TIMESTAMP),
        lookup_keys,
        ..facts
    })
}

/// A match must name one of the candidates of this call; near misses are
/// kept only for candidates of this call, with bounded reasons.
pub(crate) fn match_result(
    result: MatchResult,
    candidates: &[Candidate],
    max: usize,
) -> Result<MatchResult, EvalError> {
    match result {
        MatchResult::Matched(m) => {
            if !candidates.iter().any(|c| c.id == m.policy_id) {
                return Err(invalid(format!(
                    "it matched policy {} which it was not given",
                    m.policy_id
                )));
            }
            let len: usize = m.pins.iter().map(|(k, v)| k.len() + v.len()).sum();
            if len > max {
                return Err(too_long("the matched pins", len, max));
            }
            Ok(MatchResult::Matched(Matched {
                policy_id: m.policy_id,
                pins: m.pins,
            }))
        }
        MatchResult::Unauthorized(near_misses) => {
            let mut kept: Vec<NearMiss> = Vec::new();
            for miss in near_misses {
                if candidates.iter().any(|c| c.id == miss.policy_id)
                    && !kept.iter().any(|k| k.policy_id == miss.policy_id)
                {
                    kept.push(NearMiss {
                        policy_id: miss.policy_id,
                        reason: crate::names::truncated(&miss.reason, MAX_NEAR_MISS_BYTES),
                    });
                }
            }
            Ok(MatchResult::Unauthorized(kept))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(accepted_until: u64, expires_at: u64) -> TokenFacts {
        TokenFacts {
            issuer: "https://idp.example".into(),
            token_id: "t1".into(),
            subject: "s".into(),
            accepted_until,
            expires_at,
            lookup_keys: vec!["k".into()],
        }
    }

    fn token_facts_at(f: TokenFacts, now: u64) -> Result<TokenFacts, EvalError> {
        token_facts(f, now, true)
    }

    #[test]
    fn accepted_until_is_raised_to_exp_and_now_and_capped() {
        let now = 1_000;
        assert_eq!(
            token_facts_at(facts(10, 2_000), now)
                .expect("ok")
                .accepted_until,
            2_000
        );
        assert_eq!(
            token_facts_at(facts(10, 500), now)
                .expect("ok")
                .accepted_until,
            now
        );
        assert_eq!(
            token_facts_at(facts(2_600, 2_000), now)
                .expect("ok")
                .accepted_until,
            2_600
        );
        assert_eq!(
            token_facts_at(facts(u64::MAX, 2_000), now)
                .expect("ok")
                .accepted_until,
            MAX_TIMESTAMP
        );
    }

    #[test]
    fn facts_without_a_lookup_key_or_token_id_are_refused() {
        let mut f = facts(2_000, 2_000);
        f.lookup_keys.clear();
        assert!(token_facts_at(f, 1_000).is_err());
        let mut f = facts(2_000, 2_000);
        f.token_id = " ".into();
        assert!(token_facts_at(f, 1_000).is_err());
    }

    #[test]
    fn check_names_are_stable_identifiers() {
        assert!(rejection(Rejection::new("audience", "m"), 100).is_ok());
        assert!(rejection(Rejection::new("Audience", "m"), 100).is_err());
        assert!(rejection(Rejection::new("", "m"), 100).is_err());
        assert!(rejection(Rejection::new("a b", "m"), 100).is_err());
    }

    #[test]
    fn matches_only_name_given_candidates_and_near_misses_are_bounded() {
        let given = vec![Candidate {
            id: 7,
            criteria: "{}".into(),
            pins: vec![],
        }];
        let foreign = MatchResult::Matched(Matched {
            policy_id: 8,
            pins: vec![],
        });
        assert!(match_result(foreign, &given, 100).is_err());
        let misses = MatchResult::Unauthorized(vec![
            NearMiss {
                policy_id: 7,
                reason: "x".repeat(10_000),
            },
            NearMiss {
                policy_id: 8,
                reason: "not given".into(),
            },
        ]);
        let MatchResult::Unauthorized(kept) = match_result(misses, &given, 100).expect("ok") else {
            panic!("unauthorized expected");
        };
        assert_eq!(kept.len(), 1);
        assert!(kept[0].reason.len() <= MAX_NEAR_MISS_BYTES + 3);
    }
}
