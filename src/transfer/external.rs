//! The data behind an `ExternalCopy`: an owned value tree outside every V8 heap, shared by
//! every handle to it and counted in `ExternalCopy.totalExternalSize`.

use crate::transfer::value::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

static TOTAL: AtomicUsize = AtomicUsize::new(0);

/// Bytes currently held by all external copies in the process.
pub fn total_external_size() -> usize {
  TOTAL.load(Ordering::Relaxed)
}

/// An immutable copied value. Any thread.
#[derive(Debug)]
pub struct ExternalData {
  /// The copy.
  pub value: Value,
  size: usize,
  /// Set once an ArrayBuffer copy was moved out with `transferIn` (SPEC §1.2).
  transferred: std::sync::atomic::AtomicBool,
}

impl ExternalData {
  /// Takes ownership of a copied value and counts it.
  pub fn new(value: Value) -> Arc<ExternalData> {
    let size = value.size();
    TOTAL.fetch_add(size, Ordering::Relaxed);
    Arc::new(ExternalData {
      value,
      size,
      transferred: std::sync::atomic::AtomicBool::new(false),
    })
  }

  /// The value, or "Array buffer is invalid" once it was transferred in somewhere.
  pub fn value(&self) -> Result<&Value, crate::error::Thrown> {
    if self.transferred.load(Ordering::SeqCst) {
      return Err(crate::error::Thrown::error("Array buffer is invalid"));
    }
    Ok(&self.value)
  }

  /// `copy({ transferIn: true })`: takes the value for one last materialisation. Only
  /// ArrayBuffer copies can be transferred; others just copy.
  pub fn transfer_in(&self) -> Result<&Value, crate::error::Thrown> {
    let v = self.value()?;
    if matches!(v, Value::ArrayBuffer { .. }) && self.transferred.swap(true, Ordering::SeqCst) {
      return Err(crate::error::Thrown::error("Array buffer is invalid"));
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

/// The single-use token `externalCopy.copyInto()` returns: it becomes a copy of the value when
/// transferred into an isolate.
#[derive(Debug)]
pub struct CopyInto(pub Arc<ExternalData>);

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
