//! An isolate's memory accounting, shared by its thread, its ArrayBuffer allocator and V8's
//! callbacks (see `isolate::limits`), and the backing stores the value conversions make
//! counted against it.
//!
//! What counts is what isolated-vm counts: V8's used heap plus the external memory the isolate
//! holds (ArrayBuffer backing stores, WebAssembly memory), against the configured limit plus
//! the room V8 reserves for its young generation on top of it ([`MemoryState::threshold`]).

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

/// Memory accounting shared by an isolate's thread, its allocator and V8's callbacks.
pub struct MemoryState {
  /// The configured limit in bytes (V8's old-generation limit).
  pub limit: usize,
  /// The limit the accounting is held to: `limit` plus V8's young generation (set once the
  /// isolate exists, from its initial `heap_size_limit`).
  pub threshold: AtomicUsize,
  /// Bytes currently held by ArrayBuffer backing stores of this isolate.
  pub external: AtomicUsize,
  /// External memory V8 itself reports at the last GC (WebAssembly memory among it), beyond
  /// the backing stores counted in `external`.
  pub external_v8: AtomicUsize,
  /// V8 heap bytes in use at the last GC (updated by the epilogue callback).
  pub heap_used: AtomicUsize,
  /// Set once the limit was exceeded; the isolate is then terminated and disposed.
  pub exceeded: AtomicBool,
  /// Head-room granted to V8 beyond its configured limit (reported stats subtract it).
  pub headroom: AtomicUsize,
  /// How often V8's heap limit was raised since the last GC that found the isolate under its
  /// threshold.
  pub raises: AtomicU32,
  /// The allocator refused its last backing store: a near-heap-limit call meanwhile comes
  /// from V8's last-resort GC for that allocation (V8 retries it after GCs), not from a full
  /// heap. Cleared when an allocation succeeds.
  pub refused: AtomicBool,
  /// A full GC and a check of the limit are due (a mark-compact ended over the threshold).
  pub check_due: AtomicBool,
  /// A full GC found the isolate over its threshold while ArrayBuffers were counted: V8 frees
  /// the buffers a collection found dead only after it (its sweeper finishes at the start of
  /// the next one), so the decision waits for one more full GC ([`MemoryState::collect_fully`]).
  pub second_look: AtomicBool,
  /// Terminates the isolate (set right after creation); never used once `lost` is set.
  pub handle: std::sync::OnceLock<v8::IsolateHandle>,
  /// Set once a catastrophe (a V8 fatal error) took the isolate: it is never locked, freed,
  /// interrupted or terminated again (V8's interrupt bookkeeping may point into abandoned
  /// stack frames; see `isolate::catastrophe`).
  pub lost: AtomicBool,
}

impl MemoryState {
  /// A new accounting state for a limit of `limit` bytes.
  pub fn new(limit: usize) -> Arc<MemoryState> {
    Arc::new(MemoryState {
      limit,
      threshold: AtomicUsize::new(limit),
      external: AtomicUsize::new(0),
      external_v8: AtomicUsize::new(0),
      heap_used: AtomicUsize::new(0),
      exceeded: AtomicBool::new(false),
      headroom: AtomicUsize::new(0),
      raises: AtomicU32::new(0),
      refused: AtomicBool::new(false),
      check_due: AtomicBool::new(false),
      second_look: AtomicBool::new(false),
      handle: std::sync::OnceLock::new(),
      lost: AtomicBool::new(false),
    })
  }

  /// Marks the limit as exceeded and terminates the running script.
  pub fn trip(&self) {
    self.exceeded.store(true, Ordering::SeqCst);
    self.terminate();
  }

  /// Terminates the isolate's running script (any thread), unless the isolate was lost.
  pub fn terminate(&self) {
    if let Some(h) = self
      .handle
      .get()
      .filter(|_| !self.lost.load(Ordering::SeqCst))
    {
      h.terminate_execution();
    }
  }

  /// Asks V8 to run `callback` with `data` at the isolate's next interrupt check (any
  /// thread), unless the isolate was lost; returns whether it was queued.
  pub fn request_interrupt(
    &self,
    callback: unsafe extern "C" fn(v8::UnsafeRawIsolatePtr, *mut c_void),
    data: *mut c_void,
  ) -> bool {
    match self
      .handle
      .get()
      .filter(|_| !self.lost.load(Ordering::SeqCst))
    {
      Some(h) => h.request_interrupt(callback, data),
      None => false,
    }
  }

  /// The memory counted against the limit, as of the last GC plus the backing stores made
  /// since.
  pub fn counted(&self) -> usize {
    self
      .heap_used
      .load(Ordering::Relaxed)
      .saturating_add(self.external.load(Ordering::Relaxed))
      .saturating_add(self.external_v8.load(Ordering::Relaxed))
  }

  /// Whether `extra` more bytes would go over the threshold.
  pub fn would_exceed(&self, extra: usize) -> bool {
    self.counted().saturating_add(extra) > self.threshold.load(Ordering::Relaxed)
  }

  /// Counts `len` more bytes of external memory (any thread).
  pub fn charge(&self, len: usize) {
    self.external.fetch_add(len, Ordering::Relaxed);
  }

  /// Takes `len` bytes of external memory off the account (any thread; never below zero).
  pub fn uncharge(&self, len: usize) {
    let _ = self
      .external
      .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
        Some(n.saturating_sub(len))
      });
  }

  /// After charged memory arrived in `isolate` (locked by this thread): over the limit now, a
  /// full GC decides on what is alive (its epilogue disposes the isolate if that is still too
  /// much), as V8 does for external memory it is told about.
  pub fn collect_if_over(&self, isolate: &mut v8::Isolate) {
    if self.would_exceed(0) {
      self.collect_fully(isolate);
    }
  }

  /// Runs a full GC in `isolate` (locked by this thread) whose epilogue decides on the limit,
  /// and a second one when the first asked for a second look ([`MemoryState::second_look`]:
  /// ArrayBuffers it found dead were still counted).
  pub fn collect_fully(&self, isolate: &mut v8::Isolate) {
    isolate.low_memory_notification();
    if self.second_look.load(Ordering::SeqCst) && !self.exceeded.load(Ordering::SeqCst) {
      isolate.low_memory_notification();
    }
  }

  /// Records that the allocator refused a backing store (see [`MemoryState::refused`]).
  pub fn refuse(&self) {
    self.refused.store(true, Ordering::SeqCst);
  }
}

unsafe extern "C" fn counted_free(data: *mut c_void, len: usize, deleter_data: *mut c_void) {
  crate::unwind::contain((), || {
    // SAFETY: `deleter_data` is the Arc leaked in `counted_store`, reclaimed exactly once here.
    let state = unsafe { Arc::from_raw(deleter_data as *const MemoryState) };
    state.uncharge(len);
    // SAFETY: `data` came from malloc in `counted_store`.
    unsafe { libc::free(data) };
  });
}

/// A backing store holding a copy of `bytes`, counted as external memory of the isolate, or
/// `None` when it does not fit under the limit or allocation fails. Before refusing, a full
/// GC runs (garbage buffers count until collected), and the decision is taken on what is
/// still alive. `isolate` is the isolate `state` belongs to, locked by this thread.
pub fn counted_store(
  isolate: &mut v8::Isolate,
  state: &Arc<MemoryState>,
  bytes: &[u8],
) -> Option<v8::UniqueRef<v8::BackingStore>> {
  if state.would_exceed(bytes.len()) {
    state.collect_fully(isolate);
    if state.would_exceed(bytes.len()) {
      return None;
    }
  }
  // SAFETY: malloc of any size is sound; null is handled below.
  let ptr = unsafe { libc::malloc(bytes.len().max(1)) };
  if ptr.is_null() {
    return None;
  }
  // SAFETY: `ptr` has room for `bytes.len()` bytes and does not overlap `bytes`.
  unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr as *mut u8, bytes.len()) };
  state.charge(bytes.len());
  let data = Arc::into_raw(state.clone()) as *mut c_void;
  // SAFETY: the pointer/length pair is valid until V8 calls `counted_free` with `data`.
  Some(unsafe { v8::ArrayBuffer::new_backing_store_from_ptr(ptr, bytes.len(), counted_free, data) })
}
