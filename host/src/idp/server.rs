//! The test IdP over HTTP: an OpenID discovery document and a JWKS on
//! loopback, so the host fetches keys exactly as it would from a real IdP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use warp::Filter as _;
use warp::http::{Method, StatusCode};
use warp::reply::{Reply as _, Response};

use super::TestIdp;
use super::signing::SigningError;

const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
const KEYS_PATH: &str = "/keys";

/// How long `stop` waits for open connections before it drops them.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What `/keys` answers instead of the JWKS, to test how fetchers cope
/// with a misbehaving IdP.
#[derive(Debug, Clone)]
pub enum KeysFault {
    /// An empty body with this status.
    Status(u16),
    /// This body with status 200.
    Body(Vec<u8>),
}

struct State {
    idp: ArcSwap<TestIdp>,
    fault: ArcSwapOption<KeysFault>,
    requests: AtomicU64,
    base_url: String,
}

/// A running test IdP. Dropping it shuts the server down too; `stop` also
/// waits until the port is closed.
pub struct TestIdpServer {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for TestIdpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestIdpServer({})", self.state.base_url)
    }
}

impl TestIdpServer {
    /// Binds `addr` (port 0 picks a free port) and serves in the background.
    pub async fn start(idp: TestIdp, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            idp: ArcSwap::from_pointee(idp),
            fault: ArcSwapOption::empty(),
            requests: AtomicU64::new(0),
            base_url: format!("http://{}", reachable(addr)),
        });
        let routes = {
            let state = state.clone();
            warp::any().and(warp::method()).and(warp::path::full()).map(
                move |method: Method, path: warp::path::FullPath| {
                    state.respond(&method, path.as_str())
                },
            )
        };
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(
            warp::serve(routes)
                .incoming(listener)
                .graceful(async move {
                    // A dropped sender (the server value dropped) stops it too.
                    let _ = stopped.await;
                })
                .run(),
        );
        Ok(Self {
            addr,
            state,
            shutdown: Some(shutdown),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, also the `issuer` of the discovery document.
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    pub fn jwks_url(&self) -> String {
        format!("{}{KEYS_PATH}", self.state.base_url)
    }

    pub fn discovery_url(&self) -> String {
        format!("{}{DISCOVERY_PATH}", self.state.base_url)
    }

    /// Publishes `idp`'s keys and signs with them from now on; the old keys
    /// are gone at once, as after a real IdP's rotation.
    pub fn rotate(&self, idp: TestIdp) {
        self.state.idp.store(Arc::new(idp));
    }

    pub fn mint(&self, claims: &serde_json::Value) -> Result<String, SigningError> {
        self.state.idp.load().mint(claims)
    }

    /// The JWKS currently published.
    pub fn jwks(&self) -> serde_json::Value {
        self.state.idp.load().jwks()
    }

    /// Makes `/keys` misbehave (`Some`) or serve the JWKS again (`None`).
    pub fn set_keys_fault(&self, fault: Option<KeysFault>) {
        self.state.fault.store(fault.map(Arc::new));
    }

    /// Every HTTP request received so far, whatever its path.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Stops accepting, lets open requests finish, and returns once the
    /// listening socket is closed.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let task = &mut self.task;
        if tokio::time::timeout(STOP_GRACE, &mut *task).await.is_err() {
            task.abort();
        }
    }
}

impl State {
    fn respond(&self, method: &Method, path: &str) -> Response {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if method != Method::GET {
            return StatusCode::NOT_FOUND.into_response();
        }
        match path {
            DISCOVERY_PATH => warp::reply::json(&self.discovery()).into_response(),
            KEYS_PATH => match self.fault.load_full().as_deref() {
                None => warp::reply::json(&self.idp.load().jwks()).into_response(),
                Some(KeysFault::Status(code)) => StatusCode::from_u16(*code)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                    .into_response(),
                Some(KeysFault::Body(body)) => body.clone().into_response(),
            },
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    }

    fn discovery(&self) -> serde_json::Value {
        let idp = self.idp.load();
        let mut algs: Vec<&str> = idp.keys().iter().map(|k| k.alg_name()).collect();
        algs.sort_unstable();
        algs.dedup();
        json!({
            "issuer": self.base_url,
            "jwks_uri": format!("{}{KEYS_PATH}", self.base_url),
            "id_token_signing_alg_values_supported": algs,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf"],
        })
    }
}

/// The address clients should use: a wildcard bind is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn start(kid: &str) -> TestIdpServer {
        let idp = TestIdp::rs256(kid).expect("key");
        TestIdpServer::start(idp, "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("start")
    }

    async fn get(url: &str) -> reqwest::Response {
        reqwest::get(url).await.expect("request")
    }

    #[tokio::test]
    async fn serves_discovery_and_keys_and_counts_every_request() {
        let server = start("k1").await;
        let discovery: serde_json::Value = get(&server.discovery_url())
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(discovery["issuer"], server.base_url());
        assert_eq!(discovery["jwks_uri"], server.jwks_url());
        assert_eq!(
            discovery["id_token_signing_alg_values_supported"],
            json!(["RS256"])
        );

        let jwks: serde_json::Value = get(&server.jwks_url()).await.json().await.expect("json");
        assert_eq!(jwks["keys"][0]["kid"], "k1");

        let missing = get(&format!("{}/nope", server.base_url())).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(server.requests(), 3);
        server.stop().await;
    }

    #[tokio::test]
    async fn rotation_changes_published_and_signing_keys() {
        let server = start("old").await;
        server.rotate(TestIdp::rs256("new").expect("key"));
        let jwks: serde_json::Value = get(&server.jwks_url()).await.json().await.expect("json");
        assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1));
        assert_eq!(jwks["keys"][0]["kid"], "new");

        let token = server.mint(&json!({"sub": "x"})).expect("mint");
        let header = token.split('.').next().expect("header");
        let header =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
                .expect("b64");
        let header: serde_json::Value = serde_json::from_slice(&header).expect("json");
        assert_eq!(header["kid"], "new");
        server.stop().await;
    }

    #[tokio::test]
    async fn keys_fault_replaces_the_jwks_until_cleared() {
        let server = start("k1").await;
        server.set_keys_fault(Some(KeysFault::Status(503)));
        assert_eq!(
            get(&server.jwks_url()).await.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        server.set_keys_fault(Some(KeysFault::Body(b"nope".to_vec())));
        assert_eq!(
            get(&server.jwks_url()).await.text().await.expect("text"),
            "nope"
        );
        server.set_keys_fault(None);
        assert_eq!(get(&server.jwks_url()).await.status(), StatusCode::OK);
        server.stop().await;
    }

    #[tokio::test]
    async fn stopped_server_refuses_connections() {
        let server = start("k1").await;
        let url = server.jwks_url();
        assert!(get(&url).await.status().is_success());
        server.stop().await;
        let fresh = reqwest::Client::new();
        assert!(fresh.get(&url).send().await.is_err());
    }
}
