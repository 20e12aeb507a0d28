//! Hard memory limits: a counting ArrayBuffer allocator, the near-heap-limit callback and a
//! GC-epilogue check. None of these callbacks runs JavaScript, and none lets a panic escape
//! (each body runs under [`crate::unwind::contain`]).
//!
//! The accounting itself, [`MemoryState`], lives in `transfer::memory` (the value conversions
//! count the ArrayBuffers they make against it) and is re-exported here for the isolate's side.

pub use crate::transfer::memory::MemoryState;
use std::ffi::c_void;
use std::sync::atomic::Ordering;
use std::sync::Arc;

unsafe extern "C" fn allocate(state: &MemoryState, len: usize) -> *mut c_void {
  crate::unwind::contain(std::ptr::null_mut(), || allocate_zeroed(state, len))
}

fn allocate_zeroed(state: &MemoryState, len: usize) -> *mut c_void {
  if state.would_exceed(len) {
    if len <= 64 {
      // SPEC §2.10: tiny backing stores over the limit terminate the isolate instead.
      state.trip();
    }
    return std::ptr::null_mut();
  }
  // SAFETY: calloc with any size is sound; a null return is passed on to V8, which reports
  // "Array buffer allocation failed".
  let ptr = unsafe { libc::calloc(len.max(1), 1) };
  if !ptr.is_null() {
    state.external.fetch_add(len, Ordering::Relaxed);
  }
  ptr
}

unsafe extern "C" fn allocate_uninitialized(state: &MemoryState, len: usize) -> *mut c_void {
  crate::unwind::contain(std::ptr::null_mut(), || allocate_raw(state, len))
}

fn allocate_raw(state: &MemoryState, len: usize) -> *mut c_void {
  if state.would_exceed(len) {
    if len <= 64 {
      state.trip();
    }
    return std::ptr::null_mut();
  }
  // SAFETY: malloc with any size is sound.
  let ptr = unsafe { libc::malloc(len.max(1)) };
  if !ptr.is_null() {
    state.external.fetch_add(len, Ordering::Relaxed);
  }
  ptr
}

unsafe extern "C" fn free(state: &MemoryState, data: *mut c_void, len: usize) {
  crate::unwind::contain((), || {
    state.external.fetch_sub(
      len.min(state.external.load(Ordering::Relaxed)),
      Ordering::Relaxed,
    );
    // SAFETY: `data` came from our malloc/calloc above (V8 frees only what this allocator made).
    unsafe { libc::free(data) };
  });
}

unsafe extern "C" fn drop_state(state: *const MemoryState) {
  crate::unwind::contain((), || {
    // SAFETY: the pointer was produced by Arc::into_raw in `allocator` and is dropped once.
    drop(unsafe { Arc::from_raw(state) });
  });
}

static VTABLE: v8::RustAllocatorVtable<MemoryState> = v8::RustAllocatorVtable {
  allocate,
  allocate_uninitialized,
  free,
  drop: drop_state,
};

/// Builds the counting allocator for an isolate.
pub fn allocator(state: &Arc<MemoryState>) -> v8::UniqueRef<v8::Allocator> {
  let raw = Arc::into_raw(state.clone());
  // SAFETY: `raw` is a valid MemoryState kept alive until V8 calls `drop_state`, and the vtable
  // functions take exactly that type.
  unsafe { v8::new_rust_allocator(raw, &VTABLE) }
}

/// Near-heap-limit callback: records the overrun, terminates, and grants head-room so that V8
/// does not abort the process while the termination unwinds.
///
/// V8 also calls it after every last-resort GC (for instance when an oversized ArrayBuffer
/// could not be allocated); then the heap is not actually near its limit and nothing happens,
/// so that allocation fails with a catchable RangeError instead.
///
/// # Safety
/// Called by V8 only, with `data` the isolate's `MemoryState` pointer.
pub unsafe extern "C" fn near_heap_limit(
  data: *mut c_void,
  current: usize,
  _initial: usize,
) -> usize {
  // SAFETY: `data` is the MemoryState pointer registered by the runtime, which keeps it alive
  // for as long as the isolate exists.
  let state = unsafe { &*(data as *const MemoryState) };
  crate::unwind::contain(current, || grant_headroom(state, current))
}

/// The body of [`near_heap_limit`].
fn grant_headroom(state: &MemoryState, current: usize) -> usize {
  // The GC that precedes this call has just refreshed `heap_used` in the epilogue.
  let used = state.heap_used.load(Ordering::Relaxed);
  let over = used.saturating_add(state.external.load(Ordering::Relaxed)) > state.limit;
  let near = used as f64 > current as f64 * 0.8;
  if !over && !near {
    return current;
  }
  state.trip();
  // Generous head-room: the isolate is being terminated anyway, and a single large allocation
  // in flight (a spread into a huge array) must not exceed it, or V8 aborts the process.
  let grant = current.clamp(1 << 30, 4 << 30);
  state.headroom.fetch_add(grant, Ordering::Relaxed);
  current + grant
}

/// GC epilogue: refreshes the heap figure the allocator uses and enforces the limit.
///
/// # Safety
/// Called by V8 only, on the isolate's thread, with `data` the isolate's `MemoryState` pointer.
pub unsafe extern "C" fn gc_epilogue(
  isolate: v8::UnsafeRawIsolatePtr,
  _type: v8::GCType,
  _flags: v8::GCCallbackFlags,
  data: *mut c_void,
) {
  // SAFETY: as in `near_heap_limit`.
  let state = unsafe { &*(data as *const MemoryState) };
  // SAFETY: V8 passes the live isolate that is running this GC, on its own thread.
  let mut isolate = unsafe { v8::Isolate::from_raw_isolate_ptr_unchecked(isolate) };
  crate::unwind::contain((), || {
    let stats = isolate.get_heap_statistics();
    let used = stats.used_heap_size();
    state.heap_used.store(used, Ordering::Relaxed);
    let total = used.saturating_add(state.external.load(Ordering::Relaxed));
    if total > state.limit {
      state.trip();
    }
  });
}
