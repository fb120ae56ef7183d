//! Checks for the names policies hold: account, project and file names.
//!
//! Criteria are written by people and compared with claims by machines, so a
//! name that could never appear in a token (a typo, a path where a name
//! belongs) is refused when the policy is created, with a message naming the
//! field, rather than stored as a policy that never matches.

/// A name of 1 to `max` ASCII letters, digits and `punctuation` bytes, never
/// `.` or `..` (path components, not names); returned lowercased, for names
/// the provider compares case-insensitively. Otherwise "criteria {field}
/// '{value}' is not {what}".
pub fn ascii_name(
    field: &str,
    value: &str,
    max: usize,
    punctuation: &str,
    what: &str,
) -> Result<String, String> {
    let valid = (1..=max).contains(&value.len())
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || punctuation.as_bytes().contains(&b));
    if !valid {
        return Err(format!("criteria {field} '{value}' is not {what}"));
    }
    Ok(value.to_ascii_lowercase())
}

/// A `/`-separated path of 1 to `max_segments` names, each as [`ascii_name`]
/// takes it (e.g. a GitLab group with its subgroups), lowercased; otherwise
/// "criteria {field} '{value}' is not {what}".
pub fn ascii_path(
    field: &str,
    value: &str,
    max_segments: usize,
    max: usize,
    punctuation: &str,
    what: &str,
) -> Result<String, String> {
    let segments = value.split('/').count();
    let names: Result<Vec<String>, String> = value
        .split('/')
        .map(|segment| ascii_name(field, segment, max, punctuation, what))
        .collect();
    match names {
        Ok(names) if segments <= max_segments => Ok(names.join("/")),
        _ => Err(format!("criteria {field} '{value}' is not {what}")),
    }
}

/// A file name (no `/`) with one of `extensions` and something before it,
/// kept as written (file names are case-sensitive). `directory` names where
/// the file lives, for the message.
pub fn file_name(
    field: &str,
    value: &str,
    extensions: &[&str],
    directory: &str,
) -> Result<String, String> {
    if value.contains('/') {
        return Err(format!(
            "criteria {field} '{value}' contains '/': give the file name under {directory} alone"
        ));
    }
    let stem = extensions.iter().find_map(|e| value.strip_suffix(e));
    if stem.is_none_or(str::is_empty) {
        return Err(format!(
            "criteria {field} '{value}' is not a file name ending in {}",
            extensions.join(" or ")
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_ascii_and_lowercased() {
        assert_eq!(
            ascii_name("owner", "Contoso-1", 39, "-", "x"),
            Ok("contoso-1".into())
        );
        for bad in ["", "a_b", "..", ".", "é", &"a".repeat(40)] {
            let err = ascii_name("owner", bad, 39, "-.", "a name").expect_err(bad);
            assert_eq!(err, format!("criteria owner '{bad}' is not a name"));
        }
    }

    #[test]
    fn paths_are_bounded_names() {
        assert_eq!(
            ascii_path("namespace", "Group/Sub.1", 3, 255, "-_.", "x"),
            Ok("group/sub.1".into())
        );
        for bad in ["", "a//b", "/a", "a/", "a/../b", "a/b/c/d", "a b"] {
            let err = ascii_path("namespace", bad, 3, 255, "-_.", "a path").expect_err(bad);
            assert_eq!(err, format!("criteria namespace '{bad}' is not a path"));
        }
    }

    #[test]
    fn file_names_have_an_extension_and_no_directory() {
        let ok = file_name(
            "workflow",
            "Release.yaml",
            &[".yml", ".yaml"],
            ".github/workflows/",
        );
        assert_eq!(ok, Ok("Release.yaml".into()));
        for (bad, needle) in [
            (".yml", "ending in .yml or .yaml"),
            ("release.json", "ending in .yml or .yaml"),
            (".github/workflows/release.yml", "contains '/'"),
        ] {
            let err = file_name("workflow", bad, &[".yml", ".yaml"], "d/").expect_err(bad);
            assert!(err.contains(needle), "{err}");
        }
    }
}
