//! `Reference` inside a guest. Its target is a host value, a value of another isolate, or a
//! value of this isolate (`new ivm.Reference(value)`); each kind keeps its target in its own
//! table of the guest state, and the object's internal fields hold the table id and kind.

use super::reference_args::{self as a, Op};
use super::{dispatch, getter, method, state, Flavor};
use crate::bridge::host_ref::HostRef;
use crate::error::msg;
use crate::isolate::handle::Handle;
use crate::isolate::options::{ReferenceOptions, ReleaseOptions};
use crate::isolate::ref_op::RefOp;
use crate::isolate::remote::IsolateRef;
use crate::transfer::thrown::Thrown;
use std::sync::Arc;

fn template<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::FunctionTemplate>> {
  let st = state(scope);
  if let Some(t) = &st.borrow().reference_template {
    return Some(v8::Local::new(scope, t));
  }
  let t = v8::FunctionTemplate::new(scope, construct);
  let name = v8::String::new(scope, "Reference")?;
  t.set_class_name(name);
  // Like isolated-vm's: the prototype's own prototype cannot be set.
  t.prototype_template(scope).set_immutable_proto();
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
  method(scope, proto, "derefInto", deref_into)?;
  getter(scope, proto, "typeof", type_of)?;
  st.borrow_mut().reference_template = Some(v8::Global::new(scope, t));
  Some(t)
}

/// A new, empty instance of the Reference class (internal fields still unset).
pub fn blank_instance<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::Object>> {
  let t = template(scope)?;
  crate::guest::instance(scope, t)
}

/// A guest Reference object for a host value.
pub fn new_instance<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  target: Arc<HostRef>,
) -> Option<v8::Local<'s, v8::Value>> {
  let obj = blank_instance(scope)?;
  let st = state(scope);
  let id = st.borrow_mut().next_id();
  crate::isolate::collect::watch(scope, obj, id);
  st.borrow_mut().targets.insert(id, target);
  super::mark(scope, obj, id, super::KIND_REFERENCE);
  Some(obj.into())
}

/// What a guest Reference points at.
enum Target<'s> {
  /// A value of a Node environment.
  Host(Arc<HostRef>),
  /// A value of another isolate.
  Remote(IsolateRef),
  /// A value of this isolate, with its `typeof` and flags.
  Local(
    v8::Local<'s, v8::Value>,
    crate::isolate::ops::register::Info,
  ),
}

fn target<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  this: v8::Local<v8::Object>,
) -> Result<Target<'s>, Thrown> {
  if let Some(local) = super::local_reference::target(scope, this) {
    let (v, t) = local?;
    return Ok(Target::Local(v, t));
  }
  if let Some(remote) = super::remote::target(scope, this) {
    return remote.map(Target::Remote);
  }
  let id = super::object_id(scope, this, super::KIND_REFERENCE)
    .ok_or_else(|| Thrown::type_error("Illegal invocation"))?;
  let found = state(scope).borrow().targets.get(&id).cloned();
  found
    .map(Target::Host)
    .ok_or_else(|| Thrown::error(msg::REFERENCE_RELEASED))
}

/// The Reference constructor function in the current context.
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
    crate::guest::require_new(args, "Reference")?;
    crate::guest::require_args(args, "Reference", 1)?;
    let opts: ReferenceOptions = super::options::parse(scope, args.get(1), "Reference", 2)?;
    super::local_reference::init(scope, args.this(), args.get(0), opts.unsafe_inherit);
    Ok(None)
  });
}

fn type_of<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let t = match target(scope, args.this())? {
      Target::Host(h) => h.type_of,
      Target::Remote(r) => r.type_of,
      Target::Local(_, info) => info.type_of,
    };
    Ok(v8::String::new(scope, t).map(Into::into))
  });
}

fn release<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    target(scope, args.this())?;
    super::forget(scope, args.this());
    Ok(None)
  });
}

/// `{ release }` of `deref` / `derefInto` (parameter 1, read before the target is checked, as
/// on the host).
fn release_option<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<bool, Thrown> {
  let o: ReleaseOptions = super::options::method(scope, args.get(0), 1)?;
  Ok(o.release)
}

fn deref<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let release = release_option(scope, args)?;
    let Target::Local(v, _) = target(scope, args.this())? else {
      return Err(Thrown::type_error(msg::CANNOT_DEREF));
    };
    if release {
      super::forget(scope, args.this());
    }
    Ok(Some(v))
  });
}

fn deref_into<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let release = release_option(scope, args)?;
    let handle = match target(scope, args.this())? {
      Target::Host(h) => Handle::HostDerefInto(h),
      Target::Remote(r) => super::deref_token(r),
      Target::Local(v, info) => {
        super::deref_token(crate::isolate::ops::register::register(scope, v, info)?)
      }
    };
    if release {
      super::forget(scope, args.this());
    }
    super::token::new_instance(scope, handle)
      .map(Some)
      .ok_or_else(|| Thrown::error("Failed to create a handle object"))
  });
}

/// Runs `op` on the Reference `this` in `mode`.
fn run<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  op: Op,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let r = run_body(scope, args, op, mode);
  super::rejecting(scope, mode, r)
}

fn run_body<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  op: Op,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  a::signature(scope, args, op)?;
  match target(scope, args.this())? {
    Target::Local(v, info) => super::local_reference::run(scope, v, info, op, args, mode),
    Target::Host(t) => {
      let (mut op, _timeout) = a::parse(scope, args, op)?;
      if let RefOp::Get { inherit, .. } = &mut op {
        *inherit = t.inherit;
      }
      super::host_call::perform(scope, &t, op, mode)
    }
    Target::Remote(r) => {
      let (op, timeout) = a::parse(scope, args, op)?;
      super::remote::perform(scope, &r, op, timeout, mode)
    }
  }
}

crate::guest::methods! {
  apply_sync => run(Op::Apply, Flavor::Sync);
  apply => run(Op::Apply, Flavor::Async);
  apply_ignored => run(Op::Apply, Flavor::Ignored);
  copy_sync => run(Op::Copy, Flavor::Sync);
  copy => run(Op::Copy, Flavor::Async);
  get_sync => run(Op::Get, Flavor::Sync);
  get => run(Op::Get, Flavor::Async);
  set_sync => run(Op::Set, Flavor::Sync);
  set => run(Op::Set, Flavor::Async);
  set_ignored => run(Op::Set, Flavor::Ignored);
  delete_sync => run(Op::Delete, Flavor::Sync);
  delete => run(Op::Delete, Flavor::Async);
  delete_ignored => run(Op::Delete, Flavor::Ignored);
}

fn apply_sync_promise<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    match target(scope, args.this())? {
      Target::Host(t) => super::host_call::apply_sync_promise(scope, args, &t),
      _ => Err(Thrown::type_error(
        "`applySyncPromise` is only available for References to functions of a Node environment",
      )),
    }
  });
}
