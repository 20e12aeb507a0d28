//! `promise: true` on the guest side: `then` handlers on a guest promise settle a
//! [`SettleSlot`] that the caller awaits. The guard waits in a table of the isolate (an isolate
//! slot), so disposing the isolate abandons the promise.

use crate::transfer::options::TransferOptions;
use crate::transfer::settle::{self, SettleGuard, SettleSlot};
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Value;
use crate::transfer::{v8_in, v8_out};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// How a settled value leaves the isolate.
pub type Convert = for<'s, 'i> fn(
  &mut v8::PinScope<'s, 'i>,
  v8::Local<'s, v8::Value>,
  TransferOptions,
) -> Result<Value, Thrown>;

/// Guest promises exported with `promise: true`, waiting to settle their slot, by the id their
/// handlers carry.
#[derive(Default)]
struct Settles {
  entries: HashMap<u32, (SettleGuard, TransferOptions, Convert)>,
  next: u32,
}

/// The isolate's table of waiting exports (created on first use).
fn settles(isolate: &mut v8::Isolate) -> Rc<RefCell<Settles>> {
  if let Some(s) = isolate.get_slot::<Rc<RefCell<Settles>>>() {
    return s.clone();
  }
  let s = Rc::new(RefCell::new(Settles::default()));
  isolate.set_slot(s.clone());
  s
}

/// Throws `t` into the guest.
fn throw(scope: &mut v8::PinScope<'_, '_>, t: Thrown) {
  let v = v8_in::thrown(scope, &t);
  scope.throw_exception(v);
}

/// Settles `slot` when `promise` settles; the fulfilled value goes through `convert` with `opts`.
pub fn attach(
  scope: &mut v8::PinScope<'_, '_>,
  promise: v8::Local<v8::Promise>,
  slot: Arc<SettleSlot>,
  opts: TransferOptions,
  convert: Convert,
) -> Option<()> {
  let table = settles(scope);
  let id = {
    let mut s = table.borrow_mut();
    s.next = s.next.wrapping_add(1).max(1);
    let id = s.next;
    s.entries.insert(id, (settle::guard(slot), opts, convert));
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

/// A value under `promise: true`: a slot settled when `v` settles if it is a promise (its value
/// going through `convert` with the other options), or at once with `convert` of `v`. `None`
/// when the handlers could not be attached (execution is being terminated).
pub fn promise_slot<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  opts: TransferOptions,
  convert: Convert,
) -> Option<Arc<SettleSlot>> {
  let slot = SettleSlot::new();
  let inner = TransferOptions {
    promise: false,
    ..opts
  };
  match v8::Local::<v8::Promise>::try_from(v) {
    Ok(p) => attach(scope, p, slot.clone(), inner, convert)?,
    Err(_) => slot.settle(convert(scope, v, inner)),
  }
  Some(slot)
}

fn take(
  scope: &mut v8::PinScope<'_, '_>,
  args: &v8::FunctionCallbackArguments,
) -> Option<(SettleGuard, TransferOptions, Convert)> {
  let id = args.data().uint32_value(scope)?;
  let table = settles(scope);
  let entry = table.borrow_mut().entries.remove(&id);
  entry
}

fn fulfilled<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  _rv: v8::ReturnValue<'s, v8::Value>,
) {
  let caught = crate::unwind::catch(|| {
    if let Some((guard, opts, convert)) = take(scope, &args) {
      let out = convert(scope, args.get(0), opts);
      guard.settle(out);
    }
  });
  if let Err(internal) = caught {
    throw(scope, Thrown::error(internal));
  }
}

fn rejected<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  _rv: v8::ReturnValue<'s, v8::Value>,
) {
  let caught = crate::unwind::catch(|| {
    if let Some((guard, _, _)) = take(scope, &args) {
      let reason = v8_out::thrown(scope, args.get(0), None);
      guard.settle(Err(reason));
    }
  });
  if let Err(internal) = caught {
    throw(scope, Thrown::error(internal));
  }
}
