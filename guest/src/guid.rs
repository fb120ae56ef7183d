//! GUIDs as Entra ID writes them, compared in one canonical form.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Normalizes a GUID to lowercase `8-4-4-4-12` hex; accepts any case and
/// optional surrounding braces. Returns `None` for anything else.
pub fn normalize(input: &str) -> Option<String> {
    let s = input
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(input);
    // Byte by byte: this runs for every GUID of every token and criterion.
    let shape_ok = s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    shape_ok.then(|| s.to_ascii_lowercase())
}

/// A GUID in canonical form (lowercase `8-4-4-4-12`). As a field of typed
/// claims, criteria or config it accepts any case and braces and normalizes
/// them, so rules compare GUIDs with `==` and index keys built from them are
/// equal exactly when the GUIDs are.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Guid(String);

impl Guid {
    pub fn parse(input: &str) -> Option<Self> {
        normalize(input).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Guid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Guid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom(format!("'{raw}' is not a GUID")))
    }
}

impl Serialize for Guid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{Guid, normalize};

    #[test]
    fn guid_type_normalizes_and_names_bad_input() {
        let g: Guid =
            serde_json::from_str("\"{0D5A3B1C-0000-4000-8000-ABCDEFABCDEF}\"").expect("a GUID");
        assert_eq!(g.as_str(), "0d5a3b1c-0000-4000-8000-abcdefabcdef");
        assert_eq!(
            serde_json::to_string(&g).expect("serializes"),
            "\"0d5a3b1c-0000-4000-8000-abcdefabcdef\""
        );
        let err = serde_json::from_str::<Guid>("\"contoso\"").expect_err("not a GUID");
        assert!(err.to_string().contains("'contoso' is not a GUID"), "{err}");
    }

    #[test]
    fn canonical_form() {
        assert_eq!(
            normalize("{0D5A3B1C-0000-4000-8000-ABCDEFABCDEF}").as_deref(),
            Some("0d5a3b1c-0000-4000-8000-abcdefabcdef")
        );
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            "",
            "x",
            "0d5a3b1c00004000800abcdefabcdef",
            "0d5a3b1c-0000-4000-8000-abcdefabcdeg",
            "{0d5a3b1c-0000-4000-8000-abcdefabcdef",
            // 36 characters, but a dash out of place or missing
            "0d5a3b1c0-000-4000-8000-abcdefabcdef",
            "0d5a3b1c-0000-4000-80000abcdefabcdef",
            "0d5a3b1c-0000-4000-8000-abcdefabcde-",
            // a non-ASCII character in a group
            "0d5a3b1c-0000-4000-8000-abcdefabcdé",
            "0d5a3b1c-0000-4000-8000-abcdefabcde\u{0}",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }
}
