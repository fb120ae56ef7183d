//! Rules: the provider's own token checks, as one ordered table.
//!
//! Most provider checks are "this claim must be that value" or "this claim
//! must be absent"; the table states them as data, and the SDK reads the
//! claim and writes the message the same way for every evaluator. Anything
//! else is a [`Rule::custom`] function over the verified token. Each rule
//! carries its check name, so the table is also the list of the provider's
//! check names, in the order they run.

use crate::check::Check;
use crate::config::Config;
use crate::types::Rejection;
use crate::verified::Verified;

/// A custom rule over the verified claims `C` and the provider config with
/// settings `S`: `Err` is the client's message.
pub type RuleFn<C, S> = fn(&Verified<C>, &Config<S>) -> Result<(), String>;

/// `Ok(())` when `ok`, else the message: the shape of most custom rules.
pub fn ensure(ok: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(message()) }
}

/// A rule for providers whose index key is the whole criteria (e.g. tenant
/// and object id): the policy's key must be one of the token's. `what` names
/// the key in the near-miss reason: "{what} differ: the token's is …".
pub fn same_key(what: &str, policy: &[String], token: &[String]) -> Result<(), String> {
    if policy.iter().any(|key| token.contains(key)) {
        return Ok(());
    }
    Err(format!(
        "{what} differ: the token's is {}, the policy wants {}",
        token.join(" or "),
        policy.join(" or ")
    ))
}

/// A claim naming something inside another, as forges write them: `child`
/// (the `child_claim`, e.g. `repository` or `project_path`) must be
/// `<parent>/<name>` with `parent` the `parent_claim` and a non-empty `name`
/// without `/`. A token where they disagree is not one the provider minted.
pub fn nested_name(
    child_claim: &str,
    child: &str,
    parent_claim: &str,
    parent: &str,
) -> Result<(), String> {
    let name = child.strip_prefix(parent).and_then(|n| n.strip_prefix('/'));
    ensure(
        name.is_some_and(|n| !n.is_empty() && !n.contains('/')),
        || {
            format!(
                "the {child_claim} claim '{child}' is not '{parent}/<name>' for the {parent_claim} claim '{parent}'"
            )
        },
    )
}

/// One rule of a provider whose typed claims are `C` and settings `S`
/// (`Provider::RULES` is a `&[Rule<Self::Claims, Self::Config>]`).
pub struct Rule<C: 'static, S: 'static> {
    check: &'static str,
    kind: Kind<C, S>,
}

enum Kind<C: 'static, S: 'static> {
    Equals {
        claim: &'static str,
        value: &'static str,
        why: &'static str,
        optional: bool,
    },
    Absent {
        claim: &'static str,
        why: &'static str,
    },
    Custom(RuleFn<C, S>),
}

impl<C, S> Rule<C, S> {
    /// The claim is a string equal to `value`; otherwise the token fails
    /// `check` with "the {claim} claim '{actual}' is not {value}{why}" (or
    /// the claim's absence or type).
    pub const fn equals(
        check: &'static str,
        claim: &'static str,
        value: &'static str,
        why: &'static str,
    ) -> Self {
        Self::equals_kind(check, claim, value, why, false)
    }

    /// Like [`Rule::equals`] when the claim is present (not `null`).
    pub const fn equals_if_present(
        check: &'static str,
        claim: &'static str,
        value: &'static str,
        why: &'static str,
    ) -> Self {
        Self::equals_kind(check, claim, value, why, true)
    }

    const fn equals_kind(
        check: &'static str,
        claim: &'static str,
        value: &'static str,
        why: &'static str,
        optional: bool,
    ) -> Self {
        let kind = Kind::Equals {
            claim,
            value,
            why,
            optional,
        };
        Self { check, kind }
    }

    /// The token has no such claim, not even `null`; otherwise it fails
    /// `check` with "the token carries the {claim} claim{why}".
    pub const fn absent(check: &'static str, claim: &'static str, why: &'static str) -> Self {
        Self {
            check,
            kind: Kind::Absent { claim, why },
        }
    }

    /// A rule of the provider's own; its `Err` message fails `check`.
    pub const fn custom(check: &'static str, rule: RuleFn<C, S>) -> Self {
        Self {
            check,
            kind: Kind::Custom(rule),
        }
    }

    /// The check name this rule fails with.
    pub fn check_name(&self) -> &'static str {
        self.check
    }

    /// Applies the rule to a verified token.
    pub fn apply(&self, token: &Verified<C>, config: &Config<S>) -> Result<(), Rejection> {
        let claims = token.claims();
        let outcome = match &self.kind {
            Kind::Equals {
                claim,
                value,
                why,
                optional,
            } => {
                let actual = if *optional {
                    claims.optional_string(claim)
                } else {
                    claims.string(claim).map(Some)
                };
                match actual.check(self.check)? {
                    Some(actual) if actual != *value => {
                        Err(format!("the {claim} claim '{actual}' is not {value}{why}"))
                    }
                    _ => Ok(()),
                }
            }
            Kind::Absent { claim, why } if claims.contains(claim) => {
                Err(format!("the token carries the {claim} claim{why}"))
            }
            Kind::Absent { .. } => Ok(()),
            Kind::Custom(rule) => rule(token, config),
        };
        outcome.check(self.check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_names_are_one_level_below() {
        assert_eq!(nested_name("repository", "a/b", "owner", "a"), Ok(()));
        for child in ["b/x", "a/", "a/b/c", "ab/x", "a"] {
            let err = nested_name("repository", child, "owner", "a").expect_err(child);
            let want =
                format!("the repository claim '{child}' is not 'a/<name>' for the owner claim 'a'");
            assert_eq!(err, want);
        }
    }
}
