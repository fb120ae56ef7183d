//! Workflow references of GitHub-style forges: `owner/repo/<dir>/<file>@<ref>`
//! (GitHub's `job_workflow_ref`, with `dir` `.github/workflows`).

/// The workflow file `reference` names in `repository` under `dir`, or why it
/// names none there (a near-miss reason).
///
/// The `owner/repo` part is compared case-insensitively, like forge names.
/// `file@ref` may hold `@` in both parts: the file name holds no `/` and a
/// ref does (`refs/heads/main`) unless it is a commit SHA, so the separator
/// is the last `@` before the first `/`, and `release.yml@x.yml@refs/…` is
/// never `release.yml`. Both parts must be non-empty.
pub fn workflow_file<'a>(
    reference: &'a str,
    repository: &str,
    dir: &str,
) -> Result<&'a str, String> {
    let file = reference
        .split_at_checked(repository.len())
        .filter(|(repo, _)| repo.eq_ignore_ascii_case(repository))
        .and_then(|(_, rest)| rest.strip_prefix('/')?.strip_prefix(dir)?.strip_prefix('/'))
        .and_then(|rest| {
            let (file, _) = rest.split('/').next()?.rsplit_once('@')?;
            (!file.is_empty() && rest.len() > file.len() + 1).then_some(file)
        });
    file.ok_or_else(|| format!("the job runs {reference}, not a workflow file of {repository}"))
}

#[cfg(test)]
mod tests {
    use super::workflow_file;

    const DIR: &str = ".github/workflows";

    #[test]
    fn file_of_the_repository() {
        for (reference, file) in [
            (
                "contoso/app/.github/workflows/release.yml@refs/tags/v1",
                "release.yml",
            ),
            (
                "Contoso/App/.github/workflows/release.yml@refs/heads/main",
                "release.yml",
            ),
            (
                "contoso/app/.github/workflows/release.yml@e75edcc5b6cb",
                "release.yml",
            ),
            (
                "contoso/app/.github/workflows/release.yml@x.yml@refs/tags/v1",
                "release.yml@x.yml",
            ),
            (
                "contoso/app/.github/workflows/a@b.yml@refs/heads/m",
                "a@b.yml",
            ),
        ] {
            assert_eq!(
                workflow_file(reference, "contoso/app", DIR),
                Ok(file),
                "{reference}"
            );
        }
    }

    #[test]
    fn nothing_else() {
        for reference in [
            "evil/other/.github/workflows/release.yml@refs/heads/main",
            "contoso/app2/.github/workflows/release.yml@refs/heads/main",
            "contoso/app/.github/workflowsx/release.yml@refs/heads/main",
            "contoso/app/.github/workflows/release.yml",
            "contoso/app/.github/workflows/release.yml@",
            "contoso/app/.github/workflows/@refs/heads/main",
            "contoso/app/.github/workflows/sub/release.yml@refs/heads/main",
            "contoso/ap",
            "",
        ] {
            let err = workflow_file(reference, "contoso/app", DIR).expect_err(reference);
            assert!(err.contains("not a workflow file of contoso/app"), "{err}");
        }
    }
}
