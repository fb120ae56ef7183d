//! Typed access to a JWT payload's claims, with messages that name the claim.

use serde_json::{Map, Value};

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z). Later times in
/// a token are refused; the host refuses them in a `matched` result too.
pub const MAX_TIMESTAMP: u64 = 253_402_300_799;

/// A JWT payload. Getters return `Err(message)` naming the claim, ready to be
/// a rejection's message. Evaluators built on [`crate::Provider`] read their
/// own claims as a typed struct instead ([`crate::Verified`]); these getters
/// serve the SDK's standard checks and the host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims(Map<String, Value>);

impl Claims {
    pub fn from_map(map: Map<String, Value>) -> Self {
        Self(map)
    }

    /// Parses a verified payload (the JSON the host's `verify-jws` returns).
    pub fn from_json(json: &str) -> Result<Self, String> {
        match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            _ => Err("the token's payload is not a JSON object".into()),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Every claim, for typed parsing ([`crate::typed`]).
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// A required, non-empty string claim.
    pub fn string(&self, name: &str) -> Result<&str, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Err(format!("the token has no {name} claim")),
            Some(Value::String(s)) if s.is_empty() => Err(format!("the {name} claim is empty")),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(format!("the {name} claim is not a string")),
        }
    }

    /// An optional string claim: absent is `Ok(None)`, present must be a string.
    pub fn optional_string(&self, name: &str) -> Result<Option<&str>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("the {name} claim is not a string")),
        }
    }

    /// The token id (the replay key): the first of `names` the token has.
    /// It must be a string with something in it: blank ids would all be one.
    pub fn token_id(&self, names: &[&str]) -> Result<&str, String> {
        for name in names {
            match self.0.get(*name) {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) if s.trim().is_empty() => {
                    return Err(format!("the {name} claim (the token id) is blank"));
                }
                Some(Value::String(s)) => return Ok(s),
                Some(_) => return Err(format!("the {name} claim is not a string")),
            }
        }
        Err(match names {
            [one] => format!("the token has no {one} claim"),
            [first, rest @ ..] => format!(
                "the token has neither a {first} nor a {} claim",
                rest.join(" nor a ")
            ),
            [] => "the token has no token id".to_string(),
        })
    }

    /// A required NumericDate (whole seconds since the epoch).
    pub fn timestamp(&self, name: &str) -> Result<u64, String> {
        self.optional_timestamp(name)?
            .ok_or_else(|| format!("the token has no {name} claim"))
    }

    /// An optional NumericDate. Fractions are truncated; negatives and
    /// times after [`MAX_TIMESTAMP`] are rejected, so every accepted time can
    /// be stored and formatted (a signed `exp` of 2^63 or `1e19` is a bad
    /// token, not an overflow further on).
    pub fn optional_timestamp(&self, name: &str) -> Result<Option<u64>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                let value = if let Some(v) = n.as_u64() {
                    v
                } else if let Some(f) = n.as_f64().filter(|f| f.is_finite() && *f >= 0.0) {
                    if f > MAX_TIMESTAMP as f64 {
                        u64::MAX
                    } else {
                        f as u64
                    }
                } else {
                    return Err(format!("the {name} claim is not a valid timestamp"));
                };
                if value > MAX_TIMESTAMP {
                    return Err(format!(
                        "the {name} claim {n} is out of range: times after 9999-12-31T23:59:59Z are refused"
                    ));
                }
                Ok(Some(value))
            }
            Some(_) => Err(format!("the {name} claim is not a number")),
        }
    }

    /// The `aud` claim as a list: a single string or an array of strings.
    pub fn audiences(&self) -> Result<Vec<&str>, String> {
        match self.0.get("aud") {
            None | Some(Value::Null) => Err("the token has no aud claim".into()),
            Some(Value::String(s)) => Ok(vec![s.as_str()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| "the aud claim holds a non-string".to_string())
                })
                .collect(),
            Some(_) => Err("the aud claim is neither a string nor a list".into()),
        }
    }
}

impl Claims {
    /// The token's `aud` must name an `accepted` audience. With `single`,
    /// it must name exactly one: a token minted for several relying parties
    /// could be replayed at any of them.
    pub fn require_audience(&self, accepted: &[String], single: bool) -> Result<(), String> {
        let audiences = self.audiences()?;
        // Only a refusal needs the message: every accepted token would pay for it.
        let expected = || match accepted {
            [one] => format!("the configured audience '{one}'"),
            many => format!("one of the configured audiences '{}'", many.join("', '")),
        };
        match audiences.as_slice() {
            [aud] if accepted.iter().any(|a| a == aud) => Ok(()),
            [aud] => Err(format!("the aud claim '{aud}' is not {}", expected())),
            many if single => Err(format!(
                "the aud claim has {} values; exactly one, {}, is required",
                many.len(),
                expected()
            )),
            many if many.iter().any(|aud| accepted.iter().any(|a| a == aud)) => Ok(()),
            many => Err(format!(
                "none of the aud claim's {} values is {}",
                many.len(),
                expected()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        match v {
            Value::Object(m) => Claims::from_map(m),
            _ => unreachable!("test input is an object"),
        }
    }

    #[test]
    fn string_claims_name_the_claim() {
        let c = claims(json!({"a": "x", "e": "", "n": 1}));
        assert_eq!(c.string("a"), Ok("x"));
        assert_eq!(c.string("b"), Err("the token has no b claim".into()));
        assert_eq!(c.string("e"), Err("the e claim is empty".into()));
        assert_eq!(c.string("n"), Err("the n claim is not a string".into()));
        assert_eq!(c.optional_string("b"), Ok(None));
    }

    #[test]
    fn token_ids_are_the_first_present_and_never_blank() {
        let c = claims(json!({"uti": "u1", "jti": "j1", "blank": " \t", "num": 7}));
        assert_eq!(c.token_id(&["uti", "jti"]), Ok("u1"));
        assert_eq!(c.token_id(&["missing", "jti"]), Ok("j1"));
        assert!(
            c.token_id(&["blank", "jti"])
                .is_err_and(|e| e.contains("blank"))
        );
        assert!(
            c.token_id(&["num"])
                .is_err_and(|e| e.contains("not a string"))
        );
        assert_eq!(
            c.token_id(&["a", "b"]),
            Err("the token has neither a a nor a b claim".into())
        );
        assert_eq!(c.token_id(&["a"]), Err("the token has no a claim".into()));
    }

    #[test]
    fn timestamps_past_year_9999_are_out_of_range() {
        let c = claims(json!({
            "max": MAX_TIMESTAMP,
            "over": MAX_TIMESTAMP + 1,
            "i63": 1u64 << 63,
            "u64max": u64::MAX,
            "float": 1e19,
        }));
        assert_eq!(c.timestamp("max"), Ok(MAX_TIMESTAMP));
        for name in ["over", "i63", "u64max", "float"] {
            assert!(
                c.timestamp(name).is_err_and(|e| e.contains("out of range")),
                "{name}"
            );
        }
    }

    #[test]
    fn timestamps_accept_integers_and_fractions_only() {
        let c = claims(json!({"i": 10, "f": 10.9, "neg": -1, "s": "10"}));
        assert_eq!(c.timestamp("i"), Ok(10));
        assert_eq!(c.timestamp("f"), Ok(10));
        assert!(c.timestamp("neg").is_err());
        assert!(c.timestamp("s").is_err());
        assert!(c.timestamp("missing").is_err());
    }

    #[test]
    fn a_single_audience_is_required() {
        let one = ["a".to_string()];
        assert_eq!(
            claims(json!({"aud": "a"})).require_audience(&one, true),
            Ok(())
        );
        assert!(
            claims(json!({"aud": "b"}))
                .require_audience(&one, true)
                .is_err_and(|e| e.contains("'b' is not the configured audience 'a'"))
        );
        assert!(
            claims(json!({"aud": ["a", "b"]}))
                .require_audience(&one, true)
                .is_err_and(|e| e.contains("2 values; exactly one"))
        );
    }

    #[test]
    fn several_accepted_audiences_and_lists() {
        let two = ["a".to_string(), "c".to_string()];
        assert_eq!(
            claims(json!({"aud": "c"})).require_audience(&two, true),
            Ok(())
        );
        assert!(
            claims(json!({"aud": "b"}))
                .require_audience(&two, true)
                .is_err_and(|e| e.contains("one of the configured audiences 'a', 'c'"))
        );
        assert_eq!(
            claims(json!({"aud": ["b", "c"]})).require_audience(&two, false),
            Ok(())
        );
        assert!(
            claims(json!({"aud": ["b", "d"]}))
                .require_audience(&two, false)
                .is_err_and(|e| e.contains("none of the aud claim's 2 values"))
        );
    }

    #[test]
    fn audiences_from_string_or_list() {
        assert_eq!(claims(json!({"aud": "a"})).audiences(), Ok(vec!["a"]));
        assert_eq!(
            claims(json!({"aud": ["a", "b"]})).audiences(),
            Ok(vec!["a", "b"])
        );
        assert!(claims(json!({"aud": [1]})).audiences().is_err());
        assert!(claims(json!({})).audiences().is_err());
    }
}
