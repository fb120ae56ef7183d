//! The candidate loop of `match`: the first candidate (oldest first) whose
//! criteria, pins and rule all accept the verified token wins; every other
//! one leaves a near-miss reason for the audit log.

use crate::criteria;
use crate::pins;
use crate::provider::Provider;
use crate::types::{Candidate, MatchResult, Matched, NearMiss};
use crate::verified::Verified;

pub fn match_candidates<P: Provider>(
    token: &Verified<P::Claims>,
    candidates: &[Candidate],
) -> MatchResult {
    let mut near_misses = Vec::new();
    for candidate in candidates {
        match check::<P>(token, candidate) {
            Ok(()) => {
                return MatchResult::Matched(Matched {
                    policy_id: candidate.id,
                    pins: pins::values(P::PINS, token),
                });
            }
            Err(reason) => near_misses.push(NearMiss {
                policy_id: candidate.id,
                reason,
            }),
        }
    }
    MatchResult::Unauthorized(near_misses)
}

/// One candidate: criteria parse, pins hold (checked before the rule, so a
/// re-registered name never gets as far as its criteria), the rule accepts.
fn check<P: Provider>(token: &Verified<P::Claims>, candidate: &Candidate) -> Result<(), String> {
    let criteria = criteria::parse::<P>(&candidate.criteria)
        .map_err(|e| format!("the policy's criteria do not parse: {e}"))?;
    pins::check(P::PINS, &candidate.pins, token)?;
    P::matches(&criteria, token)
}
