//! Handle objects inside guests (Reference, ExternalCopy, Callback, tokens, the library…): the
//! guest face makes and recognises them, and installs the two functions that do so here when
//! the addon loads ([`install`]), so that the conversions below it (`v8_in`, `isolate::ops`)
//! reach them without depending on it.

use crate::error::msg;
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Handle;
use std::sync::OnceLock;

/// Materialises a handle in the current guest context.
pub type Materialize =
  for<'s, 'i> fn(&mut v8::PinScope<'s, 'i>, &Handle) -> Result<v8::Local<'s, v8::Value>, Thrown>;

/// The handle a guest handle object stands for when it leaves the isolate (`None`: not a
/// handle object).
pub type HandleOf = for<'s, 'i> fn(
  &mut v8::PinScope<'s, 'i>,
  v8::Local<'s, v8::Value>,
) -> Option<Result<Handle, Thrown>>;

/// The guest face's side of handles.
pub struct GuestHandles {
  /// Handle → guest object.
  pub materialize: Materialize,
  /// Guest object → handle.
  pub handle_of: HandleOf,
}

static INSTALLED: OnceLock<GuestHandles> = OnceLock::new();

/// Installs the guest face's functions (once, at load; later calls are ignored).
pub fn install(handles: GuestHandles) {
  let _ = INSTALLED.set(handles);
}

/// Materialises a handle in the current guest context; without the guest face installed no
/// handle has a guest form ("A non-transferable value was passed").
pub fn materialize<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  h: &Handle,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  match INSTALLED.get() {
    Some(g) => (g.materialize)(scope, h),
    None => Err(Thrown::type_error(msg::NON_TRANSFERABLE)),
  }
}

/// The handle a guest handle object stands for when it leaves the isolate (`None`: not a
/// handle object, or the guest face is not installed).
pub fn handle_of<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
) -> Option<Result<Handle, Thrown>> {
  (INSTALLED.get()?.handle_of)(scope, v)
}
