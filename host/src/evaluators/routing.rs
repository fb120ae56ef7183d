//! Which issuers a provider takes tokens from, and whether two providers
//! could both take one.
//!
//! A provider routes by its evaluator's issuer patterns (unless the operator
//! turns them off) and by exact issuers the operator adds. Two providers
//! conflict when some issuer string matches a route of each: decided on the
//! patterns' meaning, so `https://{host}/x` and `https://idp.example/{p}`
//! conflict although their text differs.

/// The issuers one provider routes: patterns (`{name}` = one non-empty path
/// segment) and exact URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssuerRoutes {
    pub patterns: Vec<String>,
    pub exact: Vec<String>,
}

impl IssuerRoutes {
    /// Every route as a pattern (an exact issuer is a pattern without
    /// placeholders, with braces taken literally).
    fn globs(&self) -> Vec<(String, Vec<Atom>)> {
        let patterns = self.patterns.iter().map(|p| (p.clone(), pattern_atoms(p)));
        let exact = self
            .exact
            .iter()
            .map(|e| (e.clone(), e.chars().map(Atom::Char).collect()));
        patterns.chain(exact).collect()
    }

    /// A route of `self` and one of `other` that some issuer matches both.
    pub fn overlap(&self, other: &IssuerRoutes) -> Option<(String, String)> {
        let theirs = other.globs();
        for (mine, a) in self.globs() {
            for (their, b) in &theirs {
                if intersect(&a, b) {
                    return Some((mine, their.clone()));
                }
            }
        }
        None
    }
}

/// One position of a glob: a literal character, exactly one character that
/// is not `/`, or any run (possibly empty) of characters that are not `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    Char(char),
    One,
    Run,
}

/// `{name}` becomes "one or more non-`/`" = `One` then `Run`.
fn pattern_atoms(pattern: &str) -> Vec<Atom> {
    let mut atoms = Vec::new();
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        if c == '{'
            && let Some(end) = rest.find('}')
        {
            atoms.push(Atom::One);
            atoms.push(Atom::Run);
            rest = &rest[end + 1..];
            continue;
        }
        atoms.push(Atom::Char(c));
        rest = &rest[c.len_utf8()..];
    }
    atoms
}

fn single_compatible(a: Atom, b: Atom) -> bool {
    match (a, b) {
        (Atom::Char(x), Atom::Char(y)) => x == y,
        (Atom::One, Atom::Char(c)) | (Atom::Char(c), Atom::One) => c != '/',
        (Atom::One, Atom::One) => true,
        // Runs are handled by the caller.
        _ => false,
    }
}

/// Whether some string matches both globs: a search over pairs of
/// positions (at most |a|·|b| states, each visited once).
fn intersect(a: &[Atom], b: &[Atom]) -> bool {
    let (n, m) = (a.len(), b.len());
    let mut seen = vec![false; (n + 1) * (m + 1)];
    let mut stack = vec![(0usize, 0usize)];
    while let Some((i, j)) = stack.pop() {
        let idx = i * (m + 1) + j;
        if seen[idx] {
            continue;
        }
        seen[idx] = true;
        if i == n && j == m {
            return true;
        }
        let (x, y) = (a.get(i).copied(), b.get(j).copied());
        // A run may match nothing.
        if x == Some(Atom::Run) {
            stack.push((i + 1, j));
        }
        if y == Some(Atom::Run) {
            stack.push((i, j + 1));
        }
        match (x, y) {
            // A run consumes the other side's next character (which cannot be `/`).
            (Some(Atom::Run), Some(other))
                if other != Atom::Run && single_compatible(Atom::One, other) =>
            {
                stack.push((i, j + 1));
            }
            (Some(other), Some(Atom::Run))
                if other != Atom::Run && single_compatible(other, Atom::One) =>
            {
                stack.push((i + 1, j));
            }
            (Some(Atom::Run), Some(Atom::Run)) => stack.push((i + 1, j + 1)),
            (Some(p), Some(q)) if single_compatible(p, q) => stack.push((i + 1, j + 1)),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(p: &[&str]) -> IssuerRoutes {
        IssuerRoutes {
            patterns: p.iter().map(|s| s.to_string()).collect(),
            exact: vec![],
        }
    }

    fn exact(e: &[&str]) -> IssuerRoutes {
        IssuerRoutes {
            patterns: vec![],
            exact: e.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn identical_and_disjoint_patterns() {
        let entra = patterns(&["https://login.microsoftonline.com/{tid}/v2.0"]);
        assert!(entra.overlap(&entra).is_some());
        let github = patterns(&[
            "https://token.actions.githubusercontent.com",
            "https://token.actions.githubusercontent.com/{enterprise}",
        ]);
        assert_eq!(entra.overlap(&github), None);
        assert_eq!(github.overlap(&entra), None);
    }

    #[test]
    fn patterns_with_different_text_that_share_an_issuer_conflict() {
        let catch_all = patterns(&["https://{host}/v2.0"]);
        let entra_like = patterns(&["https://login.example/v2.0"]);
        assert!(catch_all.overlap(&entra_like).is_some());
        assert!(entra_like.overlap(&catch_all).is_some());
        let a = patterns(&["https://idp.example/{a}/x"]);
        let b = patterns(&["https://idp.example/t/{b}"]);
        assert!(
            a.overlap(&b).is_some(),
            "https://idp.example/t/x matches both"
        );
    }

    #[test]
    fn a_placeholder_never_spans_a_slash_or_matches_nothing() {
        let one_segment = patterns(&["https://gitlab.example/{group}"]);
        assert_eq!(
            one_segment.overlap(&exact(&["https://gitlab.example/a/b"])),
            None
        );
        assert_eq!(
            one_segment.overlap(&exact(&["https://gitlab.example/"])),
            None
        );
        assert!(
            one_segment
                .overlap(&exact(&["https://gitlab.example/a"]))
                .is_some()
        );
    }

    #[test]
    fn exact_issuers_against_patterns_and_each_other() {
        let gitlab_com = patterns(&["https://gitlab.com"]);
        let internal = exact(&["https://gitlab.internal.example"]);
        assert_eq!(gitlab_com.overlap(&internal), None);
        assert!(internal.overlap(&internal).is_some());
        // A prefix is not a match: issuers are compared whole.
        assert_eq!(gitlab_com.overlap(&exact(&["https://gitlab.com/x"])), None);
    }
}
