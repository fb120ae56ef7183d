//! What the exchange reads of a token before anything verifies it: the
//! payload's `iss`, to route by, and the header's `kid`, to make sure the
//! key is known. Nothing here decides validity; the evaluator does.
//!
//! Reading them through the SDK's `UnverifiedJwt` builds both JSON objects
//! as maps, and building and dropping those was 4 % of the server's time
//! under load. [`RoutingFields::read`] walks the JSON instead, keeping only
//! the two strings, and accepts exactly what that full parse accepts
//! (including its depth limit, its number range, and the last of a member
//! named twice). A token it cannot read plainly — malformed, or without a
//! usable `iss` — goes through the full parse, so errors read as they
//! always did.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserializer as _;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use trustpub_guest::UnverifiedJwt;

/// A token's unverified `iss` and `kid`.
#[derive(Debug, PartialEq, Eq)]
pub struct RoutingFields {
    pub issuer: String,
    pub kid: Option<String>,
}

impl RoutingFields {
    /// The token's `iss` (a non-empty string) and, if it is a string, its
    /// header's `kid`; otherwise what is wrong with the token.
    pub fn read(token: &str) -> Result<Self, String> {
        match Self::read_plainly(token) {
            Some(fields) => Ok(fields),
            None => Self::read_fully(token),
        }
    }

    fn read_plainly(token: &str) -> Option<Self> {
        let mut segments = token.split('.');
        let (header, payload, signature) = (segments.next()?, segments.next()?, segments.next()?);
        if segments.next().is_some() || signature.is_empty() {
            return None;
        }
        let header = URL_SAFE_NO_PAD.decode(header).ok()?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let kid = string_member(&header, "kid")?;
        let issuer = string_member(&payload, "iss")?.filter(|iss| !iss.is_empty())?;
        Some(Self { issuer, kid })
    }

    /// The SDK's parse, which also says what is wrong.
    fn read_fully(token: &str) -> Result<Self, String> {
        let jwt = UnverifiedJwt::parse(token)?;
        Ok(Self {
            issuer: jwt.claims.string("iss")?.to_string(),
            kid: jwt
                .header
                .get("kid")
                .and_then(|v| v.as_str())
                .map(str::to_string),
        })
    }
}

/// `Some(member)` if `json` is an object `serde_json` would parse as a
/// `Value`, `member` being the value of `name` if a string (the last, if
/// named twice).
fn string_member(json: &[u8], name: &str) -> Option<Option<String>> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let member = de.deserialize_map(Object { name }).ok()?;
    de.end().ok()?;
    Some(member)
}

struct Object<'n> {
    name: &'n str,
}

impl<'de> Visitor<'de> for Object<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        let mut member = None;
        while let Some(named) = map.next_key_seed(KeyIs(self.name))? {
            if named {
                member = map.next_value_seed(Walk { keep: true })?;
            } else {
                map.next_value_seed(Walk { keep: false })?;
            }
        }
        Ok(member)
    }
}

/// A key, compared with the one wanted.
struct KeyIs<'n>(&'n str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// Any value, walked as `serde_json` parses a `Value` — strings checked as
/// UTF-8, numbers in range, nesting within its depth limit — and dropped,
/// unless `keep` and it is a string. (`serde::de::IgnoredAny` takes
/// serde_json's faster path, which checks none of these, and would accept
/// what the full parse refuses.)
#[derive(Clone, Copy)]
struct Walk {
    keep: bool,
}

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = Option<String>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Option<String>, E> {
        Ok(self.keep.then(|| v.to_string()))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<String>, A::Error> {
        let inner = Walk { keep: false };
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        let inner = Walk { keep: false };
        while map.next_key_seed(inner)?.is_some() {
            map.next_value_seed(inner)?;
        }
        Ok(None)
    }
}

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;
