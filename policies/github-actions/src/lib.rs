//! GitHub Actions: the OIDC token a workflow job requests with
//! `permissions: id-token: write`, from github.com or a GitHub Enterprise
//! Cloud enterprise with its own issuer.
//!
//! Validation, in order, before any policy is looked at: issuer (public, or a
//! configured enterprise), signature (host), audience, lifetime, token id, and
//! the repository claims. Then the first policy (oldest first) whose owner,
//! repository, workflow file, optional environment and pinned ids all fit wins.

mod config;
mod criteria;
mod matching;
mod token;

use trustpub_guest::{Evaluation, Evaluator, Matched, ProviderInfo, Request, SignatureVerifier};

pub use config::Config;
pub use criteria::Criteria;
pub use token::{ENTERPRISE_ISSUER_PATTERN, ISSUER};

pub struct GitHubActions;

impl Evaluator for GitHubActions {
    fn info() -> ProviderInfo {
        ProviderInfo {
            name: "github-actions".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            issuers: vec![ISSUER.into(), ENTERPRISE_ISSUER_PATTERN.into()],
            criteria_schema: criteria::SCHEMA.into(),
            // Names are reused after an account or repository is deleted; ids are not.
            pins: vec![
                matching::PIN_REPOSITORY_OWNER_ID.into(),
                matching::PIN_REPOSITORY_ID.into(),
            ],
        }
    }

    fn check_criteria(criteria: &str) -> Result<String, String> {
        Criteria::parse(criteria).map(|c| c.to_json())
    }

    fn evaluate(request: &Request, verifier: &dyn SignatureVerifier) -> Evaluation {
        Evaluation::from_checks(evaluate(request, verifier))
    }
}

trustpub_guest::export_evaluator!(GitHubActions);

fn evaluate(request: &Request, verifier: &dyn SignatureVerifier) -> Result<Evaluation, String> {
    // The provider config is the operator's; a broken one is not the client's
    // fault, but failing closed with a clear message is the only safe answer.
    let config = Config::parse(&request.config)?;
    let token = token::validate(&request.token, &config, request.now, verifier)?;
    let matched = request
        .policies
        .iter()
        .find(|policy| matching::policy_matches(policy, &token));
    Ok(match matched {
        Some(policy) => Evaluation::Matched(Matched {
            policy_id: policy.id,
            pins: matching::pins_of(&token),
            issuer: token.issuer,
            token_id: token.token_id,
            subject: token.subject,
            expires_at: token.expires_at,
        }),
        None => Evaluation::Unauthorized,
    })
}

#[cfg(test)]
mod tests;
