//! GitHub-style forges: GitHub Actions and Forgejo Actions mint the same
//! claim set (`repository`, `repository_owner`, their ids, `workflow_ref`,
//! `job_workflow_ref`, `event_name`, `environment`), so their rules live here
//! once. An evaluator describes its forge ([`ForgeProvider`]: issuers, where
//! workflow files live, what names look like) and every [`ForgeProvider`] is
//! a [`Provider`] with these rules:
//!
//! - checks `repository` (`repository` is `<repository_owner>/<name>`) and
//!   `event` (`event_name` is not among the provider config's
//!   `refused_events`, by default [`DEFAULT_REFUSED_EVENTS`]);
//! - pins `repository_owner_id` and `repository_id` on first use;
//! - criteria `owner`, `repository`, `workflow`, optional `environment` and
//!   `workflow_repository`, index key the lowercase `owner/repository`.
//!
//! Which workflow a policy trusts: without `workflow_repository`, the
//! workflow whose code runs the job (`job_workflow_ref`) must be the policy's
//! `workflow` file of the policy's repository — a reusable workflow of
//! another repository never inherits a caller's trust (PyPI's choice). With
//! `workflow_repository`, the policy's repository and `workflow` file are
//! the caller (`workflow_ref`), and the job's code must be a workflow of
//! `workflow_repository` (`job_workflow_ref`): the policy names the
//! third-party code it trusts.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::ids::DecimalId;
use crate::issuer::IssuerMatch;
use crate::job_tokens::wanted;
use crate::names::{ascii_name, file_name};
use crate::pins::Pin;
use crate::provider::Provider;
use crate::rules::{Rule, ensure, nested_name};
use crate::verified::Verified;
use crate::workflow_ref::workflow_file;

/// Events whose jobs run with the repository's trust on behalf of code or
/// input from outside its protected branches (a fork's pull request
/// targeting it; a run triggered by another workflow's completion), refused
/// unless the operator sets `refused_events` otherwise.
pub const DEFAULT_REFUSED_EVENTS: &[&str] = &["pull_request_target", "workflow_run"];

/// The shape of a forge's names: 1 to `max` ASCII letters, digits and `punctuation`.
pub struct NameRule {
    pub max: usize,
    pub punctuation: &'static str,
    /// For messages: "a GitHub repository name (…)".
    pub what: &'static str,
}

/// An evaluator for a GitHub-style forge: what differs from the others.
pub trait ForgeProvider: 'static {
    const NAME: &'static str;
    const VERSION: &'static str;
    const ISSUERS: &'static [&'static str];
    const ISSUER_KIND: &'static str;
    const CRITERIA_SCHEMA: &'static str;
    /// Directories workflow files live in, e.g. `.github/workflows`.
    const WORKFLOW_DIRS: &'static [&'static str];
    const OWNER: NameRule;
    const REPOSITORY: NameRule;
    /// The provider's settings: [`EventSettings`], or a struct of the
    /// forge's own with a `refused_events` field.
    type Settings: DeserializeOwned + ForgeSettings + 'static;

    /// See [`Provider::check_issuer`].
    fn check_issuer(
        _issuer: &IssuerMatch<'_>,
        _config: &Config<Self::Settings>,
    ) -> Result<(), String> {
        Ok(())
    }
}

/// What the forge rules need of a provider's settings. (One flat struct
/// per forge: serde refuses unknown keys only through one level of flatten.)
pub trait ForgeSettings {
    /// `event_name` values refused (check `event`).
    fn refused_events(&self) -> &[String];
    /// Checks the forge's own settings (see [`Provider::check_config`]).
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Settings of a forge with none of its own: `refused_events`.
#[derive(Deserialize)]
pub struct EventSettings {
    /// [`DEFAULT_REFUSED_EVENTS`] when unset.
    #[serde(default = "default_refused_events")]
    pub refused_events: Vec<String>,
}

impl ForgeSettings for EventSettings {
    fn refused_events(&self) -> &[String] {
        &self.refused_events
    }
}

/// [`DEFAULT_REFUSED_EVENTS`], for `#[serde(default = "…")]`.
pub fn default_refused_events() -> Vec<String> {
    DEFAULT_REFUSED_EVENTS
        .iter()
        .map(|e| e.to_string())
        .collect()
}

/// The claims the forge rules read.
#[derive(Deserialize)]
pub struct Claims {
    /// `owner/name`, as the forge currently spells it.
    pub repository: String,
    pub repository_owner: String,
    pub repository_id: DecimalId,
    pub repository_owner_id: DecimalId,
    /// `owner/repo/<dir>/file.yml@ref` of the run's top-level (calling) workflow.
    pub workflow_ref: String,
    /// The same for the workflow whose code runs this job (a reusable
    /// workflow when one is called).
    pub job_workflow_ref: String,
    pub event_name: String,
    /// The deployment environment the job runs in, if any.
    pub environment: Option<String>,
}

/// A policy's criteria, normalized: `owner`, `repository`, `environment` and
/// `workflow_repository` lowercase ASCII (forges compare them
/// case-insensitively), `workflow` as written (file names are
/// case-sensitive). Unset options are left out of the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Criteria {
    pub owner: String,
    pub repository: String,
    pub workflow: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// `owner/name` of the repository whose reusable workflow the job runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_repository: Option<String>,
}

impl NameRule {
    pub const fn new(max: usize, punctuation: &'static str, what: &'static str) -> Self {
        Self {
            max,
            punctuation,
            what,
        }
    }

    fn check(&self, field: &str, value: &str) -> Result<String, String> {
        ascii_name(field, value, self.max, self.punctuation, self.what)
    }
}

const OWNER_APART: &str = "give the repository name alone and put its owner in \"owner\"";

impl<F: ForgeProvider> Provider for F {
    const NAME: &'static str = F::NAME;
    const VERSION: &'static str = F::VERSION;
    const ISSUERS: &'static [&'static str] = F::ISSUERS;
    const ISSUER_KIND: &'static str = F::ISSUER_KIND;
    const CRITERIA_SCHEMA: &'static str = F::CRITERIA_SCHEMA;
    const INDEX_KEY: &'static str = "owner/repository (lowercase)";
    // Names are reused after an account or repository is deleted; ids are not.
    const PINS: &'static [Pin<Claims>] = &[
        Pin::new("repository_owner_id", |c| c.repository_owner_id.as_str()),
        Pin::new("repository_id", |c| c.repository_id.as_str()),
    ];
    const RULES: &'static [Rule<Claims, F::Settings>] = &[
        Rule::custom("repository", repository_owner),
        Rule::custom("event", event),
    ];
    type Config = F::Settings;
    type Claims = Claims;
    type Criteria = Criteria;

    /// Event names are lowercase words (`pull_request_target`); anything else is a typo.
    fn check_config(settings: &F::Settings) -> Result<(), String> {
        let word =
            |e: &&String| !e.is_empty() && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        match settings.refused_events().iter().find(|e| !word(e)) {
            Some(bad) => Err(format!(
                "lists '{bad}' in refused_events, which is not an event name"
            )),
            None => settings.check(),
        }
    }
    fn check_issuer(issuer: &IssuerMatch<'_>, config: &Config<F::Settings>) -> Result<(), String> {
        F::check_issuer(issuer, config)
    }
    /// Forge names are ASCII and case-insensitive.
    fn lookup_keys(t: &Verified<Claims>) -> Vec<String> {
        vec![t.repository.to_ascii_lowercase()]
    }
    /// Each field is checked with a message naming it.
    fn normalize(c: Criteria) -> Result<Criteria, String> {
        let repo = &c.repository;
        if repo.contains('/') {
            return Err(format!(
                "criteria repository '{repo}' contains '/': {OWNER_APART}"
            ));
        }
        let workflows = format!("{}/, e.g. release.yml", F::WORKFLOW_DIRS.join("/ or "));
        let field = "workflow_repository";
        let callee = |r: String| match r.split_once('/') {
            Some((owner, name)) => {
                let owner = F::OWNER.check(field, owner)?;
                Ok(format!("{owner}/{}", F::REPOSITORY.check(field, name)?))
            }
            None => Err(format!("criteria {field} '{r}' is not owner/repository")),
        };
        Ok(Criteria {
            owner: F::OWNER.check("owner", &c.owner)?,
            repository: F::REPOSITORY.check("repository", repo)?,
            workflow: file_name("workflow", &c.workflow, &[".yml", ".yaml"], &workflows)?,
            environment: c.environment.map(|e| e.to_ascii_lowercase()),
            workflow_repository: c.workflow_repository.map(callee).transpose()?,
        })
    }
    fn index_keys(c: &Criteria) -> Vec<String> {
        vec![format!("{}/{}", c.owner, c.repository)]
    }
    fn matches(c: &Criteria, t: &Verified<Claims>) -> Result<(), String> {
        let (repo, workflow) = (&t.repository, &c.workflow);
        let want = format!("{}/{}", c.owner, c.repository);
        let same_owner = t.repository_owner.eq_ignore_ascii_case(&c.owner);
        if !same_owner || !repo.eq_ignore_ascii_case(&want) {
            return Err(format!("repository is {repo}, the policy wants {want}"));
        }
        let file = |reference, repository| workflow_in(F::WORKFLOW_DIRS, reference, repository);
        match &c.workflow_repository {
            None => {
                let file = file(&t.job_workflow_ref, repo)?;
                ensure(file == workflow, || {
                    format!("workflow is {file}, the policy wants {workflow}")
                })?;
            }
            Some(callee) => {
                let caller = file(&t.workflow_ref, repo)?;
                let why = || format!("calling workflow is {caller}, the policy wants {workflow}");
                ensure(caller == workflow, why)?;
                file(&t.job_workflow_ref, callee)?;
            }
        }
        // Environment names are ASCII-case-insensitive, and only ASCII:
        // Unicode case folding would let `\u{212A}eys` (KELVIN SIGN) pass for `keys`.
        let env = t.environment.as_deref().map(str::to_ascii_lowercase);
        wanted("environment", c.environment.as_deref(), env.as_deref())
    }
}

/// The workflow file `reference` names in `repository` under one of `dirs`
/// (or why it names none: the reason for the first directory).
fn workflow_in<'a>(dirs: &[&str], reference: &'a str, repository: &str) -> Result<&'a str, String> {
    let mut found = dirs
        .iter()
        .map(|dir| workflow_file(reference, repository, dir));
    let first = found
        .next()
        .unwrap_or_else(|| Err("no workflow directory".into()));
    found.fold(first, Result::or)
}

/// `repository` is `owner/name` with the owner the forge names in
/// `repository_owner`; a token where they disagree is not one the forge minted.
fn repository_owner<S>(t: &Verified<Claims>, _: &Config<S>) -> Result<(), String> {
    nested_name(
        "repository",
        &t.repository,
        "repository_owner",
        &t.repository_owner,
    )
}

/// The job was not started by an event the operator refuses.
fn event<S: ForgeSettings>(t: &Verified<Claims>, config: &Config<S>) -> Result<(), String> {
    let name = &t.event_name;
    let refused = config.provider.refused_events().iter().any(|e| e == name);
    let why = "jobs of that event run with the repository's trust on behalf of code or input from outside it";
    ensure(!refused, || {
        format!("the event_name claim '{name}' is refused by this registry: {why}")
    })
}
