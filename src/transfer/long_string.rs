//! Long strings enter an isolate as external strings whose bytes count against its memory limit
//! until V8 collects them, as isolated-vm's do: one copy into memory outside the V8 heap (no
//! large-object page to map and fault in), reported in `externally_allocated_size`.
//!
//! Each buffer carries a header holding the isolate's [`MemoryState`], so the destructor V8
//! calls when it collects the string (with only the data pointer and length) can take the
//! bytes off that isolate's account.

use crate::transfer::memory::MemoryState;
use std::sync::Arc;

/// Strings of at least this many bytes (1024 one-byte or 512 two-byte units) are made
/// external, as isolated-vm does.
pub const MIN_BYTES: usize = 1024;

/// Room before the data for the `Arc<MemoryState>` pointer (16 keeps any data aligned).
const HEADER: usize = 16;

/// Copies `units` into a counted buffer and makes an external string of it; `None` when the
/// isolate has no memory state, the string is too long for V8, or allocation fails (the
/// caller then makes an ordinary string).
pub fn new<'s, T: Copy>(
  scope: &mut v8::PinScope<'s, '_>,
  units: &[T],
) -> Option<v8::Local<'s, v8::String>> {
  if units.len() > v8::String::MAX_LENGTH {
    return None;
  }
  let state = scope.get_slot::<Arc<MemoryState>>()?.clone();
  let bytes = std::mem::size_of_val(units);
  let data = allocate(state.clone(), units.as_ptr() as *const u8, bytes)?;
  let s = if std::mem::size_of::<T>() == 1 {
    // SAFETY: `data` holds `units.len()` bytes that stay valid until V8 calls the destructor,
    // which frees them exactly once.
    unsafe { v8::String::new_external_onebyte_raw(scope, data as *mut _, units.len(), free_one) }
  } else {
    // SAFETY: as above, with `units.len()` two-byte units at a 16-byte aligned address.
    unsafe { v8::String::new_external_twobyte_raw(scope, data as *mut u16, units.len(), free_two) }
  };
  match s {
    // SAFETY: V8 did not take the buffer: it is ours to give back, once.
    None => unsafe { release(data, bytes) },
    Some(_) => state.collect_if_over(scope),
  }
  s
}

/// A header plus a copy of `len` bytes at `src`, counted as external memory of `state`.
fn allocate(state: Arc<MemoryState>, src: *const u8, len: usize) -> Option<*mut u8> {
  // SAFETY: malloc of any size is sound; null is handled below.
  let base = unsafe { libc::malloc(HEADER + len) } as *mut u8;
  if base.is_null() {
    return None;
  }
  state.charge(len);
  // SAFETY: `base` has room for the header and `len` bytes; `src` holds `len` bytes and does
  // not overlap the new allocation. malloc's alignment suits the pointer written first.
  unsafe {
    (base as *mut *const MemoryState).write(Arc::into_raw(state));
    std::ptr::copy_nonoverlapping(src, base.add(HEADER), len);
    Some(base.add(HEADER))
  }
}

/// Takes `len` bytes at `data` off the account and frees the buffer.
///
/// # Safety
/// `data` was returned by [`allocate`] for `len` bytes and is released once.
unsafe fn release(data: *mut u8, len: usize) {
  crate::unwind::contain((), || {
    // SAFETY: per the contract, `data` is HEADER bytes into a buffer from `allocate`, whose
    // header holds the Arc leaked there; both are reclaimed exactly once, here.
    unsafe {
      let base = data.sub(HEADER);
      let state = Arc::from_raw((base as *const *const MemoryState).read());
      state.uncharge(len);
      libc::free(base as *mut libc::c_void);
    }
  });
}

/// V8's destructor of a one-byte string made in [`new`].
unsafe extern "C" fn free_one(data: *mut std::ffi::c_char, len: usize) {
  // SAFETY: V8 calls this once, with the buffer and length it was given in `new`.
  unsafe { release(data as *mut u8, len) };
}

/// V8's destructor of a two-byte string made in [`new`] (`len` in units).
unsafe extern "C" fn free_two(data: *mut u16, len: usize) {
  // SAFETY: as in `free_one`.
  unsafe { release(data as *mut u8, len * 2) };
}
