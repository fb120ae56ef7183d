//! Failed exchanges' audit records, written in batches. Every refused
//! request — a bogus bearer from anyone on the network — leaves a record;
//! writing each in its own transaction would let a stranger buy one disk
//! sync per request. Records go through a bounded channel to one writer
//! that commits whatever has queued up in a single transaction, and a
//! caller that outruns the disk waits for room (backpressure, never loss).
//!
//! A minted key's record is not written here: it commits with the key.
//! [`AuditLog::flush`] waits until everything sent before it is on disk;
//! audit queries call it first, so they always see earlier attempts.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::blocking::run_blocking;
use crate::store::{AuditEvent, Store};

/// Records queued at most; senders wait beyond this.
const QUEUE: usize = 4096;
/// Records written at most in one transaction.
const MAX_BATCH: usize = 512;

enum Message {
    Record(Box<AuditEvent>),
    Flush(oneshot::Sender<()>),
}

/// The sending side; cheap to clone. The writer stops when every clone is gone.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Message>,
}

impl AuditLog {
    /// Starts the writer on the current tokio runtime.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, rx));
        Self { tx }
    }

    /// Queues a record; waits only when the queue is full.
    pub async fn record(&self, event: AuditEvent) {
        if self
            .tx
            .send(Message::Record(Box::new(event)))
            .await
            .is_err()
        {
            tracing::error!("the audit writer has stopped: an audit record is lost");
        }
    }

    /// Returns once every record sent before it has been written.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn write_batches(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Message>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut waiting = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        // Take what has queued up meanwhile, without waiting for more.
        while let Some(message) = next {
            match message {
                Message::Record(event) => batch.push(*event),
                Message::Flush(done) => waiting.push(done),
            }
            next = if batch.len() < MAX_BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            let events = std::mem::take(&mut batch);
            let store = store.clone();
            let count = events.len();
            match run_blocking(move || store.record_audit_batch(&events)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, count, "cannot record the audit events of failed exchanges")
                }
                Err(e) => tracing::error!(error = %e, count, "the audit writer's task failed"),
            }
            batch = Vec::with_capacity(MAX_BATCH);
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuditKind, AuditOutcome};

    fn event(at: u64) -> AuditEvent {
        AuditEvent {
            at,
            provider: None,
            username: "alice".into(),
            outcome: AuditOutcome::BadToken,
            detail: None,
            policy_id: None,
            evaluator_digest: None,
            subject: None,
            client_addr: None,
            check: None,
            near_misses: Vec::new(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_record_sent_before_a_flush_is_written_by_then() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            crate::store::open(&dir.path().join("db.sqlite").display().to_string()).expect("store");
        let log = AuditLog::start(store.clone());
        let senders: Vec<_> = (0..4u64)
            .map(|t| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0..300 {
                        log.record(event(t * 1000 + i)).await;
                    }
                })
            })
            .collect();
        for sender in senders {
            sender.await.expect("sender");
        }
        log.flush().await;
        let written = store
            .list_audit_of(Some("alice"), AuditKind::Exchanges, 2000)
            .expect("list");
        assert_eq!(written.len(), 1200);
    }
}
