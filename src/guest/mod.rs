//! isolated-vm's classes inside guest isolates (V8 FunctionTemplates), and the materialisation
//! of handles arriving in a guest. Isolate thread only.

pub mod reference;

use crate::transfer::value::Handle;

/// Materialises a handle in the current guest context, or `None` if this kind of handle has no
/// guest form (yet).
pub fn materialize<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  h: &Handle,
) -> Option<v8::Local<'s, v8::Value>> {
  if let Some(host_ref) = h.get::<std::sync::Arc<crate::bridge::host_ref::HostRef>>() {
    return reference::new_instance(scope, host_ref.clone());
  }
  None
}
