//! `cargo xtask doc-links`: every link in the repository's Markdown stays
//! inside the repository and resolves. A clone must stand alone, so a link to
//! a sibling folder or a file that was moved is an error, not a warning.

use std::collections::HashSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Checks every tracked-looking Markdown file under `root`.
pub fn check(root: &Path) -> Result<()> {
    let files = markdown_files(root)?;
    let mut problems = Vec::new();
    for file in &files {
        problems.extend(check_file(root, file)?);
    }
    if problems.is_empty() {
        eprintln!(
            "xtask: {} Markdown files, every link resolves inside the repository",
            files.len()
        );
        return Ok(());
    }
    bail!("broken or outside links:\n  - {}", problems.join("\n  - "))
}

/// The problems with one file's links, as `file: link: why`.
pub fn check_file(root: &Path, file: &Path) -> Result<Vec<String>> {
    let text =
        fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let shown = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    let mut problems = Vec::new();
    for dest in links(&text) {
        if let Err(why) = check_link(root, file, &dest) {
            problems.push(format!("{shown}: {dest}: {why}"));
        }
    }
    Ok(problems)
}

fn check_link(root: &Path, file: &Path, dest: &str) -> std::result::Result<(), String> {
    if dest.contains("://") || dest.starts_with("mailto:") {
        return Ok(());
    }
    let (path_part, anchor) = match dest.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (dest, None),
    };
    if path_part.starts_with('/') {
        return Err("an absolute path; link relative to the file".into());
    }
    let target = if path_part.is_empty() {
        file.to_path_buf()
    } else {
        let dir = file.parent().unwrap_or(root);
        normalize(&dir.join(path_part)).ok_or("goes above the filesystem root")?
    };
    if !target.starts_with(root) {
        return Err("points outside the repository".into());
    }
    if !target.exists() {
        return Err("no such file".into());
    }
    if let Some(anchor) = anchor.filter(|a| !a.is_empty())
        && target.extension().is_some_and(|e| e == "md")
    {
        let text = fs::read_to_string(&target).map_err(|e| e.to_string())?;
        if !heading_anchors(&text).contains(anchor) {
            return Err(format!("no heading with the anchor #{anchor}"));
        }
    }
    Ok(())
}

/// Link and image destinations, outside code (pulldown-cmark resolves
/// reference-style links too).
pub fn links(markdown: &str) -> Vec<String> {
    Parser::new_ext(markdown, Options::all())
        .filter_map(|event| match event {
            Event::Start(Tag::Link { dest_url, .. })
            | Event::Start(Tag::Image { dest_url, .. }) => Some(dest_url.to_string()),
            _ => None,
        })
        .collect()
}

/// GitHub's heading anchors: lowercase, spaces to `-`, punctuation other
/// than `-` and `_` dropped.
pub fn heading_anchors(markdown: &str) -> HashSet<String> {
    let mut anchors = HashSet::new();
    let mut heading: Option<String> = None;
    for event in Parser::new_ext(markdown, Options::all()) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = heading.take() {
                    anchors.insert(slug(&h));
                }
            }
            _ => {}
        }
    }
    anchors
}

fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

fn markdown_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if name.ends_with(".md") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask sits in the workspace")
            .canonicalize()
            .expect("workspace root resolves")
    }

    #[test]
    fn every_markdown_link_in_the_repository_stays_inside_and_resolves() {
        if let Err(e) = check(&repo_root()) {
            panic!("{e:#}");
        }
    }

    #[test]
    fn outside_dangling_absolute_and_bad_anchor_links_are_reported() {
        let root = repo_root();
        let dir = std::env::temp_dir().join(format!("xtask-links-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("test setup");
        let dir = dir.canonicalize().expect("test setup");
        let page = dir.join("page.md");
        fs::write(
            &page,
            "# Top heading\n\n[up](../elsewhere/DESIGN.md) [gone](missing.md) [abs](/etc/passwd)\n\
             [self](#top-heading) [nope](#no-such) [web](https://example.org/x)\n\
             [ref][r]\n\n[r]: ../../x.md\n\n```\n[in code](nowhere.md)\n```\n",
        )
        .expect("test setup");
        let problems = check_file(&dir, &page).expect("test setup");
        let joined = problems.join("\n");
        assert!(
            joined.contains("../elsewhere/DESIGN.md: points outside"),
            "{joined}"
        );
        assert!(joined.contains("missing.md: no such file"), "{joined}");
        assert!(joined.contains("/etc/passwd: an absolute path"), "{joined}");
        assert!(joined.contains("#no-such: no heading"), "{joined}");
        assert!(joined.contains("../../x.md: points outside"), "{joined}");
        assert_eq!(problems.len(), 5, "{joined}");
        fs::remove_dir_all(&dir).expect("test setup");
        assert!(root.join("README.md").exists());
    }

    #[test]
    fn anchors_follow_githubs_rule() {
        let anchors = heading_anchors("## The two commands\n### `trustpub eval`: offline\n");
        assert!(anchors.contains("the-two-commands"));
        assert!(anchors.contains("trustpub-eval-offline"));
    }
}
