//! Huge blocks: their own memory mapping, aligned to 2 MiB and marked for transparent huge
//! pages.
//!
//! A multi-megabyte block (an ArrayBuffer's contents on its way between isolates) is written
//! in full right after it is allocated. From the C library's malloc it costs a page fault per
//! 4 KiB on first touch (its heap is trimmed back to the kernel when such a block is freed),
//! which costs more than the copy itself; with huge pages it is one fault per 2 MiB. Growing a
//! block moves its pages (`mremap`) instead of copying them. Where the kernel has transparent
//! huge pages off, this is a plain mapping and behaves like malloc's own for big blocks.
//!
//! Freed blocks, up to [`KEEP_BYTES`] in all, are kept mapped and handed out again: a fresh
//! mapping costs the kernel zeroing every page on first touch, a kept one costs nothing. glibc
//! keeps up to the same amount of freed heap before it trims.

use std::ptr::null_mut;
use std::sync::{Mutex, MutexGuard};

/// Blocks of at least this many bytes get a mapping of their own.
pub const FROM: usize = 4 << 20;

const HUGE_PAGE: usize = 2 << 20;
const PAGE: usize = 4 << 10;

/// Freed blocks kept for reuse hold at most this many bytes in all.
const KEEP_BYTES: usize = 64 << 20;

/// Freed blocks kept for reuse: (address, mapped length); length 0 marks a free slot.
static KEPT: Mutex<[(usize, usize); 4]> = Mutex::new([(0, 0); 4]);

fn kept() -> MutexGuard<'static, [(usize, usize); 4]> {
  // Nothing panics while the lock is held; a poisoned lock still holds consistent slots.
  KEPT.lock().unwrap_or_else(|e| e.into_inner())
}

fn round_up(n: usize, to: usize) -> usize {
  n.div_ceil(to) * to
}

/// Takes the smallest kept block of at least `len` bytes, cut down to `len`.
fn reuse(len: usize) -> Option<*mut u8> {
  let (addr, have) = {
    let mut slots = kept();
    let slot = slots
      .iter_mut()
      .filter(|s| s.1 >= len)
      .min_by_key(|s| s.1)?;
    std::mem::take(slot)
  };
  if have > len {
    // SAFETY: the tail beyond `len` belongs to the kept block, which nobody else holds.
    unsafe { libc::munmap((addr + len) as *mut libc::c_void, have - len) };
  }
  Some(addr as *mut u8)
}

/// A mapping of at least `size` bytes whose start is 2 MiB aligned (when fresh), or null;
/// zero-filled when `zeroed`.
pub fn alloc(size: usize, zeroed: bool) -> *mut u8 {
  let len = round_up(size, PAGE);
  if let Some(p) = reuse(len) {
    if zeroed {
      // SAFETY: the block is at least `len` writable bytes.
      unsafe { std::ptr::write_bytes(p, 0, len) };
    }
    return p;
  }
  fresh(len)
}

/// A new zero-filled mapping of `len` (a page multiple) bytes starting on a 2 MiB boundary, or
/// null.
fn fresh(len: usize) -> *mut u8 {
  let Some(reserve) = len.checked_add(HUGE_PAGE) else {
    return null_mut();
  };
  // SAFETY: an anonymous private mapping at an address of the kernel's choice touches no
  // existing memory.
  let raw = unsafe {
    libc::mmap(
      null_mut(),
      reserve,
      libc::PROT_READ | libc::PROT_WRITE,
      libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
      -1,
      0,
    )
  };
  if raw == libc::MAP_FAILED {
    return null_mut();
  }
  let raw = raw as usize;
  let start = round_up(raw, HUGE_PAGE);
  let end = start + len;
  // SAFETY: both ranges lie inside the mapping just made, outside the block handed out.
  unsafe {
    if start > raw {
      libc::munmap(raw as *mut libc::c_void, start - raw);
    }
    if raw + reserve > end {
      libc::munmap(end as *mut libc::c_void, raw + reserve - end);
    }
    // Advice only: refused (no THP support) it changes nothing.
    libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
  }
  start as *mut u8
}

/// Asks for transparent huge pages in the 2 MiB-aligned part of `len` bytes at `ptr` (memory
/// about to be written in full) when that is at least [`FROM`] bytes: the pages not touched yet
/// then fault in 2 MiB at a time. Advice only; the memory's contents and owner are unaffected.
pub fn advise_huge_pages(ptr: *mut u8, len: usize) {
  if len < FROM {
    return;
  }
  let start = round_up(ptr as usize, HUGE_PAGE);
  let end = (ptr as usize + len) / HUGE_PAGE * HUGE_PAGE;
  if end > start {
    // SAFETY: madvise(MADV_HUGEPAGE) changes no contents, only how untouched pages of this
    // range (inside the caller's block) are backed.
    unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
  }
}

/// Frees a block from [`alloc`] or [`realloc`] of `size` bytes: kept for reuse while there is
/// room, unmapped otherwise.
///
/// # Safety
/// `ptr` and `size` describe a live block from this module.
pub unsafe fn dealloc(ptr: *mut u8, size: usize) {
  let len = round_up(size, PAGE);
  {
    let mut slots = kept();
    let held: usize = slots.iter().map(|s| s.1).sum();
    if held + len <= KEEP_BYTES {
      if let Some(slot) = slots.iter_mut().find(|s| s.1 == 0) {
        *slot = (ptr as usize, len);
        return;
      }
    }
  }
  // SAFETY: the caller guarantees the mapping is this block's, of this rounded length.
  unsafe { libc::munmap(ptr as *mut libc::c_void, len) };
}

/// Resizes a block from [`alloc`] (moving its pages, not copying them), or null with the old
/// block untouched.
///
/// # Safety
/// `ptr` and `old` describe a live block from this module.
pub unsafe fn realloc(ptr: *mut u8, old: usize, new: usize) -> *mut u8 {
  let (old_len, new_len) = (round_up(old, PAGE), round_up(new, PAGE));
  // SAFETY: the caller guarantees the mapping; MREMAP_MAYMOVE leaves it intact on failure.
  let moved = unsafe {
    libc::mremap(
      ptr as *mut libc::c_void,
      old_len,
      new_len,
      libc::MREMAP_MAYMOVE,
    )
  };
  if moved == libc::MAP_FAILED {
    return null_mut();
  }
  // SAFETY: advice on the block's own new range.
  unsafe { libc::madvise(moved, new_len, libc::MADV_HUGEPAGE) };
  moved as *mut u8
}

#[cfg(test)]
mod tests {
  use super::*;

  const MIB: usize = 1 << 20;

  #[test]
  fn fresh_blocks_are_zeroed_aligned_and_writable() {
    let len = round_up(5 * MIB + 3, PAGE);
    let p = fresh(len);
    assert!(!p.is_null());
    assert_eq!(p as usize % HUGE_PAGE, 0);
    // SAFETY: the block has 5 MiB + 3 bytes.
    unsafe {
      assert_eq!(*p.add(5 * MIB + 2), 0);
      std::ptr::write_bytes(p, 7, len);
      dealloc(p, len);
    }
  }

  #[test]
  fn zeroed_blocks_stay_zeroed_when_reused_and_realloc_keeps_contents() {
    // Other tests may take kept blocks meanwhile, so reuse itself is not asserted; every block
    // handed out for a zeroed request must read as zeros whichever path served it.
    for _ in 0..4 {
      let p = alloc(6 * MIB, false);
      // SAFETY: 6 MiB block.
      unsafe {
        std::ptr::write_bytes(p, 0xAB, 6 * MIB);
        dealloc(p, 6 * MIB);
      }
      let z = alloc(6 * MIB, true);
      // SAFETY: 6 MiB block.
      let bytes = unsafe { std::slice::from_raw_parts(z, 6 * MIB) };
      assert!(bytes.iter().all(|&b| b == 0));
      // SAFETY: growing a live 6 MiB block to 9 MiB, then freeing it with its new size.
      unsafe {
        *z.add(6 * MIB - 1) = 42;
        let g = realloc(z, 6 * MIB, 9 * MIB);
        assert!(!g.is_null());
        assert_eq!(*g.add(6 * MIB - 1), 42);
        *g.add(9 * MIB - 1) = 1;
        dealloc(g, 9 * MIB);
      }
    }
  }

  #[test]
  fn at_most_keep_bytes_are_kept() {
    let blocks: Vec<_> = (0..6).map(|_| alloc(20 * MIB, false)).collect();
    for &p in &blocks {
      // SAFETY: each is a live 20 MiB block.
      unsafe { dealloc(p, 20 * MIB) };
    }
    let held: usize = kept().iter().map(|s| s.1).sum();
    assert!(held <= KEEP_BYTES, "{held} bytes kept");
  }

  #[test]
  fn huge_page_advice_leaves_contents_alone() {
    for (len, skew) in [(FROM - 1, 0), (FROM + 4099, 1), (9 * MIB, 3)] {
      let mut v = vec![0u8; len + skew];
      v[skew..]
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = (i % 251) as u8);
      let p = v[skew..].as_mut_ptr();
      advise_huge_pages(p, len);
      assert!(v[skew..]
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i % 251) as u8));
    }
  }
}
