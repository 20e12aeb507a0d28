//! Host functions inside a guest: native functions that keep the original `name` and `length`,
//! cannot be constructed, ignore their receiver, clone their arguments and result (SPEC §2.7).

use super::{pending, state, throw};
use crate::bridge::host_ref::{self, CallMode, CallbackHandle, HostOp};
use crate::error::{msg, Thrown};
use crate::isolate::runtime::Waiters;
use crate::isolate::thread::SharedState;
use crate::transfer::options::TransferOptions;
use crate::transfer::value::Value;
use crate::transfer::{v8_in, v8_out};
use std::sync::Arc;

/// A guest function that calls `cb` on the host.
pub fn new_function<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  cb: Arc<CallbackHandle>,
) -> Option<v8::Local<'s, v8::Value>> {
  let st = state(scope);
  let id = st.borrow_mut().next_id();
  let data = v8::Integer::new_from_unsigned(scope, id);
  let f = v8::Function::builder(invoke)
    .data(data.into())
    .length(cb.length as i32)
    .constructor_behavior(v8::ConstructorBehavior::Throw)
    .build(scope)?;
  if let Some(name) = v8::String::new(scope, &cb.name) {
    f.set_name(name);
  }
  let weak = v8::Weak::with_finalizer(scope, f, super::release_on_gc(id));
  st.borrow_mut().callbacks.insert(id, (cb, weak));
  Some(f.into())
}

fn invoke<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  mut rv: v8::ReturnValue<'s, v8::Value>,
) {
  let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(scope, &args)));
  match outcome {
    Ok(Ok(Some(v))) => rv.set(v),
    Ok(Ok(None)) => {}
    Ok(Err(e)) => throw(scope, e),
    Err(_) => throw(scope, Thrown::error("Internal error in isolated-vm-rs")),
  }
}

fn call<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let id = args.data().uint32_value(scope).unwrap_or(0);
  let cb = state(scope)
    .borrow()
    .callbacks
    .get(&id)
    .map(|e| e.0.clone())
    .ok_or_else(|| Thrown::error(msg::REFERENCE_RELEASED))?;
  let mut values = Vec::with_capacity(args.length() as usize);
  for i in 0..args.length() {
    values.push(v8_out::copy(scope, args.get(i))?);
  }
  let copy = TransferOptions {
    copy: true,
    ..Default::default()
  };
  let op = HostOp::Apply {
    receiver: Value::Undefined,
    args: values,
    result: copy,
  };
  match cb.mode {
    CallMode::Sync => {
      let waiters = scope
        .get_slot::<Waiters>()
        .map(|w| w.borrow().clone())
        .unwrap_or_default();
      let shared = scope
        .get_slot::<Arc<SharedState>>()
        .cloned()
        .ok_or_else(|| Thrown::error(msg::DISPOSED))?;
      let out = {
        let isolate: &mut v8::Isolate = scope;
        host_ref::call(&cb.target, op, &waiters, &shared.waiting_on_host, |rx| {
          crate::isolate::thread::serve_while_waiting(isolate, rx)
        })?
      };
      v8_in::value(scope, &out).map(Some)
    }
    CallMode::Async => {
      let (promise, settle) =
        pending::promise(scope).ok_or_else(|| Thrown::error("Failed to create a promise"))?;
      host_ref::call_async(&cb.target, op, true, settle);
      Ok(Some(promise.into()))
    }
    CallMode::Ignored => {
      host_ref::call_async(&cb.target, op, false, Box::new(|_| {}));
      Ok(None)
    }
  }
}
