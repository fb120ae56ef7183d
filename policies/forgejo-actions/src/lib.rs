//! Forgejo Actions: the OIDC ID token a workflow job requests with
//! `enable-openid-connect: true`, from Codeberg (`https://codeberg.org/api/actions`)
//! or a self-hosted Forgejo instance whose issuer (`<ROOT_URL>api/actions`)
//! the operator lists in `[[providers.issuers]]`. Forgejo mints GitHub's
//! claim set, so the rules are the SDK's for GitHub-style forges
//! ([`trustpub_guest::forge`]), shared with `github-actions`: the repository
//! claims must agree, `event_name` must not be a refused event, a policy
//! names owner, repository, workflow file (under `.forgejo/workflows/`, or
//! `.github/workflows/` which Forgejo also reads) and optionally the
//! environment and a reusable workflow's repository, and `repository_id` and
//! `repository_owner_id` are pinned on first use.
//!
//! Sources: <https://forgejo.org/docs/next/user/actions/security-openid-connect/>
//! (the token and its claims); the issuer `https://codeberg.org/api/actions`
//! as Forgejo's own `forgejo admin user create-authorized-integration`
//! documents it; the immutable ids `repository_id`, `repository_owner_id`
//! and `actor_id` from Forgejo's "expose immutable identifiers in Forgejo
//! Actions JWTs" (forgejo/forgejo#12355). Instances older than that change
//! send no ids: their tokens fail the `claims` check rather than match
//! unpinned.

use trustpub_guest::forge::{EventSettings, ForgeProvider, NameRule};

/// Codeberg's issuer.
pub const CODEBERG_ISSUER: &str = "https://codeberg.org/api/actions";

/// The criteria's JSON Schema.
pub const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["owner","repository","workflow"],"properties":{"owner":{"type":"string","pattern":"^[A-Za-z0-9._-]{1,40}$","description":"Forgejo user or organization that owns the repository (case-insensitive)"},"repository":{"type":"string","pattern":"^[A-Za-z0-9._-]{1,100}$","description":"repository name without the owner (case-insensitive)"},"workflow":{"type":"string","pattern":"^[^/]+\\.(yml|yaml)$","description":"workflow file name under .forgejo/workflows/ (or .github/workflows/), case-sensitive: the job's own workflow, or with workflow_repository the calling workflow"},"environment":{"type":"string","minLength":1,"description":"deployment environment the job must run in (ASCII case-insensitive)"},"workflow_repository":{"type":"string","pattern":"^[A-Za-z0-9._-]{1,40}/[A-Za-z0-9._-]{1,100}$","description":"owner/name of the repository whose reusable workflow runs the job, called by the policy's workflow"}}}"#;

const OWNER: &str =
    "a Forgejo user or organization name (1 to 40 letters, digits, '-', '_' or '.')";
const REPOSITORY: &str = "a Forgejo repository name (1 to 100 letters, digits, '-', '_' or '.')";

pub struct ForgejoActions;

impl ForgeProvider for ForgejoActions {
    const NAME: &'static str = "forgejo-actions";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ISSUERS: &'static [&'static str] = &[CODEBERG_ISSUER];
    const ISSUER_KIND: &'static str = "a Forgejo Actions issuer";
    const CRITERIA_SCHEMA: &'static str = SCHEMA;
    const WORKFLOW_DIRS: &'static [&'static str] = &[".forgejo/workflows", ".github/workflows"];
    const OWNER: NameRule = NameRule::new(40, "-_.", OWNER);
    const REPOSITORY: NameRule = NameRule::new(100, "-_.", REPOSITORY);
    type Settings = EventSettings;
}

trustpub_guest::export_evaluator!(ForgejoActions);

#[cfg(test)]
mod tests;
