//! Structured clone of host values (`copy: true`), with the helpers from `index.js` for the
//! type checks Node-API lacks (Map, Set, RegExp, boxed primitives, Proxy, cycles).

use super::{call_helper, primitive, read_string, rust_string};
use crate::bridge::js::{self, check, Failure};
use crate::error::{msg, ErrorKind};
use crate::transfer::thrown::Thrown;
use crate::transfer::value::{Boxed, ErrorData, JsString, Key, Value, ViewKind};
use napi::sys;
use std::ptr::null_mut;

/// Structured clone of a host value (`copy: true`).
pub fn copy(env: sys::napi_env, v: sys::napi_value) -> Result<Value, Failure> {
  // Primitives (most results of host callbacks) need no cycle map.
  if let Some(p) = primitive(env, v)? {
    return Ok(p);
  }
  let seen = js::construct_global(env, "Map", &[])?;
  let mut next_id = 0u32;
  clone(env, v, seen, &mut next_id)
}

fn describe_error(env: sys::napi_env, v: sys::napi_value) -> Failure {
  match call_helper(env, "describe", &[v]) {
    Ok(d) => {
      let text = rust_string(env, d).unwrap_or_else(|| "#<Object>".into());
      Failure::Thrown(Thrown::type_error(msg::could_not_clone(&text)))
    }
    Err(f) => f,
  }
}

fn int(env: sys::napi_env, v: sys::napi_value) -> i64 {
  let mut n = 0i64;
  // SAFETY: valid env; non-numbers leave n at 0.
  unsafe { sys::napi_get_value_int64(env, v, &mut n) };
  n
}

#[inline(never)]
fn clone(
  env: sys::napi_env,
  v: sys::napi_value,
  seen: sys::napi_value,
  next_id: &mut u32,
) -> Result<Value, Failure> {
  if let Some(p) = primitive(env, v)? {
    return Ok(p);
  }
  let t = js::type_of(env, v);
  if t != sys::ValueType::napi_object {
    return Err(describe_error(env, v));
  }
  let code = int(env, call_helper(env, "visit", &[seen, v])?);
  if code < 0 {
    return Ok(Value::Backref((-code - 1) as u32));
  }
  if code >= 100 {
    return Err(describe_error(env, v));
  }
  if code == 11 {
    // ivm objects travel as handles and take no part in the cycle table.
    return crate::bridge::node_handles::from_object(env, v, false)?
      .ok_or_else(|| describe_error(env, v));
  }
  if code == 12 {
    // SharedArrayBuffers are shared, not copied (no cycle-table entry either).
    return shared_memory(env, v);
  }
  let id = *next_id;
  *next_id += 1;
  clone_object(env, v, code, id, seen, next_id)
}

/// One cloneable object. Every kind lives in its own function so the frames on the recursive
/// path (`clone` → `clone_object` → `clone_plain`/`own_props`) stay small: host values are
/// cloned on Node's own stack.
#[inline(never)]
fn clone_object(
  env: sys::napi_env,
  v: sys::napi_value,
  code: i64,
  id: u32,
  seen: sys::napi_value,
  next_id: &mut u32,
) -> Result<Value, Failure> {
  match code {
    1 => clone_array(env, v, id, seen, next_id),
    2 => clone_date(env, v, id),
    3 => clone_regexp(env, v, id),
    4 => clone_map(env, v, id, seen, next_id),
    5 => clone_set(env, v, id, seen, next_id),
    6 => clone_boxed(env, v, id),
    7 => clone_array_buffer(env, v, id),
    8 => clone_typed_array(env, v, id, seen, next_id),
    9 => clone_data_view(env, v, id, seen, next_id),
    10 => Ok(Value::Error {
      id,
      data: Box::new(read_error(env, v)?),
    }),
    _ => Ok(Value::Object {
      id,
      props: own_props(env, v, seen, next_id)?,
    }),
  }
}

#[inline(never)]
fn clone_array(
  env: sys::napi_env,
  v: sys::napi_value,
  id: u32,
  seen: sys::napi_value,
  next_id: &mut u32,
) -> Result<Value, Failure> {
  let mut len = 0u32;
  // SAFETY: v is an array.
  check(unsafe { sys::napi_get_array_length(env, v, &mut len) })?;
  Ok(Value::Array {
    id,
    length: len,
    props: own_props(env, v, seen, next_id)?,
  })
}

#[inline(never)]
fn clone_date(env: sys::napi_env, v: sys::napi_value, id: u32) -> Result<Value, Failure> {
  let mut t = 0f64;
  // SAFETY: v is a Date.
  check(unsafe { sys::napi_get_date_value(env, v, &mut t) })?;
  Ok(Value::Date { id, time: t })
}

#[inline(never)]
fn clone_regexp(env: sys::napi_env, v: sys::napi_value, id: u32) -> Result<Value, Failure> {
  let source = read_string(env, js::get_named(env, v, "source")?)?;
  let flags = read_string(env, js::get_named(env, v, "flags")?)?;
  Ok(Value::RegExp { id, source, flags })
}

#[inline(never)]
fn clone_map(
  env: sys::napi_env,
  v: sys::napi_value,
  id: u32,
  seen: sys::napi_value,
  next_id: &mut u32,
) -> Result<Value, Failure> {
  let flat = call_helper(env, "entries", &[v])?;
  let items = array_items(env, flat)?;
  let mut entries = Vec::with_capacity(items.len() / 2);
  for pair in items.chunks(2) {
    if let [k, val] = pair {
      let k = clone(env, *k, seen, next_id)?;
      let val = clone(env, *val, seen, next_id)?;
      entries.push((k, val));
    }
  }
  Ok(Value::Map { id, entries })
}

#[inline(never)]
fn clone_set(
  env: sys::napi_env,
  v: sys::napi_value,
  id: u32,
  seen: sys::napi_value,
  next_id: &mut u32,
) -> Result<Value, Failure> {
  let flat = call_helper(env, "entries", &[v])?;
  let mut values = Vec::new();
  for x in array_items(env, flat)? {
    values.push(clone(env, x, seen, next_id)?);
  }
  Ok(Value::Set { id, values })
}

#[inline(never)]
fn clone_boxed(env: sys::napi_env, v: sys::napi_value, id: u32) -> Result<Value, Failure> {
  let prim = call_helper(env, "unbox", &[v])?;
  let inner = match primitive(env, prim)? {
    Some(Value::Number(n)) => Boxed::Number(n),
    Some(Value::Bool(b)) => Boxed::Bool(b),
    Some(Value::String(s)) => Boxed::String(s),
    Some(Value::BigInt(b)) => Boxed::BigInt(b),
    _ => return Err(describe_error(env, v)),
  };
  Ok(Value::Boxed { id, inner })
}

#[inline(never)]
fn clone_array_buffer(env: sys::napi_env, v: sys::napi_value, id: u32) -> Result<Value, Failure> {
  let mut data = null_mut();
  let mut len = 0usize;
  // SAFETY: v is an ArrayBuffer.
  check(unsafe { sys::napi_get_arraybuffer_info(env, v, &mut data, &mut len) })?;
  let bytes = if len == 0 || data.is_null() {
    vec![0; len]
  } else {
    // SAFETY: data points at len bytes of the live buffer.
    unsafe { std::slice::from_raw_parts(data as *const u8, len) }.to_vec()
  };
  Ok(Value::ArrayBuffer { id, bytes })
}

/// The shared memory of a host SharedArrayBuffer, kept alive by a host table entry.
#[inline(never)]
pub(super) fn shared_memory(env: sys::napi_env, v: sys::napi_value) -> Result<Value, Failure> {
  let view = call_helper(env, "sabView", &[v])?;
  let mut t = 0;
  let mut len = 0usize;
  let mut data = null_mut();
  let mut ab = null_mut();
  let mut off = 0usize;
  // SAFETY: `view` is a Uint8Array over the whole SharedArrayBuffer.
  check(unsafe {
    sys::napi_get_typedarray_info(env, view, &mut t, &mut len, &mut data, &mut ab, &mut off)
  })?;
  let mem = crate::transfer::shared::SharedMemory::for_memory(data as usize, len, || {
    let keeper = crate::bridge::host_ref::new_host_ref(env, v)
      .map_err(|e| crate::transfer::thrown::Thrown::error(e.reason.clone()))?;
    Ok(crate::transfer::shared::Owner::Node {
      env_key: keeper.env_key(),
      id: keeper.id,
      keep: Box::new(keeper),
    })
  })?;
  Ok(Value::Handle(crate::isolate::handle::Handle::SharedMemory(
    mem,
  )))
}

#[inline(never)]
fn clone_typed_array(
  env: sys::napi_env,
  v: sys::napi_value,
  id: u32,
  seen: sys::napi_value,
  next_id: &mut u32,
) -> Result<Value, Failure> {
  let mut t = 0;
  let mut len = 0usize;
  let mut data = null_mut();
  let mut ab = null_mut();
  let mut off = 0usize;
  // SAFETY: v is a typed array.
  check(unsafe {
    sys::napi_get_typedarray_info(env, v, &mut t, &mut len, &mut data, &mut ab, &mut off)
  })?;
  let kind = match t {
    sys::TypedarrayType::int8_array => ViewKind::Int8,
    sys::TypedarrayType::uint8_array => ViewKind::Uint8,
    sys::TypedarrayType::uint8_clamped_array => ViewKind::Uint8Clamped,
    sys::TypedarrayType::int16_array => ViewKind::Int16,
    sys::TypedarrayType::uint16_array => ViewKind::Uint16,
    sys::TypedarrayType::int32_array => ViewKind::Int32,
    sys::TypedarrayType::uint32_array => ViewKind::Uint32,
    sys::TypedarrayType::float32_array => ViewKind::Float32,
    sys::TypedarrayType::float64_array => ViewKind::Float64,
    sys::TypedarrayType::bigint64_array => ViewKind::BigInt64,
    sys::TypedarrayType::biguint64_array => ViewKind::BigUint64,
    _ => ViewKind::Float16,
  };
  let buffer = clone(env, ab, seen, next_id)?;
  Ok(Value::View {
    id,
    kind,
    buffer: Box::new(buffer),
    byte_offset: off,
    length: len,
  })
}

#[inline(never)]
fn clone_data_view(
  env: sys::napi_env,
  v: sys::napi_value,
  id: u32,
  seen: sys::napi_value,
  next_id: &mut u32,
) -> Result<Value, Failure> {
  let mut len = 0usize;
  let mut data = null_mut();
  let mut ab = null_mut();
  let mut off = 0usize;
  // SAFETY: v is a DataView.
  check(unsafe { sys::napi_get_dataview_info(env, v, &mut len, &mut data, &mut ab, &mut off) })?;
  let buffer = clone(env, ab, seen, next_id)?;
  Ok(Value::View {
    id,
    kind: ViewKind::DataView,
    buffer: Box::new(buffer),
    byte_offset: off,
    length: len,
  })
}

/// Reads an Error object's class, name, message and stack.
pub fn read_error(env: sys::napi_env, v: sys::napi_value) -> Result<ErrorData, Failure> {
  let text = |name: &str| -> Result<Option<JsString>, Failure> {
    let x = js::get_named(env, v, name)?;
    if js::type_of(env, x) == sys::ValueType::napi_undefined {
      return Ok(None);
    }
    let mut s = null_mut();
    // SAFETY: valid env and value.
    let status = unsafe { sys::napi_coerce_to_string(env, x, &mut s) };
    if status == sys::Status::napi_pending_exception {
      return Err(Failure::Pending);
    }
    check(status)?;
    Ok(Some(read_string(env, s)?))
  };
  let name = text("name")?.unwrap_or_else(|| JsString::from("Error"));
  let message = text("message")?.unwrap_or_else(|| JsString::from(""));
  let stack_v = js::get_named(env, v, "stack")?;
  let stack = if js::type_of(env, stack_v) == sys::ValueType::napi_string {
    Some(read_string(env, stack_v)?)
  } else {
    None
  };
  let name_rust = name.to_rust();
  let ctor = ErrorKind::from_name(&name_rust)
    .map(|k| k.name())
    .unwrap_or("Error");
  let name = (ctor != name_rust).then_some(name);
  Ok(ErrorData {
    ctor,
    name,
    message,
    stack,
  })
}

pub(super) fn array_items(
  env: sys::napi_env,
  arr: sys::napi_value,
) -> Result<Vec<sys::napi_value>, Failure> {
  let mut len = 0u32;
  // SAFETY: arr is an array created by the helper.
  check(unsafe { sys::napi_get_array_length(env, arr, &mut len) })?;
  let mut out = Vec::with_capacity(len as usize);
  for i in 0..len {
    let mut x = null_mut();
    // SAFETY: index within bounds.
    check(unsafe { sys::napi_get_element(env, arr, i, &mut x) })?;
    out.push(x);
  }
  Ok(out)
}

fn own_props(
  env: sys::napi_env,
  obj: sys::napi_value,
  seen: sys::napi_value,
  next_id: &mut u32,
) -> Result<Vec<(Key, Value)>, Failure> {
  let mut keys = null_mut();
  // SAFETY: valid env and object.
  let status = unsafe {
    sys::napi_get_all_property_names(
      env,
      obj,
      sys::KeyCollectionMode::own_only,
      sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
      sys::KeyConversion::keep_numbers,
      &mut keys,
    )
  };
  if status == sys::Status::napi_pending_exception {
    return Err(Failure::Pending);
  }
  check(status)?;
  let keys = array_items(env, keys)?;
  let mut props = Vec::with_capacity(keys.len());
  for k in keys {
    let key = if js::type_of(env, k) == sys::ValueType::napi_number {
      Key::Index(int(env, k) as u32)
    } else {
      Key::Name(read_string(env, k)?)
    };
    let mut val = null_mut();
    // SAFETY: valid env, object and key.
    let status = unsafe { sys::napi_get_property(env, obj, k, &mut val) };
    if status == sys::Status::napi_pending_exception {
      return Err(Failure::Pending);
    }
    check(status)?;
    props.push((key, clone(env, val, seen, next_id)?));
  }
  Ok(props)
}
