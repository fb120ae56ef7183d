//! One compiled evaluator component, ready to instantiate per call.

use std::sync::Arc;

use trustpub_guest::issuer::IssuerPattern;
use trustpub_guest::types::{CheckedCriteria, ProviderInfo};
use wasmtime::component::Component;
use wasmtime::{Store, StoreLimitsBuilder};

use super::cache::{CacheOutcome, Lookup};
use super::contract::{self, Contract, Instance, Pre};
use super::results;
use super::sandbox::{SandboxState, SharedVerifier};
use super::{EvalError, EvaluatorRuntime, LimitOverrides, LoadError, SandboxLimits};
use crate::jose::jws::{KeyVerifier, NoKeys};

/// A validated evaluator: compiled once, pre-linked, described by its own
/// `info()`. Every call gets a fresh instance, so no state leaks between
/// evaluations (one token can never influence another's verdict).
pub struct LoadedEvaluator {
    runtime: EvaluatorRuntime,
    pre: Pre,
    contract: Contract,
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
        let contract = contract::detect(&component, runtime.engine())?;
        let instance_pre = runtime
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| LoadError::World(format!("{e:#}")))?;
        let pre = Pre::new(contract, instance_pre)?;
        let runtime_limits = runtime.limits().clone();
        let mut loaded = Self {
            runtime,
            pre,
            contract,
            info: ProviderInfo {
                name: String::new(),
                version: String::new(),
                issuers: vec![],
                criteria_schema: String::new(),
                pins: vec![],
                index_key: String::new(),
            },
            issuers: vec![],
            digest,
            cache_outcome,
            limits: runtime_limits,
        };
        let mut sandbox = loaded
            .instantiate(loaded.no_keys())
            .map_err(LoadError::Info)?;
        let info = match &sandbox.instance {
            Instance::V0_2(i) => i
                .trustpub_evaluator0_2_0_evaluator()
                .call_info(&mut sandbox.store)
                .map(|i| ProviderInfo {
                    name: i.name,
                    version: i.version,
                    issuers: i.issuers,
                    criteria_schema: i.criteria_schema,
                    pins: i.pins,
                    index_key: i.index_key,
                }),
            Instance::V0_1(i) => i.call_info(&mut sandbox.store).map(|i| ProviderInfo {
                name: i.name,
                version: i.version,
                issuers: i.issuers,
                criteria_schema: i.criteria_schema,
                pins: i.pins,
                index_key: String::new(),
            }),
        }
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

    fn check_info(&self, info: ProviderInfo) -> Result<ProviderInfo, LoadError> {
        let max = self.limits.max_result_bytes;
        let size = info.name.len()
            + info.index_key.len()
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
        // A 0.2 evaluator may declare no issuer pattern (a bring-your-own-
        // issuer evaluator): its providers route only the exact issuers the
        // operator adds, and a provider routing nothing is refused at start.
        if info.issuers.is_empty() && self.contract == Contract::V0_1 {
            return Err(LoadError::BadInfo("it declares no issuers".into()));
        }
        Ok(info)
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

    /// The contract version the component implements.
    pub fn contract(&self) -> Contract {
        self.contract
    }

    pub(super) fn max_result_bytes(&self) -> usize {
        self.limits.max_result_bytes
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

    /// Runs `check-criteria` under the provider's `config` in a fresh
    /// instance: `Ok(Err(message))` is the evaluator's verdict that the
    /// criteria are invalid. A 0.1 evaluator sees no config, and its
    /// criteria have no index keys.
    pub fn check_criteria(
        &self,
        criteria: &str,
        config: &str,
    ) -> Result<Result<CheckedCriteria, String>, EvalError> {
        let size = criteria.len() + config.len();
        if size > self.limits.max_request_bytes {
            return Err(EvalError::RequestTooLarge {
                size,
                limit: self.limits.max_request_bytes,
            });
        }
        let mut sandbox = self.instantiate(self.no_keys())?;
        let result = match &sandbox.instance {
            Instance::V0_2(i) => i
                .trustpub_evaluator0_2_0_evaluator()
                .call_check_criteria(&mut sandbox.store, criteria, config)
                .map(|r| {
                    r.map(|c| CheckedCriteria {
                        criteria: c.criteria,
                        index_keys: c.index_keys,
                    })
                }),
            Instance::V0_1(i) => i
                .call_check_criteria(&mut sandbox.store, criteria)
                .map(|r| {
                    r.map(|criteria| CheckedCriteria {
                        criteria,
                        index_keys: Vec::new(),
                    })
                }),
        }
        .map_err(|e| self.call_error(e))?;
        results::checked_criteria(self.contract, result, self.limits.max_result_bytes)
    }

    fn no_keys(&self) -> SharedVerifier {
        Arc::new(KeyVerifier::new(
            Arc::new(NoKeys),
            self.limits.max_token_bytes,
        ))
    }

    /// A fresh instance in a store of its own, holding one of the runtime's
    /// sandbox slots until it is dropped.
    pub(super) fn instantiate(&self, verifier: SharedVerifier) -> Result<Sandbox, EvalError> {
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

    pub(super) fn call_error(&self, error: wasmtime::Error) -> EvalError {
        EvalError::from_call(error, self.limits.timeout.as_millis())
    }
}

/// One instance and its store. Fields drop in order: the store (and with it
/// the instance's pool slot) goes before the runtime's slot is given back.
pub(super) struct Sandbox {
    pub(super) store: Store<SandboxState>,
    pub(super) instance: Instance,
    _slot: super::slots::Slot,
}
