//! A trustpub service in the test's own process: the same state and routes
//! as `trustpub serve`, driven through `warp::test` (no socket), on a
//! [`ManualClock`] that tests move forward instead of sleeping.

use std::sync::Arc;

use serde_json::{Value, json};
use trustpub::clock::ManualClock;
use trustpub::config::Settings;
use trustpub::idp::TestIdpServer;
use trustpub::server::{AppState, build_state_with_clock, routes};
use warp::http::HeaderMap;

use crate::server::{ADMIN_TOKEN, OID};

/// Status, JSON body (`null` when empty or not JSON) and headers.
pub type Reply = (u16, Value, HeaderMap);

pub struct InProcessServer {
    pub dir: tempfile::TempDir,
    pub entra: TestIdpServer,
    pub github: Option<TestIdpServer>,
    pub state: Arc<AppState>,
    pub clock: Arc<ManualClock>,
    /// The contoso policy's id, when the builder created it.
    pub policy_id: Option<u64>,
}

impl InProcessServer {
    pub(crate) async fn build(
        dir: tempfile::TempDir,
        entra: TestIdpServer,
        github: Option<TestIdpServer>,
        config: &str,
        with_policy: bool,
    ) -> Self {
        let path = dir.path().join("trustpub.toml");
        std::fs::write(&path, config).expect("write config");
        let settings = Settings::load(Some(&path), std::iter::empty(), &[]).expect("settings");
        let clock = Arc::new(ManualClock::starting_now());
        let state = build_state_with_clock(&settings, clock.clone())
            .await
            .expect("state");
        let mut server = Self {
            dir,
            entra,
            github,
            state,
            clock,
            policy_id: None,
        };
        if with_policy {
            server.policy_id = Some(server.user_with_policy("contoso", OID).await);
        }
        server
    }

    /// A service on `config` (TOML text, written into `dir`), with no user
    /// or policy: for configurations the [`TestServer`](crate::server::TestServer)
    /// builder does not make, e.g. every provider at once. `entra` is kept
    /// alive with it.
    pub async fn from_config(dir: tempfile::TempDir, entra: TestIdpServer, config: &str) -> Self {
        Self::build(dir, entra, None, config, false).await
    }

    /// A request for [`send`](Self::send).
    pub fn request(&self, method: &str, path: &str) -> warp::test::RequestBuilder {
        warp::test::request().method(method).path(path)
    }

    /// A request with the admin token.
    pub fn admin(&self, method: &str, path: &str) -> warp::test::RequestBuilder {
        self.request(method, path)
            .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
    }

    pub async fn send(&self, request: warp::test::RequestBuilder) -> Reply {
        let response = request.reply(&routes(self.state.clone())).await;
        let body = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        (response.status().as_u16(), body, response.headers().clone())
    }

    /// An exchange as NuGet/login sends it.
    pub async fn exchange(&self, token: &str, username: &str) -> Reply {
        self.send(
            self.request("POST", "/api/v2/token")
                .header("authorization", format!("Bearer {token}"))
                .json(&json!({"username": username, "tokenType": "ApiKey"})),
        )
        .await
    }

    /// The introspection answer for `key`.
    pub async fn introspect(&self, key: &str) -> Value {
        let (status, body, _) = self
            .send(
                self.admin("POST", "/api/v2/token/introspect")
                    .json(&json!({"token": key})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Creates `username` (if new) and a policy for `criteria` of `provider`.
    pub async fn policy(&self, username: &str, provider: &str, criteria: Value) -> u64 {
        let (status, _, _) = self
            .send(
                self.admin("POST", "/admin/users")
                    .json(&json!({"username": username})),
            )
            .await;
        assert!(status == 201 || status == 409, "create user: {status}");
        let (status, body, _) = self
            .send(self.admin("POST", "/admin/policies").json(&json!({
                "username": username, "provider": provider, "owner": username, "criteria": criteria
            })))
            .await;
        assert_eq!(status, 201, "create policy: {body}");
        body["id"].as_u64().expect("id")
    }

    pub async fn user_with_policy(&self, username: &str, oid: &str) -> u64 {
        let criteria = json!({"tid": crate::server::TID, "oid": oid});
        self.policy(username, "entra-id", criteria).await
    }

    /// Moves the service's clock forward.
    pub fn advance(&self, seconds: u64) {
        self.clock.advance(seconds);
    }
}
