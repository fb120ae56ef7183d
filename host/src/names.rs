//! The one rule for user and owner names, shared by the operator API (which
//! creates them) and the exchange (which refuses a name that cannot exist
//! before doing any work, so a 16 KiB "username" never reaches the audit log).

pub const MAX_NAME_LEN: usize = 64;

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
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncated("short", 10), "short");
        assert_eq!(truncated("ééé", 3), "é…");
        assert_eq!(truncated("abcdef", 3), "abc…");
    }
}
