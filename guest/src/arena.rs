//! A bump arena: the first allocator of a component's heap (see `heap.rs`).
//!
//! Every exchange runs in a fresh instance that is thrown away after it, so
//! an allocator that never reuses freed memory costs nothing that matters and
//! saves the free lists' bookkeeping (dlmalloc's own code was a tenth of the
//! guest's time). Two cases still give memory back, because they are common
//! and cheap to spot: freeing the most recent allocation moves the bump
//! pointer back, and growing it (a `Vec` or `String` being pushed to) extends
//! it in place. When the arena is full, the heap falls back to dlmalloc over
//! grown pages, so a guest that churns through memory is bounded by the
//! operator's memory cap exactly as before.
//!
//! Plain address arithmetic, no pointers: it runs and is tested natively.

/// Allocation state over the address range `[next, end)`.
#[derive(Debug)]
pub(crate) struct BumpArena {
    start: usize,
    next: usize,
    end: usize,
    /// Addresses from here on have never been handed out: still zero in a
    /// fresh instance, so a zeroed allocation there needs no clearing.
    untouched_from: usize,
}

impl BumpArena {
    /// An arena over `[start, end)`; `start` must be the beginning of memory
    /// that is zero (a fresh instance's memory above its data).
    pub(crate) const fn new(start: usize, end: usize) -> Self {
        let end = if end < start { start } else { end };
        Self {
            start,
            next: start,
            end,
            untouched_from: start,
        }
    }

    /// The address of `size` bytes aligned to `align` (a power of two), or
    /// `None` when they do not fit.
    pub(crate) fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        let at = self.next.checked_add(align - 1)? & !(align - 1);
        let after = at.checked_add(size)?;
        if after > self.end {
            return None;
        }
        self.next = after;
        Some(at)
    }

    /// How many bytes from `at` (an allocation of `size` just made) may hold
    /// old data, which a zeroed allocation must clear; then marks them used.
    pub(crate) fn dirty_prefix(&mut self, at: usize, size: usize) -> usize {
        let dirty = self.untouched_from.saturating_sub(at).min(size);
        self.untouched_from = self.untouched_from.max(at + size);
        dirty
    }

    pub(crate) fn contains(&self, address: usize) -> bool {
        (self.start..self.end).contains(&address)
    }

    /// Gives the allocation at `at` back if it is the most recent one;
    /// otherwise its bytes stay used until the instance goes.
    pub(crate) fn free(&mut self, at: usize, size: usize) {
        self.note_written(at, size);
        if at.checked_add(size) == Some(self.next) {
            self.next = at;
        }
    }

    /// Resizes the allocation at `at` where it is, if it is the most recent
    /// one and the new size fits; `false` means the caller must move it.
    pub(crate) fn resize_in_place(&mut self, at: usize, old_size: usize, new_size: usize) -> bool {
        if at.checked_add(old_size) != Some(self.next) {
            return false;
        }
        match at.checked_add(new_size) {
            Some(after) if after <= self.end => {
                self.note_written(at, old_size);
                self.next = after;
                true
            }
            _ => false,
        }
    }

    /// Bytes the program may have written: they are no longer zero.
    fn note_written(&mut self, at: usize, size: usize) {
        self.untouched_from = self.untouched_from.max(at.saturating_add(size));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_follow_each_other_aligned_until_the_arena_is_full() {
        let mut arena = BumpArena::new(1000, 1100);
        assert_eq!(arena.alloc(10, 8), Some(1000));
        assert_eq!(arena.alloc(4, 16), Some(1024));
        assert_eq!(arena.alloc(1, 1), Some(1028));
        assert_eq!(arena.alloc(72, 1), None, "1029 + 72 is past the end");
        assert_eq!(arena.alloc(71, 1), Some(1029));
        assert_eq!(arena.alloc(1, 1), None);
        assert!(arena.contains(1000) && arena.contains(1099));
        assert!(!arena.contains(999) && !arena.contains(1100));
    }

    #[test]
    fn sizes_and_alignments_that_overflow_the_address_space_are_refused() {
        let mut arena = BumpArena::new(usize::MAX - 64, usize::MAX);
        assert_eq!(arena.alloc(128, 1), None);
        assert_eq!(arena.alloc(8, 1 << (usize::BITS - 1)), None);
        assert_eq!(arena.alloc(usize::MAX, 1), None);
        assert_eq!(arena.alloc(8, 8), Some(usize::MAX - 63));
    }

    #[test]
    fn freeing_the_latest_allocation_gives_its_room_back_and_others_stay_used() {
        let mut arena = BumpArena::new(0, 100);
        let a = arena.alloc(10, 1).expect("fits");
        let b = arena.alloc(10, 1).expect("fits");
        arena.free(a, 10);
        assert_eq!(arena.alloc(10, 1), Some(20), "a was not the latest: kept");
        arena.free(20, 10);
        arena.free(b, 10);
        assert_eq!(
            arena.alloc(5, 1),
            Some(b),
            "b became the latest and went back"
        );
    }

    #[test]
    fn the_latest_allocation_grows_and_shrinks_in_place_others_must_move() {
        let mut arena = BumpArena::new(0, 100);
        let a = arena.alloc(10, 1).expect("fits");
        assert!(arena.resize_in_place(a, 10, 40));
        assert!(arena.resize_in_place(a, 40, 100), "exactly to the end");
        assert!(!arena.resize_in_place(a, 100, 101), "past the end");
        assert!(arena.resize_in_place(a, 100, 30));
        let b = arena.alloc(10, 1).expect("fits");
        assert_eq!(b, 30);
        assert!(
            !arena.resize_in_place(a, 30, 31),
            "a is no longer the latest"
        );
        assert!(!arena.resize_in_place(b, 10, usize::MAX), "overflow");
    }

    #[test]
    fn memory_handed_out_before_is_cleared_for_a_zeroed_allocation_fresh_memory_is_not() {
        let mut arena = BumpArena::new(0, 100);
        let a = arena.alloc(16, 1).expect("fits");
        assert_eq!(arena.dirty_prefix(a, 16), 0, "never used: still zero");
        arena.free(a, 16);
        let b = arena.alloc(32, 1).expect("fits");
        assert_eq!(b, a);
        assert_eq!(
            arena.dirty_prefix(b, 32),
            16,
            "the freed 16 bytes were used"
        );
        arena.free(b, 32);
        let c = arena.alloc(8, 1).expect("fits");
        assert_eq!(arena.dirty_prefix(c, 8), 8);

        // Grown in place, then freed: the grown part counts as used too.
        let mut arena = BumpArena::new(0, 100);
        let d = arena.alloc(4, 1).expect("fits");
        assert!(arena.resize_in_place(d, 4, 50));
        arena.free(d, 50);
        let e = arena.alloc(60, 1).expect("fits");
        assert_eq!(arena.dirty_prefix(e, 60), 50);
    }

    #[test]
    fn an_arena_whose_end_is_below_its_start_is_empty() {
        let mut arena = BumpArena::new(200, 100);
        assert_eq!(arena.alloc(1, 1), None);
        assert!(!arena.contains(150) && !arena.contains(200));
    }
}
