//! The data behind an `ExternalCopy`: an owned value outside every V8 heap, shared by every
//! handle to it and counted in `ExternalCopy.totalExternalSize`. Copies of host objects are
//! kept as V8 wire bytes (written by Node's own serialiser) and become a tree only when an
//! isolate needs one.

use crate::transfer::value::Value;
use crate::transfer::wire;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

static TOTAL: AtomicUsize = AtomicUsize::new(0);

/// Bytes currently held by all external copies in the process.
pub fn total_external_size() -> usize {
  TOTAL.load(Ordering::Relaxed)
}

/// A value in V8's wire format, checked by [`wire::scan`].
#[derive(Debug)]
pub struct Wire {
  /// The serialised bytes.
  pub bytes: Vec<u8>,
  /// The SharedArrayBuffers inside, by serialiser id (handles to shared memory).
  pub shared: Vec<Value>,
}

/// An immutable copied value. Any thread.
#[derive(Debug)]
pub struct ExternalData {
  tree: OnceLock<Result<Value, String>>,
  wire: Option<Wire>,
  size: usize,
  /// Set once an ArrayBuffer copy was moved out with `transferIn` (SPEC §1.2).
  transferred: std::sync::atomic::AtomicBool,
  /// Made with a `transferList`: its buffers move out with `transferIn` too.
  moves: std::sync::atomic::AtomicBool,
}

impl ExternalData {
  fn make(tree: OnceLock<Result<Value, String>>, wire: Option<Wire>, size: usize) -> Arc<Self> {
    TOTAL.fetch_add(size, Ordering::Relaxed);
    Arc::new(ExternalData {
      tree,
      wire,
      size,
      transferred: std::sync::atomic::AtomicBool::new(false),
      moves: std::sync::atomic::AtomicBool::new(false),
    })
  }

  /// Takes ownership of a copied value and counts it.
  pub fn new(value: Value) -> Arc<ExternalData> {
    let size = value.size();
    ExternalData::make(OnceLock::from(Ok(value)), None, size)
  }

  /// Takes ownership of serialised bytes that passed [`wire::scan`].
  pub fn from_wire(wire: Wire) -> Arc<ExternalData> {
    let size = wire.bytes.len() + std::mem::size_of::<Value>() * (wire.shared.len() + 1);
    ExternalData::make(OnceLock::new(), Some(wire), size)
  }

  /// The wire form, for a receiver that reads it directly (Node's own deserialiser).
  pub fn wire(&self) -> Option<&Wire> {
    self.wire.as_ref()
  }

  /// The value, or "Array buffer is invalid" once it was transferred in somewhere.
  pub fn value(&self) -> Result<&Value, crate::transfer::thrown::Thrown> {
    if self.transferred.load(Ordering::SeqCst) {
      return Err(crate::transfer::thrown::Thrown::error(
        "Array buffer is invalid",
      ));
    }
    let tree = self.tree.get_or_init(|| match &self.wire {
      Some(w) => wire::parse(&w.bytes, &w.shared).map_err(|e| format!("Corrupt copy: {e}")),
      None => Ok(Value::Undefined),
    });
    tree
      .as_ref()
      .map_err(|e| crate::transfer::thrown::Thrown::error(e.clone()))
  }

  /// Marks a copy made with a `transferList`: `transferIn` moves its buffers out as well.
  pub fn mark_transfer_list(&self) {
    self.moves.store(true, Ordering::SeqCst);
  }

  /// `copy({ transferIn: true })`: takes the value for one last materialisation. Copies of an
  /// ArrayBuffer or a view, and copies made with a `transferList`, are moved out (later copies
  /// are "Array buffer is invalid", as in isolated-vm); others just copy.
  pub fn transfer_in(&self) -> Result<&Value, crate::transfer::thrown::Thrown> {
    let v = self.value()?;
    let moves = matches!(v, Value::ArrayBuffer { .. } | Value::View { .. })
      || self.moves.load(Ordering::SeqCst);
    if moves && self.transferred.swap(true, Ordering::SeqCst) {
      return Err(crate::transfer::thrown::Thrown::error(
        "Array buffer is invalid",
      ));
    }
    Ok(v)
  }

  /// Bytes counted for this copy.
  pub fn size(&self) -> usize {
    self.size
  }
}

impl Drop for ExternalData {
  fn drop(&mut self) {
    TOTAL.fetch_sub(self.size, Ordering::Relaxed);
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn total_size_follows_lifetimes() {
    let before = total_external_size();
    let a = ExternalData::new(Value::ArrayBuffer {
      id: 0,
      bytes: vec![0; 1 << 20],
    });
    assert!(total_external_size() >= before + (1 << 20));
    assert_eq!(
      a.size(),
      Value::ArrayBuffer {
        id: 0,
        bytes: vec![0; 1 << 20]
      }
      .size()
    );
    drop(a);
    assert!(total_external_size() < before + (1 << 20));
  }
}
