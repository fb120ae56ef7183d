//! Deploying by replacing a provider's component file: the directories of
//! the configured evaluator paths are watched, events are debounced, and a
//! changed file goes through the same validation as any deploy. A half-written
//! file fails to compile and is never activated; the next event, when the
//! write completes, deploys it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::EvaluatorRegistry;
use super::deploy::DeployError;
use crate::blocking::run_blocking;

/// Quiet time after the last event before a file is read.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// Keeps the watch alive; dropping it stops watching.
pub struct EvaluatorWatch {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EvaluatorWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn watch_evaluators(registry: Arc<EvaluatorRegistry>) -> notify::Result<EvaluatorWatch> {
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    // Only the component files matter: the directory may also hold busy
    // files (a database, logs) whose events would otherwise keep the
    // debounce from ever settling.
    let names: BTreeSet<std::ffi::OsString> = registry
        .providers()
        .iter()
        .filter_map(|p| p.evaluator_path.file_name().map(Into::into))
        .collect();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Reads (ours included) raise access events: only changes count.
        if let Ok(event) = event
            && !matches!(event.kind, notify::EventKind::Access(_))
        {
            for path in event.paths {
                if path.file_name().is_some_and(|n| names.contains(n)) {
                    let _ = tx.send(path);
                }
            }
        }
    })?;
    let dirs: BTreeSet<PathBuf> = registry
        .providers()
        .iter()
        .map(|p| {
            p.evaluator_path
                .parent()
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
        })
        .map(|d| {
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            }
        })
        .collect();
    for dir in &dirs {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut changed = vec![first];
            // Debounce: a copy or a build writes in bursts.
            while let Ok(Some(path)) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                changed.push(path);
            }
            for provider in registry.providers() {
                let name = provider.evaluator_path.file_name();
                if !changed.iter().any(|p| p.file_name() == name) {
                    continue;
                }
                if !provider.evaluator_path.exists() {
                    continue; // Gone for now (mid-rename): a later event brings it back.
                }
                let (registry, name) = (registry.clone(), provider.name.clone());
                let result = run_blocking(move || registry.deploy_file(&name)).await;
                match result {
                    Ok(Ok(d)) if d.unchanged => {}
                    Ok(Ok(_)) => {}
                    Ok(Err(reason @ (DeployError::Rejected(_) | DeployError::Unreadable(_)))) => {
                        tracing::warn!(
                            provider = %provider.name, path = %provider.evaluator_path.display(), %reason,
                            "the replaced evaluator file was rejected; the active version keeps serving"
                        )
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(provider = %provider.name, error = %e, "evaluator file deploy failed")
                    }
                    Err(e) => tracing::error!(error = %e, "evaluator file deploy task failed"),
                }
            }
        }
    });
    Ok(EvaluatorWatch {
        _watcher: watcher,
        task,
    })
}
