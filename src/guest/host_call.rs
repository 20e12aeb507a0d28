//! Guest Reference operations on host values: through the bridge to the Node environment that
//! owns the value.

use super::reference_args as a;
use super::{pending, Flavor};
use crate::bridge::host_ref::{self, HostRef};
use crate::error::msg;
use crate::isolate::ref_op::RefOp;
use crate::isolate::runtime::Waiters;
use crate::isolate::thread::SharedState;
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_in;
use crate::transfer::value::Value;
use std::sync::Arc;

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
  op: RefOp,
) -> Result<Value, Thrown> {
  let (waiters, shared) = waiters_and_state(scope);
  let shared = shared.ok_or_else(|| Thrown::error(msg::DISPOSED))?;
  let isolate: &mut v8::Isolate = scope;
  host_ref::call(
    target,
    op,
    &waiters,
    &shared.waiting_on_host,
    |how| match how {
      host_ref::Wait::Reply(rx) => crate::isolate::thread::serve_while_waiting(isolate, rx),
      host_ref::Wait::Inline(run) => Ok(crate::isolate::inline::run_unlocked(isolate, run)),
    },
  )
}

/// Performs `op` on the host target in `mode`: the value, a promise of it, or nothing.
pub fn perform<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  t: &std::sync::Arc<HostRef>,
  op: RefOp,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  match mode {
    Flavor::Sync => {
      let out = call_host(scope, t, op)?;
      v8_in::value(scope, &out).map(Some)
    }
    Flavor::Async => {
      let (promise, settle) =
        pending::promise(scope).ok_or_else(|| Thrown::error("Failed to create a promise"))?;
      host_ref::call_async(t, op, false, settle);
      Ok(Some(promise.into()))
    }
    Flavor::Ignored => {
      host_ref::call_async(t, op, false, Box::new(|_| {}));
      Ok(None)
    }
  }
}

/// `applySyncPromise` on a host function: the guest waits for the promise it returns (SPEC §2.6).
pub fn apply_sync_promise<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  t: &Arc<HostRef>,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let opts = a::apply_options(scope, args)?.for_sync_promise()?;
  let (waiters, shared) = waiters_and_state(scope);
  if !waiters.is_empty() {
    // The host is blocked in a synchronous call into this isolate: its promises cannot settle.
    return Err(Thrown::error(
      "This function may not be called from the default thread",
    ));
  }
  let shared = shared.ok_or_else(|| Thrown::error(msg::DISPOSED))?;
  let op = a::apply_op(scope, args, opts)?;
  let out = {
    let isolate: &mut v8::Isolate = scope;
    host_ref::call_await(t, op, &shared.waiting_on_host, |rx| {
      crate::isolate::thread::serve_while_waiting(isolate, rx)
    })?
  };
  v8_in::value(scope, &out).map(Some)
}
