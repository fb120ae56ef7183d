//! Policy criteria: one workflow file of one repository, optionally limited to
//! one deployment environment.

use serde::Deserialize;
use serde_json::{Map, Value};

pub const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["owner","repository","workflow"],"properties":{"owner":{"type":"string","pattern":"^[A-Za-z0-9-]{1,39}$","description":"GitHub user or organization that owns the repository (case-insensitive)"},"repository":{"type":"string","pattern":"^[A-Za-z0-9._-]{1,100}$","description":"repository name without the owner (case-insensitive)"},"workflow":{"type":"string","pattern":"^[^/]+\\.(yml|yaml)$","description":"workflow file name under .github/workflows/, e.g. release.yml (case-sensitive)"},"environment":{"type":"string","minLength":1,"description":"GitHub deployment environment the job must run in (case-insensitive)"}}}"#;

/// Normalized criteria: `owner`, `repository` and `environment` lowercase
/// (GitHub compares them case-insensitively), `workflow` as written (it is a
/// file name, and file names are case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criteria {
    pub owner: String,
    pub repository: String,
    pub workflow: String,
    pub environment: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    owner: String,
    repository: String,
    workflow: String,
    #[serde(default)]
    environment: Option<String>,
}

impl Criteria {
    pub fn parse(json: &str) -> Result<Self, String> {
        let invalid = |e: &dyn std::fmt::Display| {
            format!(
                "github-actions criteria must be an object with \"owner\", \"repository\", \"workflow\" and optionally \"environment\": {e}"
            )
        };
        // Parse as a value first: serde would also accept a struct as a JSON array.
        let value: Value = serde_json::from_str(json).map_err(|e| invalid(&e))?;
        if !value.is_object() {
            return Err(invalid(&"got a JSON value of another type"));
        }
        let raw: Raw = serde_json::from_value(value).map_err(|e| invalid(&e))?;
        Ok(Self {
            owner: owner(&raw.owner)?,
            repository: repository(&raw.repository)?,
            workflow: workflow(&raw.workflow)?,
            environment: raw.environment.as_deref().map(environment).transpose()?,
        })
    }

    /// The normalized criteria as JSON; `environment` only when set, so the
    /// same policy always serializes the same way.
    pub fn to_json(&self) -> String {
        let mut map = Map::new();
        map.insert("owner".into(), Value::from(self.owner.as_str()));
        map.insert("repository".into(), Value::from(self.repository.as_str()));
        map.insert("workflow".into(), Value::from(self.workflow.as_str()));
        if let Some(environment) = &self.environment {
            map.insert("environment".into(), Value::from(environment.as_str()));
        }
        Value::Object(map).to_string()
    }
}

/// A GitHub user or organization name: ASCII letters, digits and `-`, at most 39.
fn owner(name: &str) -> Result<String, String> {
    let valid = (1..=39).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        return Err(format!(
            "criteria owner '{name}' is not a GitHub user or organization name (1 to 39 letters, digits or '-')"
        ));
    }
    Ok(name.to_ascii_lowercase())
}

/// A GitHub repository name: ASCII letters, digits, `-`, `_` and `.`, at most
/// 100, and not `.` or `..`.
fn repository(name: &str) -> Result<String, String> {
    if name.contains('/') {
        return Err(format!(
            "criteria repository '{name}' contains '/': give the repository name alone and put its owner in \"owner\""
        ));
    }
    let valid = (1..=100).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid {
        return Err(format!(
            "criteria repository '{name}' is not a GitHub repository name (1 to 100 letters, digits, '-', '_' or '.')"
        ));
    }
    Ok(name.to_ascii_lowercase())
}

/// A workflow file name directly under `.github/workflows/`: GitHub runs only
/// `.yml` and `.yaml` files there, and does not look into subdirectories.
fn workflow(name: &str) -> Result<String, String> {
    if name.contains('/') {
        return Err(format!(
            "criteria workflow '{name}' contains '/': give the file name under .github/workflows/ alone, e.g. release.yml"
        ));
    }
    let stem = name
        .strip_suffix(".yml")
        .or_else(|| name.strip_suffix(".yaml"));
    if stem.is_none_or(str::is_empty) {
        return Err(format!(
            "criteria workflow '{name}' is not a workflow file name ending in .yml or .yaml"
        ));
    }
    Ok(name.to_string())
}

/// A deployment environment name; GitHub treats environment names case-insensitively.
fn environment(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("criteria environment is empty: omit it to allow any environment".into());
    }
    Ok(name.to_lowercase())
}
