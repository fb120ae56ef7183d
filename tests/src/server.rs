//! A `trustpub serve` process on loopback, with a local test IdP, for the
//! black-box HTTP tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use trustpub::idp::{TestIdp, TestIdpServer, entra_app_token_claims};

pub const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const OID: &str = "0d5a3b1c-7e21-4c8e-9f6d-1b2a3c4d5e6f";
pub const AUDIENCE: &str = "api://AzureADTokenExchange";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// A running `trustpub serve`; killed on drop. Its stderr (the logs) is kept
/// in a file for tests that inspect them.
pub struct Service {
    child: Child,
    pub base: String,
    pub log_path: PathBuf,
    pub http: reqwest::Client,
}

impl Service {
    /// Starts the binary with `config` (TOML text) in `dir`; waits until it listens.
    pub fn start(dir: &Path, config: &str) -> Self {
        let config_path = dir.join("trustpub.toml");
        std::fs::write(&config_path, config).expect("write config");
        static STARTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log_path = dir.join(format!("trustpub-{}-{n}.log", std::process::id()));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("log file");
        let mut child = Command::new(crate::trustpub_bin())
            .args(["serve", "--config", &config_path.display().to_string()])
            .env("TRUSTPUB_LOG", "debug")
            .env_remove("TRUSTPUB_ADMIN_TOKEN")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn trustpub serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("trustpub listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "trustpub serve did not start; log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        };
        Self {
            child,
            base,
            log_path,
            // No connection reuse: a server may rightly close a connection
            // after refusing a request whose body it did not read (401, 413),
            // and a pooled client would then fail its next request there.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Stops the process (SIGKILL: storage must be durable without a clean exit).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// An admin request.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// `GET /admin/audit?{query}` as JSON (a list of events).
    pub async fn audit(&self, query: &str) -> Value {
        self.admin(reqwest::Method::GET, &format!("/admin/audit?{query}"))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("audit json")
    }

    /// Creates a user and an Entra ID policy for `oid`; returns the policy id.
    pub async fn user_with_policy(&self, username: &str, oid: &str) -> u64 {
        let r = self
            .admin(reqwest::Method::POST, "/admin/users")
            .json(&json!({"username": username}))
            .send()
            .await
            .expect("send");
        assert!(
            r.status() == 201 || r.status() == 409,
            "create user: {}",
            r.status()
        );
        let r = self
            .admin(reqwest::Method::POST, "/admin/policies")
            .json(&json!({"username": username, "provider": "entra-id", "owner": username, "criteria": {"tid": TID, "oid": oid}}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 201, "create policy");
        r.json::<Value>().await.expect("json")["id"]
            .as_u64()
            .expect("id")
    }

    /// POSTs an exchange the way NuGet/login does; returns status, body, headers.
    pub async fn exchange(
        &self,
        token: &str,
        username: &str,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = self
            .http
            .post(self.url("/api/v2/token"))
            .bearer_auth(token)
            .header("User-Agent", "nuget/login-action")
            .json(&json!({"username": username, "tokenType": "ApiKey"}))
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.json::<Value>().await.unwrap_or(Value::Null);
        (status, body, headers)
    }

    pub async fn introspect(&self, key: &str) -> Value {
        let r = self
            .admin(reqwest::Method::POST, "/api/v2/token/introspect")
            .form(&[("token", key)])
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        r.json().await.expect("json")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration for one Entra ID provider whose keys are at `idp`.
pub fn config(db: &Path, idp: &TestIdpServer, extra: &str) -> String {
    format!(
        r#"listen = "127.0.0.1:0"
database = "sqlite://{db}"
admin_token = "{ADMIN_TOKEN}"
{extra}

[[providers]]
name = "entra-id"
evaluator = "{evaluator}"
jwks_url = "{jwks}"
[providers.config]
audience = "{AUDIENCE}"
"#,
        db = db.display(),
        evaluator = crate::component("entra-id").display(),
        jwks = idp.jwks_url(),
    )
}

/// The usual test setup: a test IdP (key `k1`), a server with the entra-id
/// provider on a fresh SQLite file (plus `extra` top-level settings), and
/// user `contoso` with a policy for `OID`, whose id is returned. Keep the
/// directory alive as long as the server.
pub async fn contoso_service(extra: &str) -> (tempfile::TempDir, TestIdpServer, Service, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let idp = start_idp("k1").await;
    let svc = Service::start(
        dir.path(),
        &config(&dir.path().join("db.sqlite"), &idp, extra),
    );
    let policy_id = svc.user_with_policy("contoso", OID).await;
    (dir, idp, svc, policy_id)
}

/// A test IdP on loopback with one RS256 key.
pub async fn start_idp(kid: &str) -> TestIdpServer {
    TestIdpServer::start(
        TestIdp::rs256(kid).expect("key"),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("idp")
}

/// A fresh Entra ID token for `oid` with a unique token id.
pub fn entra_token(idp: &TestIdpServer, oid: &str) -> String {
    idp.mint(&entra_claims(oid)).expect("mint")
}

pub fn entra_claims(oid: &str) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    entra_app_token_claims(
        TID,
        oid,
        AUDIENCE,
        now,
        &format!("uti-{}-{n}", std::process::id()),
    )
}

/// Entra ID and GitHub Actions side by side, each with its own test IdP.
pub fn config_with_github(
    db: &Path,
    entra: &TestIdpServer,
    github: &TestIdpServer,
    extra: &str,
) -> String {
    format!(
        r#"{entra}
[[providers]]
name = "github-actions"
evaluator = "{evaluator}"
jwks_url = "{jwks}"
[providers.config]
audience = "https://www.nuget.org"
enterprise_slugs = ["acme"]
"#,
        entra = config(db, entra, extra),
        evaluator = crate::component("github-actions").display(),
        jwks = github.jwks_url(),
    )
}
