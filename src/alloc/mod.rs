//! The global allocator: mimalloc for everything small, the C library's malloc for big blocks,
//! a mapping of its own for each huge one.
//!
//! Values and jobs are allocated on one thread and freed on another all the time; glibc's
//! malloc then contends for arena locks (a futex sleep and wake-up per guest → host call), and
//! mimalloc frees across threads without a lock. Big blocks (serialised copies, ArrayBuffer
//! contents) stay with glibc: it keeps reusing freed heap memory for them, while mimalloc maps
//! fresh pages for each and pays a page fault per 4 KiB on first touch. Huge blocks (4 MiB and
//! up) get their own mapping with transparent huge pages ([`huge`]).
//!
//! A block's size picks its allocator, and deallocation and reallocation receive the same
//! size, so every block is freed by the allocator that made it.

use std::alloc::{GlobalAlloc, Layout};

mod huge;

pub use huge::advise_huge_pages;

/// Blocks of at least this many bytes go to the C library.
const BIG: usize = 1 << 20;

/// The C library's malloc guarantees this alignment.
const MALLOC_ALIGN: usize = 16;

/// See the module documentation.
pub struct Hybrid;

/// Which allocator serves a block.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
  Small,
  Big,
  Huge,
}

fn kind(layout: &Layout) -> Kind {
  // Mappings are page aligned, which covers malloc's alignment.
  if layout.align() > MALLOC_ALIGN || layout.size() < BIG {
    Kind::Small
  } else if layout.size() < huge::FROM {
    Kind::Big
  } else {
    Kind::Huge
  }
}

// SAFETY: each block is allocated, resized and freed by the same underlying allocator (chosen
// by its size and alignment, which the caller passes unchanged for the same block); each
// underlying allocator honours the requested alignment (mimalloc any, malloc up to 16,
// mappings a page).
unsafe impl GlobalAlloc for Hybrid {
  unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
    match kind(&layout) {
      // SAFETY: forwarded with the caller's guarantees.
      Kind::Small => unsafe { mimalloc::MiMalloc.alloc(layout) },
      // SAFETY: malloc with any size is sound; null reports failure.
      Kind::Big => unsafe { libc::malloc(layout.size()) as *mut u8 },
      Kind::Huge => huge::alloc(layout.size(), false),
    }
  }

  unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
    match kind(&layout) {
      // SAFETY: forwarded with the caller's guarantees.
      Kind::Small => unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) },
      // SAFETY: calloc with any size is sound; null reports failure.
      Kind::Big => unsafe { libc::calloc(layout.size(), 1) as *mut u8 },
      Kind::Huge => huge::alloc(layout.size(), true),
    }
  }

  unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
    match kind(&layout) {
      // SAFETY: a small block came from mimalloc.
      Kind::Small => unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) },
      // SAFETY: a big block came from malloc/calloc/realloc above.
      Kind::Big => unsafe { libc::free(ptr as *mut libc::c_void) },
      // SAFETY: a huge block came from huge::alloc/realloc with this size.
      Kind::Huge => unsafe { huge::dealloc(ptr, layout.size()) },
    }
  }

  unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    // SAFETY: the caller guarantees new_size is valid for the alignment.
    let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
    match (kind(&layout), kind(&new_layout)) {
      // SAFETY: the block came from mimalloc and stays there.
      (Kind::Small, Kind::Small) => unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) },
      // SAFETY: the block came from malloc; realloc keeps 16-byte alignment.
      (Kind::Big, Kind::Big) => unsafe {
        libc::realloc(ptr as *mut libc::c_void, new_size) as *mut u8
      },
      // SAFETY: the block came from huge::alloc/realloc with the old size.
      (Kind::Huge, Kind::Huge) => unsafe { huge::realloc(ptr, layout.size(), new_size) },
      _ => {
        // Crossing a threshold: move the block to the other allocator.
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
