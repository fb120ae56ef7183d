//! Deploying by replacing a provider's component file: the directories of
//! the configured evaluator paths are watched, events are debounced, and the
//! names of the providers whose component (or `.sig`) changed are sent on;
//! the server deploys each through the operator service, with the same
//! admission and audit as any deploy. A half-written file fails to compile
//! and is never activated; the next event, when the write completes,
//! deploys it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::EvaluatorRegistry;
use super::signature::signature_path;

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

/// Watches the providers' files; receive the names of providers to deploy.
pub fn watch_evaluators(
    registry: Arc<EvaluatorRegistry>,
) -> notify::Result<(EvaluatorWatch, mpsc::UnboundedReceiver<String>)> {
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let (changed_tx, changed_rx) = mpsc::unbounded_channel::<String>();
    // Only the component files matter: the directory may also hold busy
    // files (a database, logs) whose events would otherwise keep the
    // debounce from ever settling.
    let names: BTreeSet<std::ffi::OsString> = registry
        .providers()
        .iter()
        .flat_map(|p| [p.evaluator_path.clone(), signature_path(&p.evaluator_path)])
        .filter_map(|path| path.file_name().map(Into::into))
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
                let sig = signature_path(&provider.evaluator_path);
                let names = [provider.evaluator_path.file_name(), sig.file_name()];
                if !changed.iter().any(|p| names.contains(&p.file_name())) {
                    continue;
                }
                if !provider.evaluator_path.exists() {
                    continue; // Gone for now (mid-rename): a later event brings it back.
                }
                if changed_tx.send(provider.name.clone()).is_err() {
                    return; // Nobody deploys any more: the server is stopping.
                }
            }
        }
    });
    Ok((
        EvaluatorWatch {
            _watcher: watcher,
            task,
        },
        changed_rx,
    ))
}
