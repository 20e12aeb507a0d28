//! Turning a guest value into what the caller receives, per call site (SPEC §2.2).

use crate::error::{msg, Thrown};
use crate::isolate::runtime::{RefEntry, Tables};
use crate::isolate::thread::SharedState;
use crate::transfer::options::{Fallback, TransferOptions};
use crate::transfer::v8_out;
use crate::transfer::value::Value;
use std::sync::atomic::Ordering;

/// What leaves the isolate for the caller.
pub enum Out {
  /// An owned value (primitive or clone).
  Value(Value),
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
  tables: &mut Tables,
  state: &SharedState,
  v: v8::Local<'s, v8::Value>,
) -> Out {
  let id = state.new_id();
  let context = scope.get_current_context();
  let entry = RefEntry {
    value: v8::Global::new(scope, v),
    context: v8::Global::new(scope, context),
  };
  tables.references.insert(id, entry);
  state.handles.fetch_add(1, Ordering::Relaxed);
  Out::Reference {
    id,
    type_of: v8_out::type_of(v),
  }
}

/// Applies transfer options, then the default rules, then the call site's fallback.
pub fn export<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  tables: &mut Tables,
  state: &SharedState,
  v: v8::Local<'s, v8::Value>,
  opts: TransferOptions,
  fallback: Fallback,
) -> Result<Out, Thrown> {
  if opts.copy {
    return v8_out::copy(scope, v).map(Out::Value);
  }
  if opts.external_copy {
    let data = crate::transfer::external::ExternalData::new(v8_out::copy(scope, v)?);
    return Ok(Out::Value(Value::Handle(
      crate::transfer::value::Handle::new(data),
    )));
  }
  if opts.reference {
    return Ok(new_reference(scope, tables, state, v));
  }
  if let Some(p) = v8_out::primitive(scope, v) {
    return Ok(Out::Value(p));
  }
  match fallback {
    Fallback::Undefined => Ok(Out::Value(Value::Undefined)),
    Fallback::Throw => Err(Thrown::type_error(msg::NON_TRANSFERABLE)),
    Fallback::Reference => Ok(new_reference(scope, tables, state, v)),
  }
}
