//! Running a case file against a backend, and judging each case.
//!
//! For every case: build header and claims, get the token from the backend
//! (or take the case's literal `token`),
//! and in one session `validate`; when valid, the candidates are the stored
//! policies (those the case allows) sharing an index key with the token's
//! lookup keys, ordered by id, and `match` runs on them. Each stored policy's
//! criteria go through `check-criteria` once per file first; criteria the
//! evaluator refuses are an error of the file, reported as a failure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::backend::CaseBackend;
use super::file::{Case, CaseFile, Expect, Signature, StoredPolicy};
use crate::check::is_valid_name;
use crate::types::{Candidate, CheckedCriteria, MatchResult, TokenFacts, Validation};

/// What a file's run came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseReport {
    pub passed: usize,
    /// One line per failed case (or per file error): file, case, what differed.
    pub failures: Vec<String>,
}

pub fn run(file: &CaseFile, backend: &mut dyn CaseBackend) -> CaseReport {
    let mut report = CaseReport::default();
    let mut stored: Vec<(&StoredPolicy, CheckedCriteria)> = Vec::new();
    for policy in &file.policies {
        match backend.check_criteria(&policy.criteria.to_string(), &file.config.to_string()) {
            Ok(Ok(checked)) => stored.push((policy, checked)),
            Ok(Err(e)) => report.failures.push(format!(
                "{}: policy {}: the evaluator refuses its criteria: {e}",
                file.name, policy.id
            )),
            Err(e) => report.failures.push(format!(
                "{}: policy {}: check-criteria failed: {e}",
                file.name, policy.id
            )),
        }
    }
    if !report.failures.is_empty() {
        return report;
    }
    stored.sort_by_key(|(policy, _)| policy.id);
    for case in &file.cases {
        match run_case(file, &stored, case, backend) {
            Ok(()) => report.passed += 1,
            Err(why) => report
                .failures
                .push(format!("{}: {}: {why}", file.name, case.name)),
        }
    }
    report
}

fn run_case(
    file: &CaseFile,
    stored: &[(&StoredPolicy, CheckedCriteria)],
    case: &Case,
    backend: &mut dyn CaseBackend,
) -> Result<(), String> {
    let token = match &case.token {
        Some(token) => token.clone(),
        None => backend.token(
            &case.header(file),
            &case.claims(file),
            case.signature == Signature::Valid,
        ),
    };
    let mut select = |facts: &TokenFacts| -> Vec<Candidate> {
        stored
            .iter()
            .filter(|(policy, _)| case.has_policy(policy.id))
            .filter(|(_, checked)| {
                checked
                    .index_keys
                    .iter()
                    .any(|key| facts.lookup_keys.contains(key))
            })
            .map(|(policy, checked)| Candidate {
                id: policy.id,
                criteria: checked.criteria.clone(),
                pins: policy.pins.clone().into_iter().collect(),
            })
            .collect()
    };
    let config = case.config(file).to_string();
    let (validation, result) = backend
        .exchange(&token, &config, file.now, &mut select)
        .map_err(|e| format!("the evaluator failed: {e}"))?;
    judge(case, &validation, result.as_ref())
}

fn judge(case: &Case, validation: &Validation, result: Option<&MatchResult>) -> Result<(), String> {
    let got = || describe(validation, result);
    let contains = |text: &str| {
        case.message_contains
            .as_deref()
            .is_none_or(|needle| text.contains(needle))
    };
    match (case.expect, validation, result) {
        (Expect::BadToken, Validation::BadToken(r), _) => {
            if !is_valid_name(&r.check) {
                return Err(format!("the check name {:?} is not valid", r.check));
            }
            if Some(&r.check) != case.check.as_ref() || !contains(&r.message) {
                return Err(format!("expected {}, got {}", expected(case), got()));
            }
            Ok(())
        }
        (Expect::Unauthorized, Validation::Valid(_), Some(MatchResult::Unauthorized(misses))) => {
            let any_reason =
                case.message_contains.is_none() || misses.iter().any(|m| contains(&m.reason));
            if any_reason {
                Ok(())
            } else {
                Err(format!("expected {}, got {}", expected(case), got()))
            }
        }
        (Expect::Matched, Validation::Valid(_), Some(MatchResult::Matched(m))) => {
            let pins: BTreeMap<String, String> = m.pins.iter().cloned().collect();
            let pins_ok = case.pins.as_ref().is_none_or(|want| *want == pins);
            if Some(m.policy_id) == case.policy && pins_ok {
                Ok(())
            } else {
                Err(format!("expected {}, got {}", expected(case), got()))
            }
        }
        _ => Err(format!("expected {}, got {}", expected(case), got())),
    }
}

fn expected(case: &Case) -> String {
    let mut text = match case.expect {
        Expect::BadToken => format!("bad-token [{}]", case.check.as_deref().unwrap_or("?")),
        Expect::Unauthorized => "unauthorized".to_string(),
        Expect::Matched => format!("matched policy {}", case.policy.unwrap_or_default()),
    };
    if let Some(pins) = &case.pins {
        let _ = write!(text, " with pins {pins:?}");
    }
    if let Some(needle) = &case.message_contains {
        let _ = write!(text, " mentioning {needle:?}");
    }
    text
}

fn describe(validation: &Validation, result: Option<&MatchResult>) -> String {
    match (validation, result) {
        (Validation::BadToken(r), _) => format!("bad-token [{}] {:?}", r.check, r.message),
        (Validation::Valid(_), Some(MatchResult::Matched(m))) => {
            format!("matched policy {} with pins {:?}", m.policy_id, m.pins)
        }
        (Validation::Valid(facts), Some(MatchResult::Unauthorized(misses))) => {
            let reasons: Vec<String> = misses
                .iter()
                .map(|m| format!("policy {}: {}", m.policy_id, m.reason))
                .collect();
            format!(
                "unauthorized (lookup keys {:?}; near misses: {})",
                facts.lookup_keys,
                if reasons.is_empty() {
                    "none".to_string()
                } else {
                    reasons.join("; ")
                }
            )
        }
        (Validation::Valid(_), None) => "valid, but no match result".to_string(),
    }
}
