//! Policy criteria: one workflow file of one repository, optionally limited to
//! one deployment environment.

use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["owner","repository","workflow"],"properties":{"owner":{"type":"string","pattern":"^[A-Za-z0-9-]{1,39}$","description":"GitHub user or organization that owns the repository (case-insensitive)"},"repository":{"type":"string","pattern":"^[A-Za-z0-9._-]{1,100}$","description":"repository name without the owner (case-insensitive)"},"workflow":{"type":"string","pattern":"^[^/]+\\.(yml|yaml)$","description":"workflow file name under .github/workflows/, e.g. release.yml (case-sensitive)"},"environment":{"type":"string","minLength":1,"description":"GitHub deployment environment the job must run in (case-insensitive)"}}}"#;

/// Normalized (by `GitHubActions::normalize`): `owner`, `repository` and
/// `environment` lowercase (GitHub compares them case-insensitively),
/// `workflow` as written (file names are case-sensitive; GitHub runs only
/// `.yml` and `.yaml` files directly under `.github/workflows/`). An unset
/// `environment` is left out of the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Criteria {
    pub owner: String,
    pub repository: String,
    pub workflow: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}
