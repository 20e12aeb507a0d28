//! Property access and copies through a Reference to a guest value (SPEC §2.8).

use crate::error::msg;
use crate::isolate::ops::export::{export, Out};
use crate::isolate::Runtime;
use crate::transfer::options::{Fallback, TransferOptions};
use crate::transfer::thrown::Thrown;
use crate::transfer::value::{JsString, Value};
use crate::transfer::{v8_in, v8_out};

/// A property key from the host: string or uint32 index.
#[derive(Debug, Clone)]
pub enum PropKey {
  /// A string key.
  Name(JsString),
  /// An array index.
  Index(u32),
}

fn entry(
  rt: &Runtime,
  id: u32,
) -> Result<(v8::Global<v8::Value>, v8::Global<v8::Context>), Thrown> {
  rt.tables()
    .references
    .get(&id)
    .map(|e| (e.value.clone(), e.context.clone()))
    .ok_or_else(|| Thrown::error(msg::REFERENCE_RELEASED))
}

fn key<'s>(scope: &mut v8::PinScope<'s, '_>, k: &PropKey) -> Option<v8::Local<'s, v8::Value>> {
  Some(match k {
    PropKey::Name(n) => v8_in::string(scope, n)?.into(),
    PropKey::Index(i) => v8::Integer::new_from_unsigned(scope, *i).into(),
  })
}

fn has_proxy(scope: &mut v8::PinScope<'_, '_>, obj: v8::Local<v8::Object>) -> bool {
  let mut cur: v8::Local<v8::Value> = obj.into();
  for _ in 0..10_000 {
    if cur.is_proxy() {
      return true;
    }
    let Ok(o) = v8::Local::<v8::Object>::try_from(cur) else {
      return false;
    };
    match o.get_prototype(scope) {
      Some(p) if p.is_object() => cur = p,
      _ => return false,
    }
  }
  false
}

/// The referenced value as an object without proxies on its chain (SPEC §2.8 errors).
fn checked_object<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  value: &v8::Global<v8::Value>,
) -> Result<v8::Local<'s, v8::Object>, Thrown> {
  let v = v8::Local::new(scope, value);
  let obj =
    v8::Local::<v8::Object>::try_from(v).map_err(|_| Thrown::type_error(msg::NOT_OBJECT))?;
  if has_proxy(scope, obj) {
    return Err(Thrown::type_error(msg::HAS_PROXY));
  }
  Ok(obj)
}

/// A name for a property key (`None`: a JS exception is pending).
fn name<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  key: v8::Local<'s, v8::Value>,
) -> Option<v8::Local<'s, v8::Name>> {
  v8::Local::<v8::Name>::try_from(key)
    .ok()
    .or_else(|| key.to_string(scope).map(Into::into))
}

/// `reference.get(key, { accessors, ...transfer })`.
pub fn get(
  rt: &mut Runtime,
  id: u32,
  k: PropKey,
  accessors: bool,
  opts: TransferOptions,
) -> Result<Out, Thrown> {
  let (value, ctx) = entry(rt, id)?;
  let inherit = rt.tables().references.get(&id).is_some_and(|e| e.inherit);
  let state = rt.state.clone();
  rt.execute_checked(
    &ctx,
    0,
    move |scope, _| {
      let obj = checked_object(scope, &value)?;
      let Some(key) = key(scope, &k) else {
        return Ok(None);
      };
      let Some(name) = name(scope, key) else {
        return Ok(None);
      };
      let Some(desc) = descriptor(scope, obj, name, inherit) else {
        return Ok(None);
      };
      if desc.is_undefined() {
        return Ok(Some(v8::undefined(scope).into()));
      }
      let Some(desc) = desc.to_object(scope) else {
        return Ok(None);
      };
      let Some(get_key) = v8::String::new(scope, "get") else {
        return Ok(None);
      };
      let Some(getter) = desc.get(scope, get_key.into()) else {
        return Ok(None);
      };
      if !getter.is_undefined() && !accessors {
        return Err(Thrown::type_error(msg::PROPERTY_IS_GETTER));
      }
      Ok(obj.get(scope, key))
    },
    move |scope, tables, v| {
      let out = export(scope, tables, &state, v, opts, Fallback::Reference)?;
      if inherit {
        // A "deep" reference: what it returns inherits `unsafeInherit`.
        if let Out::Reference { id, .. } | Out::Function { id, .. } = &out {
          if let Some(e) = tables.borrow_mut().references.get_mut(id) {
            e.inherit = true;
          }
        }
      }
      Ok(out)
    },
  )
}

/// The property descriptor of `name` on `obj`, or with `inherit` on the first object of its
/// prototype chain that has one (`undefined` if none does; `None`: an exception is pending).
fn descriptor<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  obj: v8::Local<'s, v8::Object>,
  name: v8::Local<'s, v8::Name>,
  inherit: bool,
) -> Option<v8::Local<'s, v8::Value>> {
  let mut holder = obj;
  loop {
    let desc = holder.get_own_property_descriptor(scope, name)?;
    if !desc.is_undefined() || !inherit {
      return Some(desc);
    }
    match holder
      .get_prototype(scope)
      .and_then(|p| v8::Local::<v8::Object>::try_from(p).ok())
    {
      Some(p) => holder = p,
      None => return Some(desc),
    }
  }
}

/// `reference.set(key, value)`: defines an own data property (setters bypassed).
pub fn set(rt: &mut Runtime, id: u32, k: PropKey, val: Value) -> Result<Out, Thrown> {
  let (value, ctx) = entry(rt, id)?;
  rt.execute_checked(
    &ctx,
    0,
    move |scope, _| {
      let obj = checked_object(scope, &value)?;
      let Some(key) = key(scope, &k) else {
        return Ok(None);
      };
      let x = v8_in::value(scope, &val)?;
      let Some(name) = name(scope, key) else {
        return Ok(None);
      };
      if obj.delete(scope, key).is_none() {
        return Ok(None);
      }
      match obj.create_data_property(scope, name, x) {
        None => Ok(None),
        Some(false) => Err(Thrown::type_error(msg::SET_FAILED)),
        Some(true) => Ok(Some(v8::undefined(scope).into())),
      }
    },
    |_, _, _| Ok(Out::Value(Value::Bool(true))),
  )
}

/// `reference.delete(key)`.
pub fn delete(rt: &mut Runtime, id: u32, k: PropKey) -> Result<Out, Thrown> {
  let (value, ctx) = entry(rt, id)?;
  rt.execute_checked(
    &ctx,
    0,
    move |scope, _| {
      let obj = checked_object(scope, &value)?;
      let Some(key) = key(scope, &k) else {
        return Ok(None);
      };
      match obj.delete(scope, key) {
        None => Ok(None),
        Some(false) => Err(Thrown::type_error(msg::DELETE_FAILED)),
        Some(true) => Ok(Some(v8::undefined(scope).into())),
      }
    },
    |_, _, _| Ok(Out::Value(Value::Bool(true))),
  )
}

/// `reference.copy()`: structured clone of the referenced value.
pub fn copy(rt: &mut Runtime, id: u32) -> Result<Out, Thrown> {
  let (value, ctx) = entry(rt, id)?;
  rt.execute(
    &ctx,
    0,
    move |scope, _| Some(v8::Local::new(scope, &value)),
    |scope, _, v| v8_out::copy(scope, v).map(Out::Value),
  )
}

/// `reference.apply(receiver, args, { timeout, result })`: calls the referenced function.
pub fn apply(
  rt: &mut Runtime,
  id: u32,
  receiver: Value,
  args: Vec<Value>,
  timeout: u32,
  result: TransferOptions,
) -> Result<Out, Thrown> {
  let (value, ctx) = entry(rt, id)?;
  let state = rt.state.clone();
  rt.execute_checked(
    &ctx,
    timeout,
    move |scope, _| {
      let v = v8::Local::new(scope, &value);
      let f = v8::Local::<v8::Function>::try_from(v)
        .map_err(|_| Thrown::type_error("Reference is not a function"))?;
      let recv = v8_in::value(scope, &receiver)?;
      let mut values = Vec::with_capacity(args.len());
      for a in &args {
        values.push(v8_in::value(scope, a)?);
      }
      Ok(f.call(scope, recv, &values))
    },
    move |scope, tables, v| export(scope, tables, &state, v, result, Fallback::Reference),
  )
}
