//! A `trustpub serve` process on loopback, with a local test IdP, for the
//! black-box HTTP tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use trustpub::idp::{
    GithubJob, TestIdp, TestIdpServer, entra_app_token_claims, github_actions_claims, sample_claims,
};

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
        self.sigkill();
    }

    /// SIGKILL, and wait until the process is gone.
    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// An admin request.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// An admin `GET` of `path`, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.admin(reqwest::Method::GET, path)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json")
    }

    /// `GET /admin/audit?{query}` as JSON (a list of events).
    pub async fn audit(&self, query: &str) -> Value {
        self.get_json(&format!("/admin/audit?{query}")).await
    }

    /// `DELETE /api/v2/token` with `key`, as its holder does; the status.
    pub async fn revoke(&self, key: &str) -> u16 {
        self.http
            .delete(self.url("/api/v2/token"))
            .header("X-NuGet-ApiKey", key)
            .send()
            .await
            .expect("send")
            .status()
            .as_u16()
    }

    /// Creates a user and an Entra ID policy for `oid`; returns the policy id.
    pub async fn user_with_policy(&self, username: &str, oid: &str) -> u64 {
        self.policy(username, "entra-id", json!({"tid": TID, "oid": oid}))
            .await
    }

    /// `GET /metrics`, the Prometheus text.
    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("text")
    }

    /// Creates `username` (if new) and a policy of `provider` with
    /// `criteria`; returns the policy id.
    pub async fn policy(&self, username: &str, provider: &str, criteria: Value) -> u64 {
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
            .json(&json!({"username": username, "provider": provider, "owner": username, "criteria": criteria}))
            .send()
            .await
            .expect("send");
        let status = r.status();
        let body: Value = r.json().await.expect("json");
        assert_eq!(status, 201, "create policy: {body}");
        body["id"].as_u64().expect("id")
    }

    /// POSTs an exchange the way NuGet/login does; returns status, body, headers.
    pub async fn exchange(
        &self,
        token: &str,
        username: &str,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        self.exchange_as(token, Some(username)).await
    }

    /// An exchange that names a user, or none (`{"tokenType": "ApiKey"}`):
    /// then the policy is found by the token.
    pub async fn exchange_as(
        &self,
        token: &str,
        username: Option<&str>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let body = match username {
            Some(username) => json!({"username": username, "tokenType": "ApiKey"}),
            None => json!({"tokenType": "ApiKey"}),
        };
        let r = self
            .http
            .post(self.url("/api/v2/token"))
            .bearer_auth(token)
            .header("User-Agent", "nuget/login-action")
            .json(&body)
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
    config_with_evaluator(db, idp, extra, &crate::component("entra-id"))
}

/// [`config`] with the entra-id component at `evaluator` (deploys write there).
pub fn config_with_evaluator(
    db: &Path,
    idp: &TestIdpServer,
    extra: &str,
    evaluator: &Path,
) -> String {
    config_on(&format!("sqlite://{}", db.display()), idp, extra, evaluator)
}

/// The configuration for one Entra ID provider on the database `url`.
pub fn config_on(database: &str, idp: &TestIdpServer, extra: &str, evaluator: &Path) -> String {
    format!(
        r#"listen = "127.0.0.1:0"
database = "{database}"
admin_token = "{ADMIN_TOKEN}"
{extra}

[[providers]]
name = "entra-id"
evaluator = "{evaluator}"
jwks_url = "{jwks}"
[providers.config]
audience = "{AUDIENCE}"
"#,
        evaluator = evaluator.display(),
        jwks = idp.jwks_url(),
    )
}

/// A test service set up in one call: the entra-id provider with its own
/// test IdP, GitHub Actions with another when asked, extra top-level
/// settings, and user `contoso` with an Entra ID policy for [`OID`] unless
/// told otherwise. [`spawn`](Self::spawn) runs the `trustpub` binary;
/// [`in_process`](Self::in_process) builds the same service in the test's
/// process, on a clock the test moves.
#[derive(Debug, Default)]
pub struct TestServer {
    settings: String,
    github: bool,
    entra_kid: Option<String>,
    without_policy: bool,
    database: Option<String>,
}

/// A spawned test service and what it was set up with. Keep it alive as
/// long as the service: the directory holds its database.
pub struct Spawned {
    pub dir: tempfile::TempDir,
    pub entra: TestIdpServer,
    pub github: Option<TestIdpServer>,
    pub svc: Service,
    /// The contoso policy's id, when the builder created it.
    pub policy_id: Option<u64>,
    /// The configuration it runs with.
    pub config: String,
}

impl Spawned {
    /// Kills the process (SIGKILL: no clean shutdown) and starts it again
    /// on the same configuration and database.
    pub fn kill_and_restart(&mut self) {
        self.svc.sigkill();
        self.svc = Service::start(self.dir.path(), &self.config);
    }

    /// Another host on the same configuration and database (a cluster
    /// member when the database is PostgreSQL).
    pub fn another_host(&self) -> Service {
        Service::start(self.dir.path(), &self.config)
    }

    /// The GitHub Actions test IdP (set up by [`TestServer::github`]).
    pub fn github(&self) -> &TestIdpServer {
        self.github
            .as_ref()
            .expect("the server was built with .github()")
    }
}

impl TestServer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Top-level settings, e.g. `"key_lifetime_seconds = 60"`.
    pub fn settings(mut self, settings: &str) -> Self {
        self.settings = settings.to_string();
        self
    }

    /// Adds the github-actions provider with a test IdP of its own.
    pub fn github(mut self) -> Self {
        self.github = true;
        self
    }

    /// The key id of the Entra ID test IdP's key (default `k1`).
    pub fn entra_kid(mut self, kid: &str) -> Self {
        self.entra_kid = Some(kid.to_string());
        self
    }

    /// Runs on this database URL (PostgreSQL) instead of a SQLite file in
    /// the test's directory.
    pub fn database(mut self, url: &str) -> Self {
        self.database = Some(url.to_string());
        self
    }

    /// No user or policy is created.
    pub fn without_policy(mut self) -> Self {
        self.without_policy = true;
        self
    }

    async fn parts(
        &self,
    ) -> (
        tempfile::TempDir,
        TestIdpServer,
        Option<TestIdpServer>,
        String,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let entra = start_idp(self.entra_kid.as_deref().unwrap_or("k1")).await;
        let db = dir.path().join("db.sqlite");
        let (github, mut config) = if self.github {
            let github = start_idp("github").await;
            let config = config_with_github(&db, &entra, &github, &self.settings);
            (Some(github), config)
        } else {
            (None, config(&db, &entra, &self.settings))
        };
        if let Some(url) = &self.database {
            config = config.replace(
                &format!("database = \"sqlite://{}\"", db.display()),
                &format!(
                    "database = \"{url}\"\ncompiled_cache_dir = \"{}\"",
                    dir.path().join("compiled").display()
                ),
            );
        }
        (dir, entra, github, config)
    }

    pub async fn spawn(self) -> Spawned {
        let (dir, entra, github, config) = self.parts().await;
        let svc = Service::start(dir.path(), &config);
        let policy_id = if self.without_policy {
            None
        } else {
            Some(svc.user_with_policy("contoso", OID).await)
        };
        Spawned {
            dir,
            entra,
            github,
            svc,
            policy_id,
            config,
        }
    }

    pub async fn in_process(self) -> crate::in_process::InProcessServer {
        let (dir, entra, github, config) = self.parts().await;
        crate::in_process::InProcessServer::build(dir, entra, github, &config, !self.without_policy)
            .await
    }
}

/// The usual test setup (see [`TestServer`]): returns the directory, the
/// Entra ID test IdP, the spawned service and the contoso policy's id.
pub async fn contoso_service(settings: &str) -> (tempfile::TempDir, TestIdpServer, Service, u64) {
    let s = TestServer::new().settings(settings).spawn().await;
    let policy_id = s.policy_id.expect("the builder created the policy");
    (s.dir, s.entra, s.svc, policy_id)
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
    let n = NEXT_TOKEN_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    entra_app_token_claims(
        TID,
        oid,
        AUDIENCE,
        trustpub::clock::unix_now(),
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

/// The GitHub Actions job the GitHub tests run as.
pub fn job() -> GithubJob {
    GithubJob {
        owner: "Contoso".into(),
        repository: "App".into(),
        owner_id: 1000,
        repository_id: 2000,
        workflow: "release.yml".into(),
        environment: Some("release".into()),
    }
}

/// A fresh GitHub Actions token for `job` with a unique `jti`.
pub fn github_token(idp: &TestIdpServer, job: &GithubJob) -> String {
    idp.mint(&github_claims(job)).expect("mint")
}

/// The claims of a fresh GitHub Actions token for `job` (audience
/// `https://www.nuget.org`, a unique `jti`).
pub fn github_claims(job: &GithubJob) -> Value {
    let n = NEXT_TOKEN_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    github_actions_claims(
        job,
        "https://www.nuget.org",
        trustpub::clock::unix_now(),
        &format!("jti-{}-{n}", std::process::id()),
    )
}

/// A fresh token of evaluator `name`'s sample claims
/// (`policies/<name>/sample-claims.json`, as `trustpub idp mint --kind
/// <name>` makes them) signed by `idp`, with `changes` applied (claim name
/// and value; `Value::Null` removes the claim). A sample with a `jti` gets a
/// unique one.
pub fn sample_token(idp: &TestIdpServer, name: &str, changes: &[(&str, Value)]) -> String {
    let n = NEXT_TOKEN_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let jti = format!("jti-{}-{n}", std::process::id());
    let now = trustpub::clock::unix_now();
    let mut claims = sample_claims(name, now, 300, &jti).expect("a sample of that name");
    for (claim, value) in changes {
        match (value, claims.as_object_mut()) {
            (Value::Null, Some(object)) => {
                object.remove(*claim);
            }
            (value, _) => claims[*claim] = value.clone(),
        }
    }
    idp.mint(&claims).expect("mint")
}

/// Makes token ids unique within the test process.
static NEXT_TOKEN_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// GitHub Actions criteria for [`job`]'s workflow, optionally bound to an
/// environment.
pub fn github_criteria(environment: Option<&str>) -> Value {
    let mut criteria = json!({"owner": "contoso", "repository": "app", "workflow": "release.yml"});
    if let Some(env) = environment {
        criteria["environment"] = json!(env);
    }
    criteria
}
