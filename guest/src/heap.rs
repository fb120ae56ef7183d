//! The evaluator's heap: dlmalloc, first over the room the module's initial
//! linear memory leaves above its data, and only then over grown pages.
//!
//! Why not std's allocator: on `wasm32-unknown-unknown` it grows memory for
//! its very first allocation, even when the initial memory has room. Every
//! `memory.grow` makes the host change page protections (an `mprotect`, and
//! another when the pool slot is reused, each with a TLB flush on every core
//! running the host) — a tenth of a decision's time. With the components
//! linked with room to spare (`--initial-memory`, see `.cargo/config.toml`),
//! a typical exchange never grows memory; one that needs more still can.
//!
//! Guests are single-threaded (no threads on this target), which is why a
//! plain cell may hold the allocator.

#![allow(unsafe_code)]

use core::arch::wasm32;
use core::cell::{Cell, UnsafeCell};
use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::{Allocator, Dlmalloc};

const PAGE: usize = 64 * 1024;

unsafe extern "C" {
    /// Where the linker placed the end of static data: the heap starts here.
    static __heap_base: u8;
}

/// Hands dlmalloc the initial memory above `__heap_base` once, then grown
/// pages.
struct InitialMemoryFirst {
    initial_taken: Cell<bool>,
}

unsafe impl Allocator for InitialMemoryFirst {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        if !self.initial_taken.get() {
            let base = (&raw const __heap_base) as usize;
            let base = base.next_multiple_of(16);
            let end = wasm32::memory_size(0) * PAGE;
            if end > base && end - base >= size {
                self.initial_taken.set(true);
                return (base as *mut u8, end - base, 0);
            }
        }
        // What std's allocator does: fresh pages at the end of memory.
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

    // A fresh instance's memory above its data, and grown pages, are zero.
    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        PAGE
    }
}

struct Heap(UnsafeCell<Dlmalloc<InitialMemoryFirst>>);

// SAFETY: the target has no threads, so the allocator is never shared.
unsafe impl Sync for Heap {}

#[global_allocator]
static HEAP: Heap = Heap(UnsafeCell::new(Dlmalloc::new_with_allocator(
    InitialMemoryFirst {
        initial_taken: Cell::new(false),
    },
)));

// SAFETY: single-threaded, so no two calls overlap; dlmalloc upholds the
// `GlobalAlloc` contract for the layouts passed through.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { (*self.0.get()).malloc(layout.size(), layout.align()) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { (*self.0.get()).calloc(layout.size(), layout.align()) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { (*self.0.get()).free(ptr, layout.size(), layout.align()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { (*self.0.get()).realloc(ptr, layout.size(), layout.align(), new_size) }
    }
}
