//! GUIDs as Entra ID writes them, compared in one canonical form.

/// Normalizes a GUID to lowercase `8-4-4-4-12` hex; accepts any case and
/// optional surrounding braces. Returns `None` for anything else.
pub fn normalize(input: &str) -> Option<String> {
    let s = input
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(input);
    let groups: Vec<&str> = s.split('-').collect();
    let shape_ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()));
    shape_ok.then(|| s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::normalize;

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
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }
}
