//! `new ExternalCopy(object)` through Node's own structured-clone serialiser: one native pass
//! over the host value (getters run once, as in isolated-vm), kept as V8 wire bytes and read
//! back by Node's deserialiser on `copy()`. ivm handles serialise as empty objects (they have no
//! own properties), so bytes that may hold one are rebuilt as a tree whose empty objects are
//! checked against the original objects, found along own data properties only.
//! Anything else (no serialiser on this runtime, a value it refuses, bytes the reader does not
//! know, an empty object reachable only through a getter) answers `None`: the caller falls back
//! to the property-by-property clone.

use super::{call_helper, clone};
use crate::bridge::js::{self, check, Failure};
use crate::transfer::external::{ExternalData, Wire};
use crate::transfer::value::{Key, Value};
use crate::transfer::wire;
use napi::sys;
use std::collections::HashMap;
use std::ptr::null_mut;
use std::sync::Arc;

/// Copies a host object for an ExternalCopy, or `None` when the fast path does not apply.
pub fn external(
  env: sys::napi_env,
  v: sys::napi_value,
) -> Result<Option<Arc<ExternalData>>, Failure> {
  let out = call_helper(env, "serialize", &[v])?;
  if js::type_of(env, out) != sys::ValueType::napi_object {
    return Ok(None);
  }
  let buf = element(env, out, 0)?;
  let bytes = buffer_bytes(env, buf)?;
  free_now(env, buf);
  let sabs = element(env, out, 1)?;
  let mut shared = Vec::new();
  for sab in clone::array_items(env, sabs)? {
    shared.push(clone::shared_memory(env, sab)?);
  }
  if !wire::may_hold_empty_object(&bytes) {
    return Ok(Some(ExternalData::from_wire(Wire { bytes, shared })));
  }
  let Ok(mut tree) = wire::parse(&bytes, &shared) else {
    return Ok(None);
  };
  let mut originals = Vec::new();
  if !collect(env, v, &tree, &mut originals, 0)? {
    return Ok(None);
  }
  let mut handles = HashMap::new();
  let mut originals = originals.into_iter();
  apply(env, &mut tree, &mut originals, &mut handles)?;
  if !handles.is_empty() {
    relink(&mut tree, &handles);
  }
  Ok(Some(ExternalData::new(tree)))
}

/// Materialises a copy on Node's thread: wire bytes through Node's deserialiser, trees (and
/// wire bytes holding SharedArrayBuffers) node by node.
pub fn materialize(
  env: sys::napi_env,
  data: &ExternalData,
  transfer_in: bool,
) -> Result<sys::napi_value, Failure> {
  match data.wire() {
    // Node's deserialiser cannot take SharedArrayBuffers back by id on every version.
    Some(w) if !transfer_in && w.shared.is_empty() => {
      if let Ok(t) = wire::tape(&w.bytes) {
        return decode_tape(env, &t);
      }
      let mut ptr = null_mut();
      let mut buf = null_mut();
      // SAFETY: valid env; Node copies the bytes into a new Buffer.
      check(unsafe {
        sys::napi_create_buffer_copy(
          env,
          w.bytes.len(),
          w.bytes.as_ptr() as *const _,
          &mut ptr,
          &mut buf,
        )
      })?;
      call_helper(env, "deserialize", &[buf])
    }
    _ => super::to_napi(
      env,
      if transfer_in {
        data.transfer_in()?
      } else {
        data.value()?
      },
    ),
  }
}

/// Hands a tape to `decodeTape` in index.js: the opcodes as a Uint32Array, the numbers as a
/// Float64Array, the text as one string.
fn decode_tape(env: sys::napi_env, t: &wire::Tape) -> Result<sys::napi_value, Failure> {
  // SAFETY (both casts): u32 and f64 have no padding, so their memory is plain bytes.
  let ops_bytes =
    unsafe { std::slice::from_raw_parts(t.ops.as_ptr() as *const u8, t.ops.len() * 4) };
  let nums_bytes =
    unsafe { std::slice::from_raw_parts(t.nums.as_ptr() as *const u8, t.nums.len() * 8) };
  let ops = typed_array(
    env,
    sys::TypedarrayType::uint32_array,
    ops_bytes,
    t.ops.len(),
  )?;
  let nums = typed_array(
    env,
    sys::TypedarrayType::float64_array,
    nums_bytes,
    t.nums.len(),
  )?;
  // Built straight from the tape's text (no intermediate copy).
  let text = match &t.text {
    wire::Text::Latin1(b) => super::latin1_string(env, b)?,
    wire::Text::Utf16(u) => super::utf16_string(env, u)?,
  };
  call_helper(env, "decodeTape", &[ops, nums, text])
}

/// A typed array of `len` elements over a new ArrayBuffer holding a copy of `bytes`.
fn typed_array(
  env: sys::napi_env,
  kind: sys::napi_typedarray_type,
  bytes: &[u8],
  len: usize,
) -> Result<sys::napi_value, Failure> {
  let ab = super::to_napi::array_buffer_from(env, bytes)?;
  let mut out = null_mut();
  // SAFETY: `ab` is exactly `len` elements of `kind` long.
  check(unsafe { sys::napi_create_typedarray(env, kind, len, ab, 0, &mut out) })?;
  Ok(out)
}

fn element(env: sys::napi_env, arr: sys::napi_value, i: u32) -> Result<sys::napi_value, Failure> {
  let mut x = null_mut();
  // SAFETY: valid env and array.
  check(unsafe { sys::napi_get_element(env, arr, i, &mut x) })?;
  Ok(x)
}

fn buffer_bytes(env: sys::napi_env, buf: sys::napi_value) -> Result<Vec<u8>, Failure> {
  let mut data = null_mut();
  let mut len = 0usize;
  // SAFETY: the helper returns a Buffer.
  check(unsafe { sys::napi_get_buffer_info(env, buf, &mut data, &mut len) })?;
  if len == 0 || data.is_null() {
    return Ok(Vec::new());
  }
  // SAFETY: data points at len bytes of the live Buffer.
  Ok(unsafe { std::slice::from_raw_parts(data as *const u8, len) }.to_vec())
}

/// Detaches the serialiser's Buffer so its memory goes back at once instead of after a
/// collection (it would count as external memory and bring collections forward).
fn free_now(env: sys::napi_env, buf: sys::napi_value) {
  let mut t = sys::TypedarrayType::uint8_array;
  let mut len = 0usize;
  let mut data = null_mut();
  let mut ab = null_mut();
  let mut off = 0usize;
  // SAFETY: `buf` is the Buffer the helper returned; a failure leaves it to the collector.
  let ok = unsafe {
    sys::napi_get_typedarray_info(env, buf, &mut t, &mut len, &mut data, &mut ab, &mut off)
  };
  if ok == sys::Status::napi_ok && !ab.is_null() {
    // SAFETY: `ab` is that Buffer's own ArrayBuffer; nothing else uses it.
    unsafe { sys::napi_detach_arraybuffer(env, ab) };
  }
}

/// A node that may stand for an ivm handle.
fn is_special(v: &Value) -> bool {
  matches!(v, Value::Object { props, .. } if props.is_empty())
}

/// Whether a special node is at or below `v`.
fn needs(v: &Value) -> bool {
  is_special(v)
    || match v {
      Value::Object { props, .. } | Value::Array { props, .. } => {
        props.iter().any(|(_, c)| needs(c))
      }
      Value::Map { entries, .. } => entries.iter().any(|(k, c)| needs(k) || needs(c)),
      Value::Set { values, .. } => values.iter().any(needs),
      _ => false,
    }
}

/// The original objects of the special nodes, in tree order; false if one is reachable only
/// through an accessor (or the value changed since it was serialised).
fn collect(
  env: sys::napi_env,
  js: sys::napi_value,
  v: &Value,
  out: &mut Vec<sys::napi_value>,
  depth: u32,
) -> Result<bool, Failure> {
  if depth >= crate::transfer::value::MAX_DEPTH {
    return Ok(false);
  }
  if is_special(v) {
    out.push(js);
    return Ok(true);
  }
  match v {
    Value::Object { props, .. } | Value::Array { props, .. } => {
      for (k, c) in props.iter().filter(|(_, c)| needs(c)) {
        let key = match k {
          Key::Index(i) => {
            let mut n = null_mut();
            // SAFETY: valid env.
            check(unsafe { sys::napi_create_uint32(env, *i, &mut n) })?;
            n
          }
          Key::Name(n) => super::js_string(env, n)?,
        };
        let found = call_helper(env, "ownData", &[js, key])?;
        if js::type_of(env, found) != sys::ValueType::napi_object {
          return Ok(false);
        }
        if !collect(env, element(env, found, 0)?, c, out, depth + 1)? {
          return Ok(false);
        }
      }
    }
    Value::Map { .. } | Value::Set { .. } => {
      let items = clone::array_items(env, call_helper(env, "entries", &[js])?)?;
      let nodes: Vec<&Value> = match v {
        Value::Map { entries, .. } => entries.iter().flat_map(|(k, c)| [k, c]).collect(),
        Value::Set { values, .. } => values.iter().collect(),
        _ => Vec::new(),
      };
      if items.len() != nodes.len() {
        return Ok(false);
      }
      for (c, x) in nodes.into_iter().zip(items) {
        if needs(c) && !collect(env, x, c, out, depth + 1)? {
          return Ok(false);
        }
      }
    }
    _ => {}
  }
  Ok(true)
}

/// Replaces the special nodes that are ivm objects by their handles, in the order [`collect`]
/// found them (recorded by id for [`relink`]).
fn apply(
  env: sys::napi_env,
  v: &mut Value,
  originals: &mut impl Iterator<Item = sys::napi_value>,
  handles: &mut HashMap<u32, Value>,
) -> Result<(), Failure> {
  if is_special(v) {
    let Some(js) = originals.next() else {
      return Ok(());
    };
    if let Value::Object { id, .. } = v {
      if let Some(h) = crate::bridge::node_handles::from_object(env, js, false)? {
        handles.insert(*id, h.clone());
        *v = h;
      }
    }
    return Ok(());
  }
  match v {
    Value::Object { props, .. } | Value::Array { props, .. } => {
      for (_, c) in props.iter_mut() {
        if needs(c) {
          apply(env, c, originals, handles)?;
        }
      }
    }
    Value::Map { entries, .. } => {
      for (k, c) in entries.iter_mut() {
        for x in [k, c] {
          if needs(x) {
            apply(env, x, originals, handles)?;
          }
        }
      }
    }
    Value::Set { values, .. } => {
      for x in values.iter_mut() {
        if needs(x) {
          apply(env, x, originals, handles)?;
        }
      }
    }
    _ => {}
  }
  Ok(())
}

/// Back references to an object that became a handle become the handle itself (handles take
/// no part in the cycle table).
fn relink(v: &mut Value, handles: &HashMap<u32, Value>) {
  match v {
    Value::Backref(id) => {
      if let Some(h) = handles.get(id) {
        *v = h.clone();
      }
    }
    Value::Object { props, .. } | Value::Array { props, .. } => {
      props.iter_mut().for_each(|(_, c)| relink(c, handles))
    }
    Value::Map { entries, .. } => entries.iter_mut().for_each(|(k, c)| {
      relink(k, handles);
      relink(c, handles);
    }),
    Value::Set { values, .. } => values.iter_mut().for_each(|x| relink(x, handles)),
    _ => {}
  }
}
