//! Module-level functions: the helper registration used by `index.js`, and version info.

use crate::bridge::env::EnvData;
use crate::bridge::js;
use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, JsValue};

/// Registers the JS helper object (type checks Node-API lacks). Called once by `index.js`.
#[napi_derive::napi(js_name = "__setHelpers", catch_unwind)]
pub fn set_helpers(env: Env, helpers: Unknown) -> napi::Result<()> {
  let e = env.raw();
  let data = EnvData::get(e)?;
  let mut r = std::ptr::null_mut();
  // SAFETY: valid env and object.
  js::check(unsafe { sys::napi_create_reference(e, helpers.raw(), 1, &mut r) })?;
  data.set_helpers(e, r);
  Ok(())
}

/// Called by `index.js` when Node runs with `--expose-gc`: guest contexts get `gc()` too.
/// Returns whether it took effect (V8 was not initialised yet in this process).
#[napi_derive::napi(js_name = "__exposeGc", catch_unwind)]
pub fn expose_gc() -> bool {
  crate::platform::expose_gc()
}

/// The embedded V8's version.
#[napi_derive::napi(js_name = "__v8Version", catch_unwind)]
pub fn v8_version() -> String {
  crate::platform::ensure_initialized();
  crate::platform::v8_version().to_string()
}

/// Test hook: number of host values currently kept alive for isolates in this environment.
#[napi_derive::napi(js_name = "__hostRefCount", catch_unwind)]
pub fn host_ref_count(env: Env) -> napi::Result<u32> {
  Ok(EnvData::get(env.raw())?.host_ref_count() as u32)
}

/// Test hook: runs a full GC in `isolate` (weak callbacks included) and returns the number of
/// live guest-side handle entries afterwards.
#[napi_derive::napi(js_name = "__collectGarbage", catch_unwind)]
pub fn collect_garbage(env: Env, isolate: &crate::api::isolate::Isolate) -> napi::Result<js::Raw> {
  let v = crate::bridge::run(
    &env,
    &isolate.host,
    crate::bridge::Flavor::Sync,
    Box::new(|rt| {
      rt.isolate.low_memory_notification();
      // The guest's FinalizationRegistry callbacks come as tasks: run them now.
      crate::isolate::thread::run_tasks(rt.isolate, &rt.core, false);
      Ok(crate::guest::live_entries(rt.isolate) as f64)
    }),
    |env, n| {
      let mut v = std::ptr::null_mut();
      // SAFETY: Node's thread, valid env.
      js::check(unsafe { sys::napi_create_double(env, n, &mut v) })?;
      Ok(v)
    },
  )?;
  Ok(js::Raw(v))
}

/// Registers the library object (called once by `index.js`).
#[napi_derive::napi(js_name = "__setLibrary", catch_unwind)]
pub fn set_library(env: Env, library: Unknown) -> napi::Result<()> {
  let e = env.raw();
  let data = EnvData::get(e)?;
  let mut r = std::ptr::null_mut();
  // SAFETY: valid env and object.
  js::check(unsafe { sys::napi_create_reference(e, library.raw(), 1, &mut r) })?;
  data.set_library(e, r);
  Ok(())
}
