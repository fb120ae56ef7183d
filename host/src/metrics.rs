//! Prometheus metrics (`GET /metrics`): exchanges by outcome, evaluator
//! failures, deploys, JWKS fetches.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

pub struct Metrics {
    registry: Registry,
    exchanges: Family<Labels, Counter>,
    rejections: Family<Labels, Counter>,
    evaluator_failures: Family<Labels, Counter>,
    deploys: Family<Labels, Counter>,
    jwks_fetches: Family<Labels, Gauge<u64, AtomicU64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("trustpub");
        let exchanges = Family::<Labels, Counter>::default();
        registry.register(
            "exchanges",
            "Token exchange attempts by provider and outcome",
            exchanges.clone(),
        );
        let rejections = Family::<Labels, Counter>::default();
        registry.register(
            "rejections",
            "Bad tokens by provider and the check they failed",
            rejections.clone(),
        );
        let evaluator_failures = Family::<Labels, Counter>::default();
        registry.register(
            "evaluator_failures",
            "Evaluations that trapped, timed out or returned an invalid result",
            evaluator_failures.clone(),
        );
        let deploys = Family::<Labels, Counter>::default();
        registry.register(
            "evaluator_deploys",
            "Evaluator deploys by provider, origin and result",
            deploys.clone(),
        );
        let jwks_fetches = Family::<Labels, Gauge<u64, AtomicU64>>::default();
        registry.register(
            "jwks_fetches",
            "JWKS fetch attempts per provider since start",
            jwks_fetches.clone(),
        );
        Self {
            registry,
            exchanges,
            rejections,
            evaluator_failures,
            deploys,
            jwks_fetches,
        }
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Metrics {
    pub fn exchange(&self, provider: &str, outcome: &str) {
        self.exchanges
            .get_or_create(&labels(&[("provider", provider), ("outcome", outcome)]))
            .inc();
    }

    /// A bad token, by the name of the check it failed.
    pub fn rejection(&self, provider: &str, check: &str) {
        self.rejections
            .get_or_create(&labels(&[("provider", provider), ("check", check)]))
            .inc();
    }

    pub fn evaluator_failure(&self, provider: &str) {
        self.evaluator_failures
            .get_or_create(&labels(&[("provider", provider)]))
            .inc();
    }

    pub fn deploy(&self, provider: &str, origin: &str, result: &str) {
        self.deploys
            .get_or_create(&labels(&[
                ("provider", provider),
                ("origin", origin),
                ("result", result),
            ]))
            .inc();
    }

    pub fn set_jwks_fetches(&self, provider: &str, fetches: u64) {
        self.jwks_fetches
            .get_or_create(&labels(&[("provider", provider)]))
            .set(fetches);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
