//! Policy criteria: the tenant and object id of one service principal.

use serde::Deserialize;
use trustpub_guest::guid;

pub const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["tid","oid"],"properties":{"tid":{"type":"string","format":"uuid","description":"Entra ID tenant id"},"oid":{"type":"string","format":"uuid","description":"object id of the service principal"}}}"#;

/// Normalized criteria: both GUIDs lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criteria {
    pub tid: String,
    pub oid: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    tid: String,
    oid: String,
}

impl Criteria {
    pub fn parse(json: &str) -> Result<Self, String> {
        let invalid = |e: &dyn std::fmt::Display| {
            format!("entra-id criteria must be an object with exactly \"tid\" and \"oid\": {e}")
        };
        // Parse as a value first: serde would also accept a struct as a JSON array.
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| invalid(&e))?;
        if !value.is_object() {
            return Err(invalid(&"got a JSON value of another type"));
        }
        let raw: Raw = serde_json::from_value(value).map_err(|e| invalid(&e))?;
        let tid = guid::normalize(&raw.tid)
            .ok_or_else(|| format!("criteria tid '{}' is not a GUID", raw.tid))?;
        let oid = guid::normalize(&raw.oid)
            .ok_or_else(|| format!("criteria oid '{}' is not a GUID", raw.oid))?;
        Ok(Self { tid, oid })
    }

    pub fn to_json(&self) -> String {
        serde_json::json!({"tid": self.tid, "oid": self.oid}).to_string()
    }
}
