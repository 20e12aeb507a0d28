//! Objects of the library's classes, made without napi-rs's per-object bookkeeping.
//!
//! napi-rs's `ToNapiValue` for a class also records every object in a process-wide map (for its
//! `Reference<T>` and for builds without type tags) and allocates a finaliser cell for it; this
//! crate uses neither, and a handle object (a Reference result, a compiled Module…) is made
//! often enough for that to show (about a third of a microsecond each). Objects made here are
//! what napi-rs makes otherwise (an instance of the registered class, the value wrapped in it,
//! the class's type tag), so napi-rs's methods and `ClassInstance` accept them: an object
//! without a map entry is one napi-rs accepts on its type tag.

use napi::bindgen_prelude::{ObjectFinalize, TypeTag};
use napi::{sys, Env};
use std::ffi::c_void;
use std::ptr::null_mut;

/// A new object of class `T` (registered under `js_name`, NUL-terminated as napi-rs keys it)
/// holding `value`.
pub fn new<T: ObjectFinalize + TypeTag + 'static>(
  env: sys::napi_env,
  js_name: &'static str,
  value: T,
) -> napi::Result<sys::napi_value> {
  let failed = || napi::Error::from_reason(format!("Failed to construct class `{js_name}`"));
  let ctor_ref = napi::__private::get_class_constructor(js_name).ok_or_else(failed)?;
  let mut ctor = null_mut();
  // SAFETY: Node's thread; the constructor reference lives as long as the environment.
  crate::bridge::js::check(unsafe { sys::napi_get_reference_value(env, ctor_ref, &mut ctor) })?;
  let mut obj = null_mut();
  // The class's constructor, told that a factory calls it, returns the bare instance.
  napi::__private::___CALL_FROM_FACTORY.with(|f| f.set(true));
  // SAFETY: as above; no arguments.
  let status = unsafe { sys::napi_new_instance(env, ctor, 0, null_mut(), &mut obj) };
  napi::__private::___CALL_FROM_FACTORY.with(|f| f.set(false));
  crate::bridge::js::check(status)?;
  let data = Box::into_raw(Box::new(value));
  // SAFETY: `obj` is a fresh instance; `finalize::<T>` frees `data` exactly once, when the
  // object is collected (or the environment ends).
  let wrapped = unsafe {
    sys::napi_wrap(
      env,
      obj,
      data.cast(),
      Some(finalize::<T>),
      null_mut(),
      null_mut(),
    )
  };
  if wrapped != sys::Status::napi_ok {
    // SAFETY: not adopted by the object: still ours.
    drop(unsafe { Box::from_raw(data) });
    return Err(failed());
  }
  let tag = T::type_tag();
  // SAFETY: as above; the object is untagged.
  crate::bridge::js::check(unsafe { sys::napi_type_tag_object(env, obj, &tag) })?;
  Ok(obj)
}

unsafe extern "C" fn finalize<T: ObjectFinalize>(
  env: sys::napi_env,
  data: *mut c_void,
  _hint: *mut c_void,
) {
  crate::unwind::contain((), || {
    // SAFETY: `data` is the Box made in `new`, adopted by exactly one object.
    let value = unsafe { Box::from_raw(data as *mut T) };
    let _ = value.finalize(Env::from_raw(env));
  });
}
