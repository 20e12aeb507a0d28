//! Reference operations on a V8 value, written once (SPEC §2.8): used by phase-2 jobs for
//! References held by other threads (`ops::reference`) and by guest References to values of
//! the calling isolate itself (`guest::local_reference`). Under the isolate's lock.
//!
//! Each returns `Ok(None)` when a JavaScript exception is pending (a throwing getter, a
//! throwing function), `Err` for the library's own errors.

use crate::error::msg;
use crate::transfer::thrown::Thrown;

/// Whether `obj` or an object on its prototype chain is a proxy.
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

/// The referenced value as an object without proxies on its chain ("Reference is not an
/// object", "Object is or has proxy").
pub fn checked_object<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
) -> Result<v8::Local<'s, v8::Object>, Thrown> {
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

/// `reference.get(key)`: own properties only (the prototype chain with `inherit`); getters
/// only with `accessors`.
pub fn get<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  target: v8::Local<'s, v8::Value>,
  key: v8::Local<'s, v8::Value>,
  accessors: bool,
  inherit: bool,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let obj = checked_object(scope, target)?;
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
}

/// `reference.set(key, value)`: deletes the key, then defines an own data property (setters
/// bypassed); failure → "Set failed".
pub fn set<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  target: v8::Local<'s, v8::Value>,
  key: v8::Local<'s, v8::Value>,
  value: v8::Local<'s, v8::Value>,
) -> Result<Option<()>, Thrown> {
  let obj = checked_object(scope, target)?;
  let Some(name) = name(scope, key) else {
    return Ok(None);
  };
  if obj.delete(scope, key).is_none() {
    return Ok(None);
  }
  match obj.create_data_property(scope, name, value) {
    None => Ok(None),
    Some(false) => Err(Thrown::type_error(msg::SET_FAILED)),
    Some(true) => Ok(Some(())),
  }
}

/// `reference.delete(key)`; failure → "Delete failed".
pub fn delete<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  target: v8::Local<'s, v8::Value>,
  key: v8::Local<'s, v8::Value>,
) -> Result<Option<()>, Thrown> {
  let obj = checked_object(scope, target)?;
  match obj.delete(scope, key) {
    None => Ok(None),
    Some(false) => Err(Thrown::type_error(msg::DELETE_FAILED)),
    Some(true) => Ok(Some(())),
  }
}

/// `reference.apply(receiver, args)`: "Reference is not a function" unless it is one.
pub fn call<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  target: v8::Local<'s, v8::Value>,
  receiver: v8::Local<'s, v8::Value>,
  args: &[v8::Local<'s, v8::Value>],
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let f = v8::Local::<v8::Function>::try_from(target)
    .map_err(|_| Thrown::type_error("Reference is not a function"))?;
  Ok(f.call(scope, receiver, args))
}
