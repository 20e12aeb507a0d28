//! A handle to an entry in an isolate's table (context, script, reference), held by a JS object.

use crate::error::Thrown;
use crate::isolate::ops::context;
use crate::isolate::{thread::Deliver, IsolateHost, Runtime};
use std::sync::Arc;

/// Owns one table entry of an isolate. Dropping it releases the entry on the owner's thread
/// (a no-op after dispose). Any thread.
pub struct RemoteHandle {
  /// The owning isolate.
  pub host: Arc<IsolateHost>,
  /// Table id.
  pub id: u32,
}

impl Drop for RemoteHandle {
  fn drop(&mut self) {
    let id = self.id;
    let _ = self.host.post(Box::new(move |rt: &mut Runtime| -> Deliver {
      context::release(rt, id);
      Box::new(|| {})
    }));
  }
}

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
