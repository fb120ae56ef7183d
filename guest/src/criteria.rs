//! Policy criteria: from the JSON the host stores to the evaluator's type,
//! and back in normalized form with the policy's index keys.

use serde_json::Value;

use crate::config::Config;
use crate::provider::Provider;
use crate::typed::from_criteria;
use crate::types::CheckedCriteria;

/// Parses and normalizes criteria: what `check-criteria` accepts, and what
/// `match` reads from a candidate (criteria stored by an older version that
/// no longer parse are an error here, so they never match).
pub fn parse<P: Provider>(json: &str) -> Result<P::Criteria, String> {
    let invalid = |e: &dyn std::fmt::Display| {
        format!(
            "{} criteria must be {}: {e}",
            P::NAME,
            shape(P::CRITERIA_SCHEMA)
        )
    };
    // Parse as a value first: serde would also accept a struct as a JSON array.
    let Value::Object(object) = serde_json::from_str(json).map_err(|e| invalid(&e))? else {
        return Err(invalid(&"got a JSON value of another type"));
    };
    let criteria = from_criteria::<P::Criteria>(&object).map_err(|e| invalid(&e))?;
    P::normalize(criteria)
}

/// What criteria look like, from the schema's `required` and `properties`
/// (e.g. `an object with exactly "tid" and "oid"`), so the message when
/// criteria do not parse always agrees with the schema operators see.
pub fn shape(schema: &str) -> String {
    let schema: Value = serde_json::from_str(schema).unwrap_or_default();
    let names = |v: Option<&Value>| -> Vec<String> {
        let items = v.and_then(Value::as_array).into_iter().flatten();
        items
            .filter_map(Value::as_str)
            .map(|n| format!("\"{n}\""))
            .collect()
    };
    let required = names(schema.get("required"));
    let properties = schema.get("properties").and_then(Value::as_object);
    let optional: Vec<String> = properties
        .into_iter()
        .flat_map(|p| p.keys())
        .map(|n| format!("\"{n}\""))
        .filter(|n| !required.contains(n))
        .collect();
    match (required.as_slice(), optional.as_slice()) {
        ([], []) => "an object matching the criteria schema".into(),
        (_, []) => format!("an object with exactly {}", list(&required, "and")),
        ([], _) => format!("an object with optionally {}", list(&optional, "and")),
        _ => format!(
            "an object with {} and optionally {}",
            required.join(", "),
            list(&optional, "and")
        ),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn list(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., tail] => format!("{} {last} {tail}", init.join(", ")),
    }
}

/// `check-criteria`: normalized criteria (keys sorted, so the same policy is
/// always stored the same way) and at least one index key, for criteria the
/// provider's `config` allows ([`Provider::allows`]).
pub fn check<P: Provider>(json: &str, config: &str) -> Result<CheckedCriteria, String> {
    let criteria = parse::<P>(json)?;
    let config = Config::<P::Config>::parse(config, P::NAME)?;
    P::allows(&criteria, &config)?;
    let normalized = serde_json::to_value(&criteria)
        .map_err(|e| format!("{} criteria do not serialize: {e}", P::NAME))?;
    let index_keys = P::index_keys(&criteria);
    if index_keys.is_empty() {
        return Err(format!("{} criteria yield no index key", P::NAME));
    }
    Ok(CheckedCriteria {
        criteria: normalized.to_string(),
        index_keys,
    })
}

#[cfg(test)]
mod tests {
    use super::shape;

    #[test]
    fn shape_follows_the_schema() {
        let exact = r#"{"required":["tid","oid"],"properties":{"tid":{},"oid":{}}}"#;
        assert_eq!(shape(exact), r#"an object with exactly "tid" and "oid""#);
        let optional = r#"{"required":["owner","repository","workflow"],"properties":{"owner":{},"repository":{},"workflow":{},"environment":{}}}"#;
        assert_eq!(
            shape(optional),
            r#"an object with "owner", "repository", "workflow" and optionally "environment""#
        );
        assert_eq!(shape("not json"), "an object matching the criteria schema");
    }
}
