//! Turning a guest value into what the caller receives, per call site (SPEC §2.2).

use crate::error::msg;
use crate::isolate::runtime::{RefEntry, Tables};
use crate::isolate::thread::SharedState;
use crate::transfer::options::{Fallback, TransferOptions};
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_out;
use crate::transfer::value::Value;
use std::cell::RefCell;
use std::sync::atomic::Ordering;

/// What leaves the isolate for the caller.
pub enum Out {
  /// An owned value (primitive or clone).
  Value(Value),
  /// `promise: true`: the caller gets a promise settled through this slot.
  Promise(std::sync::Arc<crate::transfer::settle::SettleSlot>),
  /// A guest function, arriving as a callable function (SPEC §2.2 rule 2).
  Function {
    /// Table id of a Reference to it.
    id: u32,
    /// Its `name`.
    name: String,
    /// Its `length`.
    length: u32,
  },
  /// A new Reference to a guest value (table id and its `typeof`).
  Reference {
    /// Table id.
    id: u32,
    /// `typeof` as reported by Reference.
    type_of: &'static str,
  },
}

/// Stores `v` in the reference table and counts the new handle.
pub fn new_reference<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  tables: &RefCell<Tables>,
  state: &SharedState,
  v: v8::Local<'s, v8::Value>,
) -> Out {
  let id = state.new_id();
  let context = scope.get_current_context();
  let entry = RefEntry {
    value: std::rc::Rc::new(v8::Global::new(scope, v)),
    context: std::rc::Rc::new(v8::Global::new(scope, context)),
    inherit: false,
  };
  tables.borrow_mut().references.insert(id, entry);
  state.handles.fetch_add(1, Ordering::Relaxed);
  Out::Reference {
    id,
    type_of: v8_out::type_of(v),
  }
}

/// Applies transfer options, then the default rules, then the call site's fallback.
pub fn export<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  tables: &RefCell<Tables>,
  state: &SharedState,
  v: v8::Local<'s, v8::Value>,
  opts: TransferOptions,
  fallback: Fallback,
) -> Result<Out, Thrown> {
  if opts.promise {
    let convert: super::promise_export::Convert = match fallback {
      Fallback::Throw => settled_strict,
      Fallback::Reference => settled_reference,
      Fallback::Undefined => settled_lenient,
    };
    let is_promise = v.is_promise();
    let slot = super::promise_export::promise_slot(scope, v, opts, convert).ok_or_else(|| {
      // Attaching fails when execution is being terminated: a disposal under way.
      if state.disposed.load(std::sync::atomic::Ordering::SeqCst) {
        Thrown::error(crate::error::msg::DISPOSED_DURING)
      } else {
        Thrown::error("Failed to attach to the promise")
      }
    })?;
    if is_promise {
      tables.borrow_mut().needs_checkpoint = true;
    }
    return Ok(Out::Promise(slot));
  }
  if opts.copy {
    return v8_out::copy(scope, v).map(Out::Value);
  }
  if opts.external_copy {
    let data = crate::transfer::external::ExternalData::new(v8_out::copy(scope, v)?);
    return Ok(Out::Value(Value::Handle(
      crate::isolate::handle::Handle::ExternalCopy(data),
    )));
  }
  if opts.reference {
    return Ok(new_reference(scope, tables, state, v));
  }
  if let Some(p) = v8_out::primitive(scope, v) {
    return Ok(Out::Value(p));
  }
  if let Some(h) = crate::transfer::guest_handles::handle_of(scope, v) {
    return Ok(Out::Value(Value::Handle(h?)));
  }
  if let Ok(f) = v8::Local::<v8::Function>::try_from(v) {
    let name = f.get_name(scope).to_rust_string_lossy(scope);
    let length = {
      let key = v8::String::new(scope, "length");
      key
        .and_then(|k| f.get(scope, k.into()))
        .and_then(|l| l.uint32_value(scope))
        .unwrap_or(0)
    };
    if let Out::Reference { id, .. } = new_reference(scope, tables, state, v) {
      return Ok(Out::Function { id, name, length });
    }
  }
  match fallback {
    Fallback::Undefined => Ok(Out::Value(Value::Undefined)),
    Fallback::Throw => Err(Thrown::type_error(msg::NON_TRANSFERABLE)),
    Fallback::Reference => Ok(new_reference(scope, tables, state, v)),
  }
}

/// A settled value under `promise: true`: options, primitives, else `undefined`.
fn settled_lenient<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  opts: TransferOptions,
) -> Result<Value, Thrown> {
  settled(scope, v, opts, false)
}

/// A settled value under `promise: true` where the call site falls back to a Reference
/// (`get` and `apply` results).
fn settled_reference<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  opts: TransferOptions,
) -> Result<Value, Thrown> {
  if opts.copy || opts.external_copy || v8_out::primitive(scope, v).is_some() {
    return settled(scope, v, opts, false);
  }
  if let Some(h) = crate::transfer::guest_handles::handle_of(scope, v) {
    return h.map(Value::Handle);
  }
  settled_as_reference(scope, v)
}

/// A settled value as a new Reference to it.
fn settled_as_reference<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
) -> Result<Value, Thrown> {
  let info = super::register::Info {
    type_of: v8_out::type_of(v),
    inherit: false,
  };
  super::register::register(scope, v, info).map(|r| Value::Handle(r.into_handle()))
}

/// A settled value under `promise: true` where the call site throws on non-transferable values.
fn settled_strict<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  opts: TransferOptions,
) -> Result<Value, Thrown> {
  settled(scope, v, opts, true)
}

fn settled<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  opts: TransferOptions,
  strict: bool,
) -> Result<Value, Thrown> {
  if opts.copy {
    return v8_out::copy(scope, v);
  }
  if opts.external_copy {
    let data = crate::transfer::external::ExternalData::new(v8_out::copy(scope, v)?);
    return Ok(Value::Handle(crate::isolate::handle::Handle::ExternalCopy(
      data,
    )));
  }
  if opts.reference {
    return settled_as_reference(scope, v);
  }
  match v8_out::primitive(scope, v) {
    Some(p) => Ok(p),
    None if strict => Err(Thrown::type_error(msg::NON_TRANSFERABLE)),
    None => Ok(Value::Undefined),
  }
}
