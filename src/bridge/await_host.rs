//! Awaiting a host promise on Node's thread and handing its outcome to a closure (async
//! callbacks resolve the guest's promise with the settled value).

use crate::bridge::convert;
use crate::bridge::js;
use crate::transfer::options::TransferOptions;
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Value;
use napi::sys;
use parking_lot::Mutex;
use std::ffi::c_void;
use std::sync::Arc;

/// Receives the settled outcome, copied.
pub type Done = Box<dyn FnOnce(Result<Value, Thrown>) + Send>;

/// Turns the fulfilled value into what travels (Node's thread).
pub type Convert =
  fn(sys::napi_env, sys::napi_value, TransferOptions) -> Result<Value, js::Failure>;

/// What both handlers of one promise share: the receiver, and how the value travels.
struct Shared {
  done: Option<Done>,
  convert: Convert,
  opts: TransferOptions,
}

struct Handler {
  shared: Arc<Mutex<Shared>>,
  fulfilled: bool,
}

unsafe extern "C" fn on_settle(
  env: sys::napi_env,
  info: sys::napi_callback_info,
) -> sys::napi_value {
  crate::unwind::contain((), || settle(env, info));
  std::ptr::null_mut()
}

/// The body of [`on_settle`]: hands the settled outcome (copied) to the handler's `done`.
fn settle(env: sys::napi_env, info: sys::napi_callback_info) {
  let mut argc = 1usize;
  let mut argv = [std::ptr::null_mut(); 1];
  let mut data: *mut c_void = std::ptr::null_mut();
  // SAFETY: valid callback info from napi; room for one argument.
  unsafe {
    sys::napi_get_cb_info(
      env,
      info,
      &mut argc,
      argv.as_mut_ptr(),
      std::ptr::null_mut(),
      &mut data,
    )
  };
  if data.is_null() {
    return;
  }
  // SAFETY: `data` is the Handler boxed in `then`, alive until the function's finalizer.
  let handler = unsafe { &*(data as *const Handler) };
  let (done, convert, opts) = {
    let mut shared = handler.shared.lock();
    let Some(done) = shared.done.take() else {
      return;
    };
    (done, shared.convert, shared.opts)
  };
  let value = argv[0];
  // A panic while reading the outcome still settles the waiting side, with the internal error.
  let outcome = crate::unwind::catch(|| {
    if handler.fulfilled {
      convert(env, value, opts).map_err(|f| match f {
        js::Failure::Thrown(t) => t,
        js::Failure::Pending => super::host_ref::take_exception(env),
      })
    } else {
      Err(thrown_of(env, value))
    }
  })
  .unwrap_or_else(|internal| Err(Thrown::error(internal)));
  done(outcome);
}

/// A rejection reason as [`Thrown`] (errors keep class, message and stack).
fn thrown_of(env: sys::napi_env, reason: sys::napi_value) -> Thrown {
  // SAFETY: valid env; rethrow the reason so the shared exception reader can classify it.
  unsafe { sys::napi_throw(env, reason) };
  super::host_ref::take_exception(env)
}

unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
  crate::unwind::contain((), || {
    // SAFETY: `data` is the Box<Handler> leaked in `handler_fn`, finalised once.
    drop(unsafe { Box::from_raw(data as *mut Handler) });
  });
}

fn handler_fn(
  env: sys::napi_env,
  shared: Arc<Mutex<Shared>>,
  fulfilled: bool,
) -> napi::Result<sys::napi_value> {
  let data = Box::into_raw(Box::new(Handler { shared, fulfilled })) as *mut c_void;
  let mut f = std::ptr::null_mut();
  // SAFETY: valid env; the name is empty; `data` lives until the finalizer below runs.
  let status =
    unsafe { sys::napi_create_function(env, std::ptr::null(), 0, Some(on_settle), data, &mut f) };
  if status != sys::Status::napi_ok {
    // SAFETY: not handed to napi; reclaim it.
    drop(unsafe { Box::from_raw(data as *mut Handler) });
    return Err(napi::Error::from_reason("napi_create_function failed"));
  }
  // SAFETY: ties the box's lifetime to the function object.
  js::check(unsafe {
    sys::napi_add_finalizer(
      env,
      f,
      data,
      Some(finalize),
      std::ptr::null_mut(),
      std::ptr::null_mut(),
    )
  })?;
  Ok(f)
}

/// If `v` is a promise, calls `done` with its settled outcome later and returns `None`;
/// otherwise gives `done` back. A fulfilled value is copied.
pub fn then(env: sys::napi_env, v: sys::napi_value, done: Done) -> Option<Done> {
  then_converted(env, v, copy, TransferOptions::default(), done)
}

fn copy(env: sys::napi_env, v: sys::napi_value, _: TransferOptions) -> Result<Value, js::Failure> {
  convert::copy(env, v)
}

/// [`then`], with the fulfilled value turned into what travels by `convert` under `opts`.
pub fn then_converted(
  env: sys::napi_env,
  v: sys::napi_value,
  convert: Convert,
  opts: TransferOptions,
  done: Done,
) -> Option<Done> {
  let mut is_promise = false;
  // SAFETY: valid env and value.
  unsafe { sys::napi_is_promise(env, v, &mut is_promise) };
  if !is_promise {
    return Some(done);
  }
  let shared = Arc::new(Mutex::new(Shared {
    done: Some(done),
    convert,
    opts,
  }));
  let attach = || -> napi::Result<()> {
    let ok = handler_fn(env, shared.clone(), true)?;
    let err = handler_fn(env, shared.clone(), false)?;
    let then = js::get_named(env, v, "then")?;
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env, function and argument handles.
    js::check(unsafe { sys::napi_call_function(env, v, then, 2, [ok, err].as_ptr(), &mut out) })
  };
  if attach().is_err() {
    return shared.lock().done.take();
  }
  None
}

unsafe extern "C" fn ignore(
  _env: sys::napi_env,
  _info: sys::napi_callback_info,
) -> sys::napi_value {
  std::ptr::null_mut()
}

/// If `v` (a host function's result) is a promise, gives it a rejection handler that does
/// nothing, so that a rejection the guest never looks at is not an `unhandledRejection` in
/// Node (the guest's own copy of the outcome is handled, or not, in the guest).
pub fn mark_handled(env: sys::napi_env, v: sys::napi_value) {
  let mut is_promise = false;
  // SAFETY: valid env and value.
  unsafe { sys::napi_is_promise(env, v, &mut is_promise) };
  if !is_promise {
    return;
  }
  let mark = || -> napi::Result<()> {
    let mut noop = std::ptr::null_mut();
    // SAFETY: valid env; a callback without data.
    js::check(unsafe {
      sys::napi_create_function(
        env,
        c"ignore".as_ptr(),
        6,
        Some(ignore),
        std::ptr::null_mut(),
        &mut noop,
      )
    })?;
    let undefined = js::undefined(env)?;
    let then = js::get_named(env, v, "then")?;
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env, function and argument handles.
    js::check(unsafe {
      sys::napi_call_function(env, v, then, 2, [undefined, noop].as_ptr(), &mut out)
    })
  };
  if mark().is_err() {
    // A `then` that throws: leave the exception to nobody.
    let mut e = std::ptr::null_mut();
    // SAFETY: valid env.
    unsafe { sys::napi_get_and_clear_last_exception(env, &mut e) };
  }
}

/// A value under `promise: true` as it travels: a [`Handle::Promise`] settled with `v`'s
/// outcome when `v` is a promise (the fulfilled value through `convert` under `opts`), or at
/// once with `plain()` when it is not.
///
/// [`Handle::Promise`]: crate::isolate::handle::Handle::Promise
pub fn promise_handle(
  env: sys::napi_env,
  v: sys::napi_value,
  convert: Convert,
  opts: TransferOptions,
  plain: impl FnOnce() -> Result<Value, js::Failure>,
) -> Value {
  let slot = crate::transfer::settle::SettleSlot::new();
  let settle = slot.clone();
  let done: Done = Box::new(move |outcome| settle.settle(outcome));
  if let Some(done) = then_converted(env, v, convert, opts, done) {
    done(plain().map_err(|f| match f {
      js::Failure::Thrown(t) => t,
      js::Failure::Pending => super::host_ref::take_exception(env),
    }));
  }
  Value::Handle(crate::isolate::handle::Handle::Promise(slot))
}
