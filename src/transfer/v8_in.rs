//! Value tree → V8: materialising owned values and errors inside a guest. Isolate thread only.

use crate::transfer::handle::Carried;
use crate::transfer::long_string;
use crate::transfer::memory::{counted_store, MemoryState};
use crate::transfer::thrown::Thrown;
use crate::transfer::value::{
  BigInt, Boxed, ErrorData, JsString, Key, Value, ViewKind, MAX_DEPTH, TOO_DEEP,
};
use std::sync::Arc;

/// Creates a V8 string from a [`JsString`]: an external one counted against the isolate's
/// limit from [`long_string::MIN_BYTES`] on, as isolated-vm makes them.
pub fn string<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  s: &JsString,
) -> Option<v8::Local<'s, v8::String>> {
  let long = match s {
    JsString::Latin1(b) if b.len() >= long_string::MIN_BYTES => long_string::new(scope, b),
    JsString::Utf16(u) if u.len() * 2 >= long_string::MIN_BYTES => long_string::new(scope, u),
    _ => None,
  };
  if long.is_some() {
    return long;
  }
  match s {
    JsString::Latin1(b) => v8::String::new_from_one_byte(scope, b, v8::NewStringType::Normal),
    JsString::Utf16(u) => v8::String::new_from_two_byte(scope, u, v8::NewStringType::Normal),
  }
}

fn bigint<'s>(scope: &mut v8::PinScope<'s, '_>, b: &BigInt) -> Option<v8::Local<'s, v8::BigInt>> {
  v8::BigInt::new_from_words(scope, b.negative, &b.words)
}

fn oom() -> Thrown {
  Thrown::range_error("Array buffer allocation failed")
}

/// Materialises a value (primitives and structured clones) in the current context.
pub fn value<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: &Value,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let mut objects: Vec<v8::Local<'s, v8::Value>> = Vec::new();
  build(scope, v, &mut objects, 0)
}

fn register<'s>(objects: &mut Vec<v8::Local<'s, v8::Value>>, id: u32, v: v8::Local<'s, v8::Value>) {
  let id = id as usize;
  if objects.len() <= id {
    objects.resize(id + 1, v);
  }
  objects[id] = v;
}

fn build<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: &Value,
  objects: &mut Vec<v8::Local<'s, v8::Value>>,
  depth: u32,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  if depth >= MAX_DEPTH {
    return Err(Thrown::range_error(TOO_DEEP));
  }
  let depth = depth + 1;
  let fail = || Thrown::error("Failed to materialise value");
  Ok(match v {
    Value::Undefined => v8::undefined(scope).into(),
    Value::Null => v8::null(scope).into(),
    Value::Bool(b) => v8::Boolean::new(scope, *b).into(),
    Value::Number(n) => v8::Number::new(scope, *n).into(),
    Value::BigInt(b) => bigint(scope, b).ok_or_else(fail)?.into(),
    Value::String(s) => string(scope, s)
      .ok_or_else(|| Thrown::range_error("Invalid string length"))?
      .into(),
    Value::Backref(id) => *objects.get(*id as usize).ok_or_else(fail)?,
    Value::Object { id, props } => {
      let obj = v8::Object::new(scope);
      register(objects, *id, obj.into());
      set_props(scope, obj, props, objects, depth)?;
      obj.into()
    }
    Value::Array { id, length, props } => {
      let arr = v8::Array::new(scope, 0);
      register(objects, *id, arr.into());
      set_props(scope, arr.into(), props, objects, depth)?;
      let len_key = v8::String::new(scope, "length").ok_or_else(fail)?;
      let len = v8::Number::new(scope, f64::from(*length));
      arr.set(scope, len_key.into(), len.into());
      arr.into()
    }
    Value::Date { id, time } => {
      let d = v8::Date::new(scope, *time).ok_or_else(fail)?;
      register(objects, *id, d.into());
      d.into()
    }
    Value::RegExp { id, source, flags } => {
      let src = string(scope, source).ok_or_else(fail)?;
      let flags = regexp_flags(&flags.to_rust());
      let r = v8::RegExp::new(scope, src, flags).ok_or_else(fail)?;
      register(objects, *id, r.into());
      r.into()
    }
    Value::Map { id, entries } => {
      let m = v8::Map::new(scope);
      register(objects, *id, m.into());
      for (k, val) in entries {
        let k = build(scope, k, objects, depth)?;
        let val = build(scope, val, objects, depth)?;
        m.set(scope, k, val).ok_or_else(fail)?;
      }
      m.into()
    }
    Value::Set { id, values } => {
      let s = v8::Set::new(scope);
      register(objects, *id, s.into());
      for x in values {
        let x = build(scope, x, objects, depth)?;
        s.add(scope, x).ok_or_else(fail)?;
      }
      s.into()
    }
    Value::Boxed { id, inner } => {
      let prim: v8::Local<v8::Value> = match inner {
        Boxed::Number(n) => v8::Number::new(scope, *n).into(),
        Boxed::Bool(b) => v8::Boolean::new(scope, *b).into(),
        Boxed::String(s) => string(scope, s).ok_or_else(fail)?.into(),
        Boxed::BigInt(b) => bigint(scope, b).ok_or_else(fail)?.into(),
      };
      let o: v8::Local<v8::Value> = prim.to_object(scope).ok_or_else(fail)?.into();
      register(objects, *id, o);
      o
    }
    Value::ArrayBuffer { id, bytes } => {
      let ab = array_buffer(scope, bytes)?;
      register(objects, *id, ab.into());
      ab.into()
    }
    Value::View {
      id,
      kind,
      buffer,
      byte_offset,
      length,
    } => {
      let buf = build(scope, buffer, objects, depth)?;
      let ab = if buf.is_shared_array_buffer() {
        // SAFETY: V8 keeps both kinds of buffer as the same object type (a JSArrayBuffer with a
        // shared flag), and its view constructors accept either.
        unsafe { v8::Local::<v8::ArrayBuffer>::cast_unchecked(buf) }
      } else {
        v8::Local::<v8::ArrayBuffer>::try_from(buf).map_err(|_| fail())?
      };
      // A view that does not fit its buffer (a resizable buffer shrunk under it) would fail
      // V8's own checks, which abort the process.
      if !view_fits(*kind, *byte_offset, *length, ab.byte_length()) {
        return Err(fail());
      }
      let view = make_view(scope, *kind, ab, *byte_offset, *length).ok_or_else(fail)?;
      register(objects, *id, view);
      view
    }
    Value::Handle(h) => {
      if let Some((data, transfer_in)) = h.as_copy_into() {
        let value = if transfer_in {
          data.transfer_in()?
        } else {
          data.value()?
        };
        build(scope, value, &mut Vec::new(), depth)?
      } else if let Some(mem) = h.as_shared_memory() {
        crate::transfer::shared::to_guest(scope, mem).into()
      } else {
        crate::transfer::guest_handles::materialize(scope, h)?
      }
    }
    Value::Error { id, data } => {
      let e = error_object(scope, data).ok_or_else(fail)?;
      register(objects, *id, e);
      e
    }
  })
}

fn set_props<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  obj: v8::Local<'s, v8::Object>,
  props: &[(Key, Value)],
  objects: &mut Vec<v8::Local<'s, v8::Value>>,
  depth: u32,
) -> Result<(), Thrown> {
  for (k, val) in props {
    let val = build(scope, val, objects, depth)?;
    match k {
      Key::Index(i) => {
        let key =
          v8::String::new(scope, &i.to_string()).ok_or_else(|| Thrown::error("Invalid key"))?;
        obj.create_data_property(scope, key.into(), val);
      }
      Key::Name(n) => {
        let key = string(scope, n).ok_or_else(|| Thrown::error("Invalid key"))?;
        obj.create_data_property(scope, key.into(), val);
      }
    }
  }
  Ok(())
}

fn regexp_flags(flags: &str) -> v8::RegExpCreationFlags {
  let mut f = v8::RegExpCreationFlags::empty();
  for c in flags.chars() {
    f |= match c {
      'g' => v8::RegExpCreationFlags::GLOBAL,
      'i' => v8::RegExpCreationFlags::IGNORE_CASE,
      'm' => v8::RegExpCreationFlags::MULTILINE,
      's' => v8::RegExpCreationFlags::DOT_ALL,
      'u' => v8::RegExpCreationFlags::UNICODE,
      'y' => v8::RegExpCreationFlags::STICKY,
      'd' => v8::RegExpCreationFlags::HAS_INDICES,
      'v' => v8::RegExpCreationFlags::UNICODE_SETS,
      _ => v8::RegExpCreationFlags::empty(),
    };
  }
  f
}

/// A new ArrayBuffer holding a copy of `bytes`, counted against the isolate's memory limit
/// ("Array buffer allocation failed" when it does not fit). V8's own `NewBackingStore` aborts
/// the process when allocation fails, so the memory is allocated here instead.
pub fn array_buffer<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  bytes: &[u8],
) -> Result<v8::Local<'s, v8::ArrayBuffer>, Thrown> {
  let memory = scope
    .get_slot::<Arc<MemoryState>>()
    .cloned()
    .ok_or_else(oom)?;
  let store = counted_store(scope, &memory, bytes).ok_or_else(oom)?;
  Ok(v8::ArrayBuffer::with_backing_store(
    scope,
    &store.make_shared(),
  ))
}

/// Whether a view of `kind` at `offset` with `length` elements (bytes for a DataView) lies
/// within a buffer of `buffer_len` bytes, aligned to its element size.
fn view_fits(kind: ViewKind, offset: usize, length: usize, buffer_len: usize) -> bool {
  let size = kind.element_size();
  offset.is_multiple_of(size)
    && length
      .checked_mul(size)
      .and_then(|n| n.checked_add(offset))
      .is_some_and(|end| end <= buffer_len)
}

fn make_view<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  kind: ViewKind,
  ab: v8::Local<'s, v8::ArrayBuffer>,
  off: usize,
  len: usize,
) -> Option<v8::Local<'s, v8::Value>> {
  Some(match kind {
    ViewKind::Int8 => v8::Int8Array::new(scope, ab, off, len)?.into(),
    ViewKind::Uint8 => v8::Uint8Array::new(scope, ab, off, len)?.into(),
    ViewKind::Uint8Clamped => v8::Uint8ClampedArray::new(scope, ab, off, len)?.into(),
    ViewKind::Int16 => v8::Int16Array::new(scope, ab, off, len)?.into(),
    ViewKind::Uint16 => v8::Uint16Array::new(scope, ab, off, len)?.into(),
    ViewKind::Int32 => v8::Int32Array::new(scope, ab, off, len)?.into(),
    ViewKind::Uint32 => v8::Uint32Array::new(scope, ab, off, len)?.into(),
    ViewKind::Float16 => {
      let global = scope.get_current_context().global(scope);
      let name = v8::String::new(scope, "Float16Array")?;
      let ctor = v8::Local::<v8::Function>::try_from(global.get(scope, name.into())?).ok()?;
      let off = v8::Number::new(scope, off as f64);
      let len = v8::Number::new(scope, len as f64);
      ctor
        .new_instance(scope, &[ab.into(), off.into(), len.into()])?
        .into()
    }
    ViewKind::Float32 => v8::Float32Array::new(scope, ab, off, len)?.into(),
    ViewKind::Float64 => v8::Float64Array::new(scope, ab, off, len)?.into(),
    ViewKind::BigInt64 => v8::BigInt64Array::new(scope, ab, off, len)?.into(),
    ViewKind::BigUint64 => v8::BigUint64Array::new(scope, ab, off, len)?.into(),
    ViewKind::DataView => v8::DataView::new(scope, ab, off, len).into(),
  })
}

/// Builds an Error object from error data (class, message, own `name`, stack).
pub fn error_object<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  data: &ErrorData,
) -> Option<v8::Local<'s, v8::Value>> {
  let message = string(scope, &data.message)?;
  let e = match data.ctor {
    "RangeError" => v8::Exception::range_error(scope, message),
    "ReferenceError" => v8::Exception::reference_error(scope, message),
    "SyntaxError" => v8::Exception::syntax_error(scope, message),
    "TypeError" => v8::Exception::type_error(scope, message),
    _ => v8::Exception::error(scope, message),
  };
  let obj = v8::Local::<v8::Object>::try_from(e).ok()?;
  if let Some(name) = &data.name {
    let key = v8::String::new(scope, "name")?;
    let name = string(scope, name)?;
    obj.define_own_property(
      scope,
      key.into(),
      name.into(),
      v8::PropertyAttribute::DONT_ENUM,
    );
  }
  if let Some(stack) = &data.stack {
    let key = v8::String::new(scope, "stack")?;
    let stack = string(scope, stack)?;
    obj.define_own_property(
      scope,
      key.into(),
      stack.into(),
      v8::PropertyAttribute::DONT_ENUM,
    );
  }
  Some(e)
}

/// Materialises a thrown value in the guest. Errors keep their class, message and the stack of
/// where they were thrown, followed by the boundary marker and the guest frames.
pub fn thrown<'s>(scope: &mut v8::PinScope<'s, '_>, t: &Thrown) -> v8::Local<'s, v8::Value> {
  let undefined = v8::undefined(scope).into();
  match t {
    Thrown::Value(v) => value(scope, v).unwrap_or(undefined),
    Thrown::Error {
      kind,
      name,
      message,
      stack,
    } => {
      let data = ErrorData {
        ctor: kind.name(),
        name: name.clone(),
        message: message.clone(),
        stack: None,
      };
      let Some(e) = error_object(scope, &data) else {
        return undefined;
      };
      if let (Some(stack), Ok(obj)) = (stack, v8::Local::<v8::Object>::try_from(e)) {
        let key = v8::String::new(scope, "stack");
        let own = key
          .and_then(|k| obj.get(scope, k.into()))
          .filter(|v| v.is_string());
        let frames = own
          .map(|v| v.to_rust_string_lossy(scope))
          .and_then(|s| crate::transfer::thrown::frame_lines(&s).map(str::to_string));
        let mut full = stack.to_rust();
        full.push_str("\n    at (<isolated-vm boundary>)");
        if let Some(f) = frames.filter(|f| !f.is_empty()) {
          full.push('\n');
          full.push_str(&f);
        }
        if let (Some(k), Some(v)) = (key, v8::String::new(scope, &full)) {
          obj.define_own_property(scope, k.into(), v.into(), v8::PropertyAttribute::DONT_ENUM);
        }
      }
      e
    }
  }
}
