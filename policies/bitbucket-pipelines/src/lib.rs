//! Bitbucket Pipelines: the OIDC token of a step with `oidc: true`
//! (`$BITBUCKET_STEP_OIDC_TOKEN`), minted by its workspace's own issuer.
//!
//! Claims, from Atlassian's docs
//! (<https://support.atlassian.com/bitbucket-cloud/docs/integrate-pipelines-with-resource-servers-using-oidc/>,
//! <https://support.atlassian.com/bitbucket-cloud/docs/deploy-on-aws-using-bitbucket-pipelines-openid-connect/>,
//! custom audiences: <https://www.atlassian.com/blog/bitbucket/bitbucket-pipelines-oidc-now-supports-multiple-audiences>)
//! and the issuer's `claims_supported`: `workspaceUuid`, `repositoryUuid`,
//! `pipelineUuid`, `stepUuid`, `deploymentEnvironmentUuid` (deployment steps
//! only), `branchName`, all UUIDs written `{…}`. The audience is
//! `ari:cloud:bitbucket::workspace/<workspace uuid>` unless the step names
//! its own (`oidc: audiences:`).
//!
//! Decisions where the docs leave room:
//! - **No names, so no pins.** The token names its workspace and repository
//!   only by UUID (the workspace's slug is only in the issuer, and can be
//!   renamed), so criteria name the UUIDs, which never change hands: pinning
//!   them again would add a first-use window and protect nothing.
//! - **Token id.** The token has no `jti`; a step gets one token, so the
//!   replay key is `stepUuid@iat` ([`IdAtIssue`]).
//! - **Audiences per workspace.** An operator accepting Bitbucket's default
//!   audiences lists them in `audience`; a token whose audience is a
//!   workspace's must be its own workspace's (check `workspace`), and when
//!   every configured audience is a workspace's, a policy for another
//!   workspace is refused when written ([`Provider::allows`]).

use serde::{Deserialize, Serialize};
use trustpub_guest::guid::normalize;
use trustpub_guest::job_tokens::{IdAtIssue, branch_name, wanted};
use trustpub_guest::{Config, Guid, NoSettings, Provider, Rule, Verified, ensure};

/// Every workspace's issuer; `{workspace}` is the workspace's slug.
pub const ISSUER_PATTERN: &str =
    "https://api.bitbucket.org/2.0/workspaces/{workspace}/pipelines-config/identity/oidc";
/// Bitbucket's default audience, followed by the workspace's UUID (no braces).
pub const WORKSPACE_AUDIENCE: &str = "ari:cloud:bitbucket::workspace/";

pub struct BitbucketPipelines;

/// The exported evaluator: the token id is `stepUuid@iat`.
pub type Component = IdAtIssue<BitbucketPipelines>;

/// The claims the rules read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    workspace_uuid: Guid,
    repository_uuid: Guid,
    /// Absent outside deployment steps.
    deployment_environment_uuid: Option<String>,
    branch_name: Option<String>,
}

/// A policy: one repository of one workspace, optionally one deployment
/// environment and one branch. UUIDs normalized to lowercase without braces.
#[derive(Deserialize, Serialize)]
pub struct Criteria {
    workspace_uuid: Guid,
    repository_uuid: Guid,
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment_environment_uuid: Option<Guid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    branch: Option<String>,
}

const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["workspace_uuid","repository_uuid"],"properties":{"workspace_uuid":{"type":"string","format":"uuid","description":"the workspace's UUID (Repository settings > OpenID Connect), braces optional"},"repository_uuid":{"type":"string","format":"uuid","description":"the repository's UUID, braces optional"},"deployment_environment_uuid":{"type":"string","format":"uuid","description":"the deployment environment the step must deploy to"},"branch":{"type":"string","minLength":1,"description":"the branch the pipeline must run on, e.g. main (case-sensitive)"}}}"#;

impl Provider for BitbucketPipelines {
    const NAME: &'static str = "bitbucket-pipelines";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ISSUERS: &'static [&'static str] = &[ISSUER_PATTERN];
    const ISSUER_KIND: &'static str = "a Bitbucket Pipelines workspace issuer";
    const CRITERIA_SCHEMA: &'static str = SCHEMA;
    const INDEX_KEY: &'static str = "workspace uuid/repository uuid";
    const TOKEN_ID_CLAIMS: &'static [&'static str] = &["jti", "stepUuid"];
    const RULES: &'static [Rule<Claims, NoSettings>] = &[Rule::custom("workspace", own_workspace)];
    type Config = NoSettings;
    type Claims = Claims;
    type Criteria = Criteria;

    fn lookup_keys(t: &Verified<Claims>) -> Vec<String> {
        vec![key(&t.workspace_uuid, &t.repository_uuid)]
    }
    fn normalize(c: Criteria) -> Result<Criteria, String> {
        let branch = c.branch.map(|b| branch_name("branch", b)).transpose()?;
        Ok(Criteria { branch, ..c })
    }
    fn index_keys(c: &Criteria) -> Vec<String> {
        vec![key(&c.workspace_uuid, &c.repository_uuid)]
    }
    /// With only workspace audiences configured, only those workspaces' tokens
    /// can be valid: a policy for another one could never match.
    fn allows(c: &Criteria, config: &Config<NoSettings>) -> Result<(), String> {
        let served: Option<Vec<Guid>> = config.audience.iter().map(|a| workspace_of(a)).collect();
        let ws = &c.workspace_uuid;
        let why = || {
            format!(
                "workspace {ws} is not served by this registry: its audience {WORKSPACE_AUDIENCE}{ws} is not configured"
            )
        };
        ensure(served.is_none_or(|s| s.contains(ws)), why)
    }
    fn matches(c: &Criteria, t: &Verified<Claims>) -> Result<(), String> {
        let want = key(&c.workspace_uuid, &c.repository_uuid);
        let got = key(&t.workspace_uuid, &t.repository_uuid);
        wanted("repository", Some(&want), Some(&got))?;
        let environment = t.deployment_environment_uuid.as_deref().and_then(normalize);
        let want_env = c.deployment_environment_uuid.as_ref().map(Guid::as_str);
        wanted("deployment environment", want_env, environment.as_deref())?;
        let branch = t.branch_name.as_deref().filter(|b| !b.is_empty());
        wanted("branch", c.branch.as_deref(), branch)
    }
}

/// The index key: `workspace/repository`, lowercase UUIDs without braces.
fn key(workspace: &Guid, repository: &Guid) -> String {
    format!("{workspace}/{repository}")
}

/// The workspace of a default audience (`ari:cloud:bitbucket::workspace/<uuid>`).
fn workspace_of(audience: &str) -> Option<Guid> {
    audience
        .strip_prefix(WORKSPACE_AUDIENCE)
        .and_then(Guid::parse)
}

/// A workspace's default audience is only ever in that workspace's tokens.
fn own_workspace(t: &Verified<Claims>, _: &Config<NoSettings>) -> Result<(), String> {
    let audiences = t.claims().audiences().unwrap_or_default();
    let ws = &t.workspace_uuid;
    let foreign = audiences
        .into_iter()
        .find(|a| a.starts_with(WORKSPACE_AUDIENCE) && workspace_of(a).as_ref() != Some(ws));
    foreign.map_or(Ok(()), |aud| {
        let why = "is another workspace's than the workspaceUuid claim";
        Err(format!("the aud claim '{aud}' {why} '{ws}'"))
    })
}

trustpub_guest::export_evaluator!(Component);

#[cfg(test)]
mod tests;
