//! The wasmtime embedding: one engine for all evaluators, and a fresh,
//! sandboxed instance for every call.
//!
//! Sandbox: no WASI and no import but `crypto` (a component asking for
//! anything else fails to link), a linear-memory cap, one instance and a few
//! tables per store, and an epoch deadline so a looping guest is interrupted.
//!
//! Compiled code can be kept on disk ([`EvaluatorRuntime::with_compiled_cache`])
//! so a restart loads evaluators instead of compiling them again.

mod bindings;
mod cache;
mod cache_trust;
mod contract;
mod error;
mod evaluator;
mod limits;
mod outcome;
pub(crate) mod results;
mod sandbox;
mod session;
mod slots;

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy,
};

pub use crate::digest::sha256_hex as component_digest;
use cache::CompileCounters;
pub use cache::{CacheOutcome, CompileStats, CompiledCache};
pub use contract::{CONTRACT_VERSION, Contract};
pub use error::{EvalError, LoadError};
pub use evaluator::LoadedEvaluator;
pub use limits::{EPOCH_TICK, LimitOverrides, SandboxLimits};
pub use outcome::{Evaluation, Match, Request, UNNAMED_CHECK};
pub use results::{MAX_INDEX_KEY_BYTES, MAX_INDEX_KEYS};
use sandbox::SandboxState;
pub use sandbox::SharedVerifier;
pub use session::EvaluatorSession;
use slots::SandboxSlots;

/// How much of a pool slot's memory is reset by zeroing instead of unmapping:
/// a guest's stack (1 MiB at the bottom), data and heap. Only pages an
/// instance touched stay resident, a few hundred KiB per warm slot.
const KEEP_RESIDENT_BYTES: usize = 8 << 20;

/// Set (to anything) to have the engine write `/tmp/perf-<pid>.map`, so a
/// profile taken with `perf` names the evaluators' compiled functions.
pub const PERF_MAP_VAR: &str = "TRUSTPUB_PERF_MAP";

/// Compiles evaluator components and runs them under [`SandboxLimits`].
///
/// Cheap to clone; an epoch ticker thread runs while any clone is alive.
#[derive(Clone)]
pub struct EvaluatorRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<SandboxState>,
    limits: SandboxLimits,
    cache: Option<CompiledCache>,
    stats: CompileCounters,
    /// Shared by every evaluator of this runtime, one per pool slot.
    slots: Arc<SandboxSlots>,
}

impl std::fmt::Debug for EvaluatorRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvaluatorRuntime")
            .field("limits", &self.inner.limits)
            .field(
                "compiled_cache",
                &self.inner.cache.as_ref().map(|c| c.dir()),
            )
            .finish()
    }
}

impl EvaluatorRuntime {
    pub fn new(limits: SandboxLimits) -> Result<Self, LoadError> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(limits.max_concurrent)
            .total_core_instances(limits.max_concurrent * 4)
            .total_memories(limits.max_concurrent * 2)
            .total_tables(limits.max_concurrent * 4)
            .max_memory_size(limits.memory_bytes)
            // A slot's memory is reset for the next instance by zeroing what
            // the last one touched (found with PAGEMAP_SCAN where the kernel
            // has it) instead of unmapping it: without this every exchange
            // took a page fault for each page its guest touched again.
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_BYTES)
            .pagemap_scan(Enabled::Auto);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .wasm_component_model(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if std::env::var_os(PERF_MAP_VAR).is_some() {
            // Lets `perf report` name evaluator code: docs/BENCHMARKS.md.
            config.profiler(ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        bindings::v0_2::Evaluator::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        bindings::v0_1::Evaluator::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        // Without the ticker no deadline would ever fire: refuse to run then.
        spawn_epoch_ticker(&engine).map_err(|e| LoadError::Engine(format!("epoch ticker: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                slots: SandboxSlots::new(limits.max_concurrent.max(1)),
                limits,
                cache: None,
                stats: CompileCounters::default(),
            }),
        })
    }

    /// This runtime, keeping compiled components in `dir` (created if
    /// missing; refused unless it, its key file and entries are this user's alone, see
    /// the `cache` module): a later runtime with the same
    /// engine configuration and directory loads them without compiling.
    ///
    /// Returns a new runtime sharing the engine, with its own statistics;
    /// call it right after [`new`](Self::new).
    pub fn with_compiled_cache(self, dir: impl Into<PathBuf>) -> Result<Self, LoadError> {
        let dir = dir.into();
        let cache = CompiledCache::new(&dir).map_err(|source| LoadError::Cache {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine: self.inner.engine.clone(),
                linker: self.inner.linker.clone(),
                limits: self.inner.limits.clone(),
                cache: Some(cache),
                stats: CompileCounters::default(),
                slots: self.inner.slots.clone(),
            }),
        })
    }

    /// Compilations and cache hits of this runtime's loads so far.
    pub fn compile_stats(&self) -> CompileStats {
        self.inner.stats.snapshot()
    }

    pub fn compiled_cache(&self) -> Option<&CompiledCache> {
        self.inner.cache.as_ref()
    }

    pub fn limits(&self) -> &SandboxLimits {
        &self.inner.limits
    }

    /// Compiles and checks a component: it must link against the host's
    /// imports alone, export the evaluator world, and describe itself.
    pub fn load(&self, bytes: &[u8]) -> Result<LoadedEvaluator, LoadError> {
        LoadedEvaluator::load(self.clone(), bytes)
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn linker(&self) -> &Linker<SandboxState> {
        &self.inner.linker
    }

    pub(crate) fn slots(&self) -> &Arc<SandboxSlots> {
        &self.inner.slots
    }

    pub(crate) fn record_compile(&self, outcome: CacheOutcome) {
        self.inner.stats.record(outcome);
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is gone.
fn spawn_epoch_ticker(engine: &Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    thread::Builder::new()
        .name("trustpub-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
}
