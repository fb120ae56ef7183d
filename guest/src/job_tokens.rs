//! Tokens of CI jobs and cloud workloads: a replay key for tokens without a
//! `jti`, and the optional conditions policies put on a job (branch,
//! deployment environment).
//!
//! Bitbucket Pipelines, CircleCI, Buildkite and Google's service-account
//! identity tokens carry no `jti`. What they carry is the id of the job (or
//! step, or account) the token was minted for, and `iat`: [`IdAtIssue`] makes
//! `{id}@{iat}` the token id. The same token always has the same id, so a
//! replay is refused; two tokens minted for one job in the same second share
//! one, so the second is refused too (failing closed).

use std::marker::PhantomData;

use crate::check::{Check, TOKEN_ID};
use crate::evaluator::Evaluator;
use crate::provider::Provider;
use crate::types::{Candidate, CheckedCriteria, MatchResult, ProviderInfo, Rejection, TokenFacts};
use crate::verified::Verified;
use crate::verify::SignatureVerifier;

/// Provider `P` with the token id `{id}@{iat}`, where `id` is the first of
/// `P::TOKEN_ID_CLAIMS` the token has (e.g. `["jti", "job_id"]`: a `jti`
/// should the platform ever add one, else the job's id). Everything else is
/// `P`'s: export it with `export_evaluator!(IdAtIssue<MyProvider>)`.
pub struct IdAtIssue<P>(PhantomData<P>);

/// What `validate` gives: the token's facts and its verified claims.
type Validated<P> = Result<(TokenFacts, Verified<<P as Provider>::Claims>), Rejection>;

impl<P: Provider> Evaluator for IdAtIssue<P> {
    type Token = Verified<P::Claims>;

    fn info() -> ProviderInfo {
        <P as Evaluator>::info()
    }

    fn check_criteria(criteria: &str, config: &str) -> Result<CheckedCriteria, String> {
        <P as Evaluator>::check_criteria(criteria, config)
    }

    fn validate(raw: &str, config: &str, now: u64, v: &dyn SignatureVerifier) -> Validated<P> {
        let (mut facts, token) = <P as Evaluator>::validate(raw, config, now, v)?;
        let iat = token.claims().timestamp("iat").check(TOKEN_ID)?;
        facts.token_id = format!("{}@{iat}", facts.token_id);
        Ok((facts, token))
    }

    fn match_candidates(token: &Self::Token, candidates: &[Candidate]) -> MatchResult {
        <P as Evaluator>::match_candidates(token, candidates)
    }
}

/// An optional condition of a policy on an optional claim, compared exactly:
/// none wanted, or the token's value is the wanted one. Otherwise the near
/// miss "{what} is {got}, the policy wants {want}" (`unset` when the token
/// has none).
pub fn wanted(what: &str, want: Option<&str>, got: Option<&str>) -> Result<(), String> {
    match (want, got) {
        (Some(want), got) if got != Some(want) => {
            let got = got.unwrap_or("unset");
            Err(format!("{what} is {got}, the policy wants {want}"))
        }
        _ => Ok(()),
    }
}

/// A policy's branch condition as CI platforms write branches in their
/// claims (`main`, not `refs/heads/main`), kept as written: branch names are
/// case-sensitive.
pub fn branch_name(field: &str, value: String) -> Result<String, String> {
    if value.starts_with("refs/") {
        return Err(format!(
            "criteria {field} '{value}' is a ref: give the branch name alone, e.g. main"
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::{branch_name, wanted};

    #[test]
    fn branches_are_names_not_refs() {
        assert_eq!(branch_name("branch", "Main".into()), Ok("Main".into()));
        let err = branch_name("branch", "refs/heads/main".into()).expect_err("a ref");
        assert!(err.contains("give the branch name alone"), "{err}");
    }

    #[test]
    fn optional_conditions() {
        assert_eq!(wanted("branch", None, Some("dev")), Ok(()));
        assert_eq!(wanted("branch", Some("main"), Some("main")), Ok(()));
        assert_eq!(
            wanted("branch", Some("main"), Some("Main")),
            Err("branch is Main, the policy wants main".into())
        );
        assert_eq!(
            wanted("branch", Some("main"), None),
            Err("branch is unset, the policy wants main".into())
        );
    }
}
