//! `onCatastrophicError` of an isolate created inside a guest: a function of the guest's own
//! isolate, called there (as a queued call, its result ignored) with V8's message when the
//! nested isolate is lost to a catastrophe, as the host's hook is called on Node's thread.
//!
//! The function sits in the guest isolate's reference table. The hook holds that isolate
//! weakly: a nested isolate must not keep the isolate that made it alive (the guest's object of
//! the nested isolate already keeps the nested one alive, so a strong link back would be a
//! cycle that no garbage collection breaks).

use crate::isolate::catastrophe::Hook;
use crate::isolate::ops::export::{new_reference, Out};
use crate::isolate::ops::reference::perform;
use crate::isolate::ref_op::RefOp;
use crate::isolate::remote::own_host;
use crate::isolate::runtime::Core;
use crate::isolate::IsolateHost;
use crate::transfer::options::TransferOptions;
use crate::transfer::thrown::Thrown;
use crate::transfer::value::{JsString, Value};
use std::rc::Rc;
use std::sync::{Arc, Weak};

/// The guest function, by its creator isolate and reference table entry.
struct GuestFunction {
  owner: Weak<IsolateHost>,
  id: u32,
}

impl GuestFunction {
  fn call(&self, message: String) {
    let Some(owner) = self.owner.upgrade() else {
      return;
    };
    let id = self.id;
    let _ = owner.post(Box::new(move |rt| {
      let op = RefOp::Apply {
        receiver: Value::Undefined,
        args: vec![Value::String(JsString::from(message.as_str()))],
        result: TransferOptions::default(),
      };
      // What the function throws or returns goes nowhere, as for the host's hook.
      let _ = perform(rt, id, op, 0);
      Box::new(|| {})
    }));
  }
}

impl Drop for GuestFunction {
  fn drop(&mut self) {
    if let Some(owner) = self.owner.upgrade() {
      owner.state.release_later(self.id);
    }
  }
}

/// The hook for option value `v` of `new ivm.Isolate(options)` in the guest of `scope`: `None`
/// unless it is a function.
pub fn hook<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  options: v8::Local<'s, v8::Value>,
) -> Result<Option<Hook>, Thrown> {
  let Ok(o) = v8::Local::<v8::Object>::try_from(options) else {
    return Ok(None);
  };
  let key = v8::String::new(scope, "onCatastrophicError")
    .ok_or_else(|| Thrown::error(crate::error::msg::INTERNAL))?;
  let Some(f) = o.get(scope, key.into()).filter(|v| v.is_function()) else {
    return Ok(None);
  };
  let disposed = || Thrown::error(crate::error::msg::DISPOSED);
  let core = scope.get_slot::<Rc<Core>>().cloned().ok_or_else(disposed)?;
  let owner = own_host(&core.state).ok_or_else(disposed)?;
  let Out::Reference { id, .. } = new_reference(scope, &core.tables, &core.state, f) else {
    return Err(disposed());
  };
  let target = GuestFunction {
    owner: Arc::downgrade(&owner),
    id,
  };
  Ok(Some(Box::new(move |message: String| target.call(message))))
}
