//! Microsoft Entra ID: app-only v2.0 tokens of a service principal, such as
//! an Azure workload presents with its managed identity or federated credential.
//!
//! Validation, in order, before any policy is looked at: issuer shape,
//! signature (host), tenant, token version, audience, lifetime, app-only
//! token, client authentication strength, token id. Then the first policy
//! (oldest first) whose `{tid, oid}` equals the token's wins.

mod config;
mod criteria;

use trustpub_guest::issuer::IssuerPattern;
use trustpub_guest::lifetime::check_lifetime;
use trustpub_guest::{
    Claims, Evaluation, Evaluator, Matched, ProviderInfo, Request, SignatureVerifier, UnverifiedJwt,
};

pub use config::Config;
pub use criteria::Criteria;

/// The issuer of every Entra ID v2.0 token; `{tid}` is the tenant.
pub const ISSUER_PATTERN: &str = "https://login.microsoftonline.com/{tid}/v2.0";

pub struct EntraId;

impl Evaluator for EntraId {
    fn info() -> ProviderInfo {
        ProviderInfo {
            name: "entra-id".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            issuers: vec![ISSUER_PATTERN.into()],
            criteria_schema: criteria::SCHEMA.into(),
            // Tenant and object ids are immutable GUIDs: nothing to pin.
            pins: Vec::new(),
        }
    }

    fn check_criteria(criteria: &str) -> Result<String, String> {
        Criteria::parse(criteria).map(|c| c.to_json())
    }

    fn evaluate(request: &Request, verifier: &dyn SignatureVerifier) -> Evaluation {
        Evaluation::from_checks(evaluate(request, verifier))
    }
}

trustpub_guest::export_evaluator!(EntraId);

/// A token that passed every check.
struct ValidToken {
    issuer: String,
    tid: String,
    oid: String,
    subject: String,
    token_id: String,
    expires_at: u64,
}

fn evaluate(request: &Request, verifier: &dyn SignatureVerifier) -> Result<Evaluation, String> {
    // The provider config is the operator's; a broken one is not the client's
    // fault, but failing closed with a clear message is the only safe answer.
    let config = Config::parse(&request.config)?;
    let token = validate(&request.token, &config, request.now, verifier)?;
    let matched = request.policies.iter().find(|policy| {
        Criteria::parse(&policy.criteria).is_ok_and(|c| c.tid == token.tid && c.oid == token.oid)
    });
    Ok(match matched {
        Some(policy) => Evaluation::Matched(Matched {
            policy_id: policy.id,
            issuer: token.issuer,
            token_id: token.token_id,
            subject: token.subject,
            expires_at: token.expires_at,
            pins: Vec::new(),
        }),
        None => Evaluation::Unauthorized,
    })
}

fn validate(
    raw: &str,
    config: &Config,
    now: u64,
    verifier: &dyn SignatureVerifier,
) -> Result<ValidToken, String> {
    let unverified = UnverifiedJwt::parse(raw)?;
    let issuer = unverified.claims.string("iss")?;
    let pattern = IssuerPattern::parse(ISSUER_PATTERN)?;
    let Some(captures) = pattern.captures(issuer) else {
        return Err(format!(
            "the iss claim '{issuer}' is not an Entra ID v2.0 issuer ({ISSUER_PATTERN})"
        ));
    };
    let issuer_tenant = captures
        .into_iter()
        .next()
        .map(|(_, v)| v)
        .unwrap_or_default();

    // From here on only verified claims count.
    let claims = trustpub_guest::verify::verified_claims(verifier, raw, issuer)?;

    let tid = claims.string("tid")?;
    let tid = trustpub_guest::guid::normalize(tid)
        .ok_or_else(|| format!("the tid claim '{tid}' is not a GUID"))?;
    if trustpub_guest::guid::normalize(&issuer_tenant).as_deref() != Some(tid.as_str()) {
        return Err(format!(
            "the tid claim '{tid}' does not match the issuer's tenant '{issuer_tenant}'"
        ));
    }
    if let Some(allowed) = &config.allowed_tenants
        && !allowed.contains(&tid)
    {
        return Err(format!(
            "the tenant '{tid}' is not allowed by this registry"
        ));
    }

    let ver = claims.string("ver")?;
    if ver != "2.0" {
        return Err(format!(
            "the ver claim '{ver}' is not 2.0 (only v2.0 tokens are accepted)"
        ));
    }

    claims.require_single_audience(&config.audience)?;
    claims.timestamp("iat")?;
    let expires_at = check_lifetime(&claims, now, config.clock_skew_seconds)?;
    let oid = check_app_only(&claims)?;

    let azpacr = claims.string("azpacr")?;
    if azpacr != "2" {
        return Err(format!(
            "the azpacr claim '{azpacr}' is not 2: the application must authenticate with a certificate or federated credential, not a client secret"
        ));
    }

    let token_id = claims.token_id(&["uti", "jti"])?;

    Ok(ValidToken {
        issuer: issuer.to_string(),
        tid,
        subject: claims.string("sub")?.to_string(),
        oid,
        token_id: token_id.to_string(),
        expires_at,
    })
}

/// An app-only token of a service principal: no delegated scopes, `idtyp`
/// `app` when present, and the subject is the principal itself (`sub` = `oid`).
/// Returns the normalized object id.
fn check_app_only(claims: &Claims) -> Result<String, String> {
    if claims.contains("scp") {
        return Err(
            "the token carries an scp claim: it is a user's delegated token, not an app-only token"
                .into(),
        );
    }
    if let Some(idtyp) = claims.optional_string("idtyp")?
        && idtyp != "app"
    {
        return Err(format!(
            "the idtyp claim '{idtyp}' is not app: only app-only tokens are accepted"
        ));
    }
    let oid = claims.string("oid")?;
    let sub = claims.string("sub")?;
    let oid_norm = trustpub_guest::guid::normalize(oid)
        .ok_or_else(|| format!("the oid claim '{oid}' is not a GUID"))?;
    if trustpub_guest::guid::normalize(sub).as_deref() != Some(oid_norm.as_str()) {
        return Err(format!(
            "the sub claim '{sub}' differs from the oid claim '{oid}': not a service principal's own token"
        ));
    }
    Ok(oid_norm)
}

#[cfg(test)]
mod tests;
