//! An isolate's memory accounting, shared by its thread, its ArrayBuffer allocator and V8's
//! callbacks (see `isolate::limits`), and the backing stores the value conversions make
//! counted against it.

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Memory accounting shared by an isolate's thread, its allocator and V8's callbacks.
pub struct MemoryState {
  /// The configured limit in bytes.
  pub limit: usize,
  /// Bytes currently held by ArrayBuffer backing stores of this isolate.
  pub external: AtomicUsize,
  /// V8 heap bytes in use at the last GC (updated by the epilogue callback).
  pub heap_used: AtomicUsize,
  /// Set once the limit was exceeded; the isolate is then terminated and disposed.
  pub exceeded: AtomicBool,
  /// Head-room granted to V8 beyond its configured limit (reported stats subtract it).
  pub headroom: AtomicUsize,
  /// Terminates the isolate (set right after creation).
  pub handle: std::sync::OnceLock<v8::IsolateHandle>,
}

impl MemoryState {
  /// A new accounting state for a limit of `limit` bytes.
  pub fn new(limit: usize) -> Arc<MemoryState> {
    Arc::new(MemoryState {
      limit,
      external: AtomicUsize::new(0),
      heap_used: AtomicUsize::new(0),
      exceeded: AtomicBool::new(false),
      headroom: AtomicUsize::new(0),
      handle: std::sync::OnceLock::new(),
    })
  }

  /// Marks the limit as exceeded and terminates the running script.
  pub fn trip(&self) {
    self.exceeded.store(true, Ordering::SeqCst);
    if let Some(h) = self.handle.get() {
      h.terminate_execution();
    }
  }

  /// Whether `extra` more bytes would go over the limit.
  pub fn would_exceed(&self, extra: usize) -> bool {
    let total = self
      .external
      .load(Ordering::Relaxed)
      .saturating_add(self.heap_used.load(Ordering::Relaxed))
      .saturating_add(extra);
    total > self.limit
  }
}

unsafe extern "C" fn counted_free(data: *mut c_void, len: usize, deleter_data: *mut c_void) {
  crate::unwind::contain((), || {
    // SAFETY: `deleter_data` is the Arc leaked in `counted_store`, reclaimed exactly once here.
    let state = unsafe { Arc::from_raw(deleter_data as *const MemoryState) };
    state.external.fetch_sub(
      len.min(state.external.load(Ordering::Relaxed)),
      Ordering::Relaxed,
    );
    // SAFETY: `data` came from malloc in `counted_store`.
    unsafe { libc::free(data) };
  });
}

/// A backing store holding a copy of `bytes`, counted as external memory of the isolate, or
/// `None` when it would exceed the limit or allocation fails.
pub fn counted_store(
  state: &Arc<MemoryState>,
  bytes: &[u8],
) -> Option<v8::UniqueRef<v8::BackingStore>> {
  if state.would_exceed(bytes.len()) {
    return None;
  }
  // SAFETY: malloc of any size is sound; null is handled below.
  let ptr = unsafe { libc::malloc(bytes.len().max(1)) };
  if ptr.is_null() {
    return None;
  }
  // SAFETY: `ptr` has room for `bytes.len()` bytes and does not overlap `bytes`.
  unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr as *mut u8, bytes.len()) };
  state.external.fetch_add(bytes.len(), Ordering::Relaxed);
  let data = Arc::into_raw(state.clone()) as *mut c_void;
  // SAFETY: the pointer/length pair is valid until V8 calls `counted_free` with `data`.
  Some(unsafe { v8::ArrayBuffer::new_backing_store_from_ptr(ptr, bytes.len(), counted_free, data) })
}
