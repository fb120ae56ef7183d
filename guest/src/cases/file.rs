//! The case-table format: one TOML file per topic, e.g.
//!
//! ```toml
//! now = 1800000000                 # the time every case runs at
//! config = { audience = "api://AzureADTokenExchange" }   # provider config, as JSON
//! header = { alg = "RS256", typ = "JWT", kid = "test" }  # the default JWS header
//! claims = { iss = "…", aud = "…", exp = 1800003540 }    # every case's base claims
//!
//! [[policies]]                     # stored policies (criteria go through check-criteria)
//! id = 1
//! criteria = { tid = "…", oid = "…" }
//! pins = { }                       # optional: name = value
//!
//! [[case]]
//! name = "expired beyond skew"
//! token = "only.two"               # optional: this exact token instead of one
//!                                  # built from header and claims (for malformed ones)
//! set = { exp = 1799999000 }       # claims replaced or added (optional)
//! remove = ["jti"]                 # claims removed (optional)
//! header = { typ = "at+jwt" }      # merged over the default header (optional)
//! signature = "invalid"            # optional: the signature must not verify
//! config = { … }                   # optional: replaces the file's config
//! policies = [2]                   # optional: only these stored policies exist
//! expect = "bad-token"             # "bad-token" | "unauthorized" | "matched"
//! check = "lifetime"               # required with bad-token
//! policy = 1                       # required with matched
//! pins = { repository_id = "1" }   # optional with matched: the pins returned
//! message_contains = "expired"     # optional: in the rejection message
//!                                  # (bad-token) or a near-miss reason (unauthorized)
//! ```
//!
//! Unknown keys are errors, and so is a case that cannot be judged (a
//! `bad-token` without `check`, a `matched` naming a policy that does not
//! exist in the case): a typo must not turn into a case that passes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::check::is_valid_name;

/// One parsed and checked case file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// The file's name (e.g. `lifetime.toml`), for reports.
    #[serde(skip)]
    pub name: String,
    pub now: u64,
    #[serde(default = "empty_object")]
    pub config: Value,
    #[serde(default = "default_header")]
    pub header: Map<String, Value>,
    #[serde(default)]
    pub claims: Map<String, Value>,
    #[serde(default)]
    pub policies: Vec<StoredPolicy>,
    #[serde(rename = "case", default)]
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredPolicy {
    pub id: u64,
    pub criteria: Value,
    #[serde(default)]
    pub pins: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub token: Option<String>,
    #[serde(default)]
    pub set: Map<String, Value>,
    #[serde(default)]
    pub remove: Vec<String>,
    #[serde(default)]
    pub header: Map<String, Value>,
    #[serde(default)]
    pub signature: Signature,
    pub config: Option<Value>,
    pub policies: Option<Vec<u64>>,
    pub expect: Expect,
    pub check: Option<String>,
    pub policy: Option<u64>,
    pub pins: Option<BTreeMap<String, String>>,
    pub message_contains: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signature {
    #[default]
    Valid,
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    BadToken,
    Unauthorized,
    Matched,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

fn default_header() -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("alg".into(), "RS256".into());
    header.insert("typ".into(), "JWT".into());
    header
}

impl Case {
    /// The header: the file's default with the case's entries merged over it.
    pub fn header(&self, file: &CaseFile) -> Value {
        let mut header = file.header.clone();
        header.extend(self.header.clone());
        Value::Object(header)
    }

    /// The claims: the file's base with `set` applied, then `remove`.
    pub fn claims(&self, file: &CaseFile) -> Value {
        let mut claims = file.claims.clone();
        claims.extend(self.set.clone());
        for name in &self.remove {
            claims.remove(name);
        }
        Value::Object(claims)
    }

    /// The provider config this case runs with.
    pub fn config<'a>(&'a self, file: &'a CaseFile) -> &'a Value {
        self.config.as_ref().unwrap_or(&file.config)
    }

    /// Whether stored policy `id` exists in this case.
    pub fn has_policy(&self, id: u64) -> bool {
        self.policies.as_ref().is_none_or(|ids| ids.contains(&id))
    }
}

/// Parses one file's text; `name` is for reports and messages.
pub fn parse(name: &str, text: &str) -> Result<CaseFile, String> {
    let mut file: CaseFile = toml::from_str(text).map_err(|e| format!("{name}: {e}"))?;
    file.name = name.to_string();
    file.check().map_err(|e| format!("{name}: {e}"))?;
    Ok(file)
}

/// Reads and parses one file.
pub fn load_file(path: &Path) -> Result<CaseFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    parse(&name, &text)
}

/// Every `*.toml` in `dir`, sorted by file name; a directory without any is
/// an error (a wrong path must not pass as "no failures").
pub fn load_dir(dir: &Path) -> Result<Vec<CaseFile>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .path();
        if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(format!("no *.toml case files in {}", dir.display()));
    }
    paths.sort();
    paths.iter().map(|p| load_file(p)).collect()
}

impl CaseFile {
    fn check(&self) -> Result<(), String> {
        if !self.config.is_object() {
            return Err("config must be a table".into());
        }
        let mut ids = BTreeSet::new();
        for policy in &self.policies {
            if !ids.insert(policy.id) {
                return Err(format!("policy {} is stored twice", policy.id));
            }
        }
        if self.cases.is_empty() {
            return Err("no [[case]]".into());
        }
        let mut names = BTreeSet::new();
        for case in &self.cases {
            if !names.insert(case.name.as_str()) {
                return Err(format!("two cases are named {:?}", case.name));
            }
            case.check(&ids)
                .map_err(|e| format!("case {:?}: {e}", case.name))?;
        }
        Ok(())
    }
}

impl Case {
    fn check(&self, stored: &BTreeSet<u64>) -> Result<(), String> {
        if self.config.as_ref().is_some_and(|c| !c.is_object()) {
            return Err("config must be a table".into());
        }
        let builds = !self.set.is_empty() || !self.remove.is_empty() || !self.header.is_empty();
        if self.token.is_some() && (builds || self.signature == Signature::Invalid) {
            return Err("token replaces header, claims and signature: set, remove, header and signature do not go with it".into());
        }
        if let Some(unknown) = self
            .policies
            .iter()
            .flatten()
            .find(|id| !stored.contains(id))
        {
            return Err(format!("policies names {unknown}, which is not stored"));
        }
        let (check, policy, pins) = (
            self.check.is_some(),
            self.policy.is_some(),
            self.pins.is_some(),
        );
        match self.expect {
            Expect::BadToken => match &self.check {
                Some(name) if !is_valid_name(name) => Err(format!(
                    "check {name:?} is not a check name (lowercase letters, digits, '-')"
                )),
                None => Err("expect = \"bad-token\" needs check".into()),
                Some(_) if policy || pins => {
                    Err("policy and pins go with expect = \"matched\"".into())
                }
                Some(_) => Ok(()),
            },
            Expect::Unauthorized if check || policy || pins => {
                Err("check, policy and pins do not go with expect = \"unauthorized\"".into())
            }
            Expect::Unauthorized => Ok(()),
            Expect::Matched => match self.policy {
                _ if check || self.message_contains.is_some() => {
                    Err("check and message_contains do not go with expect = \"matched\"".into())
                }
                None => Err("expect = \"matched\" needs policy".into()),
                Some(id) if !stored.contains(&id) || !self.has_policy(id) => {
                    Err(format!("policy {id} does not exist in this case"))
                }
                Some(_) => Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        now = 1800000000
        config = { audience = "a" }
        claims = { iss = "https://i", exp = 1800000300 }
        [[policies]]
        id = 1
        criteria = { x = "y" }
    "#;

    fn with_case(case: &str) -> Result<CaseFile, String> {
        parse("t.toml", &format!("{BASE}\n[[case]]\n{case}"))
    }

    #[test]
    fn builds_header_claims_and_config() {
        let file = with_case(
            r#"name = "c"
               set = { exp = 1, sub = "s" }
               remove = ["iss"]
               header = { kid = "k" }
               expect = "unauthorized""#,
        )
        .expect("valid");
        let case = &file.cases[0];
        assert_eq!(
            case.header(&file),
            serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "k"})
        );
        assert_eq!(
            case.claims(&file),
            serde_json::json!({"exp": 1, "sub": "s"})
        );
        assert_eq!(case.config(&file), &serde_json::json!({"audience": "a"}));
        assert_eq!(case.signature, Signature::Valid);
        assert!(case.has_policy(1));
    }

    #[test]
    fn unjudgeable_cases_are_errors() {
        for (case, needle) in [
            (
                r#"name = "c"
                expect = "bad-token""#,
                "needs check",
            ),
            (
                r#"name = "c"
                expect = "bad-token"
                check = "Lifetime""#,
                "not a check name",
            ),
            (
                r#"name = "c"
                expect = "matched""#,
                "needs policy",
            ),
            (
                r#"name = "c"
                expect = "matched"
                policy = 2"#,
                "does not exist",
            ),
            (
                r#"name = "c"
                expect = "matched"
                policy = 1
                policies = []"#,
                "does not exist",
            ),
            (
                r#"name = "c"
                expect = "unauthorized"
                policies = [3]"#,
                "not stored",
            ),
            (
                r#"name = "c"
                expect = "unauthorized"
                check = "x""#,
                "do not go with",
            ),
            (
                r#"name = "c"
                expect = "maybe""#,
                "unknown variant",
            ),
            (
                r#"name = "c"
                expect = "unauthorized"
                typo = 1"#,
                "unknown field",
            ),
            (
                r#"name = "c"
                expect = "unauthorized"
                signature = "forged""#,
                "unknown variant",
            ),
        ] {
            let err = with_case(case).expect_err(case);
            assert!(err.contains(needle), "{case}: {err}");
            assert!(err.starts_with("t.toml: "), "{err}");
        }
    }
}
