//! The bound on sandboxes alive at once. The pooling allocator has a fixed
//! number of instance slots; every instantiation — an exchange, a criteria
//! check, `info()` at load, a conformance case — takes one here first and
//! waits for a free one, so an operator action under full load queues
//! behind the exchanges instead of failing them (or itself) for want of a
//! pool slot.

use std::sync::{Arc, Condvar, Mutex, PoisonError};

#[derive(Debug)]
pub(crate) struct SandboxSlots {
    free: Mutex<u32>,
    released: Condvar,
}

/// A taken slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot(Arc<SandboxSlots>);

impl SandboxSlots {
    pub(crate) fn new(count: u32) -> Arc<Self> {
        Arc::new(Self {
            free: Mutex::new(count),
            released: Condvar::new(),
        })
    }

    /// Blocks until a slot is free. Callers run on blocking threads.
    pub(crate) fn take(self: &Arc<Self>) -> Slot {
        // The counter stays consistent even if a holder panicked.
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self
                .released
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        Slot(self.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(PoisonError::into_inner);
        *free += 1;
        self.0.released.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_given_back_when_dropped_and_waiters_get_it() {
        let slots = SandboxSlots::new(1);
        let first = slots.take();
        let waiter = {
            let slots = slots.clone();
            std::thread::spawn(move || drop(slots.take()))
        };
        drop(first);
        waiter.join().expect("the waiter got the slot");
        drop(slots.take());
    }
}
