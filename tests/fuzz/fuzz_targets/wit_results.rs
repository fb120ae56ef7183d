//! The host's side of the WIT boundary: whatever values a hostile guest
//! returns from `validate`, `match-candidates` or `check-criteria`, the host
//! either refuses them (an evaluator failure) or keeps values it can store
//! and act on safely. Nothing may panic.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use trustpub::fuzzing;
use trustpub::runtime::{MAX_INDEX_KEY_BYTES, MAX_INDEX_KEYS};
use trustpub_guest::claims::MAX_TIMESTAMP;
use trustpub_guest::types::{
    Candidate, CheckedCriteria, MatchResult, Matched, NearMiss, Rejection, TokenFacts, Validation,
};

#[derive(Arbitrary, Debug)]
struct Facts {
    issuer: String,
    token_id: String,
    subject: String,
    accepted_until: u64,
    expires_at: u64,
    lookup_keys: Vec<String>,
}

#[derive(Arbitrary, Debug)]
enum Returned {
    Validate {
        v0_1: bool,
        valid: Result<Facts, (String, String)>,
        now: u32,
        max: u16,
    },
    Match {
        matched: Result<(u64, Vec<(String, String)>), Vec<(u64, String)>>,
        candidates: Vec<u64>,
        max: u16,
    },
    Criteria {
        v0_1: bool,
        result: Result<(String, Vec<String>), String>,
        max: u16,
    },
}

fn good_keys(keys: &[String]) -> bool {
    (1..=MAX_INDEX_KEYS).contains(&keys.len())
        && keys
            .iter()
            .all(|k| !k.is_empty() && k.len() <= MAX_INDEX_KEY_BYTES)
}

fn validate(v0_1: bool, valid: Result<Facts, (String, String)>, now: u64, max: usize) {
    let result = match valid {
        Ok(f) => Validation::Valid(TokenFacts {
            issuer: f.issuer,
            token_id: f.token_id,
            subject: f.subject,
            accepted_until: f.accepted_until,
            expires_at: f.expires_at,
            lookup_keys: f.lookup_keys,
        }),
        Err((check, message)) => Validation::BadToken(Rejection { check, message }),
    };
    match fuzzing::validation(v0_1, result, now, max) {
        Err(_) => {}
        Ok(Validation::BadToken(r)) => {
            assert!(!r.check.is_empty() && r.check.len() <= 64);
            assert!(r.check.bytes().all(|b| b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || b == b'-'));
            assert!(r.message.len() <= max);
        }
        Ok(Validation::Valid(f)) => {
            assert!(f.issuer.len() + f.token_id.len() + f.subject.len() <= max);
            if !v0_1 {
                assert!(!f.token_id.trim().is_empty(), "a blank token id was kept");
                assert!(f.expires_at <= MAX_TIMESTAMP);
                assert!(f.accepted_until >= f.expires_at && f.accepted_until >= now);
                assert!(f.accepted_until <= MAX_TIMESTAMP);
                assert!(good_keys(&f.lookup_keys), "{:?}", f.lookup_keys);
            }
        }
    }
}

type Guessed = Result<(u64, Vec<(String, String)>), Vec<(u64, String)>>;

fn matched(guessed: Guessed, ids: Vec<u64>, max: usize) {
    let candidates: Vec<Candidate> = ids
        .iter()
        .map(|&id| Candidate {
            id,
            criteria: "{}".into(),
            pins: Vec::new(),
        })
        .collect();
    let result = match guessed {
        Ok((policy_id, pins)) => MatchResult::Matched(Matched { policy_id, pins }),
        Err(misses) => MatchResult::Unauthorized(
            misses
                .into_iter()
                .map(|(policy_id, reason)| NearMiss { policy_id, reason })
                .collect(),
        ),
    };
    match fuzzing::match_result(result, &candidates, max) {
        Err(_) => {}
        Ok(MatchResult::Matched(m)) => {
            assert!(ids.contains(&m.policy_id), "kept a match of a policy not given");
            let len: usize = m.pins.iter().map(|(k, v)| k.len() + v.len()).sum();
            assert!(len <= max);
        }
        Ok(MatchResult::Unauthorized(kept)) => {
            for (i, miss) in kept.iter().enumerate() {
                assert!(ids.contains(&miss.policy_id), "kept a near miss of a policy not given");
                assert!(kept[..i].iter().all(|k| k.policy_id != miss.policy_id));
                // Cut at a character boundary, with an ellipsis.
                assert!(miss.reason.len() <= 256 + 3);
            }
        }
    }
}

fn criteria(v0_1: bool, result: Result<(String, Vec<String>), String>, max: usize) {
    let result = result.map(|(criteria, index_keys)| CheckedCriteria {
        criteria,
        index_keys,
    });
    match fuzzing::checked_criteria(v0_1, result, max) {
        Err(_) => {}
        Ok(Err(message)) => assert!(message.len() <= max),
        Ok(Ok(c)) => {
            assert!(c.criteria.len() <= max);
            if !v0_1 {
                assert!(good_keys(&c.index_keys), "{:?}", c.index_keys);
                assert!(c.index_keys.windows(2).all(|w| w[0] < w[1]), "keys sorted, once");
            }
        }
    }
}

fuzz_target!(|returned: Returned| match returned {
    Returned::Validate {
        v0_1,
        valid,
        now,
        max,
    } => validate(v0_1, valid, u64::from(now), usize::from(max)),
    Returned::Match {
        matched: guessed,
        candidates,
        max,
    } => matched(guessed, candidates, usize::from(max)),
    Returned::Criteria { v0_1, result, max } => criteria(v0_1, result, usize::from(max)),
});
