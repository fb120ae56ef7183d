//! Buildkite: the OIDC token a job requests with `buildkite-agent oidc
//! request-token --audience <registry> --claim organization_id,pipeline_id`,
//! from the one issuer all Buildkite organizations share. Claims, from
//! Buildkite's docs (<https://buildkite.com/docs/agent/cli/reference/oidc>,
//! <https://buildkite.com/docs/pipelines/security/oidc>):
//! `organization_slug`, `pipeline_slug`, `build_branch`, `build_tag`,
//! `build_commit`, `step_key`, `job_id`, `agent_id`, `build_source`,
//! `runner_environment`, and on request `organization_id`, `pipeline_id`.
//!
//! Decisions where the docs leave room:
//! - **Slugs in the criteria, ids pinned.** A policy names the organization
//!   and pipeline by slug, what people know and every token carries; slugs
//!   are renamed and then free for others, so the organization's and
//!   pipeline's UUIDs are pinned on first use. Tokens carry them only on
//!   request: a token without them is refused (check `ids`) with the
//!   command that adds them.
//! - **One issuer for every organization**: the criteria's organization is
//!   what tells them apart (Buildkite's own workload identities require an
//!   organization condition for the same reason).
//! - **Token id.** No `jti`: `<job_id>@iat` ([`IdAtIssue`]).

use serde::{Deserialize, Serialize};
use trustpub_guest::job_tokens::{IdAtIssue, branch_name, wanted};
use trustpub_guest::names::ascii_name;
use trustpub_guest::{Config, NoSettings, Pin, Provider, Rule, Verified};

/// The issuer of every Buildkite agent token.
pub const ISSUER: &str = "https://agent.buildkite.com";

const SLUG: &str = "a Buildkite slug (1 to 100 letters, digits, '-', '_' or '.')";
const REQUEST_IDS: &str =
    "request it with `buildkite-agent oidc request-token --claim organization_id,pipeline_id`";

pub struct Buildkite;

/// The exported evaluator: the token id is `<job_id>@iat`.
pub type Component = IdAtIssue<Buildkite>;

/// The claims the rules read.
#[derive(Deserialize)]
pub struct Claims {
    organization_slug: String,
    pipeline_slug: String,
    build_branch: Option<String>,
    /// Only with `--claim organization_id`.
    organization_id: Option<String>,
    /// Only with `--claim pipeline_id`.
    pipeline_id: Option<String>,
}

/// A policy: one pipeline of one organization (slugs, lowercase),
/// optionally one branch (as written: branch names are case-sensitive).
#[derive(Deserialize, Serialize)]
pub struct Criteria {
    organization: String,
    pipeline: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    branch: Option<String>,
}

const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["organization","pipeline"],"properties":{"organization":{"type":"string","pattern":"^[A-Za-z0-9._-]{1,100}$","description":"the organization's slug, e.g. acme-inc (case-insensitive)"},"pipeline":{"type":"string","pattern":"^[A-Za-z0-9._-]{1,100}$","description":"the pipeline's slug, e.g. super-duper-app (case-insensitive)"},"branch":{"type":"string","minLength":1,"description":"the branch the build must be of, e.g. main (case-sensitive)"}}}"#;

impl Provider for Buildkite {
    const NAME: &'static str = "buildkite";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ISSUERS: &'static [&'static str] = &[ISSUER];
    const ISSUER_KIND: &'static str = "the Buildkite agent issuer";
    const CRITERIA_SCHEMA: &'static str = SCHEMA;
    const INDEX_KEY: &'static str = "organization slug/pipeline slug (lowercase)";
    const TOKEN_ID_CLAIMS: &'static [&'static str] = &["jti", "job_id"];
    // Slugs are renamed and reused; the UUIDs behind them are not.
    const PINS: &'static [Pin<Claims>] = &[
        Pin::new("organization_id", |c| {
            c.organization_id.as_deref().unwrap_or_default()
        }),
        Pin::new("pipeline_id", |c| {
            c.pipeline_id.as_deref().unwrap_or_default()
        }),
    ];
    const RULES: &'static [Rule<Claims, NoSettings>] = &[Rule::custom("ids", ids)];
    type Config = NoSettings;
    type Claims = Claims;
    type Criteria = Criteria;

    /// Slugs are ASCII and compared case-insensitively.
    fn lookup_keys(t: &Verified<Claims>) -> Vec<String> {
        vec![key(&t.organization_slug, &t.pipeline_slug)]
    }
    fn normalize(c: Criteria) -> Result<Criteria, String> {
        Ok(Criteria {
            organization: ascii_name("organization", &c.organization, 100, "-_.", SLUG)?,
            pipeline: ascii_name("pipeline", &c.pipeline, 100, "-_.", SLUG)?,
            branch: c.branch.map(|b| branch_name("branch", b)).transpose()?,
        })
    }
    fn index_keys(c: &Criteria) -> Vec<String> {
        vec![key(&c.organization, &c.pipeline)]
    }
    fn matches(c: &Criteria, t: &Verified<Claims>) -> Result<(), String> {
        let got = key(&t.organization_slug, &t.pipeline_slug);
        wanted(
            "pipeline",
            Some(&key(&c.organization, &c.pipeline)),
            Some(&got),
        )?;
        let branch = t.build_branch.as_deref().filter(|b| !b.is_empty());
        wanted("branch", c.branch.as_deref(), branch)
    }
}

/// The index key: `organization/pipeline`, lowercase.
fn key(organization: &str, pipeline: &str) -> String {
    format!("{organization}/{pipeline}").to_ascii_lowercase()
}

/// The ids to pin are in the token: the job asked for them.
fn ids(t: &Verified<Claims>, _: &Config<NoSettings>) -> Result<(), String> {
    let present = |id: &Option<String>| id.as_deref().is_some_and(|id| !id.is_empty());
    let missing = [
        ("organization_id", &t.organization_id),
        ("pipeline_id", &t.pipeline_id),
    ]
    .into_iter()
    .find(|(_, id)| !present(id));
    missing.map_or(Ok(()), |(name, _)| {
        Err(format!("the token has no {name} claim: {REQUEST_IDS}"))
    })
}

trustpub_guest::export_evaluator!(Component);

#[cfg(test)]
mod tests;
