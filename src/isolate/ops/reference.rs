//! Property access and copies through a Reference to a guest value (SPEC §2.8).

use crate::error::msg;
use crate::isolate::ops::export::{export, Out};
use crate::isolate::ops::property;
use crate::isolate::ref_op::RefOp;
use crate::isolate::Runtime;
use crate::transfer::options::{Fallback, TransferOptions};
use crate::transfer::thrown::Thrown;
use crate::transfer::value::{JsString, Value};
use crate::transfer::{v8_in, v8_out};
use std::rc::Rc;

/// A property key from the host: string or uint32 index.
#[derive(Debug, Clone)]
pub enum PropKey {
  /// A string key.
  Name(JsString),
  /// An array index.
  Index(u32),
}

/// A referenced value and the context operations on it run in.
type Target = (Rc<v8::Global<v8::Value>>, Rc<v8::Global<v8::Context>>);

fn entry(rt: &Runtime, id: u32) -> Result<Target, Thrown> {
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
      let target = v8::Local::new(scope, &*value);
      let Some(key) = key(scope, &k) else {
        return Ok(None);
      };
      property::get(scope, target, key, accessors, inherit)
    },
    move |scope, tables, v| get_result(scope, tables, &state, v, opts, inherit),
  )
}

/// What `get` returns: `v` under the transfer options, falling back to a Reference; with
/// `inherit` a "deep" reference (what it returns inherits `unsafeInherit`).
pub fn get_result<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  tables: &std::cell::RefCell<crate::isolate::runtime::Tables>,
  state: &crate::isolate::thread::SharedState,
  v: v8::Local<'s, v8::Value>,
  opts: TransferOptions,
  inherit: bool,
) -> Result<Out, Thrown> {
  let out = export(scope, tables, state, v, opts, Fallback::Reference)?;
  if inherit {
    if let Out::Reference { id, .. } | Out::Function { id, .. } = &out {
      if let Some(e) = tables.borrow_mut().references.get_mut(id) {
        e.inherit = true;
      }
    }
  }
  Ok(out)
}

/// `reference.set(key, value)`: defines an own data property (setters bypassed).
pub fn set(rt: &mut Runtime, id: u32, k: PropKey, val: Value) -> Result<Out, Thrown> {
  let (value, ctx) = entry(rt, id)?;
  rt.execute_checked(
    &ctx,
    0,
    move |scope, _| {
      let target = v8::Local::new(scope, &*value);
      // Checked before the value is materialised (again by `property::set`, which others call).
      property::checked_object(scope, target)?;
      let Some(key) = key(scope, &k) else {
        return Ok(None);
      };
      let x = v8_in::value(scope, &val)?;
      Ok(property::set(scope, target, key, x)?.map(|()| v8::undefined(scope).into()))
    },
    |_, _, _| Ok(Out::Value(Value::Undefined)),
  )
}

/// `reference.delete(key)`.
pub fn delete(rt: &mut Runtime, id: u32, k: PropKey) -> Result<Out, Thrown> {
  let (value, ctx) = entry(rt, id)?;
  rt.execute_checked(
    &ctx,
    0,
    move |scope, _| {
      let target = v8::Local::new(scope, &*value);
      let Some(key) = key(scope, &k) else {
        return Ok(None);
      };
      Ok(property::delete(scope, target, key)?.map(|()| v8::undefined(scope).into()))
    },
    |_, _, _| Ok(Out::Value(Value::Undefined)),
  )
}

/// `reference.copy()`: structured clone of the referenced value.
pub fn copy(rt: &mut Runtime, id: u32) -> Result<Out, Thrown> {
  let (value, ctx) = entry(rt, id)?;
  rt.execute(
    &ctx,
    0,
    move |scope, _| Some(v8::Local::new(scope, &*value)),
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
      let target = v8::Local::new(scope, &*value);
      if !target.is_function() {
        return Err(Thrown::type_error("Reference is not a function"));
      }
      let recv = v8_in::value(scope, &receiver)?;
      let mut values = Vec::with_capacity(args.len());
      for a in &args {
        values.push(v8_in::value(scope, a)?);
      }
      property::call(scope, target, recv, &values)
    },
    move |scope, tables, v| export(scope, tables, &state, v, result, Fallback::Reference),
  )
}

fn prop_key(key: Value) -> Result<PropKey, Thrown> {
  match key {
    Value::String(s) => Ok(PropKey::Name(s)),
    Value::Number(n) => Ok(PropKey::Index(n as u32)),
    _ => Err(Thrown::type_error(msg::INVALID_KEY)),
  }
}

/// Performs `op` on reference table entry `id`: the one dispatch of Reference operations on
/// isolates' values, for Node (the host face) and other isolates (the guest face) alike.
pub fn perform(rt: &mut Runtime, id: u32, op: RefOp, timeout: u32) -> Result<Out, Thrown> {
  // Under way when `dispose()` came: fails as a call running then does.
  if rt.state.disposed.load(std::sync::atomic::Ordering::SeqCst) {
    return Err(Thrown::error(crate::error::msg::DISPOSED_DURING));
  }
  match op {
    RefOp::Apply {
      receiver,
      args,
      result,
    } => apply(rt, id, receiver, args, timeout, result),
    RefOp::Copy => copy(rt, id),
    RefOp::Get {
      key,
      accessors,
      result,
      ..
    } => get(rt, id, prop_key(key)?, accessors, result),
    RefOp::Set { key, value } => set(rt, id, prop_key(key)?, value),
    RefOp::Delete { key } => delete(rt, id, prop_key(key)?),
  }
}
