//! Starting and stopping the server: storage, evaluators, keys, listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::AppState;
use super::listener::{self, Deadlines};
use crate::audit_log::AuditLog;
use crate::blocking::run_blocking;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::evaluators::watch::{EvaluatorWatch, watch_evaluators};
use crate::evaluators::{EvaluatorRegistry, RegistryError};
use crate::exchange::TokenExchange;
use crate::jose::key_cache::http_client;
use crate::operator::{Actor, OperatorError, OperatorService};
use crate::runtime::{EvaluatorRuntime, LoadError, SandboxLimits};
use crate::store::{self, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Runtime(#[from] LoadError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("start-up task failed: {0}")]
    Task(String),
}

/// How often expired token ids, old audit events and idle rate-limit
/// entries are forgotten.
const PURGE_INTERVAL: Duration = Duration::from_secs(300);

pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    purge: JoinHandle<()>,
    key_refresh: Option<JoinHandle<()>>,
    /// Adopts evaluator versions other hosts activate (PostgreSQL only).
    evaluator_follow: Option<JoinHandle<()>>,
    _watch: Option<FileDeploys>,
}

/// The evaluator files' watch and the task deploying what it reports;
/// dropping it stops both.
struct FileDeploys {
    _watch: EvaluatorWatch,
    task: JoinHandle<()>,
}

impl Drop for FileDeploys {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A replaced component file is deployed through the operator service, so
/// it passes the same admission and is audited like any deploy.
fn deploy_replaced_files(state: Arc<AppState>) -> Result<FileDeploys, StartupError> {
    let (watch, mut changed) = watch_evaluators(state.registry.clone())
        .map_err(|e| StartupError::Task(format!("cannot watch the evaluator files: {e}")))?;
    let task = tokio::spawn(async move {
        let actor = Actor::file_watcher();
        while let Some(provider) = changed.recv().await {
            match state
                .operator
                .deploy_evaluator_file(provider.clone(), &actor)
                .await
            {
                Ok(_) => {}
                Err(OperatorError::Invalid(reason)) => tracing::warn!(
                    %provider, %reason,
                    "the replaced evaluator file was rejected; the active version keeps serving"
                ),
                Err(e) => tracing::warn!(%provider, error = %e, "evaluator file deploy failed"),
            }
        }
    });
    Ok(FileDeploys {
        _watch: watch,
        task,
    })
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl RunningServer {
    /// Stops accepting, lets requests in flight finish, then returns.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.purge.abort();
        if let Some(task) = &self.key_refresh {
            task.abort();
        }
        if let Some(task) = &self.evaluator_follow {
            task.abort();
        }
        let _ = (&mut self.server).await;
        // Refused attempts still queued are written before the process ends.
        self.state.audit_log.flush().await;
    }
}

pub async fn start(settings: &Settings) -> Result<RunningServer, StartupError> {
    let state = build_state(settings).await?;
    serve(settings, state).await
}

/// [`start`] on a state built elsewhere (e.g. with a test clock).
pub async fn start_with_state(
    settings: &Settings,
    state: Arc<AppState>,
) -> Result<RunningServer, StartupError> {
    serve(settings, state).await
}

/// Opens storage, loads every provider's evaluator and keys: everything a
/// request needs, without a listener (the CLI's direct mode uses it too).
pub async fn build_state(settings: &Settings) -> Result<Arc<AppState>, StartupError> {
    build_state_with_clock(settings, Arc::new(SystemClock)).await
}

/// [`build_state`] on a given clock: tests move time instead of sleeping.
pub async fn build_state_with_clock(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> Result<Arc<AppState>, StartupError> {
    let store = {
        let url = settings.database.clone();
        let options = store::PostgresOptions {
            timeout: Duration::from_millis(settings.database_timeout_ms),
            pool_size: settings.database_pool_size,
        };
        // Connecting and migrating block (PostgreSQL's client runs its own
        // small runtime, which may not start inside this one).
        run_blocking(move || store::open_with(&url, &options))
            .await
            .map_err(|e| StartupError::Task(e.to_string()))??
    };
    let limits = SandboxLimits {
        memory_bytes: settings.evaluator_memory_mib << 20,
        timeout: Duration::from_millis(settings.evaluation_timeout_ms),
        max_token_bytes: settings.max_token_bytes,
        max_concurrent: settings.max_concurrent_evaluations,
        ..SandboxLimits::default()
    };
    let registry = {
        let settings = settings.clone();
        // Compiling components is CPU work: keep it off the async threads.
        run_blocking(move || -> Result<_, StartupError> {
            let mut runtime = EvaluatorRuntime::new(limits)?;
            if let Some(dir) = settings.compiled_cache_path() {
                runtime = runtime.with_compiled_cache(dir)?;
            }
            Ok(EvaluatorRegistry::load(&settings, runtime, http_client())?)
        })
        .await
        .map_err(|e| StartupError::Task(e.to_string()))??
    };
    let registry = Arc::new(registry);
    for provider in registry.providers() {
        // An IdP that is down now must not stop the service: keys are fetched
        // again on the first token that names an unknown kid.
        for keys in provider.key_caches() {
            match keys.refresh().await {
                Ok(()) => {
                    tracing::info!(provider = %provider.name, keys = keys.snapshot().len(), "signing keys loaded")
                }
                Err(e) => {
                    tracing::warn!(provider = %provider.name, error = %e, "cannot load signing keys yet")
                }
            }
        }
    }

    let audit_log = AuditLog::start(store.clone());
    let state = Arc::new(AppState {
        exchange: TokenExchange::new(
            registry.clone(),
            store.clone(),
            audit_log.clone(),
            clock.clone(),
            settings.key_lifetime_seconds,
            settings.first_use_window_seconds,
        ),
        operator: OperatorService::new(
            store.clone(),
            registry.clone(),
            audit_log.clone(),
            clock.clone(),
        ),
        store: store.clone(),
        registry,
        audit_log,
        clock,
        admin_token: settings.admin_token.clone(),
        max_token_bytes: settings.max_token_bytes,
        max_body_bytes: settings.max_body_bytes,
        max_component_bytes: settings.max_component_bytes,
        limits: super::ExchangeLimits::new(super::LimitSettings {
            per_address_per_minute: settings.rate_limit_per_address_per_minute,
            per_username_per_minute: settings.rate_limit_per_username_per_minute,
            max_in_flight: settings.max_concurrent_exchanges,
        }),
        client_ip_header: settings.client_ip_header.clone(),
        console_sessions: crate::console::Sessions::new(),
    });
    state.operator.index_all_policies().await;
    // A host joining a cluster runs the cluster's versions from the start.
    if state.store.shares_evaluators() {
        state.operator.adopt_cluster_evaluators().await;
    }
    if state.admin_token.is_none() {
        tracing::warn!("no admin_token is configured: the operator API is disabled");
    }
    Ok(state)
}

/// Starts the listener and the housekeeping task around a built state.
async fn serve(settings: &Settings, state: Arc<AppState>) -> Result<RunningServer, StartupError> {
    let store = state.store.clone();
    let housekeeping_state = state.clone();
    let listener =
        TcpListener::bind(settings.listen)
            .await
            .map_err(|source| StartupError::Listen {
                addr: settings.listen,
                source,
            })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartupError::Listen {
            addr: settings.listen,
            source,
        })?;
    let (tx, rx) = oneshot::channel::<()>();
    let deadlines = Deadlines {
        head: Duration::from_secs(settings.header_timeout_seconds),
        body: Duration::from_secs(settings.body_timeout_seconds),
    };
    let server = tokio::spawn(listener::serve(listener, state.clone(), deadlines, async {
        let _ = rx.await;
    }));
    let audit_retention = settings.audit_retention_days.saturating_mul(86_400);
    let purge = tokio::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_INTERVAL);
        loop {
            tick.tick().await;
            housekeeping_state.limits.forget_idle();
            let store = store.clone();
            let now = housekeeping_state.clock.now();
            let purged = run_blocking(move || {
                // Each id carries its own keep-until time (see the exchange).
                let ids = store.purge_used_token_ids(now);
                let audit = (audit_retention > 0)
                    .then(|| store.purge_audit(now.saturating_sub(audit_retention)));
                (ids, audit)
            })
            .await;
            let Ok((ids, audit)) = purged else { continue };
            match ids {
                Ok(n) if n > 0 => tracing::info!(purged = n, "expired token ids forgotten"),
                Err(e) => tracing::warn!(error = %e, "cannot purge expired token ids"),
                _ => {}
            }
            match audit {
                Some(Ok(n)) if n > 0 => {
                    tracing::info!(purged = n, "audit events past retention deleted")
                }
                Some(Err(e)) => tracing::warn!(error = %e, "cannot delete old audit events"),
                _ => {}
            }
        }
    });
    let key_refresh = (settings.jwks_refresh_seconds > 0).then(|| {
        let registry = state.registry.clone();
        let every = Duration::from_secs(settings.jwks_refresh_seconds);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                for provider in registry.providers() {
                    for keys in provider.key_caches() {
                        if let Err(error) = keys.refresh().await {
                            tracing::warn!(provider = %provider.name, %error, "scheduled JWKS refresh failed; keeping the previous keys until they are too old");
                        }
                    }
                }
            }
        })
    });
    let evaluator_follow = state.store.shares_evaluators().then(|| {
        let state = state.clone();
        tokio::spawn(async move { state.operator.follow_cluster_evaluators().await })
    });
    let watch = if settings.watch_evaluators {
        Some(deploy_replaced_files(state.clone())?)
    } else {
        None
    };
    tracing::info!(%addr, "trustpub listening");
    Ok(RunningServer {
        _watch: watch,
        addr,
        state,
        shutdown: Some(tx),
        server,
        purge,
        key_refresh,
        evaluator_follow,
    })
}
