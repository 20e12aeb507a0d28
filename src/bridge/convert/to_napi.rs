//! Value tree → JS values on Node's thread.

use super::js_string;
use crate::bridge::js::{self, check, Failure};
use crate::transfer::thrown::Thrown;
use crate::transfer::value::{
  Boxed, ErrorData, JsString, Key, Value, ViewKind, MAX_DEPTH, TOO_DEEP,
};
use napi::sys;
use std::ptr::null_mut;

/// Materialises a value on Node's thread.
pub fn to_napi(env: sys::napi_env, v: &Value) -> Result<sys::napi_value, Failure> {
  let mut objects = Vec::new();
  build(env, v, &mut objects, 0)
}

fn register(objects: &mut Vec<sys::napi_value>, id: u32, v: sys::napi_value) {
  let id = id as usize;
  if objects.len() <= id {
    objects.resize(id + 1, v);
  }
  objects[id] = v;
}

fn build(
  env: sys::napi_env,
  v: &Value,
  objects: &mut Vec<sys::napi_value>,
  depth: u32,
) -> Result<sys::napi_value, Failure> {
  if depth >= MAX_DEPTH {
    return Err(Thrown::range_error(TOO_DEEP).into());
  }
  let depth = depth + 1;
  let mut out = null_mut();
  match v {
    Value::Undefined => return Ok(js::undefined(env)?),
    // SAFETY (all arms): valid env; out-pointers are valid.
    Value::Null => check(unsafe { sys::napi_get_null(env, &mut out) })?,
    Value::Bool(b) => return Ok(js::boolean(env, *b)?),
    Value::Number(n) => check(unsafe { sys::napi_create_double(env, *n, &mut out) })?,
    Value::BigInt(b) => check(unsafe {
      sys::napi_create_bigint_words(
        env,
        b.negative as i32,
        b.words.len(),
        b.words.as_ptr(),
        &mut out,
      )
    })?,
    Value::String(s) => out = js_string(env, s)?,
    Value::Backref(id) => {
      out = *objects
        .get(*id as usize)
        .ok_or(Failure::Thrown(Thrown::error("Bad back reference")))?
    }
    Value::Object { id, props } => {
      check(unsafe { sys::napi_create_object(env, &mut out) })?;
      register(objects, *id, out);
      set_props(env, out, props, objects, depth)?;
    }
    Value::Array { id, length, props } => {
      check(unsafe { sys::napi_create_array(env, &mut out) })?;
      register(objects, *id, out);
      set_props(env, out, props, objects, depth)?;
      let mut len = null_mut();
      check(unsafe { sys::napi_create_uint32(env, *length, &mut len) })?;
      js::set_named(env, out, "length", len)?;
    }
    Value::Date { id, time } => {
      check(unsafe { sys::napi_create_date(env, *time, &mut out) })?;
      register(objects, *id, out);
    }
    Value::RegExp { id, source, flags } => {
      let s = js_string(env, source)?;
      let f = js_string(env, flags)?;
      out = js::construct_global(env, "RegExp", &[s, f])?;
      register(objects, *id, out);
    }
    Value::Map { id, entries } => {
      out = js::construct_global(env, "Map", &[])?;
      register(objects, *id, out);
      let set = js::get_named(env, out, "set")?;
      for (k, val) in entries {
        let k = build(env, k, objects, depth)?;
        let val = build(env, val, objects, depth)?;
        let mut r = null_mut();
        check(unsafe { sys::napi_call_function(env, out, set, 2, [k, val].as_ptr(), &mut r) })?;
      }
    }
    Value::Set { id, values } => {
      out = js::construct_global(env, "Set", &[])?;
      register(objects, *id, out);
      let add = js::get_named(env, out, "add")?;
      for x in values {
        let x = build(env, x, objects, depth)?;
        let mut r = null_mut();
        check(unsafe { sys::napi_call_function(env, out, add, 1, [x].as_ptr(), &mut r) })?;
      }
    }
    Value::Boxed { id, inner } => {
      let prim = match inner {
        Boxed::Number(n) => build(env, &Value::Number(*n), objects, depth)?,
        Boxed::Bool(b) => build(env, &Value::Bool(*b), objects, depth)?,
        Boxed::String(s) => build(env, &Value::String(s.clone()), objects, depth)?,
        Boxed::BigInt(b) => build(env, &Value::BigInt(b.clone()), objects, depth)?,
      };
      check(unsafe { sys::napi_coerce_to_object(env, prim, &mut out) })?;
      register(objects, *id, out);
    }
    Value::ArrayBuffer { id, bytes } => {
      out = array_buffer_from(env, bytes)?;
      register(objects, *id, out);
    }
    Value::View {
      id,
      kind,
      buffer,
      byte_offset,
      length,
    } => {
      let ab = build(env, buffer, objects, depth)?;
      let shared = matches!(
        &**buffer,
        Value::Handle(crate::isolate::handle::Handle::SharedMemory(_))
      );
      out = make_view(env, *kind, ab, *byte_offset, *length, shared)?;
      register(objects, *id, out);
    }
    Value::Handle(h) => out = crate::bridge::node_handles::to_object(env, h)?,
    Value::Error { id, data } => {
      out = error_object(env, data)?;
      register(objects, *id, out);
    }
  }
  Ok(out)
}

fn make_view(
  env: sys::napi_env,
  kind: ViewKind,
  ab: sys::napi_value,
  off: usize,
  len: usize,
  shared: bool,
) -> Result<sys::napi_value, Failure> {
  if shared {
    // Node-API builds views over ArrayBuffers only.
    let mut o = null_mut();
    let mut l = null_mut();
    // SAFETY: valid env.
    check(unsafe { sys::napi_create_double(env, off as f64, &mut o) })?;
    check(unsafe { sys::napi_create_double(env, len as f64, &mut l) })?;
    return Ok(js::construct_global(env, kind.ctor_name(), &[ab, o, l])?);
  }
  let t = match kind {
    ViewKind::Int8 => sys::TypedarrayType::int8_array,
    ViewKind::Uint8 => sys::TypedarrayType::uint8_array,
    ViewKind::Uint8Clamped => sys::TypedarrayType::uint8_clamped_array,
    ViewKind::Int16 => sys::TypedarrayType::int16_array,
    ViewKind::Uint16 => sys::TypedarrayType::uint16_array,
    ViewKind::Int32 => sys::TypedarrayType::int32_array,
    ViewKind::Uint32 => sys::TypedarrayType::uint32_array,
    ViewKind::Float32 => sys::TypedarrayType::float32_array,
    ViewKind::Float64 => sys::TypedarrayType::float64_array,
    ViewKind::BigInt64 => sys::TypedarrayType::bigint64_array,
    ViewKind::BigUint64 => sys::TypedarrayType::biguint64_array,
    ViewKind::DataView | ViewKind::Float16 => {
      let mut o = null_mut();
      let mut l = null_mut();
      // SAFETY: valid env.
      check(unsafe { sys::napi_create_double(env, off as f64, &mut o) })?;
      check(unsafe { sys::napi_create_double(env, len as f64, &mut l) })?;
      return Ok(js::construct_global(env, kind.ctor_name(), &[ab, o, l])?);
    }
  };
  let mut out = null_mut();
  // SAFETY: valid env and buffer; V8 checks bounds.
  check(unsafe { sys::napi_create_typedarray(env, t, len, ab, off, &mut out) })?;
  Ok(out)
}

fn error_object(env: sys::napi_env, data: &ErrorData) -> Result<sys::napi_value, Failure> {
  let m = js_string(env, &data.message)?;
  let e = js::construct_global(env, data.ctor, &[m])?;
  if let Some(n) = &data.name {
    let n = js_string(env, n)?;
    js::define_hidden(env, e, "name", n)?;
  }
  if let Some(s) = &data.stack {
    let s = js_string(env, s)?;
    js::define_hidden(env, e, "stack", s)?;
  }
  Ok(e)
}

fn set_props(
  env: sys::napi_env,
  obj: sys::napi_value,
  props: &[(Key, Value)],
  objects: &mut Vec<sys::napi_value>,
  depth: u32,
) -> Result<(), Failure> {
  for (k, val) in props {
    let val = build(env, val, objects, depth)?;
    match k {
      // SAFETY: valid env and handles.
      Key::Index(i) => check(unsafe { sys::napi_set_element(env, obj, *i, val) })?,
      Key::Name(n) => {
        let key = js_string(env, n)?;
        if n == &JsString::from("__proto__") {
          // An own, enumerable "__proto__" like any copied property (not the prototype).
          js::define_data(
            env,
            obj,
            key,
            val,
            sys::PropertyAttributes::writable
              | sys::PropertyAttributes::enumerable
              | sys::PropertyAttributes::configurable,
          )?;
        } else {
          // SAFETY: valid env and handles.
          check(unsafe { sys::napi_set_property(env, obj, key, val) })?;
        }
      }
    }
  }
  Ok(())
}

/// A new ArrayBuffer holding a copy of `bytes`. Big ones come from an uninitialised Node
/// Buffer's memory (`napi_create_arraybuffer` zero-fills first, a second pass over memory that
/// is about to be overwritten), when the runtime gives that Buffer an ArrayBuffer of its own.
/// Huge ones ask for transparent huge pages on that memory first (see
/// [`crate::alloc::advise_huge_pages`]).
pub fn array_buffer_from(env: sys::napi_env, bytes: &[u8]) -> Result<sys::napi_value, Failure> {
  const UNZEROED_FROM: usize = 64 << 10;
  let mut data = null_mut();
  let mut out = null_mut();
  if bytes.len() >= UNZEROED_FROM {
    let mut buf = null_mut();
    // SAFETY: valid env; the Buffer's memory is written in full below before any JS sees it.
    check(unsafe { sys::napi_create_buffer(env, bytes.len(), &mut data, &mut buf) })?;
    let (mut kind, mut len, mut view_data, mut ab, mut offset) = (
      sys::TypedarrayType::uint8_array,
      0usize,
      null_mut(),
      null_mut(),
      0usize,
    );
    // SAFETY: a Buffer is a Uint8Array.
    check(unsafe {
      sys::napi_get_typedarray_info(
        env,
        buf,
        &mut kind,
        &mut len,
        &mut view_data,
        &mut ab,
        &mut offset,
      )
    })?;
    let mut ab_len = 0usize;
    let mut ab_data = null_mut();
    // SAFETY: `ab` is the Buffer's ArrayBuffer.
    check(unsafe { sys::napi_get_arraybuffer_info(env, ab, &mut ab_data, &mut ab_len) })?;
    if offset == 0 && ab_len == bytes.len() && !data.is_null() {
      crate::alloc::advise_huge_pages(data as *mut u8, bytes.len());
      // SAFETY: the Buffer's memory is exactly bytes.len() bytes.
      unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), data as *mut u8, bytes.len()) };
      return Ok(ab);
    }
  }
  // SAFETY: valid env.
  check(unsafe { sys::napi_create_arraybuffer(env, bytes.len(), &mut data, &mut out) })?;
  if !bytes.is_empty() && !data.is_null() {
    // SAFETY: the new buffer has exactly bytes.len() bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), data as *mut u8, bytes.len()) };
  }
  Ok(out)
}
