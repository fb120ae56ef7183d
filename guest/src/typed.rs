//! Typed claims and criteria: a JSON object read into an evaluator's serde
//! struct, with messages that name the field.
//!
//! `serde_json::from_value` would say "invalid type: integer `4412021`,
//! expected a string"; a client needs "the repository_owner_id claim is not a
//! string". So the object goes through this deserializer, which knows which
//! field each value belongs to. A claim `String` must be a non-empty string
//! (like [`Claims::string`]); `Option<String>` may be absent, `null` or empty
//! (like [`Claims::optional_string`]); criteria strings are never empty.
//! Unknown claims are ignored; unknown
//! criteria fields are refused whether or not the struct says
//! `deny_unknown_fields`: a misspelt condition silently ignored would make a
//! policy trust more than its owner wrote. (So criteria structs do not use
//! `#[serde(flatten)]`, which would collect unknown fields instead.)

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::claims::Claims;

/// Reads verified claims into `T`; the message names the claim.
pub fn from_claims<T: DeserializeOwned>(claims: &Claims) -> Result<T, String> {
    from_object(claims.as_map(), Noun::Claim)
}

/// Reads a criteria object into `T`; the message names the field.
pub fn from_criteria<T: DeserializeOwned>(object: &Map<String, Value>) -> Result<T, String> {
    from_object(object, Noun::Criterion)
}

fn from_object<T: DeserializeOwned>(object: &Map<String, Value>, noun: Noun) -> Result<T, String> {
    T::deserialize(Object { object, noun }).map_err(|e| e.into_message(noun))
}

/// What the object's fields are, for messages.
#[derive(Debug, Clone, Copy)]
enum Noun {
    Claim,
    Criterion,
}

impl Noun {
    fn is_claim(self) -> bool {
        matches!(self, Noun::Claim)
    }

    fn field(self, name: &str) -> String {
        match self {
            Noun::Claim => format!("the {name} claim"),
            Noun::Criterion => format!("criteria {name}"),
        }
    }

    fn missing(self, name: &str) -> String {
        match self {
            Noun::Claim => format!("the token has no {name} claim"),
            // serde's wording, which operators know from other tools.
            Noun::Criterion => format!("missing field `{name}`"),
        }
    }
}

/// Why a field did not deserialize. Errors raised inside a field's type
/// (e.g. "'x' is not a GUID") do not know the field's name: it is prefixed
/// when the error leaves the field.
#[derive(Debug)]
pub enum FieldError {
    /// A complete message.
    Named(String),
    /// A message still missing its field's name.
    Unnamed(String),
    /// A required field is absent (serde reports it at the struct level).
    Missing(&'static str),
}

impl FieldError {
    fn into_message(self, noun: Noun) -> String {
        match self {
            FieldError::Named(m) | FieldError::Unnamed(m) => m,
            FieldError::Missing(field) => noun.missing(field),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldError::Named(m) | FieldError::Unnamed(m) => f.write_str(m),
            FieldError::Missing(field) => write!(f, "missing field `{field}`"),
        }
    }
}

impl std::error::Error for FieldError {}

impl de::Error for FieldError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        FieldError::Unnamed(message.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        FieldError::Missing(field)
    }
}

/// The whole object.
struct Object<'a> {
    object: &'a Map<String, Value>,
    noun: Noun,
}

impl<'a> de::Deserializer<'a> for Object<'a> {
    type Error = FieldError;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, FieldError> {
        visitor.visit_map(Entries {
            iter: self.object.iter(),
            pending: None,
            noun: self.noun,
        })
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'a>>
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct Entries<'a> {
    iter: serde_json::map::Iter<'a>,
    pending: Option<(&'a str, &'a Value)>,
    noun: Noun,
}

impl<'a> MapAccess<'a> for Entries<'a> {
    type Error = FieldError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FieldError> {
        let Some((name, value)) = self.iter.next() else {
            return Ok(None);
        };
        self.pending = Some((name, value));
        seed.deserialize(name.as_str().into_deserializer())
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, FieldError> {
        let (name, value) = self
            .pending
            .take()
            .ok_or_else(|| de::Error::custom("a value was asked for before its key"))?;
        let field = Field {
            name,
            value,
            noun: self.noun,
            optional: false,
        };
        let noun = self.noun;
        seed.deserialize(field).map_err(|e| match e {
            FieldError::Unnamed(m) => FieldError::Named(format!("{} {m}", noun.field(name))),
            FieldError::Missing(inner) => FieldError::Named(format!(
                "{} is invalid: missing field `{inner}`",
                noun.field(name)
            )),
            named => named,
        })
    }
}

/// One field's value, knowing its name.
struct Field<'a> {
    name: &'a str,
    value: &'a Value,
    noun: Noun,
    /// Inside an `Option`: an empty claim is a value, not an error.
    optional: bool,
}

impl Field<'_> {
    fn error(&self, what: &str) -> FieldError {
        FieldError::Named(format!("{} {what}", self.noun.field(self.name)))
    }
}

impl<'a> de::Deserializer<'a> for Field<'a> {
    type Error = FieldError;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, FieldError> {
        self.value
            .deserialize_any(visitor)
            .map_err(|e| de::Error::custom(format!("is invalid: {e}")))
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match self.value {
            // Claims as `Claims::string` / `optional_string` read them; a
            // criterion is never empty: an empty condition is always a mistake.
            Value::String(s) if s.is_empty() && (!self.optional || !self.noun.is_claim()) => {
                Err(self.error("is empty"))
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Null => Err(FieldError::Named(self.noun.missing(self.name))),
            _ => Err(self.error("is not a string")),
        }
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, FieldError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(Field {
                optional: true,
                ..self
            }),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        visitor.visit_newtype_struct(self)
    }

    /// serde skips a field the struct does not have this way.
    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match self.noun {
            Noun::Claim => visitor.visit_unit(),
            Noun::Criterion => Err(FieldError::Named(format!("unknown field `{}`", self.name))),
        }
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'a>>
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;
    use crate::guid::Guid;
    use crate::ids::DecimalId;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Token {
        repository: String,
        repository_id: DecimalId,
        environment: Option<String>,
        tid: Option<Guid>,
        count: Option<u64>,
    }

    fn claims(v: Value) -> Claims {
        Claims::from_json(&v.to_string()).expect("object")
    }

    fn token_error(v: Value) -> String {
        from_claims::<Token>(&claims(v)).expect_err("invalid")
    }

    #[test]
    fn reads_typed_claims_ignoring_others() {
        let t: Token = from_claims(&claims(json!({
            "repository": "a/b", "repository_id": "12", "environment": "", "other": [1, {"x": null}]
        })))
        .expect("valid");
        assert_eq!(t.repository, "a/b");
        assert_eq!(t.repository_id.as_str(), "12");
        assert_eq!(
            t.environment.as_deref(),
            Some(""),
            "optional strings may be empty"
        );
        assert!(t.tid.is_none());
    }

    #[test]
    fn messages_name_the_claim() {
        let base = json!({"repository": "a/b", "repository_id": "12"});
        let with = |k: &str, v: Value| {
            let mut c = base.clone();
            c[k] = v;
            token_error(c)
        };
        assert_eq!(
            token_error(json!({"repository": "a/b"})),
            "the token has no repository_id claim"
        );
        assert_eq!(
            with("repository_id", json!(4412021)),
            "the repository_id claim is not a string"
        );
        assert_eq!(
            with("repository_id", json!("x1")),
            "the repository_id claim 'x1' is not a decimal id"
        );
        assert_eq!(
            with("repository", json!("")),
            "the repository claim is empty"
        );
        assert_eq!(
            with("repository", json!(null)),
            "the token has no repository claim"
        );
        assert_eq!(
            with("tid", json!("contoso")),
            "the tid claim 'contoso' is not a GUID"
        );
        assert_eq!(
            with("environment", json!(5)),
            "the environment claim is not a string"
        );
        assert!(with("count", json!("5")).starts_with("the count claim is invalid: invalid type"));
    }

    /// No `deny_unknown_fields`: criteria are strict anyway.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Criteria {
        tid: Guid,
        name: String,
    }

    fn criteria_error(v: Value) -> String {
        let Value::Object(map) = v else {
            unreachable!("test input is an object")
        };
        from_criteria::<Criteria>(&map).expect_err("invalid")
    }

    #[test]
    fn criteria_messages_use_serde_wording_for_shape() {
        let tid = "0d5a3b1c-0000-4000-8000-abcdefabcdef";
        assert_eq!(criteria_error(json!({"tid": tid})), "missing field `name`");
        assert_eq!(
            criteria_error(json!({"tid": tid, "name": "n", "x": 1})),
            "unknown field `x`"
        );
        assert_eq!(
            criteria_error(json!({"tid": "contoso", "name": "n"})),
            "criteria tid 'contoso' is not a GUID"
        );
        assert_eq!(
            criteria_error(json!({"tid": tid, "name": 5})),
            "criteria name is not a string"
        );
        assert_eq!(
            criteria_error(json!({"tid": tid, "name": ""})),
            "criteria name is empty"
        );
    }
}
