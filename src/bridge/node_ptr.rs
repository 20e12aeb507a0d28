//! [`NodePtr`]: a Node-API handle carried across threads, for the few handle types that may be.
//!
//! Node-API handles are raw pointers, so Rust makes nothing that holds one `Send`. The bridge
//! has to move some of them between threads (a promise's deferred travels with its job to the
//! isolate's thread and back) without ever using them anywhere but on the owning environment's
//! thread. `NodePtr` is the one place that asserts this, and only for the handle types listed
//! by [`NodeHandle`]: a `napi_value` (valid only inside one handle scope) can never be wrapped.

use napi::sys;

mod sealed {
  /// Closes [`super::NodeHandle`] to the types implemented here.
  pub trait Sealed {}
}

/// A Node-API handle type that outlives a handle scope and may therefore be carried to another
/// thread and back: environments, references, promise deferreds and threadsafe functions.
/// Sealed: implemented for exactly these four.
pub trait NodeHandle: sealed::Sealed + Copy {}

macro_rules! node_handles {
  ($($t:ty),* $(,)?) => {
    $(
      impl sealed::Sealed for $t {}
      impl NodeHandle for $t {}
    )*
  };
}

node_handles!(
  sys::napi_env,
  sys::napi_ref,
  sys::napi_deferred,
  sys::napi_threadsafe_function,
);

/// A Node-API handle that may be moved between threads but is only passed back to Node-API on
/// the thread of the environment that created it (threadsafe functions: also to the Node-API
/// calls documented as callable from any thread). Any thread may hold one; only the owning
/// environment's thread may use it, and not after that environment is torn down.
pub struct NodePtr<T: NodeHandle>(pub T);

// SAFETY: a `NodePtr` only carries an opaque Node-API handle of a type that outlives handle
// scopes (`NodeHandle` is sealed to those). Moving the pointer value to another thread is
// harmless; every place that hands it back to Node-API does so on the owning environment's
// thread (in the threadsafe function's callback, in that thread's synchronous wait loop, or in
// the napi call that created it), except threadsafe functions, for which Node-API allows
// `napi_call_threadsafe_function` from any thread.
unsafe impl<T: NodeHandle> Send for NodePtr<T> {}
// SAFETY: `&NodePtr` only gives out a copy of the handle (`get`), whose use follows the same
// thread rule as above, so sharing the wrapper is no different from sending it.
unsafe impl<T: NodeHandle> Sync for NodePtr<T> {}

impl<T: NodeHandle> NodePtr<T> {
  /// The wrapped pointer (using a method makes closures capture the whole Send wrapper).
  pub fn get(&self) -> T {
    self.0
  }
}
