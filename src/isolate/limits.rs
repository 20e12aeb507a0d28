//! Memory limits as isolated-vm draws them: V8's old generation is held to `memoryLimit` and
//! its young generation comes on top; V8's used heap plus external memory (ArrayBuffers,
//! WebAssembly memory) is held to that sum. A counting ArrayBuffer allocator refuses what does
//! not fit (a catchable `RangeError`); a full GC decides on live data before the isolate is
//! terminated and disposed; head-room granted to V8 near its limit is small and bounded, and a
//! heap that keeps growing past it (a builtin that never checks for interrupts) ends in a V8
//! fatal out-of-memory, which [`super::catastrophe`] contains to the isolate.
//!
//! None of these callbacks runs JavaScript, and none lets a panic escape (each body runs under
//! [`crate::unwind::contain`]). The accounting itself, [`MemoryState`], lives in
//! `transfer::memory` (the value conversions count the ArrayBuffers they make against it) and
//! is re-exported here for the isolate's side.

pub use crate::transfer::memory::MemoryState;
use std::ffi::c_void;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Backing stores up to this size are never refused: V8 materialises a small typed array's
/// on-heap buffer through the allocator where it cannot handle a failure, so over the limit
/// they are granted and the isolate is terminated instead (as isolated-vm does).
const TINY: usize = 64;

/// The young generation V8 gets on top of `limit` bytes of old generation: isolated-vm's
/// formula, 2^(10 + min(4, MB / 128)) KiB (1 MiB at 8 MB, 2 MiB at 128 MB, 16 MiB from 512 MB).
pub fn young_generation_bytes(limit: usize) -> usize {
  let mb = limit as f64 / (1024.0 * 1024.0);
  let kib = 2f64.powf(10.0 + (mb / 128.0).min(4.0));
  kib as usize * 1024
}

/// Head-room granted each time V8 reaches its heap limit (at most twice before the limit
/// holds): an eighth of the limit, at least 2 MiB.
fn step(limit: usize) -> usize {
  (limit / 8).max(2 << 20)
}

/// Whether a fresh chunk of `len` bytes for one of V8's large heap objects fits the isolate:
/// what is counted plus the chunk within twice the threshold. Live data under the limit plus
/// one temporary object as large as the threshold fits, as it does in isolated-vm (a copy of
/// the live data, a flattened string); a chunk past that is what only a runaway guest asks
/// for, and it is refused before it is mapped ([`super::pages`]), which keeps a guest's peak
/// within about twice its limit.
pub fn admits_chunk(state: &MemoryState, len: usize) -> bool {
  let room = state.threshold.load(Ordering::Relaxed).saturating_mul(2);
  state.counted().saturating_add(len) <= room
}

unsafe extern "C" fn allocate(state: &MemoryState, len: usize) -> *mut c_void {
  crate::unwind::contain(std::ptr::null_mut(), || backing_store(state, len, true))
}

unsafe extern "C" fn allocate_uninitialized(state: &MemoryState, len: usize) -> *mut c_void {
  crate::unwind::contain(std::ptr::null_mut(), || backing_store(state, len, false))
}

/// A backing store of `len` bytes, or null when it does not fit (V8 then runs a last-resort GC
/// and asks again before it throws "Array buffer allocation failed").
fn backing_store(state: &MemoryState, len: usize, zeroed: bool) -> *mut c_void {
  if state.would_exceed(len) {
    if len > TINY {
      state.refuse();
      return std::ptr::null_mut();
    }
    state.trip();
  }
  // SAFETY: calloc/malloc with any size is sound; a null return is passed on to V8, which
  // reports "Array buffer allocation failed".
  let ptr = unsafe {
    if zeroed {
      libc::calloc(len.max(1), 1)
    } else {
      libc::malloc(len.max(1))
    }
  };
  if !ptr.is_null() {
    state.charge(len);
    state.refused.store(false, Ordering::Relaxed);
  }
  ptr
}

unsafe extern "C" fn free(state: &MemoryState, data: *mut c_void, len: usize) {
  crate::unwind::contain((), || {
    state.uncharge(len);
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

/// Near-heap-limit callback. V8 calls it when a GC could not bring the heap under its limit,
/// and also from the last-resort GC that follows a refused ArrayBuffer (then nothing happens,
/// so that allocation fails with a catchable RangeError).
///
/// The first time, V8 gets a step of head-room and a full GC is requested, whose epilogue
/// decides on live data; the second time the isolate is terminated and V8 gets one more step
/// to unwind; after that the limit holds, and V8 reports a fatal out-of-memory, which is
/// contained to the isolate ([`super::catastrophe`]).
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
  if state.refused.swap(false, Ordering::SeqCst) {
    return current;
  }
  let grant = step(state.limit);
  match state.raises.fetch_add(1, Ordering::SeqCst) {
    0 => request_full_gc(state),
    1 => state.trip(),
    _ => {
      state.trip();
      return current;
    }
  }
  state.headroom.fetch_add(grant, Ordering::Relaxed);
  current + grant
}

/// Asks for a full GC at the isolate's next interrupt check (once until it ran).
fn request_full_gc(state: &MemoryState) {
  if state.check_due.swap(true, Ordering::SeqCst) {
    return;
  }
  let data = state as *const MemoryState as *mut c_void;
  let _ = state.request_interrupt(full_gc_interrupt, data);
}

unsafe extern "C" fn full_gc_interrupt(isolate: v8::UnsafeRawIsolatePtr, data: *mut c_void) {
  // SAFETY: V8 runs interrupts on the thread that holds the isolate, with the isolate entered;
  // `data` is the MemoryState the runtime keeps alive as long as the isolate.
  let mut isolate = unsafe { v8::Isolate::from_raw_isolate_ptr_unchecked(isolate) };
  // SAFETY: as above.
  let state = unsafe { &*(data as *const MemoryState) };
  crate::unwind::contain((), || check_now(&mut isolate, state));
}

/// Runs longer than this are measured when they end ([`measure`]): time enough to have
/// allocated past the limit without a GC (V8 checks its limit only when it collects).
pub const MEASURE_AFTER: std::time::Duration = std::time::Duration::from_millis(1);

/// Measures the heap now; over the limit, a full GC is due ([`check_now`] runs it). On the
/// isolate's lock holder only.
pub fn measure(isolate: &mut v8::Isolate, state: &MemoryState) {
  refresh(isolate, state);
  if state.counted() > state.threshold.load(Ordering::Relaxed) {
    state.check_due.store(true, Ordering::SeqCst);
  }
}

/// Runs the full GC a mark-compact asked for, if it is still due; its epilogue terminates the
/// isolate if what is alive is over the limit. On the isolate's lock holder only.
pub fn check_now(isolate: &mut v8::Isolate, state: &MemoryState) {
  if state.check_due.load(Ordering::SeqCst) && !state.exceeded.load(Ordering::SeqCst) {
    state.collect_fully(isolate);
    state.check_due.store(false, Ordering::SeqCst);
  }
}

/// Reads the used heap and V8's external memory into `state`.
fn refresh(isolate: &mut v8::Isolate, state: &MemoryState) {
  let stats = isolate.get_heap_statistics();
  state
    .heap_used
    .store(stats.used_heap_size(), Ordering::Relaxed);
  let ours = state.external.load(Ordering::Relaxed);
  let backing = stats.external_memory();
  state.external_v8.store(
    backing.saturating_sub(ours) + managed_external(isolate, backing),
    Ordering::Relaxed,
  );
}

/// External memory V8 accounts to the isolate outside its ArrayBuffers and external strings
/// (`backing`, what the heap statistics call external memory): WebAssembly memories (V8
/// accounts each through the `Managed` object of its `WebAssembly.Memory`, sized as the memory
/// grows) and other native objects V8 ties to heap objects (compiled WebAssembly code, `Intl`
/// objects). V8 keeps them in one total with the ArrayBuffers (the total that
/// `AdjustAmountOfExternalAllocatedMemory`, which this library never calls otherwise, returns);
/// taking `backing` off it leaves them, less the external strings' bytes (an undercount, never
/// an overcount).
fn managed_external(isolate: &mut v8::Isolate, backing: usize) -> usize {
  let total = usize::try_from(isolate.adjust_amount_of_external_allocated_memory(0)).unwrap_or(0);
  total.saturating_sub(backing)
}

/// Whether a full GC that found the isolate over its threshold leaves the decision to the next
/// one (`MemoryState::collect_fully` runs it): ArrayBuffers this collection found dead are
/// freed only after it, so while any are counted, the first such collection looks again.
fn wants_second_look(state: &MemoryState) -> bool {
  state.external.load(Ordering::Relaxed) > 0 && !state.second_look.swap(true, Ordering::SeqCst)
}

/// GC epilogue: refreshes the figures the allocator uses; after a mark-compact, enforces the
/// limit on what is alive (a full GC first, when this one was not) and, under the limit,
/// takes back the head-room granted near V8's limit.
///
/// # Safety
/// Called by V8 only, on the isolate's thread, with `data` the isolate's `MemoryState` pointer.
pub unsafe extern "C" fn gc_epilogue(
  isolate: v8::UnsafeRawIsolatePtr,
  kind: v8::GCType,
  flags: v8::GCCallbackFlags,
  data: *mut c_void,
) {
  // SAFETY: as in `near_heap_limit`.
  let state = unsafe { &*(data as *const MemoryState) };
  // SAFETY: V8 passes the live isolate that is running this GC, on its own thread.
  let mut isolate = unsafe { v8::Isolate::from_raw_isolate_ptr_unchecked(isolate) };
  crate::unwind::contain((), || after_gc(&mut isolate, state, kind, flags, data));
}

fn after_gc(
  isolate: &mut v8::Isolate,
  state: &MemoryState,
  kind: v8::GCType,
  flags: v8::GCCallbackFlags,
  data: *mut c_void,
) {
  refresh(isolate, state);
  if (kind.0 & v8::GCType::kGCTypeMarkSweepCompact.0) == 0 {
    return;
  }
  let full = v8::GCCallbackFlags::kGCCallbackFlagForced.0
    | v8::GCCallbackFlags::kGCCallbackFlagCollectAllAvailableGarbage.0;
  let over = state.counted() > state.threshold.load(Ordering::Relaxed);
  if over {
    if flags.0 & full == 0 {
      request_full_gc(state);
    } else if !wants_second_look(state) {
      state.trip();
    }
    return;
  }
  state.second_look.store(false, Ordering::SeqCst);
  if state.raises.load(Ordering::SeqCst) != 0 && !state.exceeded.load(Ordering::SeqCst) {
    // Under the limit again: V8's heap limit goes back to the configured one (or the least
    // V8 accepts for the current heap), and the next approach starts over.
    isolate.remove_near_heap_limit_callback(near_heap_limit, state.limit);
    isolate.add_near_heap_limit_callback(near_heap_limit, data);
    state.raises.store(0, Ordering::SeqCst);
    state.headroom.store(0, Ordering::Relaxed);
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn young_generation_follows_isolated_vm() {
    const MB: usize = 1024 * 1024;
    assert_eq!(young_generation_bytes(128 * MB), 2 * MB);
    assert_eq!(young_generation_bytes(512 * MB), 16 * MB);
    assert_eq!(young_generation_bytes(4096 * MB), 16 * MB);
    let small = young_generation_bytes(8 * MB);
    assert!(small > MB && small < MB + MB / 8, "{small}");
  }

  #[test]
  fn head_room_steps_are_small_and_bounded_below() {
    const MB: usize = 1024 * 1024;
    assert_eq!(step(8 * MB), 2 * MB);
    assert_eq!(step(128 * MB), 16 * MB);
  }

  #[test]
  fn a_chunk_fits_within_twice_the_threshold() {
    const MB: usize = 1024 * 1024;
    let state = MemoryState::new(16 * MB);
    state.threshold.store(17 * MB, Ordering::Relaxed);
    state.heap_used.store(10 * MB, Ordering::Relaxed);
    assert!(admits_chunk(&state, 24 * MB));
    assert!(!admits_chunk(&state, 24 * MB + 1));
    state.charge(3 * MB);
    assert!(!admits_chunk(&state, 22 * MB));
    assert!(!admits_chunk(&state, usize::MAX));
  }
}
