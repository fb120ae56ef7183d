//! Whether one policy trusts a validated token.

use trustpub_guest::Policy;

use crate::criteria::Criteria;
use crate::token::ValidToken;

/// The identifiers pinned on a policy's first match: GitHub reuses a name once
/// its account or repository is deleted, never an id.
pub const PIN_REPOSITORY_ID: &str = "repository_id";
pub const PIN_REPOSITORY_OWNER_ID: &str = "repository_owner_id";

/// All of the policy's conditions hold. Criteria that do not parse never match.
pub fn policy_matches(policy: &Policy, token: &ValidToken) -> bool {
    Criteria::parse(&policy.criteria)
        .is_ok_and(|criteria| criteria_match(&criteria, token) && pins_match(&policy.pins, token))
}

fn criteria_match(criteria: &Criteria, token: &ValidToken) -> bool {
    // GitHub owner and repository names are ASCII and case-insensitive.
    token.repository_owner.eq_ignore_ascii_case(&criteria.owner)
        && token
            .repository
            .eq_ignore_ascii_case(&format!("{}/{}", criteria.owner, criteria.repository))
        && workflow_matches(
            &token.job_workflow_ref,
            &token.repository,
            &criteria.workflow,
        )
        && environment_matches(
            criteria.environment.as_deref(),
            token.environment.as_deref(),
        )
}

/// The job runs the code of `.github/workflows/<workflow>` in the token's own
/// repository.
///
/// `job_workflow_ref` names the workflow whose code runs the job. For a
/// reusable workflow called from another repository it names that other
/// repository's file, so a trusted caller cannot hand publishing rights to
/// third-party code. This is PyPI's choice (it verifies `job_workflow_ref`);
/// `workflow_ref`, the top-level caller, would trust whatever reusable
/// workflow the caller invokes. So a token whose `job_workflow_ref` is
/// `evil/other/.github/workflows/release.yml@refs/heads/main` does not match a
/// policy for `contoso/app`'s `release.yml`, although its `repository` is
/// `contoso/app`.
///
/// The `owner/repo` part is compared case-insensitively, like GitHub names;
/// the file name exactly, like file names.
fn workflow_matches(job_workflow_ref: &str, repository: &str, workflow: &str) -> bool {
    let Some(repo_part) = job_workflow_ref.get(..repository.len()) else {
        return false;
    };
    let file_and_ref = job_workflow_ref[repository.len()..].strip_prefix("/.github/workflows/");
    repo_part.eq_ignore_ascii_case(repository)
        && file_and_ref
            .and_then(split_file_and_ref)
            .is_some_and(|(file, _)| file == workflow)
}

/// Splits `file.yml@ref` where both may contain `@`: the file name holds no
/// `/` and a ref does (`refs/heads/main`) unless it is a commit SHA, so the
/// separator is the last `@` before the first `/`. A file named
/// `release.yml@x.yml` therefore never passes for `release.yml`.
fn split_file_and_ref(file_and_ref: &str) -> Option<(&str, &str)> {
    let head_end = file_and_ref.find('/').unwrap_or(file_and_ref.len());
    let at = file_and_ref[..head_end].rfind('@')?;
    let (file, git_ref) = (&file_and_ref[..at], &file_and_ref[at + 1..]);
    (!file.is_empty() && !git_ref.is_empty()).then_some((file, git_ref))
}

/// Without an environment in the criteria, any job (in an environment or
/// not) matches; with one, the job must run in it. GitHub environment names
/// are case-insensitive.
fn environment_matches(expected: Option<&str>, actual: Option<&str>) -> bool {
    match expected {
        None => true,
        Some(expected) => actual.is_some_and(|actual| actual.to_lowercase() == expected),
    }
}

/// Every pin the policy holds equals the token's identifier: a deleted and
/// recreated account or repository keeps its name but gets a new id. A pin
/// name this evaluator never writes fails closed rather than being ignored.
fn pins_match(pins: &[(String, String)], token: &ValidToken) -> bool {
    pins.iter().all(|(name, value)| match name.as_str() {
        PIN_REPOSITORY_ID => *value == token.repository_id,
        PIN_REPOSITORY_OWNER_ID => *value == token.repository_owner_id,
        _ => false,
    })
}

/// The identifiers to pin, sorted by name; the host writes them only on a
/// policy that has none yet.
pub fn pins_of(token: &ValidToken) -> Vec<(String, String)> {
    vec![
        (PIN_REPOSITORY_ID.into(), token.repository_id.clone()),
        (
            PIN_REPOSITORY_OWNER_ID.into(),
            token.repository_owner_id.clone(),
        ),
    ]
}
