//! `new ivm.Reference(value)` inside a guest: a Reference to a value of the same isolate. Kept in
//! the guest state's `locals` table (weakly tied to the object, like every guest handle).

use super::reference_args::Op;
use super::{state, Mode, KIND_LOCAL_REFERENCE};
use crate::error::msg;
use crate::isolate::ops::register::Info;
use crate::transfer::thrown::Thrown;
use crate::transfer::{v8_in, v8_out};

/// Turns the object being constructed into a Reference to `value`.
pub fn init(
  scope: &mut v8::PinScope<'_, '_>,
  this: v8::Local<v8::Object>,
  value: v8::Local<v8::Value>,
  inherit: bool,
) {
  let st = state(scope);
  let id = st.borrow_mut().next_id();
  crate::isolate::collect::watch(scope, this, id);
  let global = v8::Global::new(scope, value);
  st.borrow_mut().locals.insert(
    id,
    (
      global,
      Info {
        type_of: v8_out::type_of(value),
        inherit,
      },
    ),
  );
  super::mark(scope, this, id, KIND_LOCAL_REFERENCE);
}

/// The referenced value and its `typeof`, if `this` is a local Reference (`Err` once released).
pub fn target<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  this: v8::Local<v8::Object>,
) -> Option<Result<(v8::Local<'s, v8::Value>, Info), Thrown>> {
  let id = super::object_id(scope, this, KIND_LOCAL_REFERENCE)?;
  let entry = state(scope)
    .borrow()
    .locals
    .get(&id)
    .map(|e| (e.0.clone(), e.1));
  Some(match entry {
    Some((g, t)) => Ok((v8::Local::new(scope, g), t)),
    None => Err(Thrown::error(msg::REFERENCE_RELEASED)),
  })
}

fn object<'s>(v: v8::Local<'s, v8::Value>) -> Result<v8::Local<'s, v8::Object>, Thrown> {
  v8::Local::<v8::Object>::try_from(v).map_err(|_| Thrown::type_error(msg::NOT_OBJECT))
}

fn key<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  k: v8::Local<'s, v8::Value>,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  if k.is_string() || k.is_symbol() || (k.is_uint32()) {
    return Ok(k);
  }
  let _ = scope;
  Err(Thrown::type_error(msg::INVALID_KEY))
}

/// `copySync()`: a structured clone inside the same isolate.
pub fn copy<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let copied = v8_out::copy(scope, v)?;
  v8_in::value(scope, &copied)
}

/// `getSync(key)`: own properties only; accessors only with `accessors`.
pub fn get<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  k: v8::Local<'s, v8::Value>,
  accessors: bool,
  inherit: bool,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let obj = object(v)?;
  let k = key(scope, k)?;
  let name = v8::Local::<v8::Name>::try_from(k)
    .ok()
    .or_else(|| k.to_string(scope).map(Into::into));
  let name = name.ok_or_else(|| Thrown::type_error(msg::INVALID_KEY))?;
  let mut holder = obj;
  let desc = loop {
    let desc = holder
      .get_own_property_descriptor(scope, name)
      .ok_or_else(|| Thrown::error("Failed to read property"))?;
    if !desc.is_undefined() || !inherit {
      break desc;
    }
    match holder
      .get_prototype(scope)
      .and_then(|p| v8::Local::<v8::Object>::try_from(p).ok())
    {
      Some(p) => holder = p,
      None => break desc,
    }
  };
  if desc.is_undefined() {
    return Ok(v8::undefined(scope).into());
  }
  let desc = desc
    .to_object(scope)
    .ok_or_else(|| Thrown::error("Failed to read property"))?;
  let get_key =
    v8::String::new(scope, "get").ok_or_else(|| Thrown::error("Failed to read property"))?;
  let getter = desc
    .get(scope, get_key.into())
    .unwrap_or_else(|| v8::undefined(scope).into());
  if !getter.is_undefined() && !accessors {
    return Err(Thrown::type_error(msg::PROPERTY_IS_GETTER));
  }
  obj
    .get(scope, k)
    .ok_or_else(|| Thrown::error("Failed to read property"))
}

/// `setSync(key, value)`: defines an own data property.
pub fn set<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  k: v8::Local<'s, v8::Value>,
  value: v8::Local<'s, v8::Value>,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let obj = object(v)?;
  let k = key(scope, k)?;
  let name = v8::Local::<v8::Name>::try_from(k)
    .ok()
    .or_else(|| k.to_string(scope).map(Into::into));
  let name = name.ok_or_else(|| Thrown::type_error(msg::INVALID_KEY))?;
  obj.delete(scope, k);
  if obj.create_data_property(scope, name, value) != Some(true) {
    return Err(Thrown::type_error(msg::SET_FAILED));
  }
  Ok(v8::Boolean::new(scope, true).into())
}

/// `deleteSync(key)`.
pub fn delete<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  k: v8::Local<'s, v8::Value>,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let obj = object(v)?;
  let k = key(scope, k)?;
  if obj.delete(scope, k) != Some(true) {
    return Err(Thrown::type_error(msg::DELETE_FAILED));
  }
  Ok(v8::Boolean::new(scope, true).into())
}

/// `applySync(receiver, args)`: a direct call.
pub fn apply<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  receiver: v8::Local<'s, v8::Value>,
  list: v8::Local<'s, v8::Value>,
) -> Option<v8::Local<'s, v8::Value>> {
  let f = match v8::Local::<v8::Function>::try_from(v) {
    Ok(f) => f,
    Err(_) => {
      super::throw(scope, Thrown::type_error("Reference is not a function"));
      return None;
    }
  };
  let mut values = Vec::new();
  if let Ok(arr) = v8::Local::<v8::Array>::try_from(list) {
    for i in 0..arr.length() {
      values.push(arr.get_index(scope, i)?);
    }
  }
  f.call(scope, receiver, &values)
}

fn accessors_option<'s>(scope: &mut v8::PinScope<'s, '_>, opts: v8::Local<'s, v8::Value>) -> bool {
  v8::Local::<v8::Object>::try_from(opts)
    .ok()
    .and_then(|o| {
      let k = v8::String::new(scope, "accessors")?;
      o.get(scope, k.into()).map(|x| x.boolean_value(scope))
    })
    .unwrap_or(false)
}

/// Runs `op` now (`None`: an exception is pending).
fn run_now<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  info: Info,
  op: Op,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  match op {
    Op::Apply => Ok(apply(scope, v, args.get(0), args.get(1))),
    Op::Copy => copy(scope, v).map(Some),
    Op::Get => {
      let accessors = accessors_option(scope, args.get(1));
      get(scope, v, args.get(0), accessors, info.inherit).map(Some)
    }
    Op::Set => set(scope, v, args.get(0), args.get(1)).map(Some),
    Op::Delete => delete(scope, v, args.get(0)).map(Some),
  }
}

/// Runs `op` on a value of this isolate. The asynchronous flavours run it at once and return a
/// settled promise (or nothing).
pub fn run<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  info: Info,
  op: Op,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Mode,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  if mode == Mode::Sync {
    return run_now(scope, v, info, op, args);
  }
  let failed = || Thrown::error("Failed to create a promise");
  let resolver = v8::PromiseResolver::new(scope).ok_or_else(failed)?;
  let promise = resolver.get_promise(scope);
  {
    v8::tc_scope!(let tc, scope);
    let outcome = run_now(tc, v, info, op, args);
    if tc.has_terminated() {
      tc.rethrow();
      return Ok(None);
    }
    let settled = match outcome {
      Ok(Some(x)) => resolver.resolve(tc, x),
      Ok(None) => {
        let e = tc.exception().unwrap_or_else(|| v8::undefined(tc).into());
        resolver.reject(tc, e)
      }
      Err(t) => {
        let e = v8_in::thrown(tc, &t);
        resolver.reject(tc, e)
      }
    };
    settled.ok_or_else(failed)?;
  }
  Ok(match mode {
    Mode::Async => Some(promise.into()),
    _ => None,
  })
}
