//! `promise: true` on the guest side: `then` handlers on a guest promise settle a
//! [`SettleSlot`] that the caller awaits. The guard waits in the guest table, so disposing the
//! isolate abandons the promise.

use super::{state, throw};
use crate::transfer::options::TransferOptions;
use crate::transfer::settle::{SettleGuard, SettleSlot};
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_out;
use crate::transfer::value::Value;
use std::sync::Arc;

/// How a settled value leaves the isolate.
pub type Convert = for<'s, 'i> fn(
  &mut v8::PinScope<'s, 'i>,
  v8::Local<'s, v8::Value>,
  TransferOptions,
) -> Result<Value, Thrown>;

/// Settles `slot` when `promise` settles; the fulfilled value goes through `convert` with `opts`.
pub fn attach(
  scope: &mut v8::PinScope<'_, '_>,
  promise: v8::Local<v8::Promise>,
  slot: Arc<SettleSlot>,
  opts: TransferOptions,
  convert: Convert,
) -> Option<()> {
  let st = state(scope);
  let id = {
    let mut s = st.borrow_mut();
    let id = s.next_id();
    s.settles.insert(id, (SettleGuard(slot), opts, convert));
    id
  };
  let data = v8::Integer::new_from_unsigned(scope, id);
  let on_ok = v8::Function::builder(fulfilled)
    .data(data.into())
    .build(scope)?;
  let on_err = v8::Function::builder(rejected)
    .data(data.into())
    .build(scope)?;
  promise.then2(scope, on_ok, on_err)?;
  Some(())
}

fn take(
  scope: &mut v8::PinScope<'_, '_>,
  args: &v8::FunctionCallbackArguments,
) -> Option<(SettleGuard, TransferOptions, Convert)> {
  let id = args.data().uint32_value(scope)?;
  let st = state(scope);
  let entry = st.borrow_mut().settles.remove(&id);
  entry
}

fn fulfilled<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  _rv: v8::ReturnValue<'s, v8::Value>,
) {
  let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    if let Some((guard, opts, convert)) = take(scope, &args) {
      let out = convert(scope, args.get(0), opts);
      guard.0.settle(out);
    }
  }));
  if caught.is_err() {
    throw(scope, Thrown::error("Internal error in isolated-vm-rs"));
  }
}

fn rejected<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  _rv: v8::ReturnValue<'s, v8::Value>,
) {
  let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    if let Some((guard, _, _)) = take(scope, &args) {
      let reason = v8_out::thrown(scope, args.get(0), None);
      guard.0.settle(Err(reason));
    }
  }));
  if caught.is_err() {
    throw(scope, Thrown::error("Internal error in isolated-vm-rs"));
  }
}
