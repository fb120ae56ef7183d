//! Group commit: exchanges whose commits arrive while another commit is
//! being written wait for it, then the first of them writes them all in one
//! transaction — one sync to disk for the group instead of one each. Each
//! commit still gets its own result, and only after the transaction holding
//! it is durable, so a 200 never goes out for a key that could be lost.
//!
//! No thread or timer: whoever holds the connection writes, everyone else
//! waits on their own result. Under no load a commit is written at once.

use std::sync::{Mutex, mpsc};

use super::StoreError;

struct Waiting<T> {
    item: T,
    done: mpsc::SyncSender<Result<(), StoreError>>,
}

/// The commits waiting for the connection.
pub(super) struct CommitQueue<T> {
    waiting: Mutex<Vec<Waiting<T>>>,
}

impl<T> Default for CommitQueue<T> {
    fn default() -> Self {
        Self {
            waiting: Mutex::new(Vec::new()),
        }
    }
}

impl<T> CommitQueue<T> {
    fn take_waiting(&self) -> Vec<Waiting<T>> {
        // A panic while pushing or taking cannot leave the Vec half-changed.
        std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Queues `item`, then takes the connection (`lock`); whoever gets it
    /// first writes everything queued by then with `write`, which returns one
    /// result per item, in order, after the transaction's commit.
    pub(super) fn commit<G>(
        &self,
        item: T,
        lock: impl FnOnce() -> Result<G, StoreError>,
        write: impl FnOnce(&mut G, &[T]) -> Vec<Result<(), StoreError>>,
    ) -> Result<(), StoreError> {
        let (done, result) = mpsc::sync_channel(1);
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Waiting { item, done });
        {
            let mut connection = lock()?;
            let batch = self.take_waiting();
            if !batch.is_empty() {
                let (items, dones): (Vec<T>, Vec<_>) =
                    batch.into_iter().map(|w| (w.item, w.done)).unzip();
                let results = write(&mut connection, &items);
                for (done, result) in dones.into_iter().zip(results) {
                    // The waiter may have given up (its thread is gone).
                    let _ = done.send(result);
                }
            }
        }
        // A writer that panicked dropped the senders: an error, not a hang.
        result.recv().unwrap_or_else(|_| {
            Err(StoreError::Database(
                "the commit was abandoned by the writer".into(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;

    #[test]
    fn commits_arriving_during_a_write_are_written_together_each_with_its_own_result() {
        let queue = Arc::new(CommitQueue::<u32>::default());
        let connection = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let threads = 8;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads as u32)
            .map(|i| {
                let (queue, connection, barrier) =
                    (queue.clone(), connection.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    queue.commit(
                        i,
                        || Ok(connection.lock().expect("lock")),
                        |writes, items| {
                            // The first write lasts until every other commit
                            // has queued behind it.
                            if writes.is_empty() {
                                while items.len() + queue.waiting.lock().expect("queue").len()
                                    < threads
                                {
                                    std::thread::yield_now();
                                }
                            }
                            writes.push(items.to_vec());
                            items
                                .iter()
                                .map(|i| {
                                    if i % 2 == 0 {
                                        Ok(())
                                    } else {
                                        Err(StoreError::Replay)
                                    }
                                })
                                .collect()
                        },
                    )
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            let result = h.join().expect("thread");
            assert_eq!(result.is_ok(), i % 2 == 0, "item {i}: {result:?}");
        }
        let writes = connection.lock().expect("lock");
        assert_eq!(
            writes.len(),
            2,
            "one write, then one for all the rest: {writes:?}"
        );
        let mut all: Vec<u32> = writes.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(
            all,
            (0..threads as u32).collect::<Vec<_>>(),
            "each written once"
        );
    }

    #[test]
    fn a_writer_that_panics_fails_its_group_without_hanging() {
        let queue = CommitQueue::<u32>::default();
        let connection = Mutex::new(());
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            queue.commit(
                1,
                || Ok(connection.lock().expect("lock")),
                |_, _| panic!("disk on fire"),
            )
        }));
        assert!(outcome.is_err(), "the panic reaches the writer's caller");
        // The queue still works.
        let result = queue.commit(
            2,
            || Ok(connection.lock().unwrap_or_else(|p| p.into_inner())),
            |_, items| items.iter().map(|_| Ok(())).collect(),
        );
        assert!(result.is_ok());
    }
}
