//! `new ivm.Reference(value)` inside a guest: a Reference to a value of the same isolate. Kept in
//! the guest state's `locals` table (weakly tied to the object, like every guest handle).

use super::reference_args::{self as a, Op};
use super::{state, Flavor, KIND_LOCAL_REFERENCE};
use crate::error::msg;
use crate::isolate::ops::property;
use crate::isolate::ops::reference::get_result;
use crate::isolate::ops::register::Info;
use crate::isolate::remote::answer_from;
use crate::isolate::runtime::Core;
use crate::transfer::options::TransferOptions;
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Value;
use crate::transfer::{v8_in, v8_out};
use std::rc::Rc;

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

/// `copySync()`: a structured clone inside the same isolate.
pub fn copy<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let copied = v8_out::copy(scope, v)?;
  v8_in::value(scope, &copied)
}

/// A key argument for a value of this isolate: symbols work here.
fn key<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  k: v8::Local<'s, v8::Value>,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  a::key(scope, k)?;
  Ok(k)
}

/// A value that went through the transfer rules, back in this isolate (as it would arrive in
/// any other).
fn arrive<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: &Value,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  v8_in::value(scope, v)
}

/// A result under `opts`, falling back to a Reference (as `get` / `apply` results leave any
/// isolate), arriving back in this one.
fn result<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  opts: TransferOptions,
  inherit: bool,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let core = scope
    .get_slot::<Rc<Core>>()
    .cloned()
    .ok_or_else(|| Thrown::error(msg::DISPOSED))?;
  let out = get_result(scope, &core.tables, &core.state, v, opts, inherit)?;
  let answer = answer_from(&core.state, out)?;
  super::remote::receive(scope, answer)
}

/// Runs `op` now (`None`: an exception is pending), with the same argument rules and results
/// as on a value of another isolate.
fn run_now<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  info: Info,
  op: Op,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  match op {
    Op::Apply => {
      let opts = a::apply_options(scope, args)?;
      let (recv, list) = a::apply_values(scope, args, opts.arguments)?;
      let recv = arrive(scope, &recv)?;
      let mut values = Vec::with_capacity(list.len());
      for x in &list {
        values.push(arrive(scope, x)?);
      }
      match property::call(scope, v, recv, &values)? {
        Some(r) => result(scope, r, opts.result, false).map(Some),
        None => Ok(None),
      }
    }
    Op::Copy => copy(scope, v).map(Some),
    Op::Get => {
      let k = key(scope, args.get(0))?;
      let opts = a::get_options(scope, args)?;
      match property::get(scope, v, k, opts.accessors, info.inherit)? {
        Some(r) => result(scope, r, opts.transfer, info.inherit).map(Some),
        None => Ok(None),
      }
    }
    Op::Set => {
      let k = key(scope, args.get(0))?;
      let t = a::set_options(scope, args)?;
      // The value goes through the transfer rules even though it stays in this heap, as in
      // isolated-vm: an object without options is "A non-transferable value was passed".
      let value = a::export_arg(scope, args.get(1), t)?;
      let x = arrive(scope, &value)?;
      Ok(property::set(scope, v, k, x)?.map(|()| v8::undefined(scope).into()))
    }
    Op::Delete => {
      let k = key(scope, args.get(0))?;
      Ok(property::delete(scope, v, k)?.map(|()| v8::undefined(scope).into()))
    }
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
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  if mode == Flavor::Sync {
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
    Flavor::Async => Some(promise.into()),
    _ => None,
  })
}
