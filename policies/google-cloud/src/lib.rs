//! Google Cloud: a service account's identity token from
//! `https://accounts.google.com`, for the registry's audience and with the
//! account's email: from the metadata server (`…/service-accounts/default/
//! identity?audience=<registry>&format=full`) on Compute Engine, GKE, Cloud
//! Run or Cloud Build, `gcloud auth print-identity-token --audiences=<registry>
//! --include-email`, or IAM Credentials' `generateIdToken` with `includeEmail`.
//! Claims, from Google's docs
//! (<https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateIdToken>,
//! <https://cloud.google.com/compute/docs/instances/verifying-instance-identity>,
//! <https://cloud.google.com/sdk/gcloud/reference/auth/print-identity-token>):
//! `sub` and `azp` (the account's unique id), `email` and `email_verified`
//! (only when asked for), `google` (details of the workload).
//!
//! Decisions where the docs leave room:
//! - **No pins: the criteria can name `sub`**, the account's unique id, never
//!   reused. A policy naming only `email` trusts whichever account holds the
//!   address; a service account's address lies in its project
//!   (`<name>@<project-id>.iam.gserviceaccount.com`, or a default account's
//!   under the project's number), and project ids are never reused, so only
//!   that project's own admins can create it again.
//! - **Service accounts only**: a verified `…gserviceaccount.com` email, and
//!   `azp`, when present, the account itself (check `authorized-party`): not
//!   a token another OAuth client obtained for a person.
//! - **Token id.** Google's tokens carry no `jti`: `sub@iat` ([`IdAtIssue`]).

use serde::{Deserialize, Serialize};
use trustpub_guest::job_tokens::{IdAtIssue, wanted};
use trustpub_guest::{Config, NoSettings, Provider, Rule, Verified, ensure};

/// The issuer of Google's identity tokens.
pub const ISSUER: &str = "https://accounts.google.com";

const ASK_FOR_EMAIL: &str = "request the identity token with format=full (metadata server), --include-email (gcloud) or includeEmail (generateIdToken)";
const SERVICE_ACCOUNT: &str = "is not a service account's (…@<project>.iam.gserviceaccount.com)";

pub struct GoogleCloud;

/// The exported evaluator: the token id is `sub@iat`.
pub type Component = IdAtIssue<GoogleCloud>;

/// The claims the rules read (`sub` is the token's subject).
#[derive(Deserialize)]
pub struct Claims {
    email: Option<String>,
    email_verified: Option<bool>,
    azp: Option<String>,
}

/// A policy: one service account by email (lowercase), optionally by unique
/// id too.
#[derive(Deserialize, Serialize)]
pub struct Criteria {
    email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
}

const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["email"],"properties":{"email":{"type":"string","format":"email","description":"the service account's email, e.g. release@my-project.iam.gserviceaccount.com (case-insensitive)"},"sub":{"type":"string","pattern":"^[0-9]{1,30}$","description":"the service account's unique id (IAM > Service accounts > Unique ID): ties the policy to this one account"}}}"#;

impl Provider for GoogleCloud {
    const NAME: &'static str = "google-cloud";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ISSUERS: &'static [&'static str] = &[ISSUER];
    const ISSUER_KIND: &'static str = "Google's issuer";
    const CRITERIA_SCHEMA: &'static str = SCHEMA;
    const INDEX_KEY: &'static str = "service account email (lowercase)";
    const TOKEN_ID_CLAIMS: &'static [&'static str] = &["jti", "sub"];
    const RULES: &'static [Rule<Claims, NoSettings>] = &[
        Rule::custom("email", verified_email),
        Rule::custom("service-account", service_account),
        Rule::custom("authorized-party", own_token),
    ];
    type Config = NoSettings;
    type Claims = Claims;
    type Criteria = Criteria;

    fn lookup_keys(t: &Verified<Claims>) -> Vec<String> {
        vec![email(t)]
    }
    fn normalize(c: Criteria) -> Result<Criteria, String> {
        let email = c.email.to_ascii_lowercase();
        let what = "criteria email";
        ensure(is_service_account(&email), || {
            format!("{what} '{email}' {SERVICE_ACCOUNT}")
        })?;
        let id = |s: &String| s.len() <= 30 && s.bytes().all(|b| b.is_ascii_digit());
        if let Some(sub) = c.sub.as_ref().filter(|s| !id(s)) {
            return Err(format!("criteria sub '{sub}' is not a unique id (digits)"));
        }
        Ok(Criteria { email, sub: c.sub })
    }
    fn index_keys(c: &Criteria) -> Vec<String> {
        vec![c.email.clone()]
    }
    fn matches(c: &Criteria, t: &Verified<Claims>) -> Result<(), String> {
        wanted("email", Some(&c.email), Some(&email(t)))?;
        wanted("sub", c.sub.as_deref(), Some(t.subject()))
    }
}

/// The token's email, lowercase (present: the `email` check ran).
fn email(t: &Verified<Claims>) -> String {
    t.email.as_deref().unwrap_or_default().to_ascii_lowercase()
}

fn is_service_account(email: &str) -> bool {
    let domain = email
        .rsplit_once('@')
        .filter(|(local, _)| !local.is_empty());
    let project = domain.and_then(|(_, d)| d.strip_suffix(".gserviceaccount.com"));
    project.is_some_and(|p| !p.is_empty())
}

/// The token names its account by a verified email.
fn verified_email(t: &Verified<Claims>, _: &Config<NoSettings>) -> Result<(), String> {
    let has = t.email.as_deref().is_some_and(|e| !e.is_empty());
    ensure(has, || {
        format!("the token has no email claim: {ASK_FOR_EMAIL}")
    })?;
    let verified = t.email_verified == Some(true);
    ensure(verified, || "the email_verified claim is not true".into())
}

fn service_account(t: &Verified<Claims>, _: &Config<NoSettings>) -> Result<(), String> {
    let email = email(t);
    ensure(is_service_account(&email), || {
        format!("the email claim '{email}' {SERVICE_ACCOUNT}")
    })
}

/// `azp` is the party the token was issued to: the account itself.
fn own_token(t: &Verified<Claims>, _: &Config<NoSettings>) -> Result<(), String> {
    let (azp, sub) = (t.azp.as_deref(), t.subject());
    let why = || {
        format!(
            "the azp claim '{}' is not the sub claim '{sub}': the token was issued to another party",
            azp.unwrap_or_default()
        )
    };
    ensure(azp.is_none_or(|azp| azp == sub), why)
}

trustpub_guest::export_evaluator!(Component);

#[cfg(test)]
mod tests;
