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
        let kid = match member_of_object(&header, "kid")? {
            Member::String(kid) => Some(kid),
            Member::Absent | Member::Other => None,
        };
        match member_of_object(&payload, "iss")? {
            Member::String(issuer) if !issuer.is_empty() => Some(Self { issuer, kid }),
            _ => None,
        }
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

/// A member's value, as far as routing cares.
enum Member {
    Absent,
    String(String),
    /// `null`, a number, an array…: present, not a string.
    Other,
}

/// The member `name` of `json` (the last, if named twice), or `None` if
/// `json` is not an object `serde_json` would parse as a `Value`.
fn member_of_object(json: &[u8], name: &str) -> Option<Member> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let member = de.deserialize_map(Object { name }).ok()?;
    de.end().ok()?;
    Some(member)
}

struct Object<'n> {
    name: &'n str,
}

impl<'de> Visitor<'de> for Object<'_> {
    type Value = Member;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Member, A::Error> {
        let mut member = Member::Absent;
        while let Some(named) = map.next_key_seed(KeyIs(self.name))? {
            if named {
                member = map.next_value_seed(Capture)?;
            } else {
                map.next_value_seed(Skip)?;
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

/// The wanted member's value: kept if a string, walked otherwise.
struct Capture;

impl<'de> DeserializeSeed<'de> for Capture {
    type Value = Member;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Member, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Capture {
    type Value = Member;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Member, E> {
        Ok(Member::String(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Member, E> {
        Ok(Member::String(v))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Member, E> {
        Ok(Member::Other)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Member, E> {
        Ok(Member::Other)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Member, E> {
        Ok(Member::Other)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Member, E> {
        Ok(Member::Other)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Member, E> {
        Ok(Member::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Member, A::Error> {
        Skip.visit_seq(seq).map(|()| Member::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Member, A::Error> {
        Skip.visit_map(map).map(|()| Member::Other)
    }
}

/// Any value, walked as `serde_json` parses a `Value` — strings checked as
/// UTF-8, numbers in range, nesting within its depth limit — and dropped.
/// (`serde::de::IgnoredAny` takes serde_json's faster path, which checks
/// none of these, and would accept what the full parse refuses.)
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Skip)?.is_some() {
            map.next_value_seed(Skip)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;
