//! GitLab CI/CD: the ID token a job declares with `id_tokens:`, from
//! gitlab.com (`https://gitlab.com`) or a self-managed instance whose issuer
//! (its external URL) the operator lists in `[[providers.issuers]]`. Besides
//! the SDK's standard checks, `project_path` must be `namespace_path/<name>`
//! (check `project`). A policy names the namespace (group with subgroups, or
//! user) and the project, optionally the CI configuration file, the branch
//! and the environment; `namespace_id` and `project_id` are pinned on first
//! use, since paths are reused after a group or project is deleted or renamed.
//!
//! Claims: <https://docs.gitlab.com/ci/secrets/id_token_authentication/>
//! (token payload; `ci_config_ref_uri` since GitLab 16.2, null unless the
//! pipeline configuration is in the project itself); the same checks as
//! PyPI's GitLab trusted publishers:
//! <https://docs.pypi.org/trusted-publishers/adding-a-publisher/>.

use serde::{Deserialize, Serialize};
use trustpub_guest::job_tokens::{branch_name, wanted};
use trustpub_guest::names::{ascii_name, ascii_path};
use trustpub_guest::{
    Config, DecimalId, NoSettings, Pin, Provider, Rule, Verified, ensure, nested_name,
};

/// The issuer of gitlab.com's ID tokens.
pub const ISSUER: &str = "https://gitlab.com";

const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["namespace","project"],"properties":{"namespace":{"type":"string","description":"group (with its subgroups, a/b/c) or user owning the project (case-insensitive)"},"project":{"type":"string","description":"the project's path within the namespace (case-insensitive)"},"ci_config_path":{"type":"string","pattern":"\\.ya?ml$","description":"the CI/CD configuration file within the project, e.g. .gitlab-ci.yml (case-sensitive); checked against ci_config_ref_uri"},"ref":{"type":"string","description":"the branch the pipeline runs for (ref_type branch), e.g. main"},"environment":{"type":"string","description":"the environment the job deploys to (case-sensitive)"}}}"#;
const PATH: &str = "a GitLab path (letters, digits, '-', '_' or '.'; at most 20 levels)";
const PROJECT_APART: &str = "give the project's path alone and put its group in \"namespace\"";

pub struct GitLab;

/// The claims the rules read.
#[derive(Deserialize)]
pub struct Claims {
    namespace_id: DecimalId,
    namespace_path: String,
    project_id: DecimalId,
    project_path: String,
    #[serde(rename = "ref")]
    git_ref: String,
    ref_type: String,
    /// `<host>/<project_path>//<config file>@refs/…`; null for a remote configuration.
    ci_config_ref_uri: Option<String>,
    environment: Option<String>,
}

/// A policy: namespace and project lowercase (GitLab paths are
/// case-insensitive), the rest as written. Unset options are left out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Criteria {
    pub namespace: String,
    pub project: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci_config_path: Option<String>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

impl Provider for GitLab {
    const NAME: &'static str = "gitlab";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ISSUERS: &'static [&'static str] = &[ISSUER];
    const ISSUER_KIND: &'static str = "a GitLab issuer";
    const CRITERIA_SCHEMA: &'static str = SCHEMA;
    const INDEX_KEY: &'static str = "namespace/project (lowercase)";
    // Paths are reused after deletion or renaming; ids are not.
    const PINS: &'static [Pin<Claims>] = &[
        Pin::new("namespace_id", |c| c.namespace_id.as_str()),
        Pin::new("project_id", |c| c.project_id.as_str()),
    ];
    const RULES: &'static [Rule<Claims, NoSettings>] = &[Rule::custom("project", project)];
    type Config = NoSettings;
    type Claims = Claims;
    type Criteria = Criteria;

    fn lookup_keys(t: &Verified<Claims>) -> Vec<String> {
        vec![t.project_path.to_ascii_lowercase()]
    }
    fn normalize(c: Criteria) -> Result<Criteria, String> {
        if c.project.contains('/') {
            return Err(format!(
                "criteria project '{}' contains '/': {PROJECT_APART}",
                c.project
            ));
        }
        Ok(Criteria {
            namespace: ascii_path("namespace", &c.namespace, 20, 255, "-_.", PATH)?,
            project: ascii_name("project", &c.project, 255, "-_.", PATH)?,
            ci_config_path: c.ci_config_path.map(config_path).transpose()?,
            branch: c.branch.map(|b| branch_name("ref", b)).transpose()?,
            environment: c.environment,
        })
    }
    fn index_keys(c: &Criteria) -> Vec<String> {
        vec![format!("{}/{}", c.namespace, c.project)]
    }
    fn matches(c: &Criteria, t: &Verified<Claims>) -> Result<(), String> {
        let (path, want) = (&t.project_path, format!("{}/{}", c.namespace, c.project));
        wanted("project", Some(&want), Some(&path.to_ascii_lowercase()))?;
        if let Some(file) = &c.ci_config_path {
            // The whole URI, from the verified issuer's host, the project and
            // the pipeline's own ref: no prefix of it can be another file.
            let host = t.issuer().split_once("://").map_or(t.issuer(), |(_, h)| h);
            let kind = match t.ref_type.as_str() {
                "branch" => "heads",
                "tag" => "tags",
                other => other,
            };
            let want = format!("{host}/{path}//{file}@refs/{kind}/{}", t.git_ref);
            let got = t.ci_config_ref_uri.as_deref().unwrap_or("unset");
            ensure(got == want, || {
                format!("ci_config_ref_uri is {got}, the policy wants {want}")
            })?;
        }
        let git_ref = format!("{} {}", t.ref_type, t.git_ref);
        let branch = c.branch.as_ref().map(|b| format!("branch {b}"));
        wanted("ref", branch.as_deref(), Some(&git_ref))?;
        let env = t.environment.as_deref();
        wanted("environment", c.environment.as_deref(), env)
    }
}

/// `project_path` is `<namespace_path>/<name>`: a token where they disagree
/// is not one GitLab minted.
fn project(t: &Verified<Claims>, _: &Config<NoSettings>) -> Result<(), String> {
    let (path, namespace) = (&t.project_path, &t.namespace_path);
    nested_name("project_path", path, "namespace_path", namespace)
}

/// A relative path to a YAML file, no `.`/`..`/empty segment, no `@`.
fn config_path(p: String) -> Result<String, String> {
    let segments_ok = p.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
    let ok = segments_ok && !p.contains('@') && (p.ends_with(".yml") || p.ends_with(".yaml"));
    let why = "a YAML file's path within the project, e.g. .gitlab-ci.yml or ci/release.yml";
    ensure(ok, || format!("criteria ci_config_path '{p}' is not {why}")).map(|()| p)
}

trustpub_guest::export_evaluator!(GitLab);

#[cfg(test)]
mod tests;
