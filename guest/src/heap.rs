//! The evaluator's heap: a bump arena over the room the module's initial
//! linear memory leaves above its data (`arena.rs`), then dlmalloc over grown
//! pages once the arena is full.
//!
//! Why not std's allocator: on `wasm32-unknown-unknown` it grows memory for
//! its very first allocation, even when the initial memory has room. Every
//! `memory.grow` makes the host change page protections (an `mprotect`, and
//! another when the pool slot is reused, each with a TLB flush on every core
//! running the host) — a tenth of a decision's time. With the components
//! linked with room to spare (`--initial-memory`, see `.cargo/config.toml`),
//! a typical exchange never grows memory; one that needs more still can.
//! Why a bump arena first: each instance serves one exchange and is then
//! thrown away, so reusing freed memory buys little, and dlmalloc's free-list
//! bookkeeping was a tenth of the guest's time.
//!
//! Guests are single-threaded (no threads on this target), which is why a
//! plain cell may hold the allocator.

#![allow(unsafe_code)]

use core::arch::wasm32;
use core::cell::UnsafeCell;
use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::{Allocator, Dlmalloc};

use crate::arena::BumpArena;

const PAGE: usize = 64 * 1024;

unsafe extern "C" {
    /// Where the linker placed the end of static data: the heap starts here.
    static __heap_base: u8;
}

/// dlmalloc's source of memory: fresh pages at the end of linear memory, as
/// std's allocator does. Only used once the arena is full.
struct GrownPages;

unsafe impl Allocator for GrownPages {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let pages = size.div_ceil(PAGE);
        let previous = wasm32::memory_grow(0, pages);
        if previous == usize::MAX {
            return (core::ptr::null_mut(), 0, 0);
        }
        let base = previous * PAGE;
        let size = pages * PAGE;
        // The last bytes of the address space: a pointer may not wrap to 0.
        if base.wrapping_add(size) == 0 {
            return (base as *mut u8, size - 16, 0);
        }
        (base as *mut u8, size, 0)
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        core::ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    // Grown pages are zero.
    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        PAGE
    }
}

struct State {
    /// `None` until the first allocation, which places it.
    arena: Option<BumpArena>,
    fallback: Dlmalloc<GrownPages>,
}

impl State {
    fn arena(&mut self) -> &mut BumpArena {
        self.arena.get_or_insert_with(|| {
            let start = (&raw const __heap_base) as usize;
            BumpArena::new(start, wasm32::memory_size(0) * PAGE)
        })
    }
}

struct Heap(UnsafeCell<State>);

// SAFETY: the target has no threads, so the allocator is never shared.
unsafe impl Sync for Heap {}

#[global_allocator]
static HEAP: Heap = Heap(UnsafeCell::new(State {
    arena: None,
    fallback: Dlmalloc::new_with_allocator(GrownPages),
}));

impl Heap {
    /// SAFETY: single-threaded and not re-entered (neither the arena nor
    /// dlmalloc allocates), so no two references to the state overlap.
    #[allow(clippy::mut_from_ref)]
    unsafe fn state(&self) -> &mut State {
        unsafe { &mut *self.0.get() }
    }
}

// SAFETY: the arena hands out disjoint, aligned ranges of memory no one else
// uses (above the module's data, below the memory's initial end); dlmalloc
// upholds the `GlobalAlloc` contract for its own blocks, and a block is
// returned to whichever of the two its address says made it.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let state = unsafe { self.state() };
        match state.arena().alloc(layout.size(), layout.align()) {
            Some(at) => at as *mut u8,
            None => unsafe { state.fallback.malloc(layout.size(), layout.align()) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let state = unsafe { self.state() };
        let arena = state.arena();
        match arena.alloc(layout.size(), layout.align()) {
            Some(at) => {
                let dirty = arena.dirty_prefix(at, layout.size());
                unsafe { core::ptr::write_bytes(at as *mut u8, 0, dirty) };
                at as *mut u8
            }
            None => unsafe { state.fallback.calloc(layout.size(), layout.align()) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let state = unsafe { self.state() };
        let arena = state.arena();
        if arena.contains(ptr as usize) {
            arena.free(ptr as usize, layout.size());
        } else {
            unsafe { state.fallback.free(ptr, layout.size(), layout.align()) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let state = unsafe { self.state() };
        let arena = state.arena();
        if !arena.contains(ptr as usize) {
            return unsafe {
                state
                    .fallback
                    .realloc(ptr, layout.size(), layout.align(), new_size)
            };
        }
        if arena.resize_in_place(ptr as usize, layout.size(), new_size) {
            return ptr;
        }
        // SAFETY: `GlobalAlloc::realloc`'s contract makes this layout valid.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        moved
    }
}
