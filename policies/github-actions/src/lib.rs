//! GitHub Actions: the OIDC token a workflow job requests with
//! `permissions: id-token: write`, from github.com or a GitHub Enterprise
//! Cloud enterprise with its own issuer. Besides the SDK's standard checks,
//! the repository claims must agree; a policy names the owner, repository,
//! workflow file and optionally the environment, and pins the ids.

mod criteria;

use serde::Deserialize;
use trustpub_guest::names::{ascii_name, file_name};
use trustpub_guest::workflow_ref::workflow_file;
use trustpub_guest::{Config, DecimalId, IssuerMatch, Pin, Provider, Rule, Verified};

pub use criteria::Criteria;

/// The issuer of tokens minted on github.com.
pub const ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The issuer of a GitHub Enterprise Cloud enterprise that set a custom
/// issuer; `{slug}` is the enterprise's slug.
pub const ENTERPRISE_ISSUER_PATTERN: &str = "https://token.actions.githubusercontent.com/{slug}";

// Message parts, kept apart so that each message fits one line.
const NOT_SEGMENT: &str = "which is not a single issuer path segment";
const NOT_CONFIGURED: &str = "which is not configured on this registry";
const OWNER_CLAIM: &str = "for the repository_owner claim";
const OWNER: &str = "a GitHub user or organization name (1 to 39 letters, digits or '-')";
const REPOSITORY: &str = "a GitHub repository name (1 to 100 letters, digits, '-', '_' or '.')";
const OWNER_APART: &str = "give the repository name alone and put its owner in \"owner\"";

pub struct GitHubActions;

/// Settings besides the SDK's standard block.
#[derive(Deserialize)]
pub struct Settings {
    /// Enterprise slugs whose issuers (`<ISSUER>/<slug>`) are accepted; none by default.
    #[serde(default)]
    pub enterprise_slugs: Vec<String>,
}

/// The claims the rules read.
#[derive(Deserialize)]
pub struct Claims {
    /// `owner/name`, as GitHub currently spells it.
    repository: String,
    repository_owner: String,
    repository_id: DecimalId,
    repository_owner_id: DecimalId,
    /// `owner/repo/.github/workflows/file.yml@ref` of the workflow whose code
    /// runs the job. For a reusable workflow called from another repository it
    /// names that repository's file, so a trusted caller cannot hand publishing
    /// rights to third-party code (PyPI's choice); `workflow_ref`, the
    /// top-level caller, would trust whatever reusable workflow it invokes.
    job_workflow_ref: String,
    /// The deployment environment the job runs in, if any.
    environment: Option<String>,
}

impl Provider for GitHubActions {
    const NAME: &'static str = "github-actions";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ISSUERS: &'static [&'static str] = &[ISSUER, ENTERPRISE_ISSUER_PATTERN];
    const ISSUER_KIND: &'static str = "a GitHub Actions issuer";
    const CRITERIA_SCHEMA: &'static str = criteria::SCHEMA;
    const INDEX_KEY: &'static str = "owner/repository (lowercase)";
    // Names are reused after an account or repository is deleted; ids are not.
    const PINS: &'static [Pin<Claims>] = &[
        Pin::new("repository_owner_id", |c| c.repository_owner_id.as_str()),
        Pin::new("repository_id", |c| c.repository_id.as_str()),
    ];
    const RULES: &'static [Rule<Claims, Settings>] =
        &[Rule::custom("repository", repository_owner)];
    type Config = Settings;
    type Claims = Claims;
    type Criteria = Criteria;

    /// A slug is one issuer path segment; anything else is surely a typo.
    fn check_config(settings: &Settings) -> Result<(), String> {
        let segment = |s: &&String| !s.is_empty() && !s.contains(['/', '?', '#']);
        match settings.enterprise_slugs.iter().find(|s| !segment(s)) {
            Some(bad) => Err(format!("lists '{bad}' in enterprise_slugs, {NOT_SEGMENT}")),
            None => Ok(()),
        }
    }
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
    /// GitHub names are ASCII and case-insensitive.
    fn lookup_keys(t: &Verified<Claims>) -> Vec<String> {
        vec![t.repository.to_ascii_lowercase()]
    }
    /// Each field is checked with a message naming it.
    fn normalize(c: Criteria) -> Result<Criteria, String> {
        let (repo, why) = (&c.repository, OWNER_APART);
        if repo.contains('/') {
            return Err(format!("criteria repository '{repo}' contains '/': {why}"));
        }
        let workflows = ".github/workflows/, e.g. release.yml";
        Ok(Criteria {
            owner: ascii_name("owner", &c.owner, 39, "-", OWNER)?,
            repository: ascii_name("repository", repo, 100, "-_.", REPOSITORY)?,
            workflow: file_name("workflow", &c.workflow, &[".yml", ".yaml"], workflows)?,
            environment: c.environment.map(|e| e.to_lowercase()),
        })
    }
    fn index_keys(c: &Criteria) -> Vec<String> {
        vec![format!("{}/{}", c.owner, c.repository)]
    }
    fn matches(c: &Criteria, t: &Verified<Claims>) -> Result<(), String> {
        let (repo, workflow) = (&t.repository, &c.workflow);
        let wanted = format!("{}/{}", c.owner, c.repository);
        let same_owner = t.repository_owner.eq_ignore_ascii_case(&c.owner);
        if !same_owner || !repo.eq_ignore_ascii_case(&wanted) {
            return Err(format!("repository is {repo}, the policy wants {wanted}"));
        }
        let file = workflow_file(&t.job_workflow_ref, repo, ".github/workflows")?;
        if file != workflow {
            return Err(format!("workflow is {file}, the policy wants {workflow}"));
        }
        // Environment names are case-insensitive; criteria without one allow any.
        let env = t.environment.as_deref().map(str::to_lowercase);
        match (&c.environment, env) {
            (Some(want), got) if got.as_ref() != Some(want) => {
                let got = got.unwrap_or_else(|| "unset".into());
                Err(format!("environment is {got}, the policy wants {want}"))
            }
            _ => Ok(()),
        }
    }
}

/// `repository` is `owner/name` with the owner GitHub names in
/// `repository_owner`; a token where they disagree is not one GitHub minted.
fn repository_owner(t: &Verified<Claims>, _: &Config<Settings>) -> Result<(), String> {
    let (repo, owner) = (&t.repository, &t.repository_owner);
    let name = repo.strip_prefix(&format!("{owner}/"));
    let expected = format!("'{owner}/<name>' {OWNER_CLAIM} '{owner}'");
    let message = format!("the repository claim '{repo}' is not {expected}");
    let ok = name.is_some_and(|name| !name.is_empty() && !name.contains('/'));
    ok.then_some(()).ok_or(message)
}

trustpub_guest::export_evaluator!(GitHubActions);

#[cfg(test)]
mod tests;
