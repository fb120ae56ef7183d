//! Group commit: exchanges whose commits arrive while another commit is
//! being written wait for it, then one of them writes them all in one
//! transaction — one sync to disk for the group instead of one each. Each
//! commit still gets its own result, and only after the transaction holding
//! it is durable, so a 200 never goes out for a key that could be lost.
//!
//! No thread or timer: one committing thread at a time holds the writer's
//! turn; everyone else waits on a channel of their own, and is woken once —
//! with its result, or to take the turn. The writer, done, hands the turn to
//! the oldest waiter, which writes everything queued by then. (Waiting on the
//! connection's mutex instead woke each member of a written group in turn
//! only to find nothing left to write, while the next group queued behind
//! them.) Under no load a commit is written at once.

use std::sync::{Mutex, MutexGuard, mpsc};

use super::StoreError;

/// What a waiting commit is woken with.
enum Wake {
    Written(Result<(), StoreError>),
    /// Write what is queued (this commit among it).
    YourTurn,
}

struct Waiting<T> {
    item: T,
    wake: mpsc::SyncSender<Wake>,
}

struct Queue<T> {
    waiting: Vec<Waiting<T>>,
    /// A thread holds the writer's turn.
    writing: bool,
}

/// The commits waiting to be written.
pub(super) struct CommitQueue<T> {
    queue: Mutex<Queue<T>>,
}

impl<T> Default for CommitQueue<T> {
    fn default() -> Self {
        Self {
            queue: Mutex::new(Queue {
                waiting: Vec::new(),
                writing: false,
            }),
        }
    }
}

/// Held by the thread whose turn it is; dropping it — after a write, or
/// while a panicking writer unwinds — hands the turn on, so no waiter is
/// left without a writer.
struct Turn<'a, T>(&'a CommitQueue<T>);

impl<T> Drop for Turn<'_, T> {
    fn drop(&mut self) {
        let mut queue = self.0.locked();
        while let Some(oldest) = queue.waiting.first() {
            // It stays queued: it writes its own item with the rest.
            if oldest.wake.send(Wake::YourTurn).is_ok() {
                return;
            }
            // That waiter's thread is gone; nobody waits for its item.
            queue.waiting.remove(0);
        }
        queue.writing = false;
    }
}

impl<T> CommitQueue<T> {
    fn locked(&self) -> MutexGuard<'_, Queue<T>> {
        // A panic while pushing or taking cannot leave the queue half-changed.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commits queued and not yet taken by a writer.
    #[cfg(test)]
    pub(super) fn waiting(&self) -> usize {
        self.locked().waiting.len()
    }

    /// Queues `item` and waits until it is written: by the thread holding
    /// the writer's turn, or by this one when the turn comes to it. The
    /// writer takes the connection (`lock`) and writes everything queued by
    /// then with `write`, which returns one result per item, in order, after
    /// the transaction's commit.
    pub(super) fn commit<G>(
        &self,
        item: T,
        lock: impl FnOnce() -> Result<G, StoreError>,
        write: impl FnOnce(&mut G, &[T]) -> Vec<Result<(), StoreError>>,
    ) -> Result<(), StoreError> {
        let (wake, woken) = mpsc::sync_channel(1);
        let my_turn = {
            let mut queue = self.locked();
            queue.waiting.push(Waiting { item, wake });
            !std::mem::replace(&mut queue.writing, true)
        };
        if !my_turn {
            match woken.recv() {
                Ok(Wake::Written(result)) => return result,
                Ok(Wake::YourTurn) => {}
                Err(_) => return Err(abandoned()),
            }
        }
        {
            let _turn = Turn(self);
            let batch = std::mem::take(&mut self.locked().waiting);
            let (items, wakes): (Vec<T>, Vec<_>) =
                batch.into_iter().map(|w| (w.item, w.wake)).unzip();
            let results = match lock() {
                Ok(mut connection) => write(&mut connection, &items),
                Err(e) => (0..items.len()).map(|_| Err(e.for_another())).collect(),
            };
            for (wake, result) in wakes.into_iter().zip(results) {
                // The waiter may have given up (its thread is gone).
                let _ = wake.send(Wake::Written(result));
            }
        }
        // A writer that panicked dropped the senders: an error, not a hang.
        match woken.recv() {
            Ok(Wake::Written(result)) => result,
            Ok(Wake::YourTurn) | Err(_) => Err(abandoned()),
        }
    }
}

fn abandoned() -> StoreError {
    StoreError::Database("the commit was abandoned by the writer".into())
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
                                while items.len() + queue.locked().waiting.len() < threads {
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
    fn commits_queued_behind_a_writer_that_panics_are_still_written() {
        let queue = Arc::new(CommitQueue::<u32>::default());
        let connection = Arc::new(Mutex::new(Vec::<u32>::new()));
        let behind = 4;
        let panicking = {
            let (queue, connection) = (queue.clone(), connection.clone());
            std::thread::spawn(move || {
                queue.commit(
                    0,
                    || Ok(connection.lock().unwrap_or_else(|p| p.into_inner())),
                    |_, _| {
                        while queue.locked().waiting.len() < behind {
                            std::thread::yield_now();
                        }
                        panic!("disk on fire")
                    },
                )
            })
        };
        // Queued only once the panicking write has begun.
        while !queue.locked().writing {
            std::thread::yield_now();
        }
        let others: Vec<_> = (1..=behind as u32)
            .map(|i| {
                let (queue, connection) = (queue.clone(), connection.clone());
                std::thread::spawn(move || {
                    queue.commit(
                        i,
                        || Ok(connection.lock().unwrap_or_else(|p| p.into_inner())),
                        |written, items| {
                            written.extend_from_slice(items);
                            items.iter().map(|_| Ok(())).collect()
                        },
                    )
                })
            })
            .collect();
        assert!(panicking.join().is_err(), "the panic reaches its caller");
        for h in others {
            assert!(h.join().expect("thread").is_ok());
        }
        let mut written = connection.lock().unwrap_or_else(|p| p.into_inner()).clone();
        written.sort();
        assert_eq!(
            written,
            vec![1, 2, 3, 4],
            "the turn passed on after the panic"
        );
        assert!(
            !queue.locked().writing,
            "and was given back when the queue emptied"
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
