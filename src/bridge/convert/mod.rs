//! Node values ↔ the value tree, on Node's thread: strings and primitives here; building JS
//! values in `to_napi`, structured clone of host values (`copy: true`) in `clone`.

mod clone;
mod serialized;
mod to_napi;

pub use clone::{copy, read_error};
pub use serialized::{external, materialize};
pub use to_napi::to_napi;

use crate::bridge::env::EnvData;
use crate::bridge::js::{self, check, Failure};
use crate::transfer::value::{BigInt, JsString, Value};
use napi::sys;
use std::ptr::null_mut;

/// Reads a JS string as Rust UTF-8 (lossy for lone surrogates); `None` if not a string.
pub fn rust_string(env: sys::napi_env, v: sys::napi_value) -> Option<String> {
  read_string(env, v).ok().map(|s| s.to_rust())
}

/// Lossy Rust text of a [`JsString`].
pub fn jsstring_to_rust(s: &JsString) -> String {
  s.to_rust()
}

/// Reads a JS string exactly. Short ASCII strings (most keys) take one Node-API call.
pub fn read_string(env: sys::napi_env, v: sys::napi_value) -> napi::Result<JsString> {
  let mut buf = [0u8; 128];
  let mut written = 0usize;
  // SAFETY: `buf` has room for 128 bytes including the terminator.
  check(unsafe {
    sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr() as *mut _, buf.len(), &mut written)
  })?;
  if written < buf.len() - 1 && buf[..written].is_ascii() {
    return Ok(JsString::Latin1(buf[..written].to_vec()));
  }
  let mut len = 0usize;
  // SAFETY: a null buffer asks for the length.
  check(unsafe { sys::napi_get_value_string_utf16(env, v, null_mut(), 0, &mut len) })?;
  // A long ASCII string (source code, mostly) stays one byte wide: its UTF-8 length equals its
  // UTF-16 length exactly when every unit is ASCII. Isolates then get a one-byte string too.
  let mut len8 = 0usize;
  // SAFETY: a null buffer asks for the length.
  check(unsafe { sys::napi_get_value_string_utf8(env, v, null_mut(), 0, &mut len8) })?;
  if len8 == len {
    // Every unit is ASCII, so the Latin-1 copy (a plain memory copy in V8) is exact.
    let mut bytes: Vec<u8> = Vec::with_capacity(len + 1);
    let mut written = 0usize;
    // SAFETY: `bytes` has capacity for len + 1 bytes including the terminator; Node writes at
    // most that many and reports how many units it wrote, which are then initialised.
    check(unsafe {
      sys::napi_get_value_string_latin1(env, v, bytes.as_mut_ptr() as *mut _, len + 1, &mut written)
    })?;
    // SAFETY: `written` ≤ len bytes were initialised by Node above.
    unsafe { bytes.set_len(written.min(len)) };
    return Ok(JsString::Latin1(bytes));
  }
  let mut units = vec![0u16; len + 1];
  let mut written = 0usize;
  // SAFETY: `units` holds len + 1 code units.
  check(unsafe {
    sys::napi_get_value_string_utf16(env, v, units.as_mut_ptr(), units.len(), &mut written)
  })?;
  units.truncate(written);
  Ok(JsString::from_utf16(units))
}

/// Creates a JS string.
pub fn js_string(env: sys::napi_env, s: &JsString) -> napi::Result<sys::napi_value> {
  match s {
    JsString::Latin1(b) => latin1_string(env, b),
    JsString::Utf16(u) => utf16_string(env, u),
  }
}

/// Creates a JS string from ISO-8859-1 bytes.
pub fn latin1_string(env: sys::napi_env, b: &[u8]) -> napi::Result<sys::napi_value> {
  let mut v = null_mut();
  // SAFETY: pointer and length describe a valid buffer.
  check(unsafe {
    sys::napi_create_string_latin1(env, b.as_ptr() as *const _, b.len() as isize, &mut v)
  })?;
  Ok(v)
}

/// Creates a JS string from UTF-16 code units.
pub fn utf16_string(env: sys::napi_env, u: &[u16]) -> napi::Result<sys::napi_value> {
  let mut v = null_mut();
  // SAFETY: pointer and length describe a valid buffer.
  check(unsafe { sys::napi_create_string_utf16(env, u.as_ptr(), u.len() as isize, &mut v) })?;
  Ok(v)
}

fn number(env: sys::napi_env, v: sys::napi_value) -> napi::Result<f64> {
  let mut n = 0f64;
  // SAFETY: valid env and number handle.
  check(unsafe { sys::napi_get_value_double(env, v, &mut n) })?;
  Ok(n)
}

fn read_bigint(env: sys::napi_env, v: sys::napi_value) -> napi::Result<BigInt> {
  let mut sign = 0i32;
  let mut count = 0usize;
  // SAFETY: null sign and words pointers ask for the word count only.
  check(unsafe { sys::napi_get_value_bigint_words(env, v, null_mut(), &mut count, null_mut()) })?;
  let mut words = vec![0u64; count.max(1)];
  let mut count2 = words.len();
  // SAFETY: `words` has room for `count2` words.
  check(unsafe {
    sys::napi_get_value_bigint_words(env, v, &mut sign, &mut count2, words.as_mut_ptr())
  })?;
  words.truncate(count2.max(1));
  Ok(BigInt {
    negative: sign != 0,
    words,
  })
}

/// The primitive a host value holds, or `None` for objects, functions and symbols.
pub fn primitive(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Option<Value>> {
  Ok(Some(match js::type_of(env, v) {
    sys::ValueType::napi_undefined => Value::Undefined,
    sys::ValueType::napi_null => Value::Null,
    sys::ValueType::napi_boolean => {
      let mut b = false;
      // SAFETY: valid boolean handle.
      check(unsafe { sys::napi_get_value_bool(env, v, &mut b) })?;
      Value::Bool(b)
    }
    sys::ValueType::napi_number => Value::Number(number(env, v)?),
    sys::ValueType::napi_string => Value::String(read_string(env, v)?),
    sys::ValueType::napi_bigint => Value::BigInt(read_bigint(env, v)?),
    _ => return Ok(None),
  }))
}

pub(crate) fn call_helper(
  env: sys::napi_env,
  name: &'static str,
  args: &[sys::napi_value],
) -> Result<sys::napi_value, Failure> {
  let data = EnvData::get(env)?;
  let f = data.helper_fn(env, name)?;
  let helpers = data.helpers(env)?;
  let mut out = null_mut();
  // SAFETY: valid env, function and argument handles.
  let status =
    unsafe { sys::napi_call_function(env, helpers, f, args.len(), args.as_ptr(), &mut out) };
  if status == sys::Status::napi_pending_exception {
    return Err(Failure::Pending);
  }
  check(status)?;
  Ok(out)
}
