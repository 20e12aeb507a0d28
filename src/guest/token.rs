//! Single-use tokens made inside a guest (`reference.derefInto()`): the handle they stand for
//! leaves with their first transfer; a second transfer fails.

use super::{dispatch, state, KIND_TOKEN};
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Handle;

fn template<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::FunctionTemplate>> {
  let st = state(scope);
  if let Some(t) = &st.borrow().token_template {
    return Some(v8::Local::new(scope, t));
  }
  let t = v8::FunctionTemplate::new(scope, construct);
  let name = v8::String::new(scope, "Dereference")?;
  t.set_class_name(name);
  // Like isolated-vm's: the prototype's own prototype cannot be set.
  t.prototype_template(scope).set_immutable_proto();
  t.instance_template(scope).set_internal_field_count(2);
  st.borrow_mut().token_template = Some(v8::Global::new(scope, t));
  Some(t)
}

fn construct<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |_, _| {
    Err(Thrown::type_error(crate::error::msg::private_ctor(
      "Dereference",
    )))
  });
}

/// A token object standing for `handle`.
pub fn new_instance<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  handle: Handle,
) -> Option<v8::Local<'s, v8::Value>> {
  let t = template(scope)?;
  let obj = crate::guest::instance(scope, t)?;
  let st = state(scope);
  let id = st.borrow_mut().next_id();
  crate::isolate::collect::watch(scope, obj, id);
  st.borrow_mut().tokens.insert(id, Some(handle));
  super::mark(scope, obj, id, KIND_TOKEN);
  Some(obj.into())
}

/// Takes the handle of token `id` (its one use).
pub fn take(scope: &mut v8::PinScope<'_, '_>, id: u32) -> Result<Handle, Thrown> {
  let st = state(scope);
  let taken = st.borrow_mut().tokens.get_mut(&id).and_then(|e| e.take());
  taken.ok_or_else(|| Thrown::error("The return value of `derefInto()` should only be used once"))
}
