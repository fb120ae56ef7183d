//! Claim sets shaped like the real identity providers' tokens.

use serde_json::{Value, json};

/// An Entra ID v2.0 app-only token of service principal `oid` in tenant
/// `tid`, as a workload with a federated credential receives it.
pub fn entra_app_token_claims(
    tid: &str,
    oid: &str,
    audience: &str,
    now: u64,
    token_id: &str,
) -> Value {
    json!({
        "aud": audience,
        "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "aio": "k2BgYDh4test",
        "azp": "11111111-2222-3333-4444-555555555555",
        "azpacr": "2",
        "idtyp": "app",
        "oid": oid,
        "rh": "0.test.",
        "sub": oid,
        "tid": tid,
        "uti": token_id,
        "ver": "2.0",
        "xms_ftd": "test",
    })
}

/// Who a GitHub Actions token is about: a repository, a workflow, a job.
#[derive(Debug, Clone)]
pub struct GithubJob {
    pub owner: String,
    pub repository: String,
    pub owner_id: u64,
    pub repository_id: u64,
    /// The workflow file under `.github/workflows/`, e.g. `release.yml`.
    pub workflow: String,
    pub environment: Option<String>,
}

/// The issuer of github.com's Actions tokens.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// A GitHub Actions OIDC token with every claim GitHub documents, for a
/// push to `main` running `job.workflow` in `owner/repository`.
pub fn github_actions_claims(job: &GithubJob, audience: &str, now: u64, jti: &str) -> Value {
    let repo = format!("{}/{}", job.owner, job.repository);
    let workflow_ref = format!("{repo}/.github/workflows/{}@refs/heads/main", job.workflow);
    let sub = match &job.environment {
        Some(env) => format!("repo:{repo}:environment:{env}"),
        None => format!("repo:{repo}:ref:refs/heads/main"),
    };
    let mut claims = json!({
        "jti": jti,
        "sub": sub,
        "aud": audience,
        "ref": "refs/heads/main",
        "sha": "5f2c1b0e9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
        "repository": repo,
        "repository_owner": job.owner,
        "repository_owner_id": job.owner_id.to_string(),
        "repository_id": job.repository_id.to_string(),
        "repository_visibility": "public",
        "run_id": "9876543210",
        "run_number": "42",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
        "actor": "octocat",
        "actor_id": "583231",
        "workflow": "Release",
        "workflow_ref": workflow_ref,
        "workflow_sha": "5f2c1b0e9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
        "job_workflow_ref": workflow_ref,
        "job_workflow_sha": "5f2c1b0e9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
        "head_ref": "",
        "base_ref": "",
        "event_name": "push",
        "ref_type": "branch",
        "ref_protected": "true",
        "iss": GITHUB_ISSUER,
        "nbf": now,
        "exp": now + 300,
        "iat": now,
    });
    if let Some(env) = &job.environment {
        claims["environment"] = json!(env);
    }
    claims
}
