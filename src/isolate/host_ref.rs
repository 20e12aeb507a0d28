//! Values of a Node environment as isolates hold them: a [`HostRef`] (a Reference to a host
//! value) and a [`CallbackHandle`] (a host function crossing with its call mode). Their data
//! lives here, in the engine; what needs Node-API (posting work to the environment's thread,
//! running the operation there) sits behind [`NodeSide`], which the bridge implements.

use crate::isolate::flavor::Flavor;
use crate::isolate::ref_op::RefOp;
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Value;
use std::sync::Arc;

/// Receives the outcome of a host operation (on the environment's thread).
pub type Done = Box<dyn FnOnce(Result<Value, Thrown>) + Send>;

/// A Node environment as the engine reaches it (the bridge's per-environment channel). Any
/// thread; work for a finished environment is dropped unrun.
pub trait NodeSide: Send + Sync {
  /// Drops host table entry `id` on the environment's thread.
  fn release(&self, id: u32);

  /// Performs `op` on host value `id` on the environment's thread without waiting; `done`
  /// receives the outcome there (or is dropped if the environment is gone). With
  /// `await_result`, a promise returned by a called host function is awaited first.
  fn perform(&self, id: u32, op: RefOp, await_result: bool, done: Done);
}

/// A value of a Node environment kept alive for isolates. Any thread; dropping the last handle
/// releases the value on its environment's thread.
pub struct HostRef {
  node: Arc<dyn NodeSide>,
  /// Table id in the environment's host table.
  pub id: u32,
  /// `typeof` as a Reference reports it.
  pub type_of: &'static str,
  /// Created with `unsafeInherit`: `get` walks the prototype chain, and References it returns
  /// inherit the flag.
  pub inherit: bool,
}

impl std::fmt::Debug for HostRef {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    write!(f, "HostRef({})", self.id)
  }
}

impl HostRef {
  /// The handle of host table entry `id` of the environment `node`.
  pub fn new(node: Arc<dyn NodeSide>, id: u32, type_of: &'static str, inherit: bool) -> HostRef {
    HostRef {
      node,
      id,
      type_of,
      inherit,
    }
  }

  /// Identifies the owning environment (the address of its [`NodeSide`]).
  pub fn env_key(&self) -> usize {
    Arc::as_ptr(&self.node).cast::<()>() as usize
  }

  /// The owning environment.
  pub fn node(&self) -> &dyn NodeSide {
    &*self.node
  }
}

impl Drop for HostRef {
  fn drop(&mut self) {
    self.node.release(self.id);
  }
}

/// A host function as it crosses into an isolate (a `Callback`, or a plain function). Any
/// thread.
#[derive(Debug)]
pub struct CallbackHandle {
  /// The function.
  pub target: Arc<HostRef>,
  /// Call behaviour.
  pub mode: Flavor,
  /// In async mode, a promise the function returns is awaited (the `importModuleDynamically`
  /// hook); otherwise the result is copied as it is, so a promise fails to copy, as with
  /// isolated-vm's async callbacks.
  pub awaits: bool,
  /// The function's `name`.
  pub name: String,
  /// The function's `length`.
  pub length: u32,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
  use super::*;
  use parking_lot::Mutex;

  #[derive(Default)]
  struct Recorder(Mutex<Vec<u32>>);

  impl NodeSide for Recorder {
    fn release(&self, id: u32) {
      self.0.lock().push(id);
    }
    fn perform(&self, _id: u32, _op: RefOp, _await_result: bool, done: Done) {
      done(Ok(Value::Undefined));
    }
  }

  #[test]
  fn env_key_is_the_environment_and_drop_releases() {
    let node = Arc::new(Recorder::default());
    let key = Arc::as_ptr(&node) as usize;
    let a = HostRef::new(node.clone(), 7, "object", false);
    let b = HostRef::new(node.clone(), 8, "function", false);
    assert_eq!(a.env_key(), key);
    assert_eq!(a.env_key(), b.env_key());
    drop(a);
    drop(b);
    assert_eq!(*node.0.lock(), vec![7, 8]);
  }
}
