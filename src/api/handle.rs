//! A handle to an entry in an isolate's table (context, script, reference), held by a JS object.

pub use crate::isolate::remote::RemoteHandle;
use crate::transfer::thrown::Thrown;
use std::sync::Arc;

/// A slot holding a handle until `release()`.
pub struct Slot(parking_lot::Mutex<Option<Arc<RemoteHandle>>>);

impl Slot {
  /// A filled slot.
  pub fn new(h: RemoteHandle) -> Slot {
    Slot(parking_lot::Mutex::new(Some(Arc::new(h))))
  }

  /// The handle, or `released` if it was released.
  pub fn get(&self, released: &str) -> Result<Arc<RemoteHandle>, Thrown> {
    self.0.lock().clone().ok_or_else(|| Thrown::error(released))
  }

  /// A slot holding a shared handle.
  pub fn from_arc(h: Arc<RemoteHandle>) -> Slot {
    Slot(parking_lot::Mutex::new(Some(h)))
  }

  /// An empty (released) slot.
  pub fn empty() -> Slot {
    Slot(parking_lot::Mutex::new(None))
  }

  /// Whether the handle is still held.
  pub fn is_held(&self) -> bool {
    self.0.lock().is_some()
  }

  /// Releases it; returns whether it was still held.
  pub fn release(&self) -> bool {
    self.0.lock().take().is_some()
  }
}
