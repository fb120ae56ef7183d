//! The adversarial corpus (`tests/corpus/exchange.toml`) against one live
//! server: every case's status and error substring, and for every case the
//! rules no answer may break — no 5xx, every error a JSON `error`, every 401
//! with `WWW-Authenticate: Bearer`, a key only where one is expected.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use trustpub::idp::{SigningAlg, SigningKey, TestIdpServer};
use trustpub::jwt_segment as seg;
use trustpub_tests::server::{
    ADMIN_TOKEN, AUDIENCE, OID, Spawned, TID, TestServer, entra_claims, github_claims,
    github_criteria, job,
};

/// Enough cases that every check has its token; see the file's header.
const MIN_CASES: usize = 120;

#[derive(Debug, Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    base: String,
    #[serde(default)]
    set: Map<String, Value>,
    #[serde(default)]
    rel: BTreeMap<String, i64>,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    header: Map<String, Value>,
    #[serde(default)]
    sign: Option<String>,
    #[serde(default)]
    raw: Option<String>,
    #[serde(default)]
    request: Request,
    status: u16,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    username: Option<String>,
    username_json: Option<String>,
    #[serde(default)]
    no_username: bool,
    token_type: Option<String>,
    content_type: Option<String>,
    body: Option<String>,
    authorization: Option<String>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    repeat: Option<usize>,
}

const OTHER_GUID: &str = "9f0c6a4e-2b1d-4c3e-8a7f-5d6e7f8a9b0c";

/// The corpus's placeholders, in string values.
fn expand(text: &str) -> String {
    text.replace("$TID_UPPER", &TID.to_uppercase())
        .replace("$TID", TID)
        .replace("$OID", OID)
        .replace("$OTHER_GUID", OTHER_GUID)
        .replace("$AUD", AUDIENCE)
        .replace("$ADMIN_TOKEN", ADMIN_TOKEN)
        .replace("$LONG_8K", &"a".repeat(8 * 1024))
        .replace("$LONG_20K", &"a".repeat(20 * 1024))
        .replace("$LONG_NAME", &"n".repeat(200))
}

fn expand_value(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(expand(s)),
        Value::Array(items) => Value::Array(items.iter().map(expand_value).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), expand_value(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

struct Servers {
    s: Spawned,
}

impl Servers {
    fn idp(&self, base: &str) -> &TestIdpServer {
        match base {
            "github" => self.s.github(),
            _ => &self.s.entra,
        }
    }

    fn other_idp(&self, base: &str) -> &TestIdpServer {
        self.idp(if base == "github" { "entra" } else { "github" })
    }
}

/// A key that is not the IdP's, under the IdP's own kid.
fn stranger(kid: &str) -> SigningKey {
    static KEYS: OnceLock<std::sync::Mutex<BTreeMap<String, String>>> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    let mut keys = keys.lock().expect("lock");
    let pem = keys.entry(kid.to_string()).or_insert_with(|| {
        SigningKey::generate(SigningAlg::Rs256, kid)
            .expect("key")
            .to_pem()
            .expect("pem")
    });
    SigningKey::rs256_from_pem(pem, Some(kid)).expect("key")
}

fn token(servers: &Servers, case: &Case) -> String {
    if case.base == "raw" {
        return expand(case.raw.as_deref().expect("a raw case needs `raw`"));
    }
    let base = match case.base.as_str() {
        "entra" => entra_claims(OID),
        "github" => github_claims(&job()),
        other => panic!("{}: unknown base {other}", case.name),
    };
    let mut claims = base.clone();
    let now = trustpub::clock::unix_now() as i64;
    for (name, value) in &case.set {
        claims[name] = expand_value(value);
    }
    for (name, offset) in &case.rel {
        claims[name] = json!(now + offset);
    }
    for name in &case.remove {
        claims.as_object_mut().expect("object").remove(name);
    }
    let idp = servers.idp(&case.base);
    let kid = idp.jwks()["keys"][0]["kid"]
        .as_str()
        .expect("kid")
        .to_string();
    if !case.header.is_empty() {
        let mut header = json!({"alg": "RS256", "kid": kid, "typ": "JWT"});
        for (name, value) in &case.header {
            if value == "$REMOVE" {
                header.as_object_mut().expect("object").remove(name);
            } else {
                header[name] = value.clone();
            }
        }
        return format!(
            "{}.{}.{}",
            seg(&header),
            seg(&claims),
            seg(&json!("no key made this signature"))
        );
    }
    match case.sign.as_deref().unwrap_or("idp") {
        "idp" => idp.mint(&claims).expect("mint"),
        "stranger" => stranger(&kid).sign(&claims).expect("sign"),
        "other-idp" => servers.other_idp(&case.base).mint(&claims).expect("mint"),
        "tamper" => {
            let signed = idp.mint(&base).expect("mint");
            let parts: Vec<&str> = signed.split('.').collect();
            format!("{}.{}.{}", parts[0], seg(&claims), parts[2])
        }
        other => panic!("{}: unknown sign {other}", case.name),
    }
}

async fn send(
    servers: &Servers,
    case: &Case,
    token: &str,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let svc = &servers.s.svc;
    let r = &case.request;
    let mut request = svc.http.request(Method::POST, svc.url("/api/v2/token"));
    match r.authorization.as_deref() {
        Some("$NONE") => {}
        Some(value) => request = request.header("authorization", value.replace("{token}", token)),
        None => request = request.header("authorization", format!("Bearer {token}")),
    }
    for (name, value) in &r.headers {
        request = request.header(name.as_str(), value.replace("{token}", token));
    }
    match r.content_type.as_deref() {
        Some("$NONE") => {}
        Some(value) => request = request.header("content-type", value),
        None => request = request.header("content-type", "application/json"),
    }
    let body = match &r.body {
        Some(body) => expand(body),
        None => {
            let mut body = json!({"tokenType": r.token_type.as_deref().unwrap_or("ApiKey")});
            if let Some(raw) = &r.username_json {
                body["username"] = serde_json::from_str(raw).expect("username_json");
            } else if !r.no_username {
                body["username"] = json!(expand(r.username.as_deref().unwrap_or("contoso")));
            }
            body.to_string()
        }
    };
    let response = request.body(body).send().await.expect("send");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    )
}

/// What every answer must be, whatever the case expects.
fn answer_rules(status: u16, body: &Value, headers: &reqwest::header::HeaderMap) -> Vec<String> {
    let mut broken = Vec::new();
    if status >= 500 {
        broken.push(format!("a server error {status}"));
    }
    if status == 200 {
        if !body["apiKey"]
            .as_str()
            .is_some_and(|k| k.starts_with("tpk_"))
        {
            broken.push("a 200 without a key".into());
        }
    } else if !body["error"].is_string() {
        broken.push("an error without a JSON `error`".into());
    }
    if status == 401
        && headers
            .get("www-authenticate")
            .is_none_or(|v| v != "Bearer")
    {
        broken.push("a 401 without WWW-Authenticate: Bearer".into());
    }
    broken
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adversarial_corpus() {
    let text = std::fs::read_to_string(trustpub_tests::root().join("tests/corpus/exchange.toml"))
        .expect("read the corpus");
    let corpus: Corpus = toml::from_str(&text).expect("the corpus parses");
    assert!(
        corpus.case.len() >= MIN_CASES,
        "{} cases",
        corpus.case.len()
    );

    let s = TestServer::new()
        .github()
        .settings("rate_limit_per_address_per_minute = 0\nrate_limit_per_username_per_minute = 0")
        .spawn()
        .await;
    let svc = &s.svc;
    let r = svc
        .admin(Method::POST, "/admin/policies")
        .json(
            &json!({"username": "contoso", "provider": "github-actions", "owner": "contoso",
            "criteria": github_criteria(Some("release"))}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let r = svc
        .admin(Method::POST, "/admin/users")
        .json(&json!({"username": "fabrikam"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let servers = Servers { s };

    let mut failures = Vec::new();
    for case in &corpus.case {
        let token = token(&servers, case);
        let mut answer = None;
        for _ in 0..case.request.repeat.unwrap_or(1) {
            answer = Some(send(&servers, case, &token).await);
        }
        let (status, body, headers) = answer.expect("sent at least once");
        let mut broken = answer_rules(status, &body, &headers);
        if status != case.status {
            broken.push(format!("status {status}, expected {}", case.status));
        }
        if let Some(needle) = &case.error
            && !body["error"]
                .as_str()
                .is_some_and(|e| e.contains(needle.as_str()))
        {
            broken.push(format!("the error does not contain {needle:?}"));
        }
        if !broken.is_empty() {
            failures.push(format!("{}: {} — {body}", case.name, broken.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        corpus.case.len(),
        failures.join("\n")
    );
}
