//! Numeric identifiers that identity providers write as decimal strings.
//!
//! Names (accounts, repositories, projects) are reused after deletion; the
//! numeric ids behind them are not, so they are what evaluators pin. Providers
//! such as GitHub send them as strings (`"repository_id": "678901234"`), and a
//! pin compares strings: parsing into a number would accept `"0123"` as
//! `123`. This type keeps the string and only checks its shape.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most digits an id may have: every `u64` fits.
const MAX_DIGITS: usize = 20;

/// A JSON string of 1 to 20 ASCII digits, kept as written. A number (not a
/// string) is refused as a type error, like any other non-string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DecimalId(String);

impl DecimalId {
    pub fn parse(input: &str) -> Option<Self> {
        let valid =
            (1..=MAX_DIGITS).contains(&input.len()) && input.bytes().all(|b| b.is_ascii_digit());
        valid.then(|| Self(input.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DecimalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DecimalId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw)
            .ok_or_else(|| serde::de::Error::custom(format!("'{raw}' is not a decimal id")))
    }
}

impl Serialize for DecimalId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::DecimalId;

    #[test]
    fn digits_only_kept_as_written() {
        assert_eq!(
            DecimalId::parse("0123").map(|d| d.to_string()),
            Some("0123".to_string())
        );
        for bad in ["", "12a", "-1", " 1", "123456789012345678901"] {
            assert_eq!(DecimalId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers_are_not_strings() {
        assert!(serde_json::from_str::<DecimalId>("4412021").is_err());
        let err = serde_json::from_str::<DecimalId>("\"x1\"").expect_err("not digits");
        assert!(
            err.to_string().contains("'x1' is not a decimal id"),
            "{err}"
        );
    }
}
