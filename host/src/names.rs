//! The rules for what operators name: user and owner names, shared by the
//! operator API (which creates them) and the exchange (which refuses a name
//! that cannot exist before doing any work, so a 16 KiB "username" never
//! reaches the audit log), and the scopes a policy gives its keys.

pub const MAX_NAME_LEN: usize = 64;

/// What a key may do, as nuget.org names its API key scopes; `*` is
/// everything the owner may do.
pub const SCOPE_ACTIONS: [&str; 5] = [
    "package:push",
    "package:pushversion",
    "package:unlist",
    "package:verify",
    "*",
];

const MAX_GLOB_LEN: usize = 128;

/// A scope: a package-id glob (letters, digits, `.`, `_`, `-`, and `*` as a
/// wildcard; at most 128 characters) and at least one action of
/// [`SCOPE_ACTIONS`].
pub fn check_scope(packages: &str, actions: &[String]) -> Result<(), String> {
    let glob_ok = !packages.is_empty()
        && packages.len() <= MAX_GLOB_LEN
        && packages
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'*'));
    if !glob_ok {
        return Err(format!(
            "the packages glob {packages:?} must be 1-{MAX_GLOB_LEN} letters, digits, '.', '_', '-' or '*'"
        ));
    }
    if actions.is_empty() {
        return Err("each scope needs at least one action".into());
    }
    if let Some(unknown) = actions
        .iter()
        .find(|a| !SCOPE_ACTIONS.contains(&a.as_str()))
    {
        return Err(format!(
            "unknown scope action {unknown:?}: use {}",
            SCOPE_ACTIONS.join(", ")
        ));
    }
    Ok(())
}

/// 1-64 ASCII letters, digits, `.`, `_` or `-`; `what` names the field in
/// the message.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} must be 1-{MAX_NAME_LEN} letters, digits, '.', '_' or '-'"
        ))
    }
}

/// At most `max` bytes of `text`, cut at a character boundary, marked when cut.
pub fn truncated(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_one_rule() {
        assert!(check_name("username", "Contoso.Build_1-x").is_ok());
        for bad in ["", "a b", "ä", "a/b", &"x".repeat(65)] {
            assert!(
                check_name("username", bad).is_err_and(|e| e.starts_with("username must")),
                "{bad}"
            );
        }
        assert!(check_name("owner", &"x".repeat(64)).is_ok());
    }

    #[test]
    fn scopes_take_a_glob_and_known_actions() {
        let actions = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_scope("Contoso.*", &actions(&["package:push", "package:unlist"])).is_ok());
        assert!(check_scope("*", &actions(&["*"])).is_ok());
        assert!(check_scope("", &actions(&["*"])).is_err_and(|e| e.contains("glob")));
        assert!(check_scope("a b", &actions(&["*"])).is_err_and(|e| e.contains("glob")));
        assert!(check_scope("x", &[]).is_err_and(|e| e.contains("at least one")));
        assert!(
            check_scope("x", &actions(&["package:delete"]))
                .is_err_and(|e| e.contains("unknown scope action \"package:delete\""))
        );
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncated("short", 10), "short");
        assert_eq!(truncated("ééé", 3), "é…");
        assert_eq!(truncated("abcdef", 3), "abc…");
    }
}
