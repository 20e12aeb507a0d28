//! Functions of other threads inside a guest (host functions, and functions of other isolates):
//! native functions that keep the original `name` and `length`, cannot be constructed, ignore
//! their receiver, clone their arguments and result (SPEC §2.7). Also the guest's own
//! `ivm.Callback` class, which marks a guest function for transfer with a call mode.

use super::{dispatch, pending, state, Flavor, KIND_CALLBACK};
use crate::bridge::host_ref::{self, CallbackHandle};
use crate::error::msg;
use crate::isolate::handle::Handle;
use crate::isolate::ref_op::RefOp;
use crate::isolate::remote::IsolateFunction;
use crate::transfer::options::TransferOptions;
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_out;
use crate::transfer::value::Value;
use std::sync::Arc;

/// The function a guest callback function calls.
pub enum Callee {
  /// A host function.
  Host(Arc<CallbackHandle>),
  /// A function of another isolate.
  Isolate(Arc<IsolateFunction>),
}

impl Callee {
  fn name_and_length(&self) -> (&str, u32) {
    match self {
      Callee::Host(cb) => (&cb.name, cb.length),
      Callee::Isolate(f) => (&f.name, f.length),
    }
  }
}

/// A guest function that calls `callee`.
pub fn new_function<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  callee: Callee,
) -> Option<v8::Local<'s, v8::Value>> {
  let st = state(scope);
  let id = st.borrow_mut().next_id();
  let data = v8::Integer::new_from_unsigned(scope, id);
  let (name, length) = callee.name_and_length();
  let f = v8::Function::builder(invoke)
    .data(data.into())
    .length(length as i32)
    .constructor_behavior(v8::ConstructorBehavior::Throw)
    .build(scope)?;
  if let Some(name) = v8::String::new(scope, name) {
    f.set_name(name);
  }
  crate::isolate::collect::watch(scope, f.into(), id);
  st.borrow_mut().callbacks.insert(id, callee);
  Some(f.into())
}

fn invoke<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, call);
}

fn call<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let id = args.data().uint32_value(scope).unwrap_or(0);
  let callee = match state(scope).borrow().callbacks.get(&id) {
    Some(Callee::Host(cb)) => Ok(cb.clone()),
    Some(Callee::Isolate(f)) => Err(f.clone()),
    None => return Err(Thrown::error(msg::REFERENCE_RELEASED)),
  };
  let mut values = Vec::with_capacity(args.length() as usize);
  for i in 0..args.length() {
    values.push(v8_out::copy(scope, args.get(i))?);
  }
  let cb = match callee {
    Ok(cb) => cb,
    Err(f) => return call_isolate(scope, &f, values),
  };
  let copy = TransferOptions {
    copy: true,
    ..Default::default()
  };
  let op = RefOp::Apply {
    receiver: Value::Undefined,
    args: values,
    result: copy,
  };
  match cb.mode {
    Flavor::Sync => super::host_call::perform(scope, &cb.target, op, Flavor::Sync),
    // An async callback's promise settles with the copied result: a promise the host function
    // returns is not awaited but fails to copy ("#<Promise> could not be cloned."), as in
    // isolated-vm (SPEC §3.5: awaiting it would be a convenience, which must be opt-in). The
    // `importModuleDynamically` hook's promise is awaited (`awaits`).
    Flavor::Async => {
      let (promise, settle) =
        pending::promise(scope).ok_or_else(|| Thrown::error("Failed to create a promise"))?;
      host_ref::call_async(&cb.target, op, cb.awaits, settle);
      Ok(Some(promise.into()))
    }
    Flavor::Ignored => super::host_call::perform(scope, &cb.target, op, Flavor::Ignored),
  }
}

/// Calls a function of another isolate (its result copied, in every mode).
fn call_isolate<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  f: &IsolateFunction,
  args: Vec<Value>,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  // Copied in every mode: a promise it returns is not awaited (as in isolated-vm).
  let result = TransferOptions {
    copy: true,
    ..Default::default()
  };
  let op = RefOp::Apply {
    receiver: Value::Undefined,
    args,
    result,
  };
  let mode = f.mode;
  super::remote::perform(scope, &f.target, op, 0, mode)
}

fn template<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::FunctionTemplate>> {
  let st = state(scope);
  if let Some(t) = &st.borrow().callback_template {
    return Some(v8::Local::new(scope, t));
  }
  let t = v8::FunctionTemplate::new(scope, construct);
  let name = v8::String::new(scope, "Callback")?;
  t.set_class_name(name);
  // Like isolated-vm's: the prototype's own prototype cannot be set.
  t.prototype_template(scope).set_immutable_proto();
  t.instance_template(scope).set_internal_field_count(2);
  st.borrow_mut().callback_template = Some(v8::Global::new(scope, t));
  Some(t)
}

/// The guest's `Callback` class.
pub fn class<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::Function>> {
  let t = template(scope)?;
  crate::guest::frozen_class(scope, t)
}

fn construct<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    crate::guest::require_new(args, "Callback")?;
    crate::guest::require_args(args, "Callback", 1)?;
    let f = v8::Local::<v8::Function>::try_from(args.get(0))
      .map_err(|_| Thrown::type_error("`Callback` requires parameter 1 to be a function"))?;
    let mode: Flavor = super::options::parse(scope, args.get(1), "Callback", 2)?;
    let this = args.this();
    let st = state(scope);
    let id = st.borrow_mut().next_id();
    crate::isolate::collect::watch(scope, this, id);
    let g = v8::Global::new(scope, f);
    st.borrow_mut().own_callbacks.insert(id, (g, mode));
    super::mark(scope, this, id, KIND_CALLBACK);
    Ok(None)
  });
}

/// The handle of guest `Callback` object `id` as it leaves the isolate: its function, put in the
/// reference table, with its mode.
pub fn own_handle(scope: &mut v8::PinScope<'_, '_>, id: u32) -> Result<Handle, Thrown> {
  let entry = state(scope)
    .borrow()
    .own_callbacks
    .get(&id)
    .map(|e| (e.0.clone(), e.1));
  let (g, mode) = entry.ok_or_else(|| Thrown::error(msg::REFERENCE_RELEASED))?;
  let f = v8::Local::new(scope, g);
  let name = f.get_name(scope).to_rust_string_lossy(scope);
  let length = v8::String::new(scope, "length")
    .and_then(|k| f.get(scope, k.into()))
    .and_then(|l| l.uint32_value(scope))
    .unwrap_or(0);
  let info = crate::isolate::ops::register::Info {
    type_of: "function",
    inherit: false,
  };
  let target = crate::isolate::ops::register::register(scope, f.into(), info)?;
  Ok(Handle::Function(Arc::new(IsolateFunction {
    target,
    name,
    length,
    mode,
  })))
}
