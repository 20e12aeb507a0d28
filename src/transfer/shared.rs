//! SharedArrayBuffer memory shared between the host and isolates (SPEC §2.2: SharedArrayBuffers
//! stay shared). A [`SharedMemory`] is the memory of one SharedArrayBuffer plus whatever keeps it
//! alive (a V8 backing store, or a host table entry holding Node's SharedArrayBuffer). Every
//! isolate that receives it wraps the same memory in its own SharedArrayBuffer; a process-wide
//! registry maps memory back to its `SharedMemory`, so a buffer sent back to where it came from
//! is the original object again.

use crate::transfer::memory::MemoryState;
use parking_lot::Mutex;
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};

/// The memory of a SharedArrayBuffer and its keeper.
pub struct SharedMemory {
  ptr: usize,
  len: usize,
  /// Where the memory comes from; keeps it alive (dropped last, possibly on any thread).
  pub owner: Owner,
}

/// What a [`SharedMemory`] comes from and is kept alive by.
pub enum Owner {
  /// A V8 backing store (a guest's SharedArrayBuffer).
  Guest(BackingStoreOwner),
  /// A SharedArrayBuffer of a Node environment, held by a host table entry.
  Node {
    /// The environment (as `HostRef::env_key` identifies it).
    env_key: usize,
    /// The host table entry holding the buffer.
    id: u32,
    /// Keeps the entry alive (its `HostRef`; only ever dropped).
    keep: Box<dyn Any + Send + Sync>,
  },
}

impl std::fmt::Debug for SharedMemory {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    write!(f, "SharedMemory({} bytes)", self.len)
  }
}

fn registry() -> &'static Mutex<HashMap<usize, Weak<SharedMemory>>> {
  static R: OnceLock<Mutex<HashMap<usize, Weak<SharedMemory>>>> = OnceLock::new();
  R.get_or_init(|| Mutex::new(HashMap::new()))
}

impl SharedMemory {
  /// The `SharedMemory` already known for memory at `ptr`, or a new one kept alive by the
  /// owner `make` returns.
  pub fn for_memory(
    ptr: usize,
    len: usize,
    make: impl FnOnce() -> Result<Owner, crate::transfer::thrown::Thrown>,
  ) -> Result<Arc<SharedMemory>, crate::transfer::thrown::Thrown> {
    if ptr != 0 {
      if let Some(m) = registry().lock().get(&ptr).and_then(Weak::upgrade) {
        if m.len == len {
          return Ok(m);
        }
      }
    }
    let m = Arc::new(SharedMemory {
      ptr,
      len,
      owner: make()?,
    });
    if ptr != 0 {
      registry().lock().insert(ptr, Arc::downgrade(&m));
    }
    Ok(m)
  }

  /// Start of the memory.
  pub fn ptr(&self) -> *mut u8 {
    self.ptr as *mut u8
  }

  /// Length in bytes.
  pub fn len(&self) -> usize {
    self.len
  }

  /// True for an empty buffer.
  pub fn is_empty(&self) -> bool {
    self.len == 0
  }
}

impl Drop for SharedMemory {
  fn drop(&mut self) {
    let mut r = registry().lock();
    if r.get(&self.ptr).is_some_and(|w| w.strong_count() == 0) {
      r.remove(&self.ptr);
    }
  }
}

/// A V8 backing store as the keeper of shared memory. It only keeps the store alive: nothing
/// can reach the store through it.
pub struct BackingStoreOwner {
  _store: v8::SharedRef<v8::BackingStore>,
}

// SAFETY: the backing store of a SharedArrayBuffer is made to be used from several isolates and
// threads; `SharedRef` is a `std::shared_ptr`, whose reference count is atomic, so it may be
// dropped on any thread.
unsafe impl Send for BackingStoreOwner {}
// SAFETY: the field is private and never read, so a `&BackingStoreOwner` gives access to nothing.
unsafe impl Sync for BackingStoreOwner {}

/// The `SharedMemory` of a guest SharedArrayBuffer.
pub fn of_guest(
  sab: v8::Local<v8::SharedArrayBuffer>,
) -> Result<Arc<SharedMemory>, crate::transfer::thrown::Thrown> {
  let store = sab.get_backing_store();
  let ptr = store.data().map(|p| p.as_ptr() as usize).unwrap_or(0);
  let len = store.byte_length();
  SharedMemory::for_memory(ptr, len, move || {
    Ok(Owner::Guest(BackingStoreOwner { _store: store }))
  })
}

/// What an isolate's SharedArrayBuffer over shared memory holds: the memory, and the account
/// of the isolate its length is charged to.
struct Keeper {
  mem: Arc<SharedMemory>,
  charged: Option<Arc<MemoryState>>,
}

extern "C" fn release(_data: *mut std::ffi::c_void, _len: usize, keeper: *mut std::ffi::c_void) {
  crate::unwind::contain((), || {
    // SAFETY: `keeper` is the Box leaked in `to_guest`, released exactly once by V8.
    let keeper = unsafe { Box::from_raw(keeper as *mut Keeper) };
    if let Some(state) = &keeper.charged {
      let len = keeper.mem.len();
      state.uncharge(len);
    }
  });
}

/// A SharedArrayBuffer of the current isolate over `mem`. Its length counts as external memory
/// of the isolate until V8 lets go of it, each time it arrives (as isolated-vm charges every
/// SharedArrayBuffer copied in, even memory the isolate already has).
pub fn to_guest<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  mem: &Arc<SharedMemory>,
) -> v8::Local<'s, v8::SharedArrayBuffer> {
  let account = scope.get_slot::<Arc<MemoryState>>().cloned();
  if let Some(state) = &account {
    state.charge(mem.len());
  }
  let keeper = Box::into_raw(Box::new(Keeper {
    mem: mem.clone(),
    charged: account.clone(),
  })) as *mut std::ffi::c_void;
  // SAFETY: the memory stays valid while `keeper` holds the SharedMemory, and V8 calls
  // `release` once when its last SharedArrayBuffer over it is gone.
  let store = unsafe {
    v8::SharedArrayBuffer::new_backing_store_from_ptr(
      mem.ptr() as *mut std::ffi::c_void,
      mem.len(),
      release,
      keeper,
    )
  };
  let sab = v8::SharedArrayBuffer::with_backing_store(scope, &store.make_shared());
  if let Some(state) = account {
    state.collect_if_over(scope);
  }
  sab
}
