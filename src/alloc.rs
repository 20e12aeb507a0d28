//! The global allocator: mimalloc for everything small, the C library's malloc for big blocks.
//!
//! Values and jobs are allocated on one thread and freed on another all the time; glibc's
//! malloc then contends for arena locks (a futex sleep and wake-up per guest → host call), and
//! mimalloc frees across threads without a lock. Big blocks (ArrayBuffer contents, serialised
//! copies) stay with glibc: it keeps reusing freed heap memory for them, while mimalloc maps
//! fresh pages for each huge block and pays a page fault per 4 KiB on first touch.
//!
//! A block's size picks its allocator, and deallocation and reallocation receive the same
//! size, so every block is freed by the allocator that made it.

use std::alloc::{GlobalAlloc, Layout};

/// Blocks of at least this many bytes go to the C library.
const BIG: usize = 1 << 20;

/// The C library's malloc guarantees this alignment.
const MALLOC_ALIGN: usize = 16;

/// See the module documentation.
pub struct Hybrid;

fn is_big(layout: &Layout) -> bool {
  layout.size() >= BIG && layout.align() <= MALLOC_ALIGN
}

// SAFETY: each block is allocated, resized and freed by the same underlying allocator (chosen
// by its size and alignment, which the caller passes unchanged for the same block); both
// underlying allocators honour the requested alignment (mimalloc for any, malloc up to 16).
unsafe impl GlobalAlloc for Hybrid {
  unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
    if is_big(&layout) {
      // SAFETY: malloc with any size is sound; null reports failure.
      unsafe { libc::malloc(layout.size()) as *mut u8 }
    } else {
      // SAFETY: forwarded with the caller's guarantees.
      unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
  }

  unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
    if is_big(&layout) {
      // SAFETY: calloc with any size is sound; null reports failure.
      unsafe { libc::calloc(layout.size(), 1) as *mut u8 }
    } else {
      // SAFETY: forwarded with the caller's guarantees.
      unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
  }

  unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
    if is_big(&layout) {
      // SAFETY: a big block came from malloc/calloc/realloc above.
      unsafe { libc::free(ptr as *mut libc::c_void) }
    } else {
      // SAFETY: a small block came from mimalloc.
      unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
  }

  unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    // SAFETY: the caller guarantees new_size is valid for the alignment.
    let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
    match (is_big(&layout), is_big(&new_layout)) {
      // SAFETY: the block came from malloc; realloc keeps 16-byte alignment.
      (true, true) => unsafe { libc::realloc(ptr as *mut libc::c_void, new_size) as *mut u8 },
      // SAFETY: the block came from mimalloc and stays there.
      (false, false) => unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) },
      _ => {
        // Crossing the threshold: move the block to the other allocator.
        // SAFETY: new_layout is valid (checked by the caller's contract).
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
          // SAFETY: both blocks are at least min(old, new) bytes and do not overlap.
          unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
          // SAFETY: the old block is freed by the allocator that made it.
          unsafe { self.dealloc(ptr, layout) };
        }
        new
      }
    }
  }
}
