//! Validation of a GitHub Actions OIDC token, independent of any policy.

use trustpub_guest::issuer::IssuerPattern;
use trustpub_guest::lifetime::check_lifetime;
use trustpub_guest::{SignatureVerifier, UnverifiedJwt};

use crate::config::Config;

/// The issuer of tokens minted on github.com.
pub const ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The issuer of a GitHub Enterprise Cloud enterprise that set a custom
/// issuer; `{slug}` is the enterprise's slug.
pub const ENTERPRISE_ISSUER_PATTERN: &str = "https://token.actions.githubusercontent.com/{slug}";

/// A token that passed every check; claims copied from the verified payload.
#[derive(Debug, Clone)]
pub struct ValidToken {
    pub issuer: String,
    pub token_id: String,
    pub subject: String,
    pub expires_at: u64,
    /// `owner/name`, as GitHub currently spells it.
    pub repository: String,
    pub repository_owner: String,
    pub repository_id: String,
    pub repository_owner_id: String,
    /// `owner/repo/.github/workflows/file.yml@ref` of the workflow whose code runs the job.
    pub job_workflow_ref: String,
    /// The deployment environment the job runs in, if any.
    pub environment: Option<String>,
}

/// Runs every token check, in order; the first failure is the message.
pub fn validate(
    raw: &str,
    config: &Config,
    now: u64,
    verifier: &dyn SignatureVerifier,
) -> Result<ValidToken, String> {
    let unverified = UnverifiedJwt::parse(raw)?;
    let issuer = unverified.claims.string("iss")?;
    check_issuer(issuer, config)?;

    // From here on only verified claims count.
    let claims = trustpub_guest::verify::verified_claims(verifier, raw, issuer)?;

    claims.require_single_audience(&config.audience)?;
    claims.timestamp("iat")?;
    let expires_at = check_lifetime(&claims, now, config.clock_skew_seconds)?;
    let token_id = claims.token_id(&["jti"])?;

    let repository = claims.string("repository")?;
    let repository_owner = claims.string("repository_owner")?;
    let repository_id = claims.string("repository_id")?;
    let repository_owner_id = claims.string("repository_owner_id")?;
    let job_workflow_ref = claims.string("job_workflow_ref")?;
    let subject = claims.string("sub")?;
    let environment = claims.optional_string("environment")?;
    check_repository_owner(repository, repository_owner)?;

    Ok(ValidToken {
        issuer: issuer.to_string(),
        token_id: token_id.to_string(),
        subject: subject.to_string(),
        expires_at,
        repository: repository.to_string(),
        repository_owner: repository_owner.to_string(),
        repository_id: repository_id.to_string(),
        repository_owner_id: repository_owner_id.to_string(),
        job_workflow_ref: job_workflow_ref.to_string(),
        environment: environment.map(str::to_string),
    })
}

/// The public issuer, or an enterprise issuer the operator configured: any
/// enterprise can mint tokens under its own slug, so a slug nobody configured
/// must not be trusted even when the host happens to hold keys for it.
fn check_issuer(issuer: &str, config: &Config) -> Result<(), String> {
    if issuer == ISSUER {
        return Ok(());
    }
    let pattern = IssuerPattern::parse(ENTERPRISE_ISSUER_PATTERN)?;
    let Some(slug) = pattern
        .captures(issuer)
        .and_then(|captures| captures.into_iter().next())
        .map(|(_, slug)| slug)
    else {
        return Err(format!(
            "the iss claim '{issuer}' is not a GitHub Actions issuer ({ISSUER} or {ENTERPRISE_ISSUER_PATTERN})"
        ));
    };
    if !config.accepts_enterprise(&slug) {
        return Err(format!(
            "the iss claim '{issuer}' is the GitHub enterprise issuer of '{slug}', which is not configured on this registry"
        ));
    }
    Ok(())
}

/// `repository` is `owner/name` with the owner GitHub names in
/// `repository_owner`; a token where they disagree is not one GitHub minted.
fn check_repository_owner(repository: &str, owner: &str) -> Result<(), String> {
    let name = repository
        .strip_prefix(owner)
        .and_then(|rest| rest.strip_prefix('/'));
    match name {
        Some(name) if !name.is_empty() && !name.contains('/') => Ok(()),
        _ => Err(format!(
            "the repository claim '{repository}' is not '{owner}/<name>' for the repository_owner claim '{owner}'"
        )),
    }
}
