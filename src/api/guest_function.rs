//! Guest functions arriving on the host as plain functions: calling one clones the arguments
//! into the isolate, calls it, and clones the result back (SPEC §2.2 rule 2, §2.7). A guest
//! `ivm.Callback` may make the call asynchronous (a promise) or ignored.

use crate::api::handle::RemoteHandle;
use crate::bridge::js::{self, Failure};
use crate::bridge::{self, Flavor};
use crate::isolate::ops::reference as ops;
use crate::isolate::runner::holding;
use crate::transfer::options::TransferOptions;
use crate::transfer::value::Value;
use napi::{sys, Env};
use std::ffi::c_void;
use std::sync::Arc;

unsafe extern "C" fn invoke(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
  match crate::unwind::catch(|| call(env, info)) {
    Ok(Ok(v)) => v,
    Ok(Err(_)) => std::ptr::null_mut(),
    Err(internal) => {
      let _ = js::error(env, &internal);
      std::ptr::null_mut()
    }
  }
}

fn call(env: sys::napi_env, info: sys::napi_callback_info) -> napi::Result<sys::napi_value> {
  let mut argc = 0usize;
  let mut data: *mut c_void = std::ptr::null_mut();
  // SAFETY: valid callback info; first call only counts the arguments.
  js::check(unsafe {
    sys::napi_get_cb_info(
      env,
      info,
      &mut argc,
      std::ptr::null_mut(),
      std::ptr::null_mut(),
      &mut data,
    )
  })?;
  let mut argv = vec![std::ptr::null_mut(); argc];
  // SAFETY: `argv` has room for `argc` values.
  js::check(unsafe {
    sys::napi_get_cb_info(
      env,
      info,
      &mut argc,
      argv.as_mut_ptr(),
      std::ptr::null_mut(),
      std::ptr::null_mut(),
    )
  })?;
  let (handle, mode) = {
    // SAFETY: `data` is the `Target` boxed in `new_function`, alive until finalised.
    let t = unsafe { &*(data as *const Target) };
    (t.0.clone(), t.1)
  };
  let mut args = Vec::with_capacity(argc);
  for a in argv {
    args.push(crate::bridge::convert::copy(env, a).map_err(|f: Failure| f.throw(env))?);
  }
  let id = handle.id;
  // The result is copied in every mode: a promise the guest function returns is not awaited
  // but fails to copy ("#<Promise> could not be cloned."), as in isolated-vm.
  let copy = TransferOptions {
    copy: true,
    ..Default::default()
  };
  let flavor = mode;
  let env_ = Env::from_raw(env);
  let host = handle.host.clone();
  bridge::run(
    &env_,
    &handle.host,
    flavor,
    holding(handle.clone(), move |rt| {
      ops::apply(rt, id, Value::Undefined, args, 0, copy)
    }),
    move |env, out| crate::api::reference::out_to_napi(env, &host, out),
  )
}

unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
  crate::unwind::contain((), || {
    // SAFETY: the Box<Target> leaked in `new_function`, finalised once.
    drop(unsafe { Box::from_raw(data as *mut Target) });
  });
}

/// What a host function made by [`new_function`] calls, and how.
struct Target(Arc<RemoteHandle>, Flavor);

/// A host function that calls guest function `handle` in `mode`.
pub fn new_function(
  env: sys::napi_env,
  handle: Arc<RemoteHandle>,
  name: &str,
  length: u32,
  mode: Flavor,
) -> Result<sys::napi_value, Failure> {
  let data = Box::into_raw(Box::new(Target(handle, mode))) as *mut c_void;
  let mut f = std::ptr::null_mut();
  // SAFETY: valid env; name bytes valid for the call; `data` lives until the finalizer.
  let status = unsafe {
    sys::napi_create_function(
      env,
      name.as_ptr() as *const _,
      name.len() as isize,
      Some(invoke),
      data,
      &mut f,
    )
  };
  if status != sys::Status::napi_ok {
    // SAFETY: not handed to napi.
    drop(unsafe { Box::from_raw(data as *mut Target) });
    return Err(Failure::Pending);
  }
  // SAFETY: ties the data's lifetime to the function object.
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
  let mut len = std::ptr::null_mut();
  // SAFETY: valid env.
  js::check(unsafe { sys::napi_create_uint32(env, length, &mut len) })?;
  let key = js::string(env, "length")?;
  js::define_data(env, f, key, len, sys::PropertyAttributes::configurable)?;
  Ok(f)
}
