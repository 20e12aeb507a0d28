//! Small raw Node-API helpers for Node's thread: strings, promises, properties, and turning a
//! [`Thrown`] into a real JS error with the boundary stack (SPEC §2.3).

use crate::bridge::convert;
use crate::transfer::thrown::Thrown;
use napi::sys;
use napi::Status;
use std::ptr::null_mut;

/// A failure on Node's thread: either owned error data, or a JS exception already pending.
pub enum Failure {
  /// Error data still to be materialised.
  Thrown(Thrown),
  /// A JS exception is pending in the environment.
  Pending,
}

impl From<Thrown> for Failure {
  fn from(t: Thrown) -> Failure {
    Failure::Thrown(t)
  }
}

impl From<napi::Error> for Failure {
  fn from(_: napi::Error) -> Failure {
    Failure::Pending
  }
}

impl Failure {
  /// Throws it (sync flavour) and returns the marker error napi-rs expects.
  pub fn throw(self, env: sys::napi_env) -> napi::Error {
    match self {
      Failure::Thrown(t) => throw(env, t),
      Failure::Pending => pending(),
    }
  }

  /// The value to reject a promise with (async flavour); `caller` holds the caller's stack.
  pub fn into_value(self, env: sys::napi_env, caller: Option<sys::napi_value>) -> sys::napi_value {
    match self {
      Failure::Thrown(t) => materialize(env, &t, caller).unwrap_or(null_mut()),
      Failure::Pending => {
        let mut e = null_mut();
        // SAFETY: valid env on its thread.
        unsafe { sys::napi_get_and_clear_last_exception(env, &mut e) };
        e
      }
    }
  }
}

/// The error napi-rs treats as "an exception is already pending".
pub fn pending() -> napi::Error {
  napi::Error::new(Status::PendingException, "")
}

/// Maps a napi status to a Result.
pub fn check(status: sys::napi_status) -> napi::Result<()> {
  if status == sys::Status::napi_ok {
    Ok(())
  } else {
    Err(napi::Error::new(
      Status::GenericFailure,
      format!("napi call failed ({status})"),
    ))
  }
}

/// Throws `thrown` as a JS error in `env` (its stack is the current JS stack).
pub fn throw(env: sys::napi_env, thrown: Thrown) -> napi::Error {
  if let Ok(v) = materialize(env, &thrown, None) {
    // SAFETY: valid env on its thread.
    unsafe { sys::napi_throw(env, v) };
  }
  pending()
}

/// Throws a TypeError with `message`.
pub fn type_error(env: sys::napi_env, message: &str) -> napi::Error {
  throw(env, Thrown::type_error(message))
}

/// Throws an Error with `message`.
pub fn error(env: sys::napi_env, message: &str) -> napi::Error {
  throw(env, Thrown::error(message))
}

/// `undefined`.
pub fn undefined(env: sys::napi_env) -> napi::Result<sys::napi_value> {
  let mut v = null_mut();
  // SAFETY: valid env.
  check(unsafe { sys::napi_get_undefined(env, &mut v) })?;
  Ok(v)
}

/// A boolean.
pub fn boolean(env: sys::napi_env, b: bool) -> napi::Result<sys::napi_value> {
  let mut v = null_mut();
  // SAFETY: valid env.
  check(unsafe { sys::napi_get_boolean(env, b, &mut v) })?;
  Ok(v)
}

/// A string from UTF-8.
pub fn string(env: sys::napi_env, s: &str) -> napi::Result<sys::napi_value> {
  let mut v = null_mut();
  // SAFETY: pointer and length describe a valid UTF-8 buffer.
  check(unsafe {
    sys::napi_create_string_utf8(env, s.as_ptr() as *const _, s.len() as isize, &mut v)
  })?;
  Ok(v)
}

/// `obj[name]`.
pub fn get_named(
  env: sys::napi_env,
  obj: sys::napi_value,
  name: &str,
) -> napi::Result<sys::napi_value> {
  let mut v = null_mut();
  // Property names are short: napi_get_named_property makes the key internalised in one call.
  let mut buf = [0u8; 64];
  let status = if name.len() < buf.len() && !name.as_bytes().contains(&0) {
    buf[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: valid env and handles; `buf` is NUL-terminated UTF-8.
    unsafe { sys::napi_get_named_property(env, obj, buf.as_ptr() as *const _, &mut v) }
  } else {
    let key = string(env, name)?;
    // SAFETY: valid env and handles.
    unsafe { sys::napi_get_property(env, obj, key, &mut v) }
  };
  if status == sys::Status::napi_pending_exception {
    return Err(pending());
  }
  check(status)?;
  Ok(v)
}

/// `obj[name] = value`.
pub fn set_named(
  env: sys::napi_env,
  obj: sys::napi_value,
  name: &str,
  value: sys::napi_value,
) -> napi::Result<()> {
  // As in `get_named`: napi_set_named_property makes the key internalised in one step, where a
  // plain string key is made and then internalised by the store.
  let mut buf = [0u8; 64];
  if name.len() < buf.len() && !name.as_bytes().contains(&0) {
    buf[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: valid env and handles; `buf` is NUL-terminated UTF-8.
    return check(unsafe {
      sys::napi_set_named_property(env, obj, buf.as_ptr() as *const _, value)
    });
  }
  let key = string(env, name)?;
  // SAFETY: valid env and handles.
  check(unsafe { sys::napi_set_property(env, obj, key, value) })
}

/// Defines an own data property `key` with the given attributes (`Object.defineProperty`).
pub fn define_data(
  env: sys::napi_env,
  obj: sys::napi_value,
  key: sys::napi_value,
  value: sys::napi_value,
  attributes: sys::napi_property_attributes,
) -> napi::Result<()> {
  let desc = sys::napi_property_descriptor {
    utf8name: std::ptr::null(),
    name: key,
    method: None,
    getter: None,
    setter: None,
    value,
    attributes,
    data: null_mut(),
  };
  // SAFETY: one valid descriptor.
  check(unsafe { sys::napi_define_properties(env, obj, 1, &desc) })
}

/// Defines a non-enumerable, writable, configurable own data property.
pub fn define_hidden(
  env: sys::napi_env,
  obj: sys::napi_value,
  name: &str,
  value: sys::napi_value,
) -> napi::Result<()> {
  let key = string(env, name)?;
  define_data(
    env,
    obj,
    key,
    value,
    sys::PropertyAttributes::writable | sys::PropertyAttributes::configurable,
  )
}

/// `typeof v` as napi reports it.
pub fn type_of(env: sys::napi_env, v: sys::napi_value) -> sys::napi_valuetype {
  let mut t = 0;
  // SAFETY: valid env and handle.
  unsafe { sys::napi_typeof(env, v, &mut t) };
  t
}

/// The global object.
pub fn global(env: sys::napi_env) -> napi::Result<sys::napi_value> {
  let mut g = null_mut();
  // SAFETY: valid env.
  check(unsafe { sys::napi_get_global(env, &mut g) })?;
  Ok(g)
}

/// Freezes a new ivm object (instances are frozen, as in isolated-vm) and returns it.
pub fn frozen(env: sys::napi_env, v: sys::napi_value) -> napi::Result<sys::napi_value> {
  // SAFETY: valid env and object handle.
  check(unsafe { sys::napi_object_freeze(env, v) })?;
  Ok(v)
}

/// `new globalThis[ctor](...args)`.
pub fn construct_global(
  env: sys::napi_env,
  ctor: &str,
  args: &[sys::napi_value],
) -> napi::Result<sys::napi_value> {
  let g = global(env)?;
  let c = get_named(env, g, ctor)?;
  let mut v = null_mut();
  // SAFETY: valid env; args slice is valid for its length.
  let status = unsafe { sys::napi_new_instance(env, c, args.len(), args.as_ptr(), &mut v) };
  if status == sys::Status::napi_pending_exception {
    return Err(pending());
  }
  check(status)?;
  Ok(v)
}

/// A new promise and its deferred.
pub fn create_promise(env: sys::napi_env) -> napi::Result<(sys::napi_deferred, sys::napi_value)> {
  let mut d = null_mut();
  let mut p = null_mut();
  // SAFETY: valid env.
  check(unsafe { sys::napi_create_promise(env, &mut d, &mut p) })?;
  Ok((d, p))
}

/// Resolves a deferred.
pub fn resolve(env: sys::napi_env, d: sys::napi_deferred, v: sys::napi_value) {
  // SAFETY: the deferred belongs to this env and is settled once.
  unsafe { sys::napi_resolve_deferred(env, d, v) };
}

/// Rejects a deferred.
pub fn reject(env: sys::napi_env, d: sys::napi_deferred, v: sys::napi_value) {
  let v = if v.is_null() {
    undefined(env).unwrap_or(v)
  } else {
    v
  };
  // SAFETY: the deferred belongs to this env and is settled once.
  unsafe { sys::napi_reject_deferred(env, d, v) };
}

/// Captures the caller's stack now (an Error object kept by reference) for async rejections.
pub fn capture_stack(env: sys::napi_env) -> napi::Result<sys::napi_ref> {
  let msg = string(env, "")?;
  let mut e = null_mut();
  // SAFETY: valid env.
  check(unsafe { sys::napi_create_error(env, null_mut(), msg, &mut e) })?;
  let mut r = null_mut();
  // SAFETY: valid env and object.
  check(unsafe { sys::napi_create_reference(env, e, 1, &mut r) })?;
  Ok(r)
}

/// Reads and deletes a reference.
pub fn take_ref(env: sys::napi_env, r: sys::napi_ref) -> sys::napi_value {
  let mut v = null_mut();
  // SAFETY: the reference belongs to this env and is deleted exactly once.
  unsafe {
    sys::napi_get_reference_value(env, r, &mut v);
    sys::napi_delete_reference(env, r);
  }
  v
}

fn stack_frames(env: sys::napi_env, err: sys::napi_value) -> Option<String> {
  let s = get_named(env, err, "stack").ok()?;
  let s = convert::rust_string(env, s)?;
  crate::transfer::thrown::frame_lines(&s).map(str::to_string)
}

/// Builds the JS value for a thrown value. Errors get the guest stack, the boundary marker and
/// the caller's frames (taken from `caller`, or from the new error itself for sync calls).
pub fn materialize(
  env: sys::napi_env,
  thrown: &Thrown,
  caller: Option<sys::napi_value>,
) -> napi::Result<sys::napi_value> {
  match thrown {
    Thrown::Value(v) => convert::to_napi(env, v).map_err(|_| pending()),
    Thrown::Error {
      kind,
      name,
      message,
      stack,
    } => {
      let message = convert::js_string(env, message)?;
      let err = construct_global(env, kind.name(), &[message])?;
      if let Some(name) = name {
        let n = convert::js_string(env, name)?;
        define_hidden(env, err, "name", n)?;
      }
      let frames = match caller {
        Some(c) if !c.is_null() => stack_frames(env, c),
        _ => stack_frames(env, err),
      };
      let full = match stack {
        Some(guest) => {
          let mut s = guest.to_rust();
          s.push_str("\n    at (<isolated-vm boundary>)");
          if let Some(f) = frames.filter(|f| !f.is_empty()) {
            s.push('\n');
            s.push_str(&f);
          }
          Some(s)
        }
        None if caller.is_some() => {
          let head = match name {
            Some(n) => n.to_rust(),
            None => kind.name().to_string(),
          };
          let mut s = format!(
            "{head}: {}",
            convert::jsstring_to_rust(&thrown_message(thrown))
          );
          if let Some(f) = frames.filter(|f| !f.is_empty()) {
            s.push('\n');
            s.push_str(&f);
          }
          Some(s)
        }
        None => None,
      };
      if let Some(full) = full {
        let s = string(env, &full)?;
        define_hidden(env, err, "stack", s)?;
      }
      Ok(err)
    }
  }
}

fn thrown_message(t: &Thrown) -> crate::transfer::value::JsString {
  match t {
    Thrown::Error { message, .. } => message.clone(),
    Thrown::Value(_) => crate::transfer::value::JsString::from(""),
  }
}

/// A raw JS value returned from a `#[napi]` method as is.
pub struct Raw(pub sys::napi_value);

impl napi::bindgen_prelude::ToNapiValue for Raw {
  unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
    Ok(val.0)
  }
}

impl napi::bindgen_prelude::TypeName for Raw {
  fn type_name() -> &'static str {
    "unknown"
  }
  fn value_type() -> napi::ValueType {
    napi::ValueType::Unknown
  }
}

/// What an asynchronous method returns when it failed before its call was queued (an option,
/// transfer, key or target error): a promise rejected with that error instead of a throw, as
/// isolated-vm's async methods do. Argument-type errors of the method's signature
/// ([`crate::transfer::thrown::is_signature_error`]) still throw. `r` is the method's result
/// with the error already thrown (pending) or still as napi-rs's error.
pub fn rejecting(env: sys::napi_env, r: napi::Result<Raw>) -> napi::Result<Raw> {
  let e = match r {
    Ok(v) => return Ok(v),
    Err(e) => e,
  };
  let mut is_pending = false;
  // SAFETY: valid env on its thread.
  unsafe { sys::napi_is_exception_pending(env, &mut is_pending) };
  let value = if is_pending {
    let mut v = null_mut();
    // SAFETY: an exception is pending in this env; this takes it.
    unsafe { sys::napi_get_and_clear_last_exception(env, &mut v) };
    v
  } else {
    // SAFETY: valid env on its thread; the error is turned into a JS value, not thrown.
    unsafe { napi::JsError::from(e).into_value(env) }
  };
  if is_signature_type_error(env, value) {
    // SAFETY: valid env and value; the exception taken above is thrown again.
    unsafe { sys::napi_throw(env, value) };
    return Err(pending());
  }
  let (d, p) = create_promise(env)?;
  reject(env, d, value);
  Ok(Raw(p))
}

/// Whether `value` is a TypeError of a method's signature check.
fn is_signature_type_error(env: sys::napi_env, value: sys::napi_value) -> bool {
  let Ok(ctor) = global(env).and_then(|g| get_named(env, g, "TypeError")) else {
    return false;
  };
  let mut is_type_error = false;
  // SAFETY: valid env and values.
  let status = unsafe { sys::napi_instanceof(env, value, ctor, &mut is_type_error) };
  if status != sys::Status::napi_ok || !is_type_error {
    return false;
  }
  get_named(env, value, "message")
    .ok()
    .and_then(|m| convert::rust_string(env, m))
    .is_some_and(|m| crate::transfer::thrown::is_signature_error(&m))
}

/// Turns a `Result<napi_value, Failure>` into what a `#[napi]` method returns (throwing).
pub fn ret(env: sys::napi_env, r: Result<sys::napi_value, Failure>) -> napi::Result<Raw> {
  r.map(Raw).map_err(|f| f.throw(env))
}
