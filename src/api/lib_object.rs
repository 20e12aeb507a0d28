//! Module-level functions: the helper registration used by `index.js`, and version info.

use crate::api::env::EnvData;
use crate::api::js;
use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, JsValue};

/// Registers the JS helper object (type checks Node-API lacks). Called once by `index.js`.
#[napi_derive::napi(js_name = "__setHelpers")]
pub fn set_helpers(env: Env, helpers: Unknown) -> napi::Result<()> {
  let e = env.raw();
  let data = EnvData::get(e)?;
  let mut r = std::ptr::null_mut();
  // SAFETY: valid env and object.
  js::check(unsafe { sys::napi_create_reference(e, helpers.raw(), 1, &mut r) })?;
  if let Some(old) = data.helpers.replace(r) {
    // SAFETY: the old reference belongs to this env.
    unsafe { sys::napi_delete_reference(e, old) };
  }
  Ok(())
}

/// The embedded V8's version.
#[napi_derive::napi(js_name = "__v8Version")]
pub fn v8_version() -> String {
  crate::platform::ensure_initialized();
  crate::platform::v8_version().to_string()
}
