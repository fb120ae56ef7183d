//! One compiled evaluator component, ready to instantiate per call.

use std::sync::Arc;

use trustpub_guest::issuer::IssuerPattern;
use trustpub_guest::{Evaluation, Matched, ProviderInfo, Request};
use wasmtime::component::Component;
use wasmtime::{Store, StoreLimitsBuilder};

use super::bindings::{EvaluatorPre, wit};
use super::cache::{CacheOutcome, Lookup};
use super::sandbox::{SandboxState, SharedVerifier};
use super::{EvalError, EvaluatorRuntime, LimitOverrides, LoadError, SandboxLimits};
use crate::jose::jws::{KeyResolver, KeyVerifier, NoKeys};

/// A validated evaluator: compiled once, pre-linked, described by its own
/// `info()`. Every call gets a fresh instance, so no state leaks between
/// evaluations (one token can never influence another's verdict).
pub struct LoadedEvaluator {
    runtime: EvaluatorRuntime,
    pre: EvaluatorPre<SandboxState>,
    info: ProviderInfo,
    issuers: Vec<IssuerPattern>,
    digest: String,
    cache_outcome: CacheOutcome,
    /// This evaluator's limits: the runtime's, or tighter ones per provider.
    limits: SandboxLimits,
}

impl std::fmt::Debug for LoadedEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedEvaluator")
            .field("info", &self.info)
            .field("digest", &self.digest)
            .finish()
    }
}

impl LoadedEvaluator {
    pub(super) fn load(runtime: EvaluatorRuntime, bytes: &[u8]) -> Result<Self, LoadError> {
        let digest = crate::digest::sha256_hex(bytes);
        let key = runtime
            .compiled_cache()
            .map(|cache| cache.key(runtime.engine(), &digest));
        let compile = || {
            Component::new(runtime.engine(), bytes)
                .map_err(|e| LoadError::Compile(format!("{e:#}")))
        };
        let (component, cache_outcome) = match (runtime.compiled_cache(), &key) {
            (Some(cache), Some(key)) => match cache.lookup(key, runtime.engine()) {
                Lookup::Hit(component) => (component, CacheOutcome::Hit),
                Lookup::Miss => (compile()?, CacheOutcome::Miss),
                Lookup::Unusable => (compile()?, CacheOutcome::Rebuilt),
            },
            _ => (compile()?, CacheOutcome::Disabled),
        };
        runtime.record_compile(cache_outcome);
        check_contract_version(&component, runtime.engine())?;
        let instance_pre = runtime
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| LoadError::World(format!("{e:#}")))?;
        let pre =
            EvaluatorPre::new(instance_pre).map_err(|e| LoadError::World(format!("{e:#}")))?;
        let runtime_limits = runtime.limits().clone();
        let mut loaded = Self {
            runtime,
            pre,
            info: ProviderInfo {
                name: String::new(),
                version: String::new(),
                issuers: vec![],
                criteria_schema: String::new(),
                pins: vec![],
            },
            issuers: vec![],
            digest,
            cache_outcome,
            limits: runtime_limits,
        };
        let mut sandbox = loaded
            .instantiate(loaded.no_keys())
            .map_err(LoadError::Info)?;
        let info = sandbox
            .instance
            .call_info(&mut sandbox.store)
            .map_err(|e| LoadError::Info(loaded.call_error(e)))?;
        drop(sandbox);
        loaded.info = loaded.check_info(info)?;
        loaded.issuers = loaded
            .info
            .issuers
            .iter()
            .map(|p| IssuerPattern::parse(p))
            .collect::<Result<_, _>>()
            .map_err(LoadError::BadInfo)?;
        // Written only now, once the component has proved to be an
        // evaluator: components refused at load never take disk space.
        if let (Some(cache), Some(key)) = (loaded.runtime.compiled_cache(), &key)
            && cache_outcome != CacheOutcome::Hit
        {
            cache.store(key, &component);
        }
        let (name, digest) = (&loaded.info.name, &loaded.digest);
        match cache_outcome {
            CacheOutcome::Hit => {
                tracing::info!(%name, %digest, "evaluator loaded from the compiled cache")
            }
            CacheOutcome::Miss => tracing::info!(%name, %digest, "evaluator compiled"),
            CacheOutcome::Rebuilt => tracing::info!(
                %name, %digest,
                "compiled cache entry was unusable; evaluator recompiled"
            ),
            // No cache configured (the CLI, tests): nothing worth reporting.
            CacheOutcome::Disabled => tracing::debug!(%name, %digest, "evaluator compiled"),
        }
        Ok(loaded)
    }

    fn check_info(&self, info: wit::ProviderInfo) -> Result<ProviderInfo, LoadError> {
        let max = self.limits.max_result_bytes;
        let size = info.name.len()
            + info.pins.iter().map(String::len).sum::<usize>()
            + info.version.len()
            + info.criteria_schema.len()
            + info.issuers.iter().map(String::len).sum::<usize>();
        if size > max {
            return Err(LoadError::BadInfo(format!(
                "it is {size} bytes, over the {max}-byte limit"
            )));
        }
        if info.name.is_empty()
            || !info
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(LoadError::BadInfo(format!(
                "provider name '{}' must be lowercase letters, digits and '-'",
                info.name
            )));
        }
        if info.issuers.is_empty() {
            return Err(LoadError::BadInfo("it declares no issuers".into()));
        }
        Ok(ProviderInfo {
            name: info.name,
            version: info.version,
            issuers: info.issuers,
            criteria_schema: info.criteria_schema,
            pins: info.pins,
        })
    }

    /// Applies a provider's own limits to this evaluator (the memory cap
    /// never exceeds the engine's).
    pub fn with_limits(mut self, overrides: &LimitOverrides) -> Self {
        self.limits = self.runtime.limits().with_overrides(overrides);
        self
    }

    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }

    pub fn info(&self) -> &ProviderInfo {
        &self.info
    }

    /// The sha256 of the component bytes, lowercase hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Whether this evaluator's code came from the compiled cache.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.cache_outcome
    }

    /// Whether this evaluator declares an issuer pattern matching `iss`.
    pub fn handles_issuer(&self, iss: &str) -> bool {
        self.issuers.iter().any(|p| p.matches(iss))
    }

    /// Runs `evaluate` in a fresh instance. `Err` means the evaluator
    /// misbehaved; verdicts about the token are in the `Ok` value.
    pub fn evaluate(
        &self,
        request: &Request,
        keys: Arc<dyn KeyResolver>,
    ) -> Result<Evaluation, EvalError> {
        let verifier = Arc::new(KeyVerifier::new(keys, self.limits.max_token_bytes));
        self.evaluate_with(request, verifier)
    }

    /// [`evaluate`](Self::evaluate) with any verifier behind the `verify-jws`
    /// import (the benchmark compares with and without crypto).
    pub fn evaluate_with(
        &self,
        request: &Request,
        verifier: SharedVerifier,
    ) -> Result<Evaluation, EvalError> {
        let limit = self.limits.max_request_bytes;
        let size = request.token.len()
            + request.config.len()
            + request
                .policies
                .iter()
                .map(|p| {
                    p.criteria.len()
                        + p.pins.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
                        + 8
                })
                .sum::<usize>();
        if size > limit {
            return Err(EvalError::RequestTooLarge { size, limit });
        }
        let wit_request = wit::Request {
            token: request.token.clone(),
            policies: request
                .policies
                .iter()
                .map(|p| wit::Policy {
                    id: p.id,
                    criteria: p.criteria.clone(),
                    pins: p.pins.clone(),
                })
                .collect(),
            config: request.config.clone(),
            now: request.now,
        };
        let mut sandbox = self.instantiate(verifier)?;
        let result = sandbox
            .instance
            .call_evaluate(&mut sandbox.store, &wit_request)
            .map_err(|e| self.call_error(e))?;
        self.check_result(request, result)
    }

    /// Runs `check-criteria` in a fresh instance: `Ok(Err(message))` is the
    /// evaluator's verdict that the criteria are invalid.
    pub fn check_criteria(&self, criteria: &str) -> Result<Result<String, String>, EvalError> {
        if criteria.len() > self.limits.max_request_bytes {
            return Err(EvalError::RequestTooLarge {
                size: criteria.len(),
                limit: self.limits.max_request_bytes,
            });
        }
        let mut sandbox = self.instantiate(self.no_keys())?;
        let result = sandbox
            .instance
            .call_check_criteria(&mut sandbox.store, criteria)
            .map_err(|e| self.call_error(e))?;
        let max = self.limits.max_result_bytes;
        let len = match &result {
            Ok(s) | Err(s) => s.len(),
        };
        if len > max {
            return Err(EvalError::InvalidResult(format!(
                "check-criteria returned {len} bytes, over the {max}-byte limit"
            )));
        }
        Ok(result)
    }

    fn no_keys(&self) -> SharedVerifier {
        Arc::new(KeyVerifier::new(
            Arc::new(NoKeys),
            self.limits.max_token_bytes,
        ))
    }

    /// A fresh instance in a store of its own, holding one of the runtime's
    /// sandbox slots until it is dropped.
    fn instantiate(&self, verifier: SharedVerifier) -> Result<Sandbox, EvalError> {
        let slot = self.runtime.slots().take();
        let limits = &self.limits;
        let state = SandboxState {
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .memories(1)
                .instances(8)
                .tables(8)
                .table_elements(10_000)
                .trap_on_grow_failure(true)
                .build(),
            verifier,
        };
        let mut store = Store::new(self.runtime.engine(), state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(limits.deadline_ticks());
        store.epoch_deadline_trap();
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| EvalError::Instantiate(format!("{e:#}")))?;
        Ok(Sandbox {
            store,
            instance,
            _slot: slot,
        })
    }

    fn call_error(&self, error: wasmtime::Error) -> EvalError {
        EvalError::from_call(error, self.limits.timeout.as_millis())
    }

    /// A guest may only match a policy it was given, and its strings are bounded.
    fn check_result(
        &self,
        request: &Request,
        result: wit::Evaluation,
    ) -> Result<Evaluation, EvalError> {
        let max = self.limits.max_result_bytes;
        let too_long = |what: &str, len: usize| {
            EvalError::InvalidResult(format!("{what} is {len} bytes, over the {max}-byte limit"))
        };
        Ok(match result {
            wit::Evaluation::BadToken(message) if message.len() > max => {
                return Err(too_long("the bad-token message", message.len()));
            }
            wit::Evaluation::BadToken(message) => Evaluation::BadToken(message),
            wit::Evaluation::Unauthorized => Evaluation::Unauthorized,
            wit::Evaluation::Matched(m) => {
                if !request.policies.iter().any(|p| p.id == m.policy_id) {
                    return Err(EvalError::InvalidResult(format!(
                        "it matched policy {} which it was not given",
                        m.policy_id
                    )));
                }
                let len = m.issuer.len()
                    + m.token_id.len()
                    + m.subject.len()
                    + m.pins.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
                if len > max {
                    return Err(too_long("the matched result", len));
                }
                if !self.handles_issuer(&m.issuer) {
                    return Err(EvalError::InvalidResult(format!(
                        "it matched for issuer '{}' which it does not declare",
                        m.issuer
                    )));
                }
                if m.token_id.trim().is_empty() {
                    return Err(EvalError::InvalidResult(
                        "the matched result has a blank token id".into(),
                    ));
                }
                // Replay records are kept until this time: it must be storable.
                if m.expires_at > trustpub_guest::claims::MAX_TIMESTAMP {
                    return Err(EvalError::InvalidResult(format!(
                        "the matched result expires at {}, after 9999-12-31",
                        m.expires_at
                    )));
                }
                Evaluation::Matched(Matched {
                    policy_id: m.policy_id,
                    issuer: m.issuer,
                    token_id: m.token_id,
                    subject: m.subject,
                    expires_at: m.expires_at,
                    pins: m.pins,
                })
            }
        })
    }
}

/// One instance and its store. Fields drop in order: the store (and with it
/// the instance's pool slot) goes before the runtime's slot is given back.
struct Sandbox {
    store: Store<SandboxState>,
    instance: super::bindings::Evaluator,
    _slot: super::slots::Slot,
}

/// The contract this host implements (`wit/evaluator.wit`).
pub const CONTRACT_VERSION: (u64, u64, u64) = (0, 1, 0);

/// Refuses a component built against another version of the contract, even
/// when its shapes happen to link: a version is a promise about meaning too.
/// Compatible means semver-compatible: same major, and same minor while 0.x.
fn check_contract_version(
    component: &Component,
    engine: &wasmtime::Engine,
) -> Result<(), LoadError> {
    let (major, minor, patch) = CONTRACT_VERSION;
    for (name, _) in component.component_type().imports(engine) {
        let Some(rest) = name.strip_prefix("trustpub:evaluator/") else {
            continue;
        };
        let version = rest.split_once('@').map(|(_, v)| v).unwrap_or("");
        let parsed: Vec<u64> = version.split('.').filter_map(|p| p.parse().ok()).collect();
        let compatible = match parsed.as_slice() {
            [0, m, _] => major == 0 && *m == minor,
            [m, _, _] => *m == major && major != 0,
            _ => false,
        };
        if !compatible {
            return Err(LoadError::World(format!(
                "it imports {name}: built against trustpub:evaluator@{version}, but this host implements {major}.{minor}.{patch} (compatible: {major}.{minor}.x)"
            )));
        }
    }
    Ok(())
}
