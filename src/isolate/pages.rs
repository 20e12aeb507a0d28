//! Fresh chunks of V8's heap held to the isolate's memory limit.
//!
//! V8 checks its old generation's limit before it maps a chunk for a large object there, but
//! its young generation admits its first large object whatever the size: a dictionary's
//! growth, a string flattened to 256 MB, an array spread from a huge string. The memory is
//! mapped at once, far past the limit, and counted only at the next GC, when the process's
//! peak is already reached (`Array(1e9).fill(0)` at 16 MB jumped by 24 MB in one step;
//! `'x'.repeat(2 ** 28).indexOf('y')` by 256 MB, and completed).
//!
//! This library is linked with `--wrap=mmap64` (`build.rs`, Linux with glibc): V8's page
//! allocator in this library maps through [`__wrap_mmap64`] (Node's own V8 is untouched). A
//! fresh anonymous writable mapping of at least [`CHUNK`] bytes, asked for while the thread
//! runs V8 work for a guest isolate, is refused (`ENOMEM`) when what the isolate holds plus
//! the chunk would pass twice its limit ([`limits::admits_chunk`]). V8 then collects and asks
//! again (the collection's epilogue refreshes the figures); if it still does not fit, V8
//! reports a fatal out-of-memory, which is contained to the isolate ([`super::catastrophe`]):
//! the isolate's heap stays allocated, so the rule leaves alone what isolated-vm lets a
//! program do (live data under the limit plus one temporary object as large as the limit),
//! and a chunk that fits ends, at worst, in the usual termination after the next GC.
//!
//! Smaller mappings (V8's regular 256 KiB pages) are left to V8's own limit, which holds for
//! them; mappings of files, shared memory and reservations without access are not heap
//! chunks and pass untouched, as does every mapping outside a guest's V8 work. Only callers
//! of the `mmap64` symbol come here: V8's platform layer and a few C libraries bundled with
//! it (whose mappings are files or small). Rust's own code and mimalloc call `mmap`, which is
//! not wrapped; a bundled C library built with 64-bit file offsets that mapped big anonymous
//! writable memory inside a guest's V8 work would be refused too.

use super::catastrophe;
use super::limits;
use std::ffi::{c_int, c_void};

/// Mappings of at least this many bytes are V8 large-object chunks that the limit checks.
pub const CHUNK: usize = 1 << 20;

/// An address as `mmap64` takes and returns it.
type Ptr = *mut c_void;

unsafe extern "C" {
  /// The C library's `mmap64` (the linker resolves `__real_mmap64` to it under `--wrap`).
  fn __real_mmap64(a: Ptr, n: usize, p: c_int, f: c_int, fd: c_int, o: libc::off64_t) -> Ptr;
}

/// Whether a mapping request is a fresh chunk of a guest's heap that does not fit its isolate.
fn refused(len: usize, prot: c_int, flags: c_int, fd: c_int) -> bool {
  let chunk = len >= CHUNK
    && prot & libc::PROT_WRITE != 0
    && flags & libc::MAP_ANONYMOUS != 0
    && flags & libc::MAP_SHARED == 0
    && fd == -1;
  chunk && catastrophe::with_innermost_memory(|m| !limits::admits_chunk(m, len)).unwrap_or(false)
}

/// Every `mmap64` call of this library's V8 comes here first (see the module documentation).
///
/// # Safety
/// The contract of `mmap64`: the arguments are passed on unchanged unless refused.
#[no_mangle]
pub unsafe extern "C" fn __wrap_mmap64(
  addr: *mut c_void,
  len: usize,
  prot: c_int,
  flags: c_int,
  fd: c_int,
  offset: libc::off64_t,
) -> *mut c_void {
  if refused(len, prot, flags, fd) {
    // SAFETY: errno is this thread's own.
    unsafe { *libc::__errno_location() = libc::ENOMEM };
    return libc::MAP_FAILED;
  }
  // SAFETY: forwarded with the caller's guarantees.
  unsafe { __real_mmap64(addr, len, prot, flags, fd, offset) }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn only_fresh_anonymous_writable_chunks_are_checked() {
    let anon = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    // Outside any guest's V8 work, nothing is refused.
    assert!(!refused(1 << 30, rw, anon, -1));
    // The wrapper maps as mmap64 does.
    // SAFETY: a fresh private anonymous mapping, unmapped right after.
    let p = unsafe { __wrap_mmap64(std::ptr::null_mut(), CHUNK, rw, anon, -1, 0) };
    assert_ne!(p, libc::MAP_FAILED);
    // SAFETY: the mapping made above.
    assert_eq!(unsafe { libc::munmap(p, CHUNK) }, 0);
  }
}
