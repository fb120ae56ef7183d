//! The operator console (`/console`): its guards over plain HTTP, then the
//! whole journey in real headless Chromium (`tests/browser/console.mjs`,
//! playwright-core driving Debian's `chromium`; `cargo xtask test` installs
//! both when missing). With `TRUSTPUB_SCREENSHOTS=<dir>` the browser run
//! also saves a screenshot of each page (`cargo xtask screenshots`).

use std::path::Path;
use std::process::Command;

use reqwest::redirect::Policy;
use reqwest::{Client, Method, StatusCode};
use trustpub_tests::server::{
    ADMIN_TOKEN, Service, config_with_evaluator, github_token, job, start_idp,
};

/// A server with entra-id and github-actions, each evaluator a copy in
/// `dir` (deploys write there, never into target/components).
async fn start(dir: &Path) -> (Service, trustpub::idp::TestIdpServer) {
    let entra = start_idp("k1").await;
    let github = start_idp("github").await;
    let copy = |name: &str| {
        let path = dir.join(format!("{name}.wasm"));
        std::fs::copy(trustpub_tests::component(name), &path).expect("copy component");
        path
    };
    let config = format!(
        r#"{entra}
[[providers]]
name = "github-actions"
evaluator = "{evaluator}"
jwks_url = "{jwks}"
[providers.config]
audience = "https://www.nuget.org"
"#,
        entra = config_with_evaluator(
            &dir.join("db.sqlite"),
            &entra,
            "rate_limit_per_address_per_minute = 0",
            &copy("entra-id")
        ),
        evaluator = copy("github-actions").display(),
        jwks = github.jwks_url(),
    );
    let svc = Service::start(dir, &config);
    (svc, github)
}

fn no_redirects() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

/// Signs in over HTTP; returns the `Cookie` header value and the session's
/// CSRF token (read from a page's form).
async fn sign_in(svc: &Service, http: &Client) -> (String, String) {
    let r = http
        .post(svc.url("/console/sign-in"))
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set_cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("text")
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age="] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().expect("pair").to_string();
    let page = get(svc, http, "/console/policies", Some(&cookie)).await;
    let csrf = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form with the CSRF token")
        .to_string();
    (cookie, csrf)
}

async fn get(svc: &Service, http: &Client, path: &str, cookie: Option<&str>) -> String {
    let mut request = http.get(svc.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let r = request.send().await.expect("send");
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    r.text().await.expect("text")
}

const PAGES: [&str; 6] = [
    "/console",
    "/console/policies",
    "/console/policies/new?provider=github-actions",
    "/console/audit",
    "/console/evaluators",
    "/console/keys",
];

#[tokio::test(flavor = "multi_thread")]
async fn without_a_session_every_console_route_redirects_to_sign_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (svc, _github) = start(dir.path()).await;
    let http = no_redirects();
    let posts = [
        "/console/users",
        "/console/policies",
        "/console/policies/1/renew",
        "/console/policies/1/delete",
        "/console/evaluators/github-actions/rollback",
        "/console/keys/revoke",
        "/console/sign-out",
    ];
    let gets = PAGES
        .iter()
        .chain(&["/console/policies/1/delete", "/console/no-such-page"]);
    let requests = gets
        .map(|p| (Method::GET, *p))
        .chain(posts.iter().map(|p| (Method::POST, *p)));
    for (method, path) in requests {
        let r = http
            .request(method.clone(), svc.url(path))
            .header("cookie", "trustpub_console=forged")
            .form(&[("csrf", "x")])
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{method} {path}");
        assert_eq!(
            r.headers()["location"],
            "/console/sign-in",
            "{method} {path}"
        );
    }
    // Nothing was changed on the way.
    assert_eq!(svc.get_json("/admin/users").await, serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_needs_the_csrf_token_and_this_origin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (svc, _github) = start(dir.path()).await;
    let http = no_redirects();
    let (cookie, csrf) = sign_in(&svc, &http).await;
    let create = |form: Vec<(&'static str, String)>, origin: Option<String>| {
        let mut request = http
            .post(svc.url("/console/users"))
            .header("cookie", &cookie)
            .form(&form);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let user = |name: &str| ("username", name.to_string());
    let missing = create(vec![user("mallory")], None).await.expect("send");
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let wrong = create(vec![user("mallory"), ("csrf", "guess".into())], None)
        .await
        .expect("send");
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let elsewhere = create(
        vec![user("mallory"), ("csrf", csrf.clone())],
        Some("https://attacker.example".into()),
    )
    .await
    .expect("send");
    assert_eq!(elsewhere.status(), StatusCode::FORBIDDEN);
    assert_eq!(svc.get_json("/admin/users").await, serde_json::json!([]));

    let ok = create(vec![user("alice"), ("csrf", csrf)], Some(svc.base.clone()))
        .await
        .expect("send");
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(svc.get_json("/admin/users").await[0]["username"], "alice");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_token_appears_in_no_page_and_no_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (svc, _github) = start(dir.path()).await;
    let http = no_redirects();
    let sign_in_page = get(&svc, &http, "/console/sign-in", None).await;
    assert!(!sign_in_page.contains(ADMIN_TOKEN));
    let (cookie, _) = sign_in(&svc, &http).await;
    assert!(!cookie.contains(ADMIN_TOKEN));
    for path in PAGES {
        let page = get(&svc, &http, path, Some(&cookie)).await;
        assert!(!page.contains(ADMIN_TOKEN), "{path}");
    }
    // A wrong guess is answered without echoing it either.
    let r = http
        .post(svc.url("/console/sign-in"))
        .form(&[("token", "guess-1234")])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(!r.text().await.expect("text").contains("guess-1234"));
}

/// The journey in a real browser; see `tests/browser/console.mjs`.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_in_headless_chromium() {
    let root = trustpub_tests::root();
    let script = root.join("tests/browser/console.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir()
            && Path::new("/usr/bin/chromium").exists(),
        "the browser test needs Debian's chromium and tests/browser's npm packages: \
         run `cargo xtask test` (or `cargo xtask browser`), which installs them"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (svc, github) = start(dir.path()).await;
    let mut other = job();
    other.workflow = "nightly.yml".into();
    let refused = github_token(&github, &other);
    let good = github_token(&github, &job());
    let good_2 = github_token(&github, &job());
    let variant = dir.path().join("github-actions-next.wasm");
    let bytes = std::fs::read(trustpub_tests::component("github-actions")).expect("component");
    std::fs::write(&variant, crate::hot_swap::variant(&bytes, "console")).expect("variant");

    let svc_base = svc.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(&svc_base)
            .arg(ADMIN_TOKEN)
            .env("REFUSED_TOKEN", refused)
            .env("GOOD_TOKEN", good)
            .env("GOOD_TOKEN_2", good_2)
            .env("VARIANT_PATH", variant)
            .output()
            .expect("run node")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        svc.logs()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(stdout.contains("all steps passed"), "{stdout}");
    // The console's changes went through the operator service, audited
    // under the actor `console`.
    let actions = svc.audit("kind=actions&limit=100").await;
    let by_console: Vec<&str> = actions
        .as_array()
        .expect("list")
        .iter()
        .filter(|e| e["subject"] == "console")
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    for outcome in [
        "policy-created",
        "evaluator-deployed",
        "evaluator-rolled-back",
        "key-revoked",
        "policy-deleted",
    ] {
        assert!(by_console.contains(&outcome), "{outcome} in {by_console:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn renewing_from_the_console_is_audited_as_the_console() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (svc, _github) = start(dir.path()).await;
    let policy = svc
        .user_with_policy("contoso", trustpub_tests::server::OID)
        .await;
    let http = no_redirects();
    let (cookie, csrf) = sign_in(&svc, &http).await;
    let r = http
        .post(svc.url(&format!("/console/policies/{policy}/renew")))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = get(&svc, &http, "/console/policies", Some(&cookie)).await;
    assert!(
        page.contains(&format!("Policy {policy} renewed")),
        "the next page says so"
    );
    let actions = svc.audit("kind=actions").await;
    let renewed = actions
        .as_array()
        .expect("list")
        .iter()
        .find(|e| e["outcome"] == "policy-renewed")
        .expect("a renewal record");
    assert_eq!(renewed["subject"], "console");
    assert_eq!(renewed["policy_id"], policy);
}
