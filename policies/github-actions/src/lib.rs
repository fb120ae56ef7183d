//! GitHub Actions: the OIDC token a workflow job requests with
//! `permissions: id-token: write`, from github.com or a GitHub Enterprise
//! Cloud enterprise with its own issuer. The rules are the SDK's for
//! GitHub-style forges ([`trustpub_guest::forge`]): the repository claims
//! must agree, `event_name` must not be a refused event, a policy names the
//! owner, repository, workflow file and optionally the environment and the
//! repository of a reusable workflow, and pins the ids.
//!
//! Claims: <https://docs.github.com/en/actions/reference/security/oidc>;
//! reusable workflows and `job_workflow_ref`:
//! <https://docs.github.com/en/actions/how-tos/secure-your-work/security-harden-deployments/oidc-with-reusable-workflows>;
//! enterprise issuers:
//! <https://docs.github.com/en/enterprise-cloud@latest/actions/reference/security/oidc>.

use serde::Deserialize;
use trustpub_guest::forge::{ForgeProvider, ForgeSettings, NameRule, default_refused_events};
use trustpub_guest::{Config, IssuerMatch};

/// The issuer of tokens minted on github.com.
pub const ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The issuer of a GitHub Enterprise Cloud enterprise that set a custom
/// issuer; `{slug}` is the enterprise's slug.
pub const ENTERPRISE_ISSUER_PATTERN: &str = "https://token.actions.githubusercontent.com/{slug}";

/// The criteria's JSON Schema.
pub const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["owner","repository","workflow"],"properties":{"owner":{"type":"string","pattern":"^[A-Za-z0-9-]{1,39}$","description":"GitHub user or organization that owns the repository (case-insensitive)"},"repository":{"type":"string","pattern":"^[A-Za-z0-9._-]{1,100}$","description":"repository name without the owner (case-insensitive)"},"workflow":{"type":"string","pattern":"^[^/]+\\.(yml|yaml)$","description":"workflow file name under .github/workflows/, e.g. release.yml (case-sensitive): the job's own workflow, or with workflow_repository the calling workflow"},"environment":{"type":"string","minLength":1,"description":"GitHub deployment environment the job must run in (ASCII case-insensitive)"},"workflow_repository":{"type":"string","pattern":"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$","description":"owner/name of the repository whose reusable workflow runs the job, called by the policy's workflow"}}}"#;

const OWNER: &str = "a GitHub user or organization name (1 to 39 letters, digits or '-')";
const REPOSITORY: &str = "a GitHub repository name (1 to 100 letters, digits, '-', '_' or '.')";
const NOT_SEGMENT: &str = "which is not a single issuer path segment";
const NOT_CONFIGURED: &str = "which is not configured on this registry";

pub struct GitHubActions;

/// Settings besides the SDK's standard block.
#[derive(Deserialize)]
pub struct Settings {
    /// Enterprise slugs whose issuers (`<ISSUER>/<slug>`) are accepted; none by default.
    #[serde(default)]
    pub enterprise_slugs: Vec<String>,
    /// `event_name` values refused; `pull_request_target` and `workflow_run` by default.
    #[serde(default = "default_refused_events")]
    pub refused_events: Vec<String>,
}

impl ForgeSettings for Settings {
    fn refused_events(&self) -> &[String] {
        &self.refused_events
    }
    /// A slug is one issuer path segment; anything else is surely a typo.
    fn check(&self) -> Result<(), String> {
        let segment = |s: &&String| !s.is_empty() && !s.contains(['/', '?', '#']);
        match self.enterprise_slugs.iter().find(|s| !segment(s)) {
            Some(bad) => Err(format!("lists '{bad}' in enterprise_slugs, {NOT_SEGMENT}")),
            None => Ok(()),
        }
    }
}

impl ForgeProvider for GitHubActions {
    const NAME: &'static str = "github-actions";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ISSUERS: &'static [&'static str] = &[ISSUER, ENTERPRISE_ISSUER_PATTERN];
    const ISSUER_KIND: &'static str = "a GitHub Actions issuer";
    const CRITERIA_SCHEMA: &'static str = SCHEMA;
    const WORKFLOW_DIRS: &'static [&'static str] = &[".github/workflows"];
    const OWNER: NameRule = NameRule::new(39, "-", OWNER);
    const REPOSITORY: NameRule = NameRule::new(100, "-_.", REPOSITORY);
    type Settings = Settings;

    /// Any enterprise can mint tokens under its own slug, so a slug nobody
    /// configured is refused even when the host happens to hold its keys.
    fn check_issuer(issuer: &IssuerMatch, config: &Config<Settings>) -> Result<(), String> {
        let Some(slug) = issuer.capture("slug").filter(|_| !issuer.configured) else {
            return Ok(());
        };
        let iss = issuer.issuer;
        let message = format!("the iss claim '{iss}' is the GitHub enterprise issuer of '{slug}'");
        let ok = config.provider.enterprise_slugs.iter().any(|s| s == slug);
        ok.then_some(())
            .ok_or(format!("{message}, {NOT_CONFIGURED}"))
    }
}

trustpub_guest::export_evaluator!(GitHubActions);

#[cfg(test)]
mod tests;
