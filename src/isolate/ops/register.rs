//! A value of this isolate put into its reference table for a Reference that leaves it (a
//! guest Reference to a local value, a guest callback, a settled `promise: true` value).

use super::export::{new_reference, Out};
use crate::error::msg;
use crate::isolate::remote::{own_host, IsolateRef, RemoteHandle};
use crate::isolate::runtime::Core;
use crate::transfer::thrown::Thrown;
use std::rc::Rc;
use std::sync::Arc;

/// What a local Reference knows besides its value.
#[derive(Clone, Copy)]
pub struct Info {
  /// `typeof` of the value.
  pub type_of: &'static str,
  /// Created with `unsafeInherit`.
  pub inherit: bool,
}

/// Puts a value of this isolate into its reference table, for a Reference leaving it.
pub fn register<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  info: Info,
) -> Result<IsolateRef, Thrown> {
  let disposed = || Thrown::error(msg::DISPOSED);
  let core = scope.get_slot::<Rc<Core>>().cloned().ok_or_else(disposed)?;
  let host = own_host(&core.state).ok_or_else(disposed)?;
  let out = new_reference(scope, &core.tables, &core.state, v);
  let Out::Reference { id, .. } = out else {
    return Err(disposed());
  };
  if let Some(e) = core.tables.borrow_mut().references.get_mut(&id) {
    e.inherit = info.inherit;
  }
  Ok(IsolateRef {
    handle: Arc::new(RemoteHandle { host, id }),
    type_of: info.type_of,
  })
}
