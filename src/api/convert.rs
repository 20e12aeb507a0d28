//! Node values ↔ the value tree, on Node's thread: primitives, and structured clone for
//! `copy: true` (with the JS helpers from `index.js` for the checks Node-API lacks).

use crate::api::env::EnvData;
use crate::api::js::{self, check, Failure};
use crate::error::{msg, ErrorKind, Thrown};
use crate::transfer::value::{
  BigInt, Boxed, ErrorData, JsString, Key, Value, ViewKind, MAX_DEPTH, TOO_DEEP,
};
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

/// Reads a JS string exactly.
pub fn read_string(env: sys::napi_env, v: sys::napi_value) -> napi::Result<JsString> {
  let mut len = 0usize;
  // SAFETY: a null buffer asks for the length.
  check(unsafe { sys::napi_get_value_string_utf16(env, v, null_mut(), 0, &mut len) })?;
  let mut buf = vec![0u16; len + 1];
  let mut written = 0usize;
  // SAFETY: buf holds len + 1 units.
  check(unsafe {
    sys::napi_get_value_string_utf16(env, v, buf.as_mut_ptr(), buf.len(), &mut written)
  })?;
  buf.truncate(written);
  Ok(JsString::from_utf16(buf))
}

/// Creates a JS string.
pub fn js_string(env: sys::napi_env, s: &JsString) -> napi::Result<sys::napi_value> {
  let mut v = null_mut();
  // SAFETY: pointers and lengths describe valid buffers.
  let status = match s {
    JsString::Latin1(b) => unsafe {
      sys::napi_create_string_latin1(env, b.as_ptr() as *const _, b.len() as isize, &mut v)
    },
    JsString::Utf16(u) => unsafe {
      sys::napi_create_string_utf16(env, u.as_ptr(), u.len() as isize, &mut v)
    },
  };
  check(status)?;
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

/// Materialises a value on Node's thread.
pub fn to_napi(env: sys::napi_env, v: &Value) -> Result<sys::napi_value, Failure> {
  let mut objects = Vec::new();
  build(env, v, &mut objects, 0)
}

fn call_helper(
  env: sys::napi_env,
  name: &str,
  args: &[sys::napi_value],
) -> Result<sys::napi_value, Failure> {
  let helpers = EnvData::get(env)?.helpers(env)?;
  let f = js::get_named(env, helpers, name)?;
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
      let mut data = null_mut();
      check(unsafe { sys::napi_create_arraybuffer(env, bytes.len(), &mut data, &mut out) })?;
      if !bytes.is_empty() && !data.is_null() {
        // SAFETY: the new buffer has exactly bytes.len() bytes.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), data as *mut u8, bytes.len()) };
      }
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
      out = make_view(env, *kind, ab, *byte_offset, *length)?;
      register(objects, *id, out);
    }
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
) -> Result<sys::napi_value, Failure> {
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
          js::define_hidden(env, obj, "__proto__", val)?;
          // Make it enumerable like any copied property.
          let desc = sys::napi_property_descriptor {
            utf8name: std::ptr::null(),
            name: key,
            method: None,
            getter: None,
            setter: None,
            value: val,
            attributes: sys::PropertyAttributes::writable
              | sys::PropertyAttributes::enumerable
              | sys::PropertyAttributes::configurable,
            data: null_mut(),
          };
          // SAFETY: one valid descriptor.
          check(unsafe { sys::napi_define_properties(env, obj, 1, &desc) })?;
        } else {
          // SAFETY: valid env and handles.
          check(unsafe { sys::napi_set_property(env, obj, key, val) })?;
        }
      }
    }
  }
  Ok(())
}

/// Structured clone of a host value (`copy: true`).
pub fn copy(env: sys::napi_env, v: sys::napi_value) -> Result<Value, Failure> {
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

fn array_items(env: sys::napi_env, arr: sys::napi_value) -> Result<Vec<sys::napi_value>, Failure> {
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
