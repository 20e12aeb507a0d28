//! A guest `Context` object: a context of a nested isolate (or of any isolate, transferred in).

use super::{init, private, template, this, Nested, KIND_CONTEXT};
use crate::guest::options as o;
use crate::guest::reference_args::export_list;
use crate::guest::remote;
use crate::guest::{dispatch, getter, method, Flavor};
use crate::isolate::ops::script;
use crate::isolate::options::{ClosureOptions, EvalOptions};
use crate::isolate::remote::{answer, IsolateContext};
use crate::isolate::runner::holding;
use crate::isolate::Runtime;
use crate::transfer::thrown::Thrown;

fn class_template<'s>(
  scope: &mut v8::PinScope<'s, '_>,
) -> Option<v8::Local<'s, v8::FunctionTemplate>> {
  template(scope, "Context", 3, |scope| {
    let t = v8::FunctionTemplate::new(scope, construct);
    let proto = t.prototype_template(scope);
    method(scope, proto, "evalSync", eval_sync)?;
    method(scope, proto, "eval", eval)?;
    method(scope, proto, "evalIgnored", eval_ignored)?;
    method(scope, proto, "evalClosureSync", eval_closure_sync)?;
    method(scope, proto, "evalClosure", eval_closure)?;
    method(scope, proto, "evalClosureIgnored", eval_closure_ignored)?;
    method(scope, proto, "release", release)?;
    getter(scope, proto, "global", global)?;
    Some(t)
  })
}

fn construct<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |_, _| Err(private("Context")));
}

/// Internal field holding the `global` Reference object (`undefined` once released).
const GLOBAL_FIELD: usize = 2;

/// The guest's `Context` class.
pub fn class<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::Function>> {
  let t = class_template(scope)?;
  crate::guest::frozen_class(scope, t)
}

/// A guest Context object for `c`, with its `global` Reference.
pub fn new_instance<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  c: IsolateContext,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let failed = || Thrown::error("Failed to create a handle object");
  let t = class_template(scope).ok_or_else(failed)?;
  let obj = crate::guest::instance(scope, t).ok_or_else(failed)?;
  let global = crate::guest::isolate_ref(scope, &c.global)?;
  obj.set_internal_field(GLOBAL_FIELD, global.into());
  init(scope, obj, Nested::Context(c));
  Ok(obj.into())
}

fn global<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let this = args.this();
    if super::get(scope, this, KIND_CONTEXT).is_none() {
      return Err(Thrown::type_error("Illegal invocation"));
    }
    Ok(
      this
        .get_internal_field(scope, GLOBAL_FIELD)
        .and_then(|d| v8::Local::<v8::Value>::try_from(d).ok()),
    )
  });
}

/// The context `obj` holds, if it is a guest Context object.
pub fn of(
  scope: &mut v8::PinScope<'_, '_>,
  obj: v8::Local<v8::Object>,
) -> Option<Result<IsolateContext, Thrown>> {
  Some(match super::get(scope, obj, KIND_CONTEXT)? {
    Ok(Nested::Context(c)) => Ok(c),
    Ok(_) => Err(Thrown::type_error("Illegal invocation")),
    Err(e) => Err(e),
  })
}

/// The Context parameter of `script.run*` and `module.instantiate*`, checked with isolated-vm's
/// texts (none, not an object, another kind of object).
pub fn param(
  scope: &mut v8::PinScope<'_, '_>,
  v: v8::Local<v8::Value>,
) -> Result<IsolateContext, Thrown> {
  let obj = v8::Local::<v8::Object>::try_from(v).map_err(|_| {
    Thrown::type_error(if v.is_undefined() {
      crate::error::msg::CONTEXT_MISSING
    } else {
      crate::error::msg::CONTEXT_NOT_OBJECT
    })
  })?;
  of(scope, obj).ok_or_else(|| Thrown::type_error(crate::error::msg::CONTEXT_OTHER))?
}

fn context(
  scope: &mut v8::PinScope<'_, '_>,
  obj: v8::Local<v8::Object>,
) -> Result<IsolateContext, Thrown> {
  match this(scope, obj, KIND_CONTEXT)? {
    Nested::Context(c) => Ok(c),
    _ => Err(Thrown::type_error("Illegal invocation")),
  }
}

fn eval_in<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let r = eval_body(scope, args, mode);
  crate::guest::rejecting(scope, mode, r)
}

fn eval_body<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let c = context(scope, args.this())?;
  let code = o::string(scope, args.get(0), 1)?;
  let opts: EvalOptions = o::method(scope, args.get(1), 2)?;
  let id = c.handle.id;
  let host = c.handle.host.clone();
  let work = holding(c.handle.clone(), move |rt: &mut Runtime| {
    let out = script::eval(rt, id, code, opts.origin, opts.timeout, opts.transfer)?;
    answer(rt, out)
  });
  remote::run(scope, &host, work, mode)
}

fn eval_closure_in<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let r = eval_closure_body(scope, args, mode);
  crate::guest::rejecting(scope, mode, r)
}

fn eval_closure_body<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let c = context(scope, args.this())?;
  let code = o::string(scope, args.get(0), 1)?;
  let opts: ClosureOptions = o::method(scope, args.get(2), 3)?;
  let values = export_list(scope, args.get(1), opts.arguments)?;
  let id = c.handle.id;
  let host = c.handle.host.clone();
  let work = holding(c.handle.clone(), move |rt: &mut Runtime| {
    let ClosureOptions {
      origin,
      timeout,
      result,
      ..
    } = opts;
    let out = script::eval_closure(rt, id, code, values, origin, timeout, result)?;
    answer(rt, out)
  });
  remote::run(scope, &host, work, mode)
}

crate::guest::methods! {
  eval_sync => eval_in(Flavor::Sync);
  eval => eval_in(Flavor::Async);
  eval_ignored => eval_in(Flavor::Ignored);
  eval_closure_sync => eval_closure_in(Flavor::Sync);
  eval_closure => eval_closure_in(Flavor::Async);
  eval_closure_ignored => eval_closure_in(Flavor::Ignored);
}

fn release<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let this = args.this();
    let held = match super::get(scope, this, KIND_CONTEXT) {
      None => return Err(Thrown::type_error("Illegal invocation")),
      Some(r) => r.is_ok(),
    };
    if held {
      crate::guest::forget(scope, this);
      let global = this
        .get_internal_field(scope, GLOBAL_FIELD)
        .and_then(|d| v8::Local::<v8::Value>::try_from(d).ok())
        .and_then(|g| v8::Local::<v8::Object>::try_from(g).ok());
      if let Some(g) = global {
        crate::guest::forget(scope, g);
      }
      let undefined = v8::undefined(scope);
      this.set_internal_field(GLOBAL_FIELD, undefined.into());
    }
    Ok(Some(v8::Boolean::new(scope, held).into()))
  });
}
