//! A policy's criteria as form fields, generated from the JSON Schema its
//! provider's evaluator publishes, so a new provider's form appears without
//! console code. Validation stays the evaluator's: the form checks nothing
//! itself (not even required fields), and the evaluator's message is shown.

use maud::{Markup, html};
use serde_json::{Map, Value};

/// How one criteria property is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    Boolean,
    /// An array of strings, one per line.
    Lines,
    /// An object of string values, `name=value` per line.
    Pairs,
    /// Anything else, as JSON.
    Json,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub kind: Kind,
}

/// The form field of property `name` is `criteria.<name>`.
const PREFIX: &str = "criteria.";

/// The fields of a criteria schema, required ones first (each group in name
/// order). A schema without properties gets one JSON field for the whole.
pub fn fields(schema: &str) -> Vec<Field> {
    let schema: Value = serde_json::from_str(schema).unwrap_or(Value::Null);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return vec![Field {
            name: String::new(),
            description: "the whole criteria object, as JSON".into(),
            required: true,
            kind: Kind::Json,
        }];
    };
    let mut fields: Vec<Field> = properties
        .iter()
        .map(|(name, p)| Field {
            name: name.clone(),
            description: p["description"].as_str().unwrap_or_default().to_string(),
            required: required.contains(&name.as_str()),
            kind: kind(p),
        })
        .collect();
    fields.sort_by_key(|f| !f.required);
    fields
}

fn kind(property: &Value) -> Kind {
    match property["type"].as_str() {
        Some("string") => Kind::Text,
        Some("integer" | "number") => Kind::Number,
        Some("boolean") => Kind::Boolean,
        Some("array") if property["items"]["type"] == "string" => Kind::Lines,
        Some("object") if property["additionalProperties"]["type"] == "string" => Kind::Pairs,
        _ => Kind::Json,
    }
}

/// The inputs, filled with what was entered before (after an error).
pub fn render(fields: &[Field], form: &[(String, String)]) -> Markup {
    html! {
        @for f in fields {
            @let id = format!("criteria-{}", if f.name.is_empty() { "json" } else { &f.name });
            @let name = format!("{PREFIX}{}", f.name);
            @let value = super::request::field(form, &name).unwrap_or_default();
            @let label = if f.name.is_empty() { "Criteria (JSON)" } else { &f.name };
            @let hint = match f.kind {
                Kind::Lines => " One per line.",
                Kind::Pairs => " One name=value per line.",
                Kind::Json => " JSON.",
                _ => "",
            };
            p.field {
                @if f.kind == Kind::Boolean {
                    input id=(id) name=(name) type="checkbox" value="true" checked[value == "true"]
                        aria-describedby=(format!("{id}-hint"));
                    " "
                    label for=(id) { (label) }
                } @else {
                    label for=(id) {
                        code { (label) }
                        @if f.required { " (required)" } @else { " (optional)" }
                    }
                    @match f.kind {
                        Kind::Lines | Kind::Pairs | Kind::Json => {
                            textarea id=(id) name=(name) rows="3" aria-required=(f.required)
                                aria-describedby=(format!("{id}-hint")) { (value) }
                        }
                        Kind::Number => {
                            input id=(id) name=(name) type="text" inputmode="numeric" value=(value)
                                aria-required=(f.required) aria-describedby=(format!("{id}-hint"));
                        }
                        _ => {
                            input id=(id) name=(name) type="text" value=(value) autocomplete="off"
                                aria-required=(f.required) aria-describedby=(format!("{id}-hint"));
                        }
                    }
                }
                span.hint id=(format!("{id}-hint")) { (f.description) (hint) }
            }
        }
    }
}

/// The criteria object the form describes; empty fields are left out.
/// Fails only when a field cannot be read at all (bad JSON, a number that
/// is none); whether the criteria are right is the evaluator's to say.
pub fn criteria(fields: &[Field], form: &[(String, String)]) -> Result<Value, String> {
    let mut object = Map::new();
    for f in fields {
        let raw = super::request::field(form, &format!("{PREFIX}{}", f.name))
            .unwrap_or_default()
            .trim();
        if raw.is_empty() {
            continue;
        }
        let lines = || raw.lines().map(str::trim).filter(|l| !l.is_empty());
        let value = match f.kind {
            Kind::Text => Value::String(raw.to_string()),
            Kind::Boolean => Value::Bool(raw == "true"),
            Kind::Number => serde_json::from_str::<serde_json::Number>(raw)
                .map(Value::Number)
                .map_err(|_| format!("{}: '{raw}' is not a number", f.name))?,
            Kind::Lines => Value::Array(lines().map(|l| Value::String(l.into())).collect()),
            Kind::Pairs => {
                let mut pairs = Map::new();
                for line in lines() {
                    let (k, v) = line
                        .split_once('=')
                        .ok_or_else(|| format!("{}: write each line as name=value", f.name))?;
                    pairs.insert(k.trim().into(), Value::String(v.trim().into()));
                }
                Value::Object(pairs)
            }
            Kind::Json => serde_json::from_str(raw)
                .map_err(|e| format!("{}: not JSON: {e}", display(&f.name)))?,
        };
        if f.name.is_empty() {
            return Ok(value);
        }
        object.insert(f.name.clone(), value);
    }
    Ok(Value::Object(object))
}

fn display(name: &str) -> &str {
    if name.is_empty() { "criteria" } else { name }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const SCHEMA: &str = r#"{"type":"object","required":["sub"],"properties":{
        "tags":{"type":"array","items":{"type":"string"}},
        "conditions":{"type":"object","additionalProperties":{"type":"string"}},
        "sub":{"type":"string","description":"subject"},
        "max":{"type":"integer"}}}"#;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fields_follow_the_schema_required_first() {
        let f = fields(SCHEMA);
        let seen: Vec<(&str, bool, Kind)> = f
            .iter()
            .map(|f| (f.name.as_str(), f.required, f.kind))
            .collect();
        assert_eq!(
            seen,
            [
                ("sub", true, Kind::Text),
                ("conditions", false, Kind::Pairs),
                ("max", false, Kind::Number),
                ("tags", false, Kind::Lines),
            ]
        );
        let html = render(&f, &form(&[("criteria.sub", "<x>")])).into_string();
        assert!(html.contains(r#"name="criteria.sub""#) && html.contains("&lt;x&gt;"));
        assert!(
            html.contains(r#"for="criteria-sub""#),
            "every input has a label"
        );
    }

    #[test]
    fn the_form_becomes_criteria_and_empty_fields_are_left_out() {
        let f = fields(SCHEMA);
        let entered = form(&[
            ("criteria.sub", " repo:a "),
            ("criteria.conditions", "ref = main\n\nenv=prod"),
            ("criteria.tags", "a\nb"),
            ("criteria.max", ""),
        ]);
        assert_eq!(
            criteria(&f, &entered).unwrap(),
            json!({"sub": "repo:a", "conditions": {"ref": "main", "env": "prod"}, "tags": ["a", "b"]})
        );
        let bad = form(&[("criteria.max", "ten")]);
        assert!(criteria(&f, &bad).unwrap_err().contains("not a number"));
    }

    #[test]
    fn a_schema_without_properties_is_one_json_field() {
        let f = fields(r#"{"type":"object"}"#);
        assert_eq!(f.len(), 1);
        let entered = form(&[("criteria.", r#"{"a": 1}"#)]);
        assert_eq!(criteria(&f, &entered).unwrap(), json!({"a": 1}));
    }
}
