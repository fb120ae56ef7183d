//! Each identity provider's signing keys, fetched from the URL the operator
//! configured and refetched when a token names a key we do not hold yet.
//!
//! An unknown `kid` is attacker-controlled input, so refetching is
//! rate-limited and single-flight: a flood of tokens with invented kids
//! costs the IdP at most one request per `min_refresh`. A failed fetch never
//! discards keys we already hold, so an IdP outage does not stop exchanges.
//! URLs always come from the operator's configuration, never from a token.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::{ArcSwap, ArcSwapOption};

use crate::jose::jws::{KeyResolver, VerifyError};
use crate::jose::key_set::{JwksError, KeySet, VerifyingKey};

/// Larger answers are refused: real JWKS and discovery documents are a few
/// KiB, and an unbounded read would let a broken IdP exhaust our memory.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REDIRECTS: usize = 3;

/// Where a provider's keys are published, as the operator configured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The JWKS URL itself.
    Jwks(String),
    /// An OpenID discovery document, whose `jwks_uri` is fetched on each refresh
    /// (so a provider that moves its JWKS is followed).
    Discovery(String),
}

/// Why a refresh failed. Messages name the URL, never token contents.
#[derive(Debug, thiserror::Error)]
pub enum JwksFetchError {
    #[error("fetching {url} failed: {error}")]
    Request { url: String, error: reqwest::Error },
    #[error("{url} answered HTTP {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    #[error("the response from {url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("the discovery document at {url} is not JSON with a string jwks_uri")]
    BadDiscovery { url: String },
    #[error(
        "the discovery document at {url} names jwks_uri {jwks_uri}, which is not https on the same host; configure jwks_url explicitly to trust it"
    )]
    ForeignJwksUri { url: String, jwks_uri: String },
    #[error("the JWKS at {url} cannot be used: {error}")]
    BadJwks { url: String, error: JwksError },
}

/// The HTTP client for key fetching: bounded in time, size and redirects so
/// a slow or hostile endpoint cannot hold an exchange for long. Redirects
/// stay on the host the operator named: keys are trusted for where they are
/// published, and a redirect elsewhere would move that trust.
pub fn http_client() -> reqwest::Client {
    let same_host = reqwest::redirect::Policy::custom(|attempt| {
        let origin = attempt.previous().first().and_then(|u| u.host_str());
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if attempt.url().host_str() != origin {
            attempt.error("a redirect to another host is not followed")
        } else {
            attempt.follow()
        }
    });
    let builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(same_host)
        .user_agent(concat!("trustpub/", env!("CARGO_PKG_VERSION")));
    builder.build().unwrap_or_else(|error| {
        // Only a broken TLS backend makes `build` fail; the default client
        // then still works, just without our limits.
        tracing::error!(%error, "cannot build the JWKS HTTP client; using defaults");
        reqwest::Client::new()
    })
}

/// One provider's current key set, with its refresh policy.
pub struct JwksCache {
    provider: String,
    source: KeySource,
    min_refresh: Duration,
    client: reqwest::Client,
    keys: ArcSwap<KeySet>,
    /// Held for the whole of a fetch (single flight); holds when the last
    /// kid-triggered fetch started.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
    fetches: AtomicU64,
    last_success: ArcSwapOption<SystemTime>,
    /// Keys not refreshed for longer than this verify nothing.
    max_age: Option<Duration>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("provider", &self.provider)
            .field("source", &self.source)
            .field("kids", &self.keys.load().kids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    /// An empty cache; call [`refresh`](Self::refresh) to load it.
    pub fn new(
        provider: &str,
        source: KeySource,
        min_refresh: Duration,
        client: reqwest::Client,
    ) -> Self {
        Self {
            provider: provider.to_string(),
            source,
            min_refresh,
            client,
            keys: ArcSwap::from_pointee(KeySet::default()),
            last_attempt: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
            last_success: ArcSwapOption::empty(),
            max_age: None,
        }
    }

    /// Fail closed when the keys could not be refreshed for `max_age`: a key
    /// the IdP withdrew (because it leaked, say) must stop being trusted even
    /// while the IdP cannot be reached.
    pub fn with_max_age(mut self, max_age: Option<Duration>) -> Self {
        self.max_age = max_age;
        self
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// Fetches now, whatever the rate limit: for start-up and operator
    /// action, which are not token-driven, so it does not use up the budget
    /// of [`ensure_kid`](Self::ensure_kid). On error the keys held are kept.
    pub async fn refresh(&self) -> Result<(), JwksFetchError> {
        let _flight = self.last_attempt.lock().await;
        self.fetch_and_store().await
    }

    /// Makes sure `kid` is held, if the IdP publishes it: refetches when it
    /// is unknown, at most once per `min_refresh`. Failures are logged and
    /// the previous keys stay; the caller then simply fails to find the kid.
    pub async fn ensure_kid(&self, kid: &str) {
        // A token without a kid cannot select a key however fresh the set is.
        if kid.is_empty() || self.has(kid) {
            return;
        }
        let mut last_attempt = self.last_attempt.lock().await;
        // Whoever held the lock before us may just have fetched it.
        if self.has(kid) {
            return;
        }
        if last_attempt.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return;
        }
        *last_attempt = Some(Instant::now());
        if let Err(error) = self.fetch_and_store().await {
            tracing::warn!(provider = %self.provider, %error, "JWKS refetch for an unknown kid failed; keeping the previous keys");
        }
    }

    /// The keys held now; cheap, and stable while the caller holds it.
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.keys.load_full()
    }

    /// How many key-set fetches were attempted (one per refresh, however
    /// many HTTP requests the source takes).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    /// When a fetch last replaced the keys.
    pub fn last_success(&self) -> Option<SystemTime> {
        self.last_success.load().as_deref().copied()
    }

    fn has(&self, kid: &str) -> bool {
        self.keys.load().get(kid).is_some()
    }

    async fn fetch_and_store(&self) -> Result<(), JwksFetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let keys = self.fetch().await?;
        let kids = keys.len();
        self.keys.store(Arc::new(keys));
        self.last_success.store(Some(Arc::new(SystemTime::now())));
        tracing::debug!(provider = %self.provider, kids, "JWKS refreshed");
        Ok(())
    }

    async fn fetch(&self) -> Result<KeySet, JwksFetchError> {
        let jwks_url = match &self.source {
            KeySource::Jwks(url) => url.clone(),
            KeySource::Discovery(url) => {
                let body = self.get(url).await?;
                let jwks_uri = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|doc| doc.get("jwks_uri")?.as_str().map(str::to_string))
                    .ok_or_else(|| JwksFetchError::BadDiscovery { url: url.clone() })?;
                if !jwks_uri_trusted(url, &jwks_uri) {
                    return Err(JwksFetchError::ForeignJwksUri {
                        url: url.clone(),
                        jwks_uri,
                    });
                }
                jwks_uri
            }
        };
        let body = self.get(&jwks_url).await?;
        let text = String::from_utf8_lossy(&body);
        KeySet::from_json(&text).map_err(|error| JwksFetchError::BadJwks {
            url: jwks_url,
            error,
        })
    }

    /// GETs `url`, refusing non-2xx answers and bodies over the size cap.
    async fn get(&self, url: &str) -> Result<Vec<u8>, JwksFetchError> {
        let request_error = |error| JwksFetchError::Request {
            url: url.to_string(),
            error,
        };
        let too_large = || JwksFetchError::TooLarge {
            url: url.to_string(),
            limit: MAX_DOCUMENT_BYTES,
        };
        let mut response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status();
        if !status.is_success() {
            return Err(JwksFetchError::Status {
                url: url.to_string(),
                status,
            });
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// A discovery document may move the JWKS only within its own host, and to
/// https unless the operator's discovery URL is plain http itself (a local
/// test IdP): a document that names another host could hand our trust to
/// whoever controls that host.
fn jwks_uri_trusted(discovery_url: &str, jwks_uri: &str) -> bool {
    let (Ok(discovery), Ok(jwks)) = (
        reqwest::Url::parse(discovery_url),
        reqwest::Url::parse(jwks_uri),
    ) else {
        return false;
    };
    let scheme_ok =
        jwks.scheme() == "https" || discovery.scheme() == "http" && jwks.scheme() == "http";
    scheme_ok
        && jwks.host_str().is_some()
        && jwks.host_str() == discovery.host_str()
        && jwks.port_or_known_default() == discovery.port_or_known_default()
}

/// Resolves from the keys held now; callers run [`JwksCache::ensure_kid`]
/// first, since resolving is synchronous and never fetches.
impl KeyResolver for JwksCache {
    fn resolve(&self, issuer: &str, kid: &str) -> Result<Arc<VerifyingKey>, VerifyError> {
        if let (Some(max_age), Some(fetched)) = (self.max_age, self.last_success())
            && fetched.elapsed().unwrap_or_default() > max_age
        {
            return Err(VerifyError::StaleKeys(max_age.as_secs()));
        }
        self.snapshot().resolve(issuer, kid)
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::task::JoinSet;

    use super::*;
    use crate::idp::{KeysFault, TestIdp, TestIdpServer};

    const LONG: Duration = Duration::from_secs(60);

    async fn idp(kid: &str) -> TestIdpServer {
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        TestIdpServer::start(TestIdp::rs256(kid).expect("key"), addr)
            .await
            .expect("start")
    }

    fn cache(source: KeySource, min_refresh: Duration) -> JwksCache {
        JwksCache::new("test", source, min_refresh, http_client())
    }

    fn random_kid() -> String {
        let mut bytes = [0u8; 12];
        getrandom::fill(&mut bytes).expect("random");
        crate::digest::hex(&bytes)
    }

    fn kids(cache: &JwksCache) -> Vec<String> {
        let mut kids: Vec<String> = cache.snapshot().kids().map(str::to_string).collect();
        kids.sort();
        kids
    }

    #[tokio::test]
    async fn refresh_loads_the_published_keys() {
        let server = idp("k1").await;
        let cache = cache(KeySource::Jwks(server.jwks_url()), LONG);
        assert!(cache.snapshot().is_empty());
        assert!(cache.last_success().is_none());

        cache.refresh().await.expect("refresh");
        assert_eq!(kids(&cache), ["k1"]);
        assert_eq!(cache.fetch_count(), 1);
        assert!(cache.last_success().is_some());
        assert!(cache.resolve("any", "k1").is_ok());
        server.stop().await;
    }

    #[test]
    fn discovery_may_move_the_jwks_only_within_its_host() {
        let d = "https://token.actions.githubusercontent.com/.well-known/openid-configuration";
        assert!(jwks_uri_trusted(
            d,
            "https://token.actions.githubusercontent.com/.well-known/jwks"
        ));
        assert!(!jwks_uri_trusted(d, "https://evil.example/jwks"));
        assert!(!jwks_uri_trusted(
            d,
            "http://token.actions.githubusercontent.com/jwks"
        ));
        assert!(!jwks_uri_trusted(
            d,
            "https://token.actions.githubusercontent.com:8443/jwks"
        ));
        assert!(!jwks_uri_trusted(d, "not a url"));
        let local = "http://127.0.0.1:8081/.well-known/openid-configuration";
        assert!(jwks_uri_trusted(local, "http://127.0.0.1:8081/keys"));
        assert!(!jwks_uri_trusted(local, "http://127.0.0.2:8081/keys"));
    }

    #[tokio::test]
    async fn keys_not_refreshed_for_max_age_verify_nothing() {
        let server = idp("k1").await;
        let cache = cache(KeySource::Jwks(server.jwks_url()), LONG)
            .with_max_age(Some(Duration::from_millis(200)));
        cache.refresh().await.expect("refresh");
        assert!(cache.resolve("any", "k1").is_ok());
        server.stop().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The IdP is gone, so the refresh fails and the keys stay stale.
        assert!(cache.refresh().await.is_err());
        assert!(matches!(
            cache.resolve("any", "k1"),
            Err(VerifyError::StaleKeys(0))
        ));
    }

    #[tokio::test]
    async fn discovery_source_fetches_the_jwks_uri() {
        let server = idp("k1").await;
        let cache = cache(KeySource::Discovery(server.discovery_url()), LONG);
        cache.refresh().await.expect("refresh");
        assert_eq!(kids(&cache), ["k1"]);
        assert_eq!(cache.fetch_count(), 1);
        assert_eq!(
            server.requests(),
            2,
            "the discovery document, then the JWKS"
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn discovery_document_without_jwks_uri_is_an_error() {
        let server = idp("k1").await;
        // The JWKS itself is JSON but has no jwks_uri.
        let cache = cache(KeySource::Discovery(server.jwks_url()), LONG);
        let error = cache.refresh().await.expect_err("no jwks_uri");
        assert!(
            matches!(error, JwksFetchError::BadDiscovery { .. }),
            "{error}"
        );
        assert!(error.to_string().contains(&server.jwks_url()));
        server.stop().await;
    }

    #[tokio::test]
    async fn known_kid_needs_no_fetch() {
        let server = idp("k1").await;
        let cache = cache(KeySource::Jwks(server.jwks_url()), Duration::ZERO);
        cache.refresh().await.expect("refresh");
        cache.ensure_kid("k1").await;
        cache.ensure_kid("").await;
        assert_eq!(cache.fetch_count(), 1);
        assert_eq!(server.requests(), 1);
        server.stop().await;
    }

    #[tokio::test]
    async fn rotation_is_picked_up_by_ensure_kid() {
        let server = idp("old").await;
        let cache = cache(KeySource::Jwks(server.jwks_url()), Duration::ZERO);
        cache.refresh().await.expect("refresh");
        server.rotate(TestIdp::rs256("new").expect("key"));

        cache.ensure_kid("new").await;
        assert_eq!(kids(&cache), ["new"], "the new set replaces the old");
        assert_eq!(cache.fetch_count(), 2);
        server.stop().await;
    }

    #[tokio::test]
    async fn stopped_idp_leaves_the_old_keys_in_place() {
        let server = idp("k1").await;
        let url = server.jwks_url();
        let cache = cache(KeySource::Jwks(url.clone()), Duration::ZERO);
        cache.refresh().await.expect("refresh");
        server.stop().await;

        let error = cache.refresh().await.expect_err("IdP is down");
        assert!(matches!(error, JwksFetchError::Request { .. }), "{error}");
        assert!(error.to_string().contains(&url), "{error}");
        cache.ensure_kid("unknown").await;
        assert_eq!(kids(&cache), ["k1"]);
        assert_eq!(cache.fetch_count(), 3);
    }

    #[tokio::test]
    async fn bad_answers_are_errors_and_keep_the_old_keys() {
        let server = idp("k1").await;
        let cache = cache(KeySource::Jwks(server.jwks_url()), LONG);
        cache.refresh().await.expect("refresh");
        let success = cache.last_success();

        let oversize = format!(
            r#"{{"keys": [], "pad": "{}"}}"#,
            "x".repeat(MAX_DOCUMENT_BYTES)
        );
        let cases = [
            (KeysFault::Status(500), "HTTP 500"),
            (
                KeysFault::Body(b"<html>not json</html>".to_vec()),
                "not valid JSON",
            ),
            (
                KeysFault::Body(br#"{"keys": []}"#.to_vec()),
                "no usable signing key",
            ),
            (
                KeysFault::Body(oversize.into_bytes()),
                "larger than 1048576 bytes",
            ),
        ];
        for (fault, message) in cases {
            server.set_keys_fault(Some(fault));
            let error = cache.refresh().await.expect_err("bad answer");
            let error = error.to_string();
            assert!(error.contains(message), "{error}");
            assert!(error.contains(&server.jwks_url()), "{error}");
            assert_eq!(kids(&cache), ["k1"], "after: {error}");
        }
        assert_eq!(cache.last_success(), success);
        server.stop().await;
    }

    #[tokio::test]
    async fn body_without_length_is_cut_at_the_cap() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        // A raw server, since warp always sends a Content-Length for a fixed
        // body: this one streams until it closes, as a misbehaving IdP might.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/keys", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let _ = socket.read(&mut [0u8; 4096]).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                .await;
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..(2 * MAX_DOCUMENT_BYTES / chunk.len()) {
                if socket.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        });
        let cache = cache(KeySource::Jwks(url), LONG);
        let error = cache.refresh().await.expect_err("too large");
        assert!(matches!(error, JwksFetchError::TooLarge { .. }), "{error}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_flood_of_unknown_kids_costs_one_fetch() {
        let server = idp("k1").await;
        let cache = Arc::new(cache(KeySource::Jwks(server.jwks_url()), LONG));
        cache.refresh().await.expect("refresh");

        let mut flood = JoinSet::new();
        for _ in 0..200 {
            let cache = cache.clone();
            flood.spawn(async move { cache.ensure_kid(&random_kid()).await });
        }
        while let Some(done) = flood.join_next().await {
            done.expect("task");
        }
        assert_eq!(cache.fetch_count(), 2);
        assert_eq!(server.requests(), 2);
        assert_eq!(kids(&cache), ["k1"]);
        server.stop().await;
    }

    #[tokio::test]
    async fn sequential_flood_of_unknown_kids_costs_one_fetch() {
        let server = idp("k1").await;
        let cache = cache(KeySource::Jwks(server.jwks_url()), LONG);
        cache.refresh().await.expect("refresh");
        for _ in 0..200 {
            cache.ensure_kid(&random_kid()).await;
        }
        assert_eq!(cache.fetch_count(), 2);
        assert_eq!(server.requests(), 2);
        server.stop().await;
    }

    #[tokio::test]
    async fn failed_fetches_count_against_the_rate_limit() {
        let server = idp("k1").await;
        let cache = cache(KeySource::Jwks(server.jwks_url()), LONG);
        cache.refresh().await.expect("refresh");
        server.set_keys_fault(Some(KeysFault::Status(500)));
        for _ in 0..50 {
            cache.ensure_kid(&random_kid()).await;
        }
        assert_eq!(cache.fetch_count(), 2);
        assert_eq!(kids(&cache), ["k1"]);
        server.stop().await;
    }
}
