//! `ExternalCopy` inside a guest: `copy()` materialises the shared copy in this isolate
//! (counted against its memory limit), `release()` drops this handle.

use super::{dispatch, state, KIND_EXTERNAL_COPY};
use crate::isolate::options::{self, CopyOptions};
use crate::transfer::external::ExternalData;
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_in;
use std::sync::Arc;

fn template<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::FunctionTemplate>> {
  let st = state(scope);
  if let Some(t) = &st.borrow().copy_template {
    return Some(v8::Local::new(scope, t));
  }
  let t = v8::FunctionTemplate::new(scope, construct);
  let name = v8::String::new(scope, "ExternalCopy")?;
  t.set_class_name(name);
  // Like isolated-vm's: the prototype's own prototype cannot be set.
  t.prototype_template(scope).set_immutable_proto();
  t.instance_template(scope).set_internal_field_count(2);
  let proto = t.prototype_template(scope);
  let key = v8::String::new(scope, "copy")?;
  let f = v8::FunctionTemplate::new(scope, copy);
  proto.set(key.into(), f.into());
  let key = v8::String::new(scope, "copyInto")?;
  let f = v8::FunctionTemplate::new(scope, copy_into);
  proto.set(key.into(), f.into());
  let key = v8::String::new(scope, "release")?;
  let f = v8::FunctionTemplate::new(scope, release);
  proto.set(key.into(), f.into());
  // `ExternalCopy.totalExternalSize`, a static getter as on the host.
  let key = v8::String::new(scope, "totalExternalSize")?;
  let getter = v8::FunctionTemplate::new(scope, total_external_size);
  t.set_accessor_property(
    key.into(),
    Some(getter),
    None,
    v8::PropertyAttribute::DONT_DELETE,
  );
  st.borrow_mut().copy_template = Some(v8::Global::new(scope, t));
  Some(t)
}

/// A guest ExternalCopy object for `data`.
pub fn new_instance<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  data: Arc<ExternalData>,
) -> Option<v8::Local<'s, v8::Value>> {
  let t = template(scope)?;
  let obj = crate::guest::instance(scope, t)?;
  init(scope, obj, data);
  Some(obj.into())
}

/// Ties `obj` to `data` (internal fields, table entry, weak release).
fn init(scope: &mut v8::PinScope<'_, '_>, obj: v8::Local<v8::Object>, data: Arc<ExternalData>) {
  let st = state(scope);
  let id = st.borrow_mut().next_id();
  crate::isolate::collect::watch(scope, obj, id);
  st.borrow_mut().copies.insert(id, data);
  super::mark(scope, obj, id, KIND_EXTERNAL_COPY);
}

/// The data behind a guest ExternalCopy object.
pub fn data_of(
  scope: &mut v8::PinScope<'_, '_>,
  obj: v8::Local<v8::Object>,
) -> Result<Arc<ExternalData>, Thrown> {
  let id = super::object_id(scope, obj, KIND_EXTERNAL_COPY)
    .ok_or_else(|| Thrown::type_error("Illegal invocation"))?;
  let found = state(scope).borrow().copies.get(&id).cloned();
  found.ok_or_else(|| Thrown::error("Copy has been released"))
}

/// The ExternalCopy constructor function in the current context.
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
    crate::guest::require_new(args, "ExternalCopy")?;
    crate::guest::require_args(args, "ExternalCopy", 1)?;
    let v = args.get(0);
    if v.is_symbol() {
      return Err(Thrown::type_error("Unsupported type"));
    }
    let (list, transfer_out) = transfer_options(scope, args.get(1))?;
    let copied = crate::transfer::v8_out::copy(scope, v)?;
    let listed = !list.is_empty();
    for b in list {
      b.detach(None);
    }
    if transfer_out {
      if let Ok(b) = v8::Local::<v8::ArrayBuffer>::try_from(v) {
        b.detach(None);
      } else if let Ok(view) = v8::Local::<v8::ArrayBufferView>::try_from(v) {
        // A typed array or DataView: its buffer goes, as on the host.
        if let Some(b) = view.buffer(scope) {
          b.detach(None);
        }
      }
    }
    let data = ExternalData::new(copied);
    if listed {
      data.mark_transfer_list();
    }
    init(scope, args.this(), data);
    Ok(None)
  });
}

/// `{ transferList, transferOut }` of `new ExternalCopy(value, options)` (SPEC §1.3), read
/// with the same rules as on the host: the buffers to detach once copied.
fn transfer_options<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
) -> Result<(Vec<v8::Local<'s, v8::ArrayBuffer>>, bool), Thrown> {
  let mut src = super::options::V8Source::new(scope);
  let obj = options::object_arg(&mut src, v, "ExternalCopy", 2)?;
  let list = options::field(&mut src, obj, "transferList")?;
  let transfer_out = options::flag(&mut src, obj, "transferOut")?;
  let mut buffers = Vec::new();
  if let Some(list) = list {
    let bad = || Thrown::type_error("Non-ArrayBuffer passed in `transferList`");
    let arr = v8::Local::<v8::Array>::try_from(list).map_err(|_| bad())?;
    for i in 0..arr.length() {
      let x = arr
        .get_index(scope, i)
        .ok_or_else(|| Thrown::error("Failed to read `transferList`"))?;
      buffers.push(v8::Local::<v8::ArrayBuffer>::try_from(x).map_err(|_| bad())?);
    }
  }
  Ok((buffers, transfer_out))
}

fn copy<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let this = args.this();
    let opts: CopyOptions = super::options::method(scope, args.get(0), 1)?;
    let data = data_of(scope, this)?;
    let value = if opts.transfer_in {
      data.transfer_in()?
    } else {
      data.value()?
    };
    let v = v8_in::value(scope, value)?;
    if opts.release {
      super::forget(scope, this);
    }
    Ok(Some(v))
  });
}

/// `copyInto({ release, transferIn })`: a single-use token that arrives as a copy wherever it
/// is transferred (another isolate, or the host).
fn copy_into<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let this = args.this();
    let opts: CopyOptions = super::options::method(scope, args.get(0), 1)?;
    let data = data_of(scope, this)?;
    if opts.release {
      super::forget(scope, this);
    }
    let handle = crate::isolate::handle::Handle::CopyInto(data, opts.transfer_in);
    super::token::new_instance(scope, handle)
      .map(Some)
      .ok_or_else(|| Thrown::error("Failed to create a handle object"))
  });
}

fn total_external_size<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, _| {
    let n = crate::transfer::external::total_external_size() as f64;
    Ok(Some(v8::Number::new(scope, n).into()))
  });
}

fn release<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let this = args.this();
    data_of(scope, this)?;
    super::forget(scope, this);
    Ok(None)
  });
}
