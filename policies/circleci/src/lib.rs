//! CircleCI: the OIDC token of a job (`$CIRCLE_OIDC_TOKEN`, `…_V2`, or
//! `circleci run oidc get --claims '{"aud": …}'`), minted by its
//! organization's own issuer. Claims, from CircleCI's docs
//! (<https://circleci.com/docs/guides/permissions-authentication/openid-connect-tokens/>,
//! <https://circleci.com/docs/guides/permissions-authentication/oidc-tokens-with-custom-claims/>):
//! `oidc.circleci.com/project-id`, `…/context-ids`, `…/vcs-origin`,
//! `…/vcs-ref`, `…/ssh-rerun`; the audience is the organization's id unless
//! the job asks for another. Tokens also carry `…/job-id` and other ids the
//! docs do not list (PyPI reads them:
//! <https://github.com/pypi/warehouse/blob/main/warehouse/oidc/models/circleci.py>).
//!
//! Decisions where the docs leave room:
//! - **Ids, so no pins.** Organizations, projects and contexts are UUIDs,
//!   which never change hands; the criteria name them, so pinning them again
//!   would add a first-use window and protect nothing.
//! - **The organization is the issuer's** (`…/org/<id>`, verified).
//! - **Token id.** No `jti`: `<job-id>@iat` (`sub@iat` without a job id).
//! - **Forks and SSH reruns.** A project passing secrets to forked pull
//!   requests gives them its tokens: `vcs_origin` (and `vcs_ref`) in the
//!   criteria exclude them. A job rerun with SSH has a person in it: its
//!   token is refused (check `ssh-rerun`, as PyPI does).

use serde::{Deserialize, Serialize};
use trustpub_guest::job_tokens::{IdAtIssue, wanted};
use trustpub_guest::{Config, Guid, IssuerMatch, NoSettings, Provider, Rule, Verified, ensure};

/// Every organization's issuer; `{org}` is the organization's id.
pub const ISSUER_PATTERN: &str = "https://oidc.circleci.com/org/{org}";

pub struct CircleCi;

const NOT_A_REF: &str = "is not a ref, e.g. refs/heads/main";
const NOT_A_REPOSITORY: &str = "is not a repository, e.g. github.com/contoso/app";
const SSH_RERUN: &str = "the job was rerun with SSH (oidc.circleci.com/ssh-rerun is true): a person may run commands in it";

/// The exported evaluator: the token id is `<job-id>@iat`.
pub type Component = IdAtIssue<CircleCi>;

/// The claims the rules read.
#[derive(Deserialize)]
pub struct Claims {
    #[serde(rename = "oidc.circleci.com/project-id")]
    project_id: Guid,
    #[serde(rename = "oidc.circleci.com/context-ids")]
    context_ids: Option<Vec<Guid>>,
    /// e.g. `github.com/contoso/app`; absent for custom webhooks.
    #[serde(rename = "oidc.circleci.com/vcs-origin")]
    vcs_origin: Option<String>,
    /// e.g. `refs/heads/main`; absent for custom webhooks.
    #[serde(rename = "oidc.circleci.com/vcs-ref")]
    vcs_ref: Option<String>,
    #[serde(rename = "oidc.circleci.com/ssh-rerun")]
    ssh_rerun: Option<bool>,
}

/// A policy: one project of one organization, optionally a context the job
/// must use, its repository (`vcs_origin`, lowercase, without a scheme) and
/// ref. UUIDs lowercase.
#[derive(Deserialize, Serialize)]
pub struct Criteria {
    organization_id: Guid,
    project_id: Guid,
    #[serde(skip_serializing_if = "Option::is_none")]
    context_id: Option<Guid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vcs_origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vcs_ref: Option<String>,
}

const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["organization_id","project_id"],"properties":{"organization_id":{"type":"string","format":"uuid","description":"Organization Settings > Overview"},"project_id":{"type":"string","format":"uuid","description":"Project Settings > Overview"},"context_id":{"type":"string","format":"uuid","description":"a context the job must use"},"vcs_origin":{"type":"string","description":"the repository the pipeline must come from, e.g. github.com/contoso/app (case-insensitive)"},"vcs_ref":{"type":"string","pattern":"^refs/","description":"the ref the pipeline must be for, e.g. refs/heads/main"}}}"#;

impl Provider for CircleCi {
    const NAME: &'static str = "circleci";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ISSUERS: &'static [&'static str] = &[ISSUER_PATTERN];
    const ISSUER_KIND: &'static str = "a CircleCI organization issuer";
    const CRITERIA_SCHEMA: &'static str = SCHEMA;
    const INDEX_KEY: &'static str = "organization id/project id";
    const TOKEN_ID_CLAIMS: &'static [&'static str] = &["jti", "oidc.circleci.com/job-id", "sub"];
    const RULES: &'static [Rule<Claims, NoSettings>] = &[Rule::custom("ssh-rerun", no_ssh_rerun)];
    type Config = NoSettings;
    type Claims = Claims;
    type Criteria = Criteria;

    /// The organization is the issuer's last segment: a UUID.
    fn check_issuer(issuer: &IssuerMatch<'_>, _: &Config<NoSettings>) -> Result<(), String> {
        let iss = issuer.issuer;
        let why = || format!("the iss claim '{iss}' does not end in a CircleCI organization id");
        ensure(organization(iss).is_some(), why)
    }
    fn lookup_keys(t: &Verified<Claims>) -> Vec<String> {
        organization(t.issuer())
            .map(|org| key(&org, &t.project_id))
            .into_iter()
            .collect()
    }
    fn normalize(c: Criteria) -> Result<Criteria, String> {
        if let Some(r) = c.vcs_ref.as_deref().filter(|r| !r.starts_with("refs/")) {
            return Err(format!("criteria vcs_ref '{r}' {NOT_A_REF}"));
        }
        let vcs_origin = c.vcs_origin.as_deref().map(origin);
        if let Some(o) = vcs_origin.as_deref().filter(|o| !o.contains('/')) {
            return Err(format!("criteria vcs_origin '{o}' {NOT_A_REPOSITORY}"));
        }
        Ok(Criteria { vcs_origin, ..c })
    }
    fn index_keys(c: &Criteria) -> Vec<String> {
        vec![key(&c.organization_id, &c.project_id)]
    }
    fn matches(c: &Criteria, t: &Verified<Claims>) -> Result<(), String> {
        let want = key(&c.organization_id, &c.project_id);
        wanted("project", Some(&want), Some(&Self::lookup_keys(t).concat()))?;
        let used = t.context_ids.as_deref().unwrap_or_default();
        if let Some(id) = c.context_id.as_ref().filter(|id| !used.contains(id)) {
            let used = used.iter().map(Guid::as_str).collect::<Vec<_>>().join(", ");
            return Err(format!("contexts are [{used}], the policy wants {id}"));
        }
        let got_origin = t.vcs_origin.as_deref().map(origin);
        wanted("vcs-origin", c.vcs_origin.as_deref(), got_origin.as_deref())?;
        wanted("vcs-ref", c.vcs_ref.as_deref(), t.vcs_ref.as_deref())
    }
}

/// The organization id an issuer ends in.
fn organization(issuer: &str) -> Option<Guid> {
    issuer.rsplit('/').next().and_then(Guid::parse)
}

/// The index key: `organization/project`, lowercase UUIDs.
fn key(organization: &Guid, project: &Guid) -> String {
    format!("{organization}/{project}")
}

/// A repository URL as compared: lowercase, without `https://`.
fn origin(url: &str) -> String {
    let url = url.to_ascii_lowercase();
    url.strip_prefix("https://").unwrap_or(&url).to_string()
}

/// A job rerun with SSH has a person at a shell in it.
fn no_ssh_rerun(t: &Verified<Claims>, _: &Config<NoSettings>) -> Result<(), String> {
    ensure(t.ssh_rerun != Some(true), || SSH_RERUN.into())
}

trustpub_guest::export_evaluator!(Component);

#[cfg(test)]
mod tests;
