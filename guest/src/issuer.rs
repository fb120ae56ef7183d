//! Issuer patterns such as `https://login.microsoftonline.com/{tid}/v2.0`.
//!
//! The host routes tokens with them and evaluators check their issuer with
//! them, so both sides share this one implementation. An operator may also
//! list exact issuers in a provider's config (`"issuers": [...]`), e.g. a
//! sovereign cloud's; [`IssuerMatch::find`] accepts either.

/// A parsed issuer pattern: literal text and `{name}` placeholders, each
/// placeholder standing for one non-empty URL path segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerPattern {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Segment(String),
}

impl IssuerPattern {
    /// Parses a pattern. A placeholder must be followed by `/` or the end, so
    /// that it always covers a whole path segment.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = pattern;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('{') {
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("issuer pattern '{pattern}' has an unclosed '{{'"))?;
                let name = &after[..end];
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(format!(
                        "issuer pattern '{pattern}' has an invalid placeholder name"
                    ));
                }
                rest = &after[end + 1..];
                if !(rest.is_empty() || rest.starts_with('/')) {
                    return Err(format!(
                        "issuer pattern '{pattern}': a placeholder must be a whole path segment"
                    ));
                }
                parts.push(Part::Segment(name.to_string()));
            } else {
                let end = rest.find('{').unwrap_or(rest.len());
                if rest[..end].contains('}') {
                    return Err(format!("issuer pattern '{pattern}' has a stray '}}'"));
                }
                parts.push(Part::Literal(rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
        if parts.is_empty() {
            return Err("an issuer pattern must not be empty".into());
        }
        Ok(Self { parts })
    }

    /// Matches `issuer` exactly; returns the placeholder values by name.
    pub fn captures(&self, issuer: &str) -> Option<Vec<(String, String)>> {
        let mut rest = issuer;
        let mut captures = Vec::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => rest = rest.strip_prefix(text.as_str())?,
                Part::Segment(name) => {
                    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                    if end == 0 {
                        return None;
                    }
                    captures.push((name.clone(), rest[..end].to_string()));
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(captures)
    }

    pub fn matches(&self, issuer: &str) -> bool {
        self.captures(issuer).is_some()
    }
}

/// How a token's (unverified) `iss` was accepted, for the evaluator's issuer
/// hook: which of its patterns it fits and with what placeholder values, and
/// whether the operator listed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerMatch<'a> {
    pub issuer: &'a str,
    /// The evaluator's pattern the issuer fits, if any.
    pub pattern: Option<&'static str>,
    /// That pattern's placeholder values by name; empty without a pattern.
    pub captures: Vec<(String, String)>,
    /// The operator listed exactly this issuer in the provider's config.
    pub configured: bool,
}

impl<'a> IssuerMatch<'a> {
    /// `issuer` against the evaluator's `patterns` and the operator's exact
    /// `configured` issuers; `Ok(None)` when neither accepts it. A pattern
    /// that does not parse is an error (the evaluator is broken).
    pub fn find(
        issuer: &'a str,
        patterns: &[&'static str],
        configured: &[String],
    ) -> Result<Option<Self>, String> {
        let mut found = Self {
            issuer,
            pattern: None,
            captures: Vec::new(),
            configured: configured.iter().any(|c| c == issuer),
        };
        for pattern in patterns {
            if let Some(captures) = IssuerPattern::parse(pattern)?.captures(issuer) {
                found.pattern = Some(pattern);
                found.captures = captures;
                break;
            }
        }
        Ok((found.pattern.is_some() || found.configured).then_some(found))
    }

    /// The value of placeholder `name` in the matched pattern.
    pub fn capture(&self, name: &str) -> Option<&str> {
        self.captures
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_accepts_patterns_or_configured_issuers() {
        let patterns = ["https://a.example", "https://a.example/{slug}"];
        let configured = ["https://b.example".to_string()];
        let m = IssuerMatch::find("https://a.example/x", &patterns, &configured)
            .expect("patterns parse")
            .expect("matches");
        assert_eq!(m.pattern, Some("https://a.example/{slug}"));
        assert_eq!(m.capture("slug"), Some("x"));
        assert!(!m.configured);
        let m = IssuerMatch::find("https://b.example", &patterns, &configured)
            .expect("patterns parse")
            .expect("configured");
        assert!(m.configured && m.pattern.is_none() && m.capture("slug").is_none());
        assert_eq!(
            IssuerMatch::find("https://c.example", &patterns, &configured),
            Ok(None)
        );
        assert!(IssuerMatch::find("x", &["{"], &[]).is_err());
    }

    const ENTRA: &str = "https://login.microsoftonline.com/{tid}/v2.0";

    #[test]
    fn captures_segment() {
        let p = IssuerPattern::parse(ENTRA).expect("valid");
        assert_eq!(
            p.captures("https://login.microsoftonline.com/abc/v2.0"),
            Some(vec![("tid".into(), "abc".into())])
        );
    }

    #[test]
    fn rejects_near_misses() {
        let p = IssuerPattern::parse(ENTRA).expect("valid");
        for iss in [
            "https://login.microsoftonline.com//v2.0",
            "https://login.microsoftonline.com/a/b/v2.0",
            "https://login.microsoftonline.com/abc/v2.0/",
            "https://login.microsoftonline.com/abc/v1.0",
            "https://sts.windows.net/abc/",
            "https://login.microsoftonline.com.evil.example/abc/v2.0",
        ] {
            assert!(!p.matches(iss), "{iss}");
        }
    }

    #[test]
    fn literal_pattern_is_exact() {
        let p = IssuerPattern::parse("https://token.actions.githubusercontent.com").expect("valid");
        assert!(p.matches("https://token.actions.githubusercontent.com"));
        assert!(!p.matches("https://token.actions.githubusercontent.com/x"));
    }

    #[test]
    fn invalid_patterns() {
        for bad in [
            "",
            "https://x/{",
            "https://x/{}",
            "https://x/{a}b",
            "https://x/}",
        ] {
            assert!(IssuerPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
