//! Microsoft Entra ID: app-only v2.0 tokens of a service principal (an Azure
//! workload's managed identity or federated credential). The SDK's standard
//! checks, then [`EntraId::RULES`]: tenant, version, app-only, client auth.

use serde::{Deserialize, Serialize};
use trustpub_guest::{Config, Guid, Provider, Rule, Verified, ensure};

/// The issuer of every Entra ID v2.0 token; `{tid}` is the tenant.
pub const ISSUER_PATTERN: &str = "https://login.microsoftonline.com/{tid}/v2.0";

// Why each rule holds, for the client.
const V2_ONLY: &str = " (only v2.0 tokens are accepted)";
const DELEGATED: &str = ": it is a user's delegated token, not an app-only token";
const APP_ONLY: &str = ": only app-only tokens are accepted";
const OWN: &str = "not a service principal's own token";
const CLIENT_AUTH: &str = ": the application must authenticate with a certificate or federated credential, not a client secret";

pub struct EntraId;

/// Settings besides the SDK's standard block: `allowed_tenants`, if set, limits tenants.
#[derive(Deserialize)]
pub struct Settings {
    pub allowed_tenants: Option<Vec<Guid>>,
}

/// One service principal: the typed claims, and a policy's criteria (also
/// its index key). Tenant and object ids are immutable GUIDs: nothing to pin.
#[derive(Deserialize, Serialize)]
pub struct Ids {
    tid: Guid,
    oid: Guid,
}

impl Provider for EntraId {
    const NAME: &'static str = "entra-id";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ISSUERS: &'static [&'static str] = &[ISSUER_PATTERN];
    const ISSUER_KIND: &'static str = "an Entra ID v2.0 issuer";
    const CRITERIA_SCHEMA: &'static str = r#"{"type":"object","additionalProperties":false,"required":["tid","oid"],"properties":{"tid":{"type":"string","format":"uuid","description":"Entra ID tenant id"},"oid":{"type":"string","format":"uuid","description":"object id of the service principal"}}}"#;
    const INDEX_KEY: &'static str = "tenant/object";
    const TOKEN_ID_CLAIMS: &'static [&'static str] = &["uti", "jti"];
    const RULES: &'static [Rule<Ids, Settings>] = &[
        Rule::custom("tenant", tenant),
        Rule::equals("version", "ver", "2.0", V2_ONLY),
        Rule::absent("app-only", "scp", DELEGATED),
        Rule::equals_if_present("app-only", "idtyp", "app", APP_ONLY),
        Rule::custom("app-only", own_token),
        Rule::equals("client-auth", "azpacr", "2", CLIENT_AUTH),
    ];
    type Config = Settings;
    type Claims = Ids;
    type Criteria = Ids;

    fn lookup_keys(t: &Verified<Ids>) -> Vec<String> {
        vec![format!("{}/{}", t.tid, t.oid)]
    }
    fn index_keys(c: &Ids) -> Vec<String> {
        vec![format!("{}/{}", c.tid, c.oid)]
    }
    fn allows(c: &Ids, config: &Config<Settings>) -> Result<(), String> {
        allowed(&c.tid, config)
    }
}

/// The tenant is the issuer's (keys are per issuer; any tenant mints tokens), and allowed.
fn tenant(t: &Verified<Ids>, config: &Config<Settings>) -> Result<(), String> {
    let (tid, iss) = (&t.tid, t.issuer());
    let ours = iss.split('/').any(|s| Guid::parse(s).as_ref() == Some(tid));
    let message = || format!("the tid claim '{tid}' does not match the issuer's tenant ({iss})");
    ensure(ours, message).and_then(|()| allowed(tid, config))
}

/// When the operator limits tenants, only those: for tokens and policies alike.
fn allowed(tid: &Guid, config: &Config<Settings>) -> Result<(), String> {
    let list = &config.provider.allowed_tenants;
    let message = || format!("the tenant '{tid}' is not allowed by this registry");
    ensure(list.as_ref().is_none_or(|a| a.contains(tid)), message)
}

/// The subject is the service principal itself, not a user acting through it.
fn own_token(t: &Verified<Ids>, _: &Config<Settings>) -> Result<(), String> {
    let (sub, oid) = (t.subject(), &t.oid);
    let message = || format!("the sub claim '{sub}' differs from the oid claim '{oid}': {OWN}");
    ensure(Guid::parse(sub).as_ref() == Some(oid), message)
}

trustpub_guest::export_evaluator!(EntraId);

#[cfg(test)]
mod tests;
