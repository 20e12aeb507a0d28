//! Host values referenced from isolates (`new Reference(hostValue)` transferred into a guest),
//! and the operations guests perform on them, executed on the host environment's thread.

use super::{Bridge, Callback, SyncWaiter};
use crate::bridge::convert;
use crate::bridge::env::EnvData;
use crate::bridge::js;
use crate::error::{msg, ErrorKind};
use crate::isolate::handle::Handle;
use crate::isolate::host_ref::{Done, NodeSide};
use crate::isolate::ref_op::RefOp;
use crate::transfer::external::ExternalData;
use crate::transfer::options::TransferOptions;
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Value;
use napi::sys;
use std::any::Any;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub use crate::isolate::host_ref::{CallbackHandle, HostRef};

/// The bridge is how the engine reaches a Node environment.
impl NodeSide for Bridge {
  fn release(&self, id: u32) {
    self.post(Box::new(move |env| {
      if let Ok(data) = EnvData::get(env) {
        data.remove_host_ref(env, id);
      }
    }));
  }

  fn perform(&self, id: u32, op: RefOp, await_result: bool, done: Done) {
    self.post(Box::new(move |env| {
      if !await_result {
        return done(run_op(env, id, op));
      }
      match run_op_raw(env, id, op) {
        Err(t) => done(Err(t)),
        Ok((v, result)) => {
          if let Some(done) = super::await_host::then(env, v, done) {
            done(export(env, v, result, false).map_err(|f| failure(env, f)));
          }
        }
      }
    }));
  }
}

/// `typeof` as Reference reports it, for a host value.
pub fn type_of(env: sys::napi_env, v: sys::napi_value) -> &'static str {
  match js::type_of(env, v) {
    sys::ValueType::napi_undefined => "undefined",
    sys::ValueType::napi_null => "null",
    sys::ValueType::napi_boolean => "boolean",
    sys::ValueType::napi_number => "number",
    sys::ValueType::napi_string => "string",
    sys::ValueType::napi_function => "function",
    _ => "object",
  }
}

/// Keeps a host value alive for isolates. Node's thread only.
pub fn new_host_ref(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Arc<HostRef>> {
  new_host_ref_with(env, v, false)
}

/// Like [`new_host_ref`], with the `unsafeInherit` flag.
pub fn new_host_ref_with(
  env: sys::napi_env,
  v: sys::napi_value,
  inherit: bool,
) -> napi::Result<Arc<HostRef>> {
  let data = EnvData::get(env)?;
  let id = data.add_host_ref(env, v)?;
  let node: Arc<dyn NodeSide> = data.bridge.clone();
  Ok(Arc::new(HostRef::new(node, id, type_of(env, v), inherit)))
}

/// Host value `id` of this environment, or "Reference has been released".
fn value_of(env: sys::napi_env, id: u32) -> Result<sys::napi_value, Thrown> {
  EnvData::get(env)
    .ok()
    .and_then(|d| d.host_value(env, id))
    .ok_or_else(|| Thrown::error(msg::REFERENCE_RELEASED))
}

fn property_op(
  env: sys::napi_env,
  id: u32,
  helper: &'static str,
  key: sys::napi_value,
  extra: Option<sys::napi_value>,
) -> Result<sys::napi_value, Thrown> {
  let value = value_of(env, id)?;
  let mut args = vec![value, key];
  if let Some(x) = extra {
    args.push(x);
  }
  convert::call_helper(env, helper, &args).map_err(|f| failure(env, f))
}

/// `get` on host value `id` (SPEC §2.8, index.js `getOwn`), the result leaving per `result`.
/// `key` is a napi string, number or (from its own environment) symbol. Node's thread.
pub fn run_get(
  env: sys::napi_env,
  id: u32,
  key: sys::napi_value,
  accessors: bool,
  inherit: bool,
  result: TransferOptions,
) -> Result<Value, Thrown> {
  let flags = u32::from(accessors) | (u32::from(inherit) << 1);
  let mut flag = std::ptr::null_mut();
  // SAFETY: valid env.
  if unsafe { sys::napi_create_uint32(env, flags, &mut flag) } != sys::Status::napi_ok {
    return Err(Thrown::error("napi failure"));
  }
  let out = property_op(env, id, "getOwn", key, Some(flag))?;
  export(env, out, result, inherit).map_err(|f| failure(env, f))
}

/// `set` on host value `id`: `value` (already through the transfer rules) becomes an own data
/// property. Node's thread.
pub fn run_set(
  env: sys::napi_env,
  id: u32,
  key: sys::napi_value,
  value: sys::napi_value,
) -> Result<Value, Thrown> {
  property_op(env, id, "setOwn", key, Some(value))?;
  Ok(Value::Undefined)
}

/// `delete` on host value `id`. Node's thread.
pub fn run_delete(env: sys::napi_env, id: u32, key: sys::napi_value) -> Result<Value, Thrown> {
  property_op(env, id, "deleteOwn", key, None)?;
  Ok(Value::Undefined)
}

/// Reads the pending JS exception as a [`Thrown`].
pub fn take_exception(env: sys::napi_env) -> Thrown {
  let mut e = std::ptr::null_mut();
  // SAFETY: valid env on its thread.
  unsafe { sys::napi_get_and_clear_last_exception(env, &mut e) };
  if let Ok(Some(p)) = convert::primitive(env, e) {
    return Thrown::Value(p);
  }
  let mut is_error = false;
  // SAFETY: valid env and value.
  unsafe { sys::napi_is_error(env, e, &mut is_error) };
  if !is_error {
    return Thrown::error(msg::NON_ERROR_THROWN);
  }
  match convert::read_error(env, e) {
    Ok(d) => Thrown::Error {
      kind: ErrorKind::from_name(d.ctor).unwrap_or(ErrorKind::Error),
      name: d.name,
      message: d.message,
      stack: d.stack,
    },
    Err(_) => Thrown::error(msg::NON_ERROR_THROWN),
  }
}

/// A host value leaving as a `get` / `apply` result (SPEC §2.2: options, then the default
/// rules, else a Reference). Under `promise: true` it leaves as a promise settled when the host
/// promise settles (at once for a plain value), the value under the remaining options.
pub fn export(
  env: sys::napi_env,
  v: sys::napi_value,
  opts: TransferOptions,
  inherit: bool,
) -> Result<Value, js::Failure> {
  if opts.promise {
    let rest = TransferOptions {
      promise: false,
      ..opts
    };
    let plain = || export(env, v, rest, inherit);
    return Ok(super::await_host::promise_handle(
      env,
      v,
      export_settled,
      rest,
      plain,
    ));
  }
  if opts.copy {
    return convert::copy(env, v);
  }
  if opts.external_copy {
    return Ok(Value::Handle(Handle::ExternalCopy(ExternalData::new(
      convert::copy(env, v)?,
    ))));
  }
  if opts.reference {
    return Ok(Value::Handle(Handle::HostReference(new_host_ref(env, v)?)));
  }
  if let Some(p) = convert::primitive(env, v)? {
    return Ok(p);
  }
  if let Some(h) = crate::bridge::node_handles::from_object(env, v, true)? {
    return Ok(h);
  }
  Ok(Value::Handle(Handle::HostReference(new_host_ref_with(
    env, v, inherit,
  )?)))
}

/// [`export`] of a host promise's fulfilled value.
fn export_settled(
  env: sys::napi_env,
  v: sys::napi_value,
  opts: TransferOptions,
) -> Result<Value, js::Failure> {
  export(env, v, opts, false)
}

fn failure(env: sys::napi_env, f: js::Failure) -> Thrown {
  match f {
    js::Failure::Thrown(t) => t,
    js::Failure::Pending => take_exception(env),
  }
}

/// Runs `op` on host value `id`. Node's thread of the owning environment.
pub fn run_op(env: sys::napi_env, id: u32, op: RefOp) -> Result<Value, Thrown> {
  match op {
    RefOp::Copy => {
      let value = value_of(env, id)?;
      convert::copy(env, value).map_err(|f| failure(env, f))
    }
    op @ RefOp::Apply { .. } => {
      let (out, result) = run_op_raw(env, id, op)?;
      export(env, out, result, false).map_err(|f| failure(env, f))
    }
    RefOp::Get {
      key,
      accessors,
      inherit,
      result,
    } => {
      let key = convert::to_napi(env, &key).map_err(|f| failure(env, f))?;
      run_get(env, id, key, accessors, inherit, result)
    }
    RefOp::Set { key, value } => {
      let key = convert::to_napi(env, &key).map_err(|f| failure(env, f))?;
      let v = convert::to_napi(env, &value).map_err(|f| failure(env, f))?;
      run_set(env, id, key, v)
    }
    RefOp::Delete { key } => {
      let key = convert::to_napi(env, &key).map_err(|f| failure(env, f))?;
      run_delete(env, id, key)
    }
  }
}

/// Calls host function `id`; returns the raw result and the `result` options.
fn run_op_raw(
  env: sys::napi_env,
  id: u32,
  op: RefOp,
) -> Result<(sys::napi_value, TransferOptions), Thrown> {
  let RefOp::Apply {
    receiver,
    args,
    result,
  } = op
  else {
    return Err(Thrown::type_error("Reference is not a function"));
  };
  let value = EnvData::get(env)
    .ok()
    .and_then(|d| d.host_value(env, id))
    .ok_or_else(|| Thrown::error(msg::REFERENCE_RELEASED))?;
  if js::type_of(env, value) != sys::ValueType::napi_function {
    return Err(Thrown::type_error("Reference is not a function"));
  }
  let recv = convert::to_napi(env, &receiver).map_err(|f| failure(env, f))?;
  let mut argv = Vec::with_capacity(args.len());
  for a in &args {
    argv.push(convert::to_napi(env, a).map_err(|f| failure(env, f))?);
  }
  let mut out = std::ptr::null_mut();
  // SAFETY: valid env, function and argument handles.
  let status =
    unsafe { sys::napi_call_function(env, recv, value, argv.len(), argv.as_ptr(), &mut out) };
  if status != sys::Status::napi_ok {
    return Err(take_exception(env));
  }
  super::await_host::mark_handled(env, out);
  Ok((out, result))
}

/// From an isolate thread: performs `op` on `target` in its environment and waits for the
/// answer. If that environment's thread is blocked in a synchronous call into this isolate
/// (innermost entry of `waiters`), the request goes to its wait loop; otherwise onto its event
/// loop. `waiting_on` records which environment this isolate is blocked on.
pub fn call(
  target: &Arc<HostRef>,
  op: RefOp,
  waiters: &[Arc<dyn Any + Send + Sync>],
  waiting_on: &std::sync::atomic::AtomicUsize,
  wait: impl FnOnce(Wait<'_>) -> Result<Result<Value, Thrown>, crossbeam_channel::RecvError>,
) -> Result<Value, Thrown> {
  let id = target.id;
  let key = target.env_key();
  let innermost = waiters.last().and_then(|w| w.downcast_ref::<SyncWaiter>());
  let waiter = innermost.filter(|w| w.env_key == key);
  // The environment's thread is this one, running the guest inline: call the host right here.
  let inline_env = waiter
    .and_then(|w| w.inline.as_ref())
    .filter(|(_, thread)| *thread == std::thread::current().id())
    .map(|(env, _)| env.get());
  // Record the wait before the request can run: the host may call back into this isolate as
  // soon as it has the request, and must then see that this thread is blocked on it.
  let previous = waiting_on.swap(key, Ordering::SeqCst);
  let answer = match inline_env {
    Some(env) => wait(Wait::Inline(Box::new(move || run_op(env, id, op)))),
    None => {
      let (tx, rx) = crossbeam_channel::bounded::<Result<Value, Thrown>>(1);
      match waiter {
        // A thread blocked in a sync call it handed to the isolate's thread: it serves this.
        Some(w) if w.inline.is_none() => {
          let task: Callback = Box::new(move |env| {
            let _ = tx.send(run_op(env, id, op));
          });
          if let Err(e) = w.tx.send(task) {
            drop(e);
          }
        }
        // Otherwise through the environment's event loop.
        _ => target.node().perform(
          id,
          op,
          false,
          Box::new(move |r| {
            let _ = tx.send(r);
          }),
        ),
      }
      wait(Wait::Reply(&rx))
    }
  };
  waiting_on.store(previous, Ordering::SeqCst);
  answer.unwrap_or_else(|_| Err(Thrown::error(msg::DISPOSED)))
}

/// How the caller of [`call`] gets the host's answer.
pub enum Wait<'a> {
  /// Wait for it on this channel (serving synchronous calls into the isolate meanwhile).
  Reply(&'a crossbeam_channel::Receiver<Result<Value, Thrown>>),
  /// Run this on the current thread (it is the host's, and the guest runs inline on it), with
  /// the isolate unlocked; it returns the answer.
  Inline(Box<dyn FnOnce() -> Result<Value, Thrown> + 'a>),
}

/// From an isolate thread: performs `op` on the host without waiting; `done` receives the
/// outcome on the host environment's thread (or is dropped if that environment is gone).
/// With `await_result`, a promise returned by the host function is awaited first.
pub fn call_async(target: &Arc<HostRef>, op: RefOp, await_result: bool, done: Done) {
  target.node().perform(target.id, op, await_result, done);
}

/// From an isolate thread (guest running asynchronously): calls the host function, waits for
/// the promise it returns (if any) to settle, and returns the copied outcome (`applySyncPromise`).
pub fn call_await(
  target: &Arc<HostRef>,
  op: RefOp,
  waiting_on: &std::sync::atomic::AtomicUsize,
  wait: impl FnOnce(
    &crossbeam_channel::Receiver<Result<Value, Thrown>>,
  ) -> Result<Result<Value, Thrown>, crossbeam_channel::RecvError>,
) -> Result<Value, Thrown> {
  let (tx, rx) = crossbeam_channel::bounded::<Result<Value, Thrown>>(1);
  let previous = waiting_on.swap(target.env_key(), Ordering::SeqCst);
  call_async(
    target,
    op,
    true,
    Box::new(move |outcome| {
      let _ = tx.send(outcome);
    }),
  );
  let answer = wait(&rx);
  waiting_on.store(previous, Ordering::SeqCst);
  answer.unwrap_or_else(|_| Err(Thrown::error(msg::DISPOSED)))
}
