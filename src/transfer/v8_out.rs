//! V8 → value tree: reading guest values (primitives, structured clones, thrown exceptions) into
//! owned data. Isolate thread only.

use crate::error::{msg, ErrorKind};
use crate::transfer::handle::{Carried, Handle};
use crate::transfer::thrown::Thrown;
use crate::transfer::value::{
  BigInt, Boxed, ErrorData, JsString, Key, Value, ViewKind, MAX_DEPTH, TOO_DEEP,
};
use std::cell::RefCell;
use std::collections::HashMap;

/// Reads a V8 string exactly (Latin-1 when possible, else UTF-16).
pub fn string(scope: &mut v8::PinScope<'_, '_>, s: v8::Local<v8::String>) -> JsString {
  let len = s.length();
  if s.contains_only_onebyte() {
    let mut buf = vec![0u8; len];
    s.write_one_byte_v2(scope, 0, &mut buf, v8::WriteFlags::empty());
    JsString::Latin1(buf)
  } else {
    let mut buf = vec![0u16; len];
    s.write_v2(scope, 0, &mut buf, v8::WriteFlags::empty());
    JsString::Utf16(buf)
  }
}

/// Converts a value to a string the way `String(v)` would, swallowing exceptions.
pub fn to_js_string(scope: &mut v8::PinScope<'_, '_>, v: v8::Local<v8::Value>) -> JsString {
  v8::tc_scope!(let tc, scope);
  match v.to_string(tc) {
    Some(s) => string(tc, s),
    None => JsString::from(""),
  }
}

fn bigint(b: v8::Local<v8::BigInt>) -> BigInt {
  let mut words = vec![0u64; b.word_count().max(1)];
  let (negative, w) = b.to_words_array(&mut words);
  let words = w.to_vec();
  BigInt { negative, words }
}

/// The primitive a value holds, or `None` for objects, functions and symbols.
pub fn primitive(scope: &mut v8::PinScope<'_, '_>, v: v8::Local<v8::Value>) -> Option<Value> {
  if v.is_undefined() {
    Some(Value::Undefined)
  } else if v.is_null() {
    Some(Value::Null)
  } else if v.is_boolean() {
    Some(Value::Bool(v.is_true()))
  } else if v.is_number() {
    Some(Value::Number(v.number_value(scope).unwrap_or(f64::NAN)))
  } else if v.is_string() {
    let s = v8::Local::<v8::String>::try_from(v).ok()?;
    Some(Value::String(string(scope, s)))
  } else if v.is_big_int() {
    let b = v8::Local::<v8::BigInt>::try_from(v).ok()?;
    Some(Value::BigInt(bigint(b)))
  } else {
    None
  }
}

/// `typeof` as isolated-vm reports it for a Reference (SPEC §1.2: `"null"` for null).
pub fn type_of(v: v8::Local<v8::Value>) -> &'static str {
  if v.is_null() {
    "null"
  } else if v.is_undefined() {
    "undefined"
  } else if v.is_function() {
    "function"
  } else if v.is_string() {
    "string"
  } else if v.is_number() {
    "number"
  } else if v.is_boolean() {
    "boolean"
  } else {
    "object"
  }
}

fn get_str<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  obj: v8::Local<v8::Object>,
  key: &str,
) -> Option<v8::Local<'s, v8::Value>> {
  let k = v8::String::new(scope, key)?;
  obj.get(scope, k.into())
}

/// Converts a thrown value into [`Thrown`] (SPEC §2.3). `message` is the TryCatch message of a
/// failed compilation, used to append `[file:line:col]` to its syntax error.
pub fn thrown(
  scope: &mut v8::PinScope<'_, '_>,
  exception: v8::Local<v8::Value>,
  message: Option<v8::Local<v8::Message>>,
) -> Thrown {
  if !exception.is_object() {
    return match primitive(scope, exception) {
      Some(p) => Thrown::Value(p),
      // A thrown symbol: delivered as its description string.
      None => Thrown::Value(Value::String(to_js_string(scope, exception))),
    };
  }
  if !exception.is_native_error() {
    return Thrown::error(msg::NON_ERROR_THROWN);
  }
  let Ok(obj) = v8::Local::<v8::Object>::try_from(exception) else {
    return Thrown::error(msg::NON_ERROR_THROWN);
  };
  let data = error_data(scope, obj);
  let mut message_text = data.message;
  let mut stack = data.stack;
  if data.ctor == "SyntaxError" {
    if let Some(m) = message {
      let file = m
        .get_script_resource_name(scope)
        .map(|n| to_js_string(scope, n).to_rust())
        .unwrap_or_default();
      let line = m.get_line_number(scope).unwrap_or(0);
      let col = m.get_start_column() + 1;
      let text = format!("{} [{}:{}:{}]", message_text.to_rust(), file, line, col);
      message_text = JsString::from(text.as_str());
      stack = Some(JsString::from(format!("SyntaxError: {text}").as_str()));
    }
  }
  Thrown::Error {
    kind: ErrorKind::from_name(data.ctor).unwrap_or(ErrorKind::Error),
    name: data.name,
    message: message_text,
    stack,
  }
}

/// Reads an Error object's class, name, message and stack.
pub fn error_data(scope: &mut v8::PinScope<'_, '_>, obj: v8::Local<v8::Object>) -> ErrorData {
  v8::tc_scope!(let tc, scope);
  let name = get_str(tc, obj, "name")
    .map(|v| to_js_string(tc, v))
    .unwrap_or_else(|| JsString::from("Error"));
  let message = get_str(tc, obj, "message")
    .filter(|v| !v.is_undefined())
    .map(|v| to_js_string(tc, v))
    .unwrap_or_else(|| JsString::from(""));
  let stack = get_str(tc, obj, "stack")
    .filter(|v| v.is_string())
    .map(|v| to_js_string(tc, v));
  let name_rust = name.to_rust();
  let ctor = ErrorKind::from_name(&name_rust)
    .map(|k| k.name())
    .unwrap_or("Error");
  let name = (ctor != name_rust).then_some(name);
  ErrorData {
    ctor,
    name,
    message,
    stack,
  }
}

struct ProbeDelegate {
  message: RefCell<Option<String>>,
}

impl v8::ValueSerializerImpl for ProbeDelegate {
  fn throw_data_clone_error<'s>(
    &self,
    scope: &mut v8::PinScope<'s, '_>,
    message: v8::Local<'s, v8::String>,
  ) {
    *self.message.borrow_mut() = Some(message.to_rust_string_lossy(scope));
  }
}

/// The exact DataCloneError text V8 produces for `v` ("() => 1 could not be cloned.").
pub fn clone_error(scope: &mut v8::PinScope<'_, '_>, v: v8::Local<v8::Value>) -> Thrown {
  let delegate = Box::new(ProbeDelegate {
    message: RefCell::new(None),
  });
  let ptr: *const ProbeDelegate = &*delegate;
  let text = {
    v8::tc_scope!(let tc, scope);
    let serializer = v8::ValueSerializer::new(tc, delegate);
    let ctx = tc.get_current_context();
    let _ = serializer.write_value(ctx, v);
    // SAFETY: the delegate box is owned by `serializer`, alive until the end of this block.
    let captured = unsafe { (*ptr).message.borrow().clone() };
    captured
  };
  // V8 writes nothing (and throws nothing) for a WebAssembly.Module without a transfer id.
  let fallback = if v.is_wasm_module_object() {
    "#<WebAssembly.Module>"
  } else {
    "#<Object>"
  };
  Thrown::type_error(text.unwrap_or_else(|| msg::could_not_clone(fallback)))
}

/// Structured clone of a guest value into the tree (`copy: true`, SPEC §2.2).
pub fn copy<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
) -> Result<Value, Thrown> {
  let mut cloner = Cloner {
    seen: HashMap::new(),
    next_id: 0,
    depth: 0,
  };
  v8::tc_scope!(let tc, scope);
  let out = cloner.clone_value(tc, v);
  if let Some(e) = tc.exception() {
    return Err(thrown(tc, e, None));
  }
  out
}

struct Cloner<'s> {
  seen: HashMap<i32, Vec<(v8::Local<'s, v8::Object>, u32)>>,
  next_id: u32,
  depth: u32,
}

/// Marker error: a JS exception is pending in the TryCatch.
fn pending() -> Thrown {
  Thrown::error("")
}

impl<'s> Cloner<'s> {
  fn clone_value(
    &mut self,
    scope: &mut v8::PinScope<'s, '_>,
    v: v8::Local<'s, v8::Value>,
  ) -> Result<Value, Thrown> {
    if self.depth >= MAX_DEPTH {
      return Err(Thrown::range_error(TOO_DEEP));
    }
    self.depth += 1;
    let out = self.clone_inner(scope, v);
    self.depth -= 1;
    out
  }

  fn clone_inner(
    &mut self,
    scope: &mut v8::PinScope<'s, '_>,
    v: v8::Local<'s, v8::Value>,
  ) -> Result<Value, Thrown> {
    if let Some(p) = primitive(scope, v) {
      return Ok(p);
    }
    if v.is_symbol() || v.is_function() {
      return Err(clone_error(scope, v));
    }
    let obj = v8::Local::<v8::Object>::try_from(v).map_err(|_| clone_error(scope, v))?;
    let hash = obj.get_identity_hash().get();
    if let Some(list) = self.seen.get(&hash) {
      if let Some((_, id)) = list.iter().find(|(o, _)| *o == obj) {
        return Ok(Value::Backref(*id));
      }
    }
    if v.is_proxy()
      || v.is_promise()
      || v.is_weak_map()
      || v.is_weak_set()
      || v.is_map_iterator()
      || v.is_set_iterator()
      || v.is_generator_object()
      || v.is_module_namespace_object()
      || v.is_symbol_object()
      || v.is_arguments_object()
      || v.is_wasm_memory_object()
      || v.is_wasm_module_object()
    {
      return Err(clone_error(scope, v));
    }
    if v.is_shared_array_buffer() {
      // Shared, not copied; like handles it takes no part in the cycle table.
      let sab = v8::Local::<v8::SharedArrayBuffer>::try_from(v).map_err(|_| pending())?;
      let mem = crate::transfer::shared::of_guest(sab)?;
      return Ok(Value::Handle(Handle::shared_memory(mem)));
    }
    // An ivm handle object (Reference, ExternalCopy, Isolate, Context, …) stays a handle of
    // the same kind wherever it sits in the copied value, as in isolated-vm.
    if let Some(h) = crate::transfer::guest_handles::handle_of(scope, v) {
      return h.map(Value::Handle);
    }
    let id = self.next_id;
    self.next_id += 1;
    self.seen.entry(hash).or_default().push((obj, id));
    if v.is_date() {
      let d = v8::Local::<v8::Date>::try_from(v).map_err(|_| pending())?;
      return Ok(Value::Date {
        id,
        time: d.value_of(),
      });
    }
    if v.is_reg_exp() {
      let r = v8::Local::<v8::RegExp>::try_from(v).map_err(|_| pending())?;
      let source = r.get_source(scope);
      let source = string(scope, source);
      let flags = get_str(scope, obj, "flags").ok_or_else(pending)?;
      let flags = to_js_string(scope, flags);
      return Ok(Value::RegExp { id, source, flags });
    }
    if v.is_number_object()
      || v.is_string_object()
      || v.is_boolean_object()
      || v.is_big_int_object()
    {
      let ctor = if v.is_number_object() {
        "Number"
      } else if v.is_boolean_object() {
        "Boolean"
      } else if v.is_string_object() {
        "String"
      } else {
        "BigInt"
      };
      let prim = unbox(scope, ctor, v).ok_or_else(pending)?;
      let inner = match primitive(scope, prim) {
        Some(Value::Number(n)) => Boxed::Number(n),
        Some(Value::Bool(b)) => Boxed::Bool(b),
        Some(Value::String(s)) => Boxed::String(s),
        Some(Value::BigInt(b)) => Boxed::BigInt(b),
        _ => return Err(clone_error(scope, v)),
      };
      return Ok(Value::Boxed { id, inner });
    }
    if v.is_array_buffer() {
      let ab = v8::Local::<v8::ArrayBuffer>::try_from(v).map_err(|_| pending())?;
      return Ok(Value::ArrayBuffer {
        id,
        bytes: buffer_bytes(ab),
      });
    }
    if v.is_array_buffer_view() {
      let view = v8::Local::<v8::ArrayBufferView>::try_from(v).map_err(|_| pending())?;
      let kind = view_kind(v).ok_or_else(|| clone_error(scope, v))?;
      let byte_offset = view.byte_offset();
      let length = view.byte_length() / kind.element_size();
      let buffer = view.buffer(scope).ok_or_else(|| clone_error(scope, v))?;
      let buffer = self.clone_value(scope, buffer.into())?;
      return Ok(Value::View {
        id,
        kind,
        buffer: Box::new(buffer),
        byte_offset,
        length,
      });
    }
    if v.is_native_error() {
      return Ok(Value::Error {
        id,
        data: Box::new(error_data(scope, obj)),
      });
    }
    if v.is_map() {
      let m = v8::Local::<v8::Map>::try_from(v).map_err(|_| pending())?;
      let arr = m.as_array(scope);
      let mut entries = Vec::with_capacity(arr.length() as usize / 2);
      let mut i = 0;
      while i + 1 < arr.length() {
        let k = arr.get_index(scope, i).ok_or_else(pending)?;
        let val = arr.get_index(scope, i + 1).ok_or_else(pending)?;
        let k = self.clone_value(scope, k)?;
        let val = self.clone_value(scope, val)?;
        entries.push((k, val));
        i += 2;
      }
      return Ok(Value::Map { id, entries });
    }
    if v.is_set() {
      let s = v8::Local::<v8::Set>::try_from(v).map_err(|_| pending())?;
      let arr = s.as_array(scope);
      let mut values = Vec::with_capacity(arr.length() as usize);
      for i in 0..arr.length() {
        let x = arr.get_index(scope, i).ok_or_else(pending)?;
        values.push(self.clone_value(scope, x)?);
      }
      return Ok(Value::Set { id, values });
    }
    let props = self.own_props(scope, obj)?;
    if v.is_array() {
      let a = v8::Local::<v8::Array>::try_from(v).map_err(|_| pending())?;
      return Ok(Value::Array {
        id,
        length: a.length(),
        props,
      });
    }
    Ok(Value::Object { id, props })
  }

  fn own_props(
    &mut self,
    scope: &mut v8::PinScope<'s, '_>,
    obj: v8::Local<'s, v8::Object>,
  ) -> Result<Vec<(Key, Value)>, Thrown> {
    let args = v8::GetPropertyNamesArgs {
      mode: v8::KeyCollectionMode::OwnOnly,
      property_filter: v8::PropertyFilter::ONLY_ENUMERABLE | v8::PropertyFilter::SKIP_SYMBOLS,
      index_filter: v8::IndexFilter::IncludeIndices,
      key_conversion: v8::KeyConversionMode::KeepNumbers,
    };
    let names = obj
      .get_own_property_names(scope, args)
      .ok_or_else(pending)?;
    let mut props = Vec::with_capacity(names.length() as usize);
    for i in 0..names.length() {
      let k = names.get_index(scope, i).ok_or_else(pending)?;
      let key = if k.is_number() {
        Key::Index(k.uint32_value(scope).unwrap_or(0))
      } else {
        Key::Name(to_js_string(scope, k))
      };
      let val = obj.get(scope, k).ok_or_else(pending)?;
      props.push((key, self.clone_value(scope, val)?));
    }
    Ok(props)
  }
}

/// `Ctor.prototype.valueOf.call(v)` with the context's original built-in.
fn unbox<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  ctor: &str,
  v: v8::Local<'s, v8::Value>,
) -> Option<v8::Local<'s, v8::Value>> {
  let global = scope.get_current_context().global(scope);
  let ctor = get_str(scope, global, ctor)?.to_object(scope)?;
  let proto = get_str(scope, ctor, "prototype")?.to_object(scope)?;
  let value_of = v8::Local::<v8::Function>::try_from(get_str(scope, proto, "valueOf")?).ok()?;
  value_of.call(scope, v, &[])
}

fn buffer_bytes(ab: v8::Local<v8::ArrayBuffer>) -> Vec<u8> {
  let len = ab.byte_length();
  match ab.data() {
    // SAFETY: `data` points at `len` readable bytes owned by the live buffer.
    Some(p) if len > 0 => {
      unsafe { std::slice::from_raw_parts(p.as_ptr() as *const u8, len) }.to_vec()
    }
    _ => vec![0; len],
  }
}

fn view_kind(v: v8::Local<v8::Value>) -> Option<ViewKind> {
  Some(if v.is_uint8_array() {
    ViewKind::Uint8
  } else if v.is_int8_array() {
    ViewKind::Int8
  } else if v.is_uint8_clamped_array() {
    ViewKind::Uint8Clamped
  } else if v.is_int16_array() {
    ViewKind::Int16
  } else if v.is_uint16_array() {
    ViewKind::Uint16
  } else if v.is_int32_array() {
    ViewKind::Int32
  } else if v.is_uint32_array() {
    ViewKind::Uint32
  } else if v.is_float16_array() {
    ViewKind::Float16
  } else if v.is_float32_array() {
    ViewKind::Float32
  } else if v.is_float64_array() {
    ViewKind::Float64
  } else if v.is_big_int64_array() {
    ViewKind::BigInt64
  } else if v.is_big_uint64_array() {
    ViewKind::BigUint64
  } else if v.is_data_view() {
    ViewKind::DataView
  } else {
    return None;
  })
}
