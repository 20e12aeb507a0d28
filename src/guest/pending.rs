//! Guest promises settled later by the host: the resolver waits in the isolate's table and a
//! job posted back to the isolate settles it.

use super::state;
use crate::isolate::thread::{Deliver, SharedState};
use crate::isolate::Runtime;
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_in;
use crate::transfer::value::Value;
use std::sync::Arc;

/// Settles a pending promise from any thread.
pub type Settle = Box<dyn FnOnce(Result<Value, Thrown>) + Send>;

/// A new promise in the current context, and the function that settles it from any thread.
pub fn promise<'s>(
  scope: &mut v8::PinScope<'s, '_>,
) -> Option<(v8::Local<'s, v8::Promise>, Settle)> {
  let resolver = v8::PromiseResolver::new(scope)?;
  let promise = resolver.get_promise(scope);
  let context = scope.get_current_context();
  let shared = scope.get_slot::<Arc<SharedState>>()?.clone();
  let st = state(scope);
  let id = {
    let mut s = st.borrow_mut();
    let id = s.next_id();
    s.pending.insert(
      id,
      (
        v8::Global::new(scope, resolver),
        v8::Global::new(scope, context),
      ),
    );
    id
  };
  let settle: Settle = Box::new(move |outcome| {
    let job = Box::new(move |rt: &mut Runtime| -> Deliver {
      settle_now(rt, id, outcome);
      Box::new(|| {})
    });
    // A disposed isolate has no promise left to settle.
    let _ = shared.post(job);
  });
  Some((promise, settle))
}

fn settle_now(rt: &mut Runtime, id: u32, outcome: Result<Value, Thrown>) {
  let isolate = &mut *rt.isolate;
  v8::scope!(let hs, isolate);
  let st = state(hs);
  let Some((resolver, context)) = st.borrow_mut().pending.remove(&id) else {
    return;
  };
  let context = v8::Local::new(hs, context);
  let cs = &mut v8::ContextScope::new(hs, context);
  v8::tc_scope!(let tc, cs);
  let resolver = v8::Local::new(tc, resolver);
  match outcome.and_then(|v| v8_in::value(tc, &v)) {
    Ok(v) => {
      resolver.resolve(tc, v);
    }
    Err(t) => {
      let e = v8_in::thrown(tc, &t);
      resolver.reject(tc, e);
    }
  }
  tc.perform_microtask_checkpoint();
}
