//! A guest `Script` object: a script compiled in a nested isolate.

use super::{init, private, template, this, Nested, KIND_SCRIPT};
use crate::error::msg;
use crate::guest::options as o;
use crate::guest::remote;
use crate::guest::{dispatch, method, Flavor};
use crate::isolate::ops::script;
use crate::isolate::options::RunOptions;
use crate::isolate::remote::{answer, IsolateScript};
use crate::isolate::runner::holding;
use crate::isolate::Runtime;
use crate::transfer::thrown::Thrown;
use std::sync::Arc;

fn class_template<'s>(
  scope: &mut v8::PinScope<'s, '_>,
) -> Option<v8::Local<'s, v8::FunctionTemplate>> {
  template(scope, "Script", 2, |scope| {
    let t = v8::FunctionTemplate::new(scope, construct);
    let proto = t.prototype_template(scope);
    method(scope, proto, "runSync", run_sync)?;
    method(scope, proto, "run", run)?;
    method(scope, proto, "runIgnored", run_ignored)?;
    method(scope, proto, "release", release)?;
    Some(t)
  })
}

fn construct<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |_, _| Err(private("Script")));
}

/// The guest's `Script` class.
pub fn class<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::Function>> {
  let t = class_template(scope)?;
  crate::guest::frozen_class(scope, t)
}

/// A guest Script object for `s` (with the compile's `cachedData` / `cachedDataRejected` when it
/// is the first object made for a freshly compiled handle).
pub fn new_instance<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  s: IsolateScript,
) -> Option<v8::Local<'s, v8::Value>> {
  let t = class_template(scope)?;
  let obj = crate::guest::instance(scope, t)?;
  super::set_fresh(scope, obj, &s.fresh)?;
  init(scope, obj, Nested::Script(s));
  Some(obj.into())
}

fn run_in<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let r = run_body(scope, args, mode);
  crate::guest::rejecting(scope, mode, r)
}

fn run_body<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let Nested::Script(s) = this(scope, args.this(), KIND_SCRIPT)? else {
    return Err(Thrown::type_error("Illegal invocation"));
  };
  let c = super::context::param(scope, args.get(0))?;
  if !Arc::ptr_eq(&c.handle.host, &s.handle.host) {
    return Err(Thrown::error(msg::INVALID_CONTEXT));
  }
  let RunOptions {
    timeout,
    release,
    transfer: t,
  } = o::method(scope, args.get(1), 2)?;
  if release {
    crate::guest::forget(scope, args.this());
  }
  let (script_id, context_id) = (s.handle.id, c.handle.id);
  let host = s.handle.host.clone();
  let work = holding((s, c), move |rt: &mut Runtime| {
    let out = script::run(rt, script_id, context_id, timeout, t)?;
    answer(rt, out)
  });
  remote::run(scope, &host, work, mode)
}

crate::guest::methods! {
  run_sync => run_in(Flavor::Sync);
  run => run_in(Flavor::Async);
  run_ignored => run_in(Flavor::Ignored);
}

fn release<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    this(scope, args.this(), KIND_SCRIPT)?;
    crate::guest::forget(scope, args.this());
    Ok(None)
  });
}
