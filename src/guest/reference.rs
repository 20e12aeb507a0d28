//! `Reference` inside a guest: a handle to a value of another isolate (for now, of a Node
//! environment). Instances keep their target in a per-isolate table; the object's internal
//! field holds the table id.

use crate::bridge::host_ref::{self, HostOp, HostRef};
use crate::error::{msg, Thrown};
use crate::isolate::runtime::Waiters;
use crate::isolate::thread::SharedState;
use crate::transfer::options::TransferOptions;
use crate::transfer::value::Value;
use crate::transfer::{v8_in, v8_out};
use std::sync::Arc;

use super::{dispatch, pending, state};

fn method(
  scope: &mut v8::PinScope<'_, '_>,
  proto: v8::Local<v8::ObjectTemplate>,
  name: &str,
  cb: impl v8::MapFnTo<v8::FunctionCallback>,
) -> Option<()> {
  let key = v8::String::new(scope, name)?;
  let f = v8::FunctionTemplate::new(scope, cb);
  proto.set(key.into(), f.into());
  Some(())
}

fn template<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::FunctionTemplate>> {
  let st = state(scope);
  if let Some(t) = &st.borrow().reference_template {
    return Some(v8::Local::new(scope, t));
  }
  let t = v8::FunctionTemplate::new(scope, construct);
  let name = v8::String::new(scope, "Reference")?;
  t.set_class_name(name);
  t.instance_template(scope).set_internal_field_count(2);
  let proto = t.prototype_template(scope);
  method(scope, proto, "applySync", apply_sync)?;
  method(scope, proto, "apply", apply)?;
  method(scope, proto, "applyIgnored", apply_ignored)?;
  method(scope, proto, "applySyncPromise", apply_sync_promise)?;
  method(scope, proto, "copySync", copy_sync)?;
  method(scope, proto, "copy", copy)?;
  method(scope, proto, "getSync", get_sync)?;
  method(scope, proto, "get", get)?;
  method(scope, proto, "setSync", set_sync)?;
  method(scope, proto, "set", set)?;
  method(scope, proto, "setIgnored", set_ignored)?;
  method(scope, proto, "deleteSync", delete_sync)?;
  method(scope, proto, "delete", delete)?;
  method(scope, proto, "deleteIgnored", delete_ignored)?;
  method(scope, proto, "release", release)?;
  method(scope, proto, "deref", deref)?;
  let getter = v8::FunctionTemplate::new(scope, type_of);
  let key = v8::String::new(scope, "typeof")?;
  proto.set_accessor_property(key.into(), Some(getter), None, v8::PropertyAttribute::NONE);
  st.borrow_mut().reference_template = Some(v8::Global::new(scope, t));
  Some(t)
}

/// A guest Reference object for a host value.
pub fn new_instance<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  target: Arc<HostRef>,
) -> Option<v8::Local<'s, v8::Value>> {
  let t = template(scope)?;
  let obj = t.instance_template(scope).new_instance(scope)?;
  let st = state(scope);
  let id = st.borrow_mut().next_id();
  let weak = v8::Weak::with_finalizer(scope, obj, super::release_on_gc(id));
  st.borrow_mut().targets.insert(id, (target, weak));
  let field = v8::Integer::new_from_unsigned(scope, id);
  obj.set_internal_field(0, field.into());
  let kind = v8::Integer::new(scope, super::KIND_REFERENCE);
  obj.set_internal_field(1, kind.into());
  Some(obj.into())
}

fn target(
  scope: &mut v8::PinScope<'_, '_>,
  this: v8::Local<v8::Object>,
) -> Result<Arc<HostRef>, Thrown> {
  let bad = || Thrown::type_error("Illegal invocation");
  if this.internal_field_count() < 1 {
    return Err(bad());
  }
  let id = this
    .get_internal_field(scope, 0)
    .and_then(|d| v8::Local::<v8::Value>::try_from(d).ok())
    .and_then(|v| v.uint32_value(scope))
    .ok_or_else(bad)?;
  if super::object_id(scope, this, super::KIND_LOCAL_REFERENCE).is_some() {
    return Err(Thrown::type_error(
      "This operation on a Reference to a value of the same isolate is not supported yet",
    ));
  }
  let st = state(scope);
  let found = st.borrow().targets.get(&id).map(|e| e.0.clone());
  found.ok_or_else(|| Thrown::error(msg::REFERENCE_RELEASED))
}

/// The Reference constructor function in the current context.
pub fn class<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::Function>> {
  template(scope)?.get_function(scope)
}

fn construct<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    if args.new_target().is_undefined() {
      return Err(Thrown::type_error("`Reference` must be called with `new`"));
    }
    super::local_reference::init(scope, args.this(), args.get(0));
    Ok(None)
  });
}

fn type_of<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    if let Some(local) = super::local_reference::target(scope, args.this()) {
      let (_, t) = local?;
      return Ok(v8::String::new(scope, t).map(Into::into));
    }
    let t = target(scope, args.this())?;
    Ok(v8::String::new(scope, t.type_of).map(Into::into))
  });
}

fn release<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let this = args.this();
    if let Some(local) = super::local_reference::target(scope, this) {
      local?;
      super::local_reference::release(scope, this);
      return Ok(None);
    }
    target(scope, this)?;
    if let Some(id) = this
      .get_internal_field(scope, 0)
      .and_then(|d| v8::Local::<v8::Value>::try_from(d).ok())
      .and_then(|v| v.uint32_value(scope))
    {
      let removed = state(scope).borrow_mut().targets.remove(&id);
      drop(removed);
    }
    Ok(None)
  });
}

/// Reads `{ copy, externalCopy, reference }` from a guest options object.
fn guest_transfer(
  scope: &mut v8::PinScope<'_, '_>,
  obj: Option<v8::Local<v8::Object>>,
) -> Result<TransferOptions, Thrown> {
  let flag = |scope: &mut v8::PinScope<'_, '_>, name: &str| -> bool {
    let Some(o) = obj else { return false };
    let Some(k) = v8::String::new(scope, name) else {
      return false;
    };
    o.get(scope, k.into())
      .map(|v| v.boolean_value(scope))
      .unwrap_or(false)
  };
  let (c, e, r, p) = (
    flag(scope, "copy"),
    flag(scope, "externalCopy"),
    flag(scope, "reference"),
    flag(scope, "promise"),
  );
  TransferOptions::new(c, e, r, p)
}

fn sub_object<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  obj: Option<v8::Local<'s, v8::Object>>,
  name: &str,
) -> Option<v8::Local<'s, v8::Object>> {
  let o = obj?;
  let k = v8::String::new(scope, name)?;
  let v = o.get(scope, k.into())?;
  v8::Local::<v8::Object>::try_from(v).ok()
}

/// A value leaving the guest as an argument: options, then primitives, else non-transferable.
fn export_arg<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  opts: TransferOptions,
) -> Result<Value, Thrown> {
  if opts.copy {
    return v8_out::copy(scope, v);
  }
  if opts.external_copy {
    let data = crate::transfer::external::ExternalData::new(v8_out::copy(scope, v)?);
    return Ok(Value::Handle(crate::transfer::value::Handle::new(data)));
  }
  if let Some(p) = v8_out::primitive(scope, v) {
    return Ok(p);
  }
  super::handle_of(scope, v)
    .map(Value::Handle)
    .ok_or_else(|| Thrown::type_error(msg::NON_TRANSFERABLE))
}

fn waiters_and_state(
  scope: &mut v8::PinScope<'_, '_>,
) -> (
  Vec<Arc<dyn std::any::Any + Send + Sync>>,
  Option<Arc<SharedState>>,
) {
  let w = scope
    .get_slot::<Waiters>()
    .map(|w| w.borrow().clone())
    .unwrap_or_default();
  let s = scope.get_slot::<Arc<SharedState>>().cloned();
  (w, s)
}

fn call_host(
  scope: &mut v8::PinScope<'_, '_>,
  target: &Arc<HostRef>,
  op: HostOp,
) -> Result<Value, Thrown> {
  let (waiters, shared) = waiters_and_state(scope);
  let shared = shared.ok_or_else(|| Thrown::error(msg::DISPOSED))?;
  let isolate: &mut v8::Isolate = scope;
  host_ref::call(target, op, &waiters, &shared.waiting_on_host, |rx| {
    crate::isolate::thread::serve_while_waiting(isolate, rx)
  })
}

/// Reads `applySync`-style arguments: `(receiver, args, { arguments, result })`.
fn apply_op<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<HostOp, Thrown> {
  let opts = v8::Local::<v8::Object>::try_from(args.get(2)).ok();
  let arg_obj = sub_object(scope, opts, "arguments");
  let arg_opts = guest_transfer(scope, arg_obj)?;
  let result_obj = sub_object(scope, opts, "result");
  let result_opts = guest_transfer(scope, result_obj)?;
  let recv = args.get(0);
  let receiver = if recv.is_undefined() {
    Value::Undefined
  } else {
    export_arg(scope, recv, arg_opts)?
  };
  let mut values = Vec::new();
  let list = args.get(1);
  if !list.is_undefined() {
    let arr = v8::Local::<v8::Array>::try_from(list)
      .map_err(|_| Thrown::type_error("`undefined` requires parameter 2 to be an array"))?;
    for i in 0..arr.length() {
      let x = arr
        .get_index(scope, i)
        .ok_or_else(|| Thrown::error("Failed to read argument"))?;
      values.push(export_arg(scope, x, arg_opts)?);
    }
  }
  Ok(HostOp::Apply {
    receiver,
    args: values,
    result: result_opts,
  })
}

fn apply_sync<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    if let Some(local) = super::local_reference::target(scope, args.this()) {
      let (v, _) = local?;
      return Ok(super::local_reference::apply(
        scope,
        v,
        args.get(0),
        args.get(1),
      ));
    }
    let t = target(scope, args.this())?;
    let op = apply_op(scope, args)?;
    let out = call_host(scope, &t, op)?;
    v8_in::value(scope, &out).map(Some)
  });
}

fn apply<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let t = target(scope, args.this())?;
    let op = apply_op(scope, args)?;
    let (promise, settle) =
      pending::promise(scope).ok_or_else(|| Thrown::error("Failed to create a promise"))?;
    host_ref::call_async(&t, op, false, settle);
    Ok(Some(promise.into()))
  });
}

fn apply_ignored<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let t = target(scope, args.this())?;
    let op = apply_op(scope, args)?;
    host_ref::call_async(&t, op, false, Box::new(|_| {}));
    Ok(None)
  });
}

fn copy_sync<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    if let Some(local) = super::local_reference::target(scope, args.this()) {
      let (v, _) = local?;
      return super::local_reference::copy(scope, v).map(Some);
    }
    let t = target(scope, args.this())?;
    let out = call_host(scope, &t, HostOp::Copy)?;
    v8_in::value(scope, &out).map(Some)
  });
}

fn apply_sync_promise<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let t = target(scope, args.this())?;
    if let Ok(opts) = v8::Local::<v8::Object>::try_from(args.get(2)) {
      let key =
        v8::String::new(scope, "result").ok_or_else(|| Thrown::error("Failed to read options"))?;
      if opts
        .get(scope, key.into())
        .map(|v| !v.is_undefined())
        .unwrap_or(false)
      {
        return Err(Thrown::type_error(
          "`result` options are not available for `applySyncPromise`",
        ));
      }
    }
    let (waiters, shared) = waiters_and_state(scope);
    if !waiters.is_empty() {
      // The host is blocked in a synchronous call into this isolate: its promises cannot settle.
      return Err(Thrown::error(
        "This function may not be called from the default thread",
      ));
    }
    let shared = shared.ok_or_else(|| Thrown::error(msg::DISPOSED))?;
    let op = apply_op(scope, args)?;
    let out = {
      let isolate: &mut v8::Isolate = scope;
      host_ref::call_await(&t, op, &shared.waiting_on_host, |rx| {
        crate::isolate::thread::serve_while_waiting(isolate, rx)
      })?
    };
    v8_in::value(scope, &out).map(Some)
  });
}

/// How a guest method call waits for the host.
#[derive(Clone, Copy)]
enum Mode {
  Sync,
  Async,
  Ignored,
}

/// Performs `op` on the host target in `mode`: the value, a promise of it, or nothing.
fn perform<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  t: &std::sync::Arc<HostRef>,
  op: HostOp,
  mode: Mode,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  match mode {
    Mode::Sync => {
      let out = call_host(scope, t, op)?;
      v8_in::value(scope, &out).map(Some)
    }
    Mode::Async => {
      let (promise, settle) =
        pending::promise(scope).ok_or_else(|| Thrown::error("Failed to create a promise"))?;
      host_ref::call_async(t, op, false, settle);
      Ok(Some(promise.into()))
    }
    Mode::Ignored => {
      host_ref::call_async(t, op, false, Box::new(|_| {}));
      Ok(None)
    }
  }
}

/// A property key from the guest: a string or a uint32 number.
fn guest_key(scope: &mut v8::PinScope<'_, '_>, k: v8::Local<v8::Value>) -> Result<Value, Thrown> {
  match v8_out::primitive(scope, k) {
    Some(Value::String(s)) => Ok(Value::String(s)),
    Some(Value::Number(n)) if n >= 0.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0 => {
      Ok(Value::Number(n))
    }
    _ => Err(Thrown::type_error(msg::INVALID_KEY)),
  }
}

fn get_op<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<HostOp, Thrown> {
  let key = guest_key(scope, args.get(0))?;
  let opts = v8::Local::<v8::Object>::try_from(args.get(1)).ok();
  let result = guest_transfer(scope, opts)?;
  let accessors = match opts {
    Some(o) => {
      let k = v8::String::new(scope, "accessors")
        .ok_or_else(|| Thrown::error("Failed to read options"))?;
      o.get(scope, k.into())
        .map(|v| v.boolean_value(scope))
        .unwrap_or(false)
    }
    None => false,
  };
  Ok(HostOp::Get {
    key,
    accessors,
    result,
  })
}

fn set_op<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<HostOp, Thrown> {
  let key = guest_key(scope, args.get(0))?;
  let opts = v8::Local::<v8::Object>::try_from(args.get(2)).ok();
  let t = guest_transfer(scope, opts)?;
  let value = export_arg(scope, args.get(1), t)?;
  Ok(HostOp::Set { key, value })
}

fn delete_op<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<HostOp, Thrown> {
  Ok(HostOp::Delete {
    key: guest_key(scope, args.get(0))?,
  })
}

macro_rules! guest_method {
  ($name:ident, $op:expr, $mode:expr) => {
    fn $name<'s>(
      scope: &mut v8::PinScope<'s, '_>,
      args: v8::FunctionCallbackArguments<'s>,
      rv: v8::ReturnValue<'s, v8::Value>,
    ) {
      dispatch(scope, args, rv, |scope, args| {
        let t = target(scope, args.this())?;
        let op = $op(scope, args)?;
        perform(scope, &t, op, $mode)
      });
    }
  };
}

fn copy_op<'s>(
  _scope: &mut v8::PinScope<'s, '_>,
  _args: &v8::FunctionCallbackArguments<'s>,
) -> Result<HostOp, Thrown> {
  Ok(HostOp::Copy)
}

guest_method!(copy, copy_op, Mode::Async);
fn get_sync<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    if let Some(local) = super::local_reference::target(scope, args.this()) {
      let (v, _) = local?;
      let accessors = v8::Local::<v8::Object>::try_from(args.get(1))
        .ok()
        .and_then(|o| {
          let k = v8::String::new(scope, "accessors")?;
          o.get(scope, k.into()).map(|x| x.boolean_value(scope))
        })
        .unwrap_or(false);
      return super::local_reference::get(scope, v, args.get(0), accessors).map(Some);
    }
    let t = target(scope, args.this())?;
    let op = get_op(scope, args)?;
    perform(scope, &t, op, Mode::Sync)
  });
}
guest_method!(get, get_op, Mode::Async);
fn set_sync<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    if let Some(local) = super::local_reference::target(scope, args.this()) {
      let (v, _) = local?;
      return super::local_reference::set(scope, v, args.get(0), args.get(1)).map(Some);
    }
    let t = target(scope, args.this())?;
    let op = set_op(scope, args)?;
    perform(scope, &t, op, Mode::Sync)
  });
}
guest_method!(set, set_op, Mode::Async);
guest_method!(set_ignored, set_op, Mode::Ignored);
fn delete_sync<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    if let Some(local) = super::local_reference::target(scope, args.this()) {
      let (v, _) = local?;
      return super::local_reference::delete(scope, v, args.get(0)).map(Some);
    }
    let t = target(scope, args.this())?;
    let op = delete_op(scope, args)?;
    perform(scope, &t, op, Mode::Sync)
  });
}

fn deref<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(
    scope,
    args,
    rv,
    |scope, args| match super::local_reference::target(scope, args.this()) {
      Some(local) => local.map(|(v, _)| Some(v)),
      None => {
        target(scope, args.this())?;
        Err(Thrown::type_error(msg::CANNOT_DEREF))
      }
    },
  );
}
guest_method!(delete, delete_op, Mode::Async);
guest_method!(delete_ignored, delete_op, Mode::Ignored);
