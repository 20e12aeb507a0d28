//! ivm objects on Node's thread (ExternalCopy, Reference, Isolate, Context, Script, Callback,
//! the library…): the API face recognises them in values leaving Node and makes them for
//! handles arriving there, and installs the two functions that do so here when the addon loads
//! ([`install`]), so that the conversions of the bridge reach them without depending on it.

use crate::bridge::js::Failure;
use crate::error::msg;
use crate::transfer::thrown::Thrown;
use crate::transfer::value::{Handle, Value};
use napi::sys;
use std::sync::OnceLock;

/// The handle an ivm object stands for (`None`: any other object); plain functions become
/// synchronous callbacks when the flag is set.
pub type FromObject = fn(sys::napi_env, sys::napi_value, bool) -> Result<Option<Value>, Failure>;

/// Materialises a handle arriving in Node.
pub type ToObject = fn(sys::napi_env, &Handle) -> Result<sys::napi_value, Failure>;

/// The API face's side of handles.
pub struct NodeHandles {
  /// Node object → handle.
  pub from_object: FromObject,
  /// Handle → Node object.
  pub to_object: ToObject,
}

static INSTALLED: OnceLock<NodeHandles> = OnceLock::new();

/// Installs the API face's functions (once, at load; later calls are ignored).
pub fn install(handles: NodeHandles) {
  let _ = INSTALLED.set(handles);
}

/// The handle an ivm object stands for, or `None` for any other object (and when the API face
/// is not installed). Plain functions become synchronous callbacks when `functions` is set.
pub fn from_object(
  env: sys::napi_env,
  v: sys::napi_value,
  functions: bool,
) -> Result<Option<Value>, Failure> {
  match INSTALLED.get() {
    Some(h) => (h.from_object)(env, v, functions),
    None => Ok(None),
  }
}

/// Materialises a handle arriving in Node; without the API face installed no handle has a
/// Node form ("A non-transferable value was passed").
pub fn to_object(env: sys::napi_env, h: &Handle) -> Result<sys::napi_value, Failure> {
  match INSTALLED.get() {
    Some(n) => (n.to_object)(env, h),
    None => Err(Thrown::type_error(msg::NON_TRANSFERABLE).into()),
  }
}
