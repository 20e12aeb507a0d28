//! `Callback`: a host function that arrives in an isolate as a plain callable function.

use crate::api::options;
use crate::bridge::convert;
use crate::bridge::host_ref::{new_host_ref, CallbackHandle};
use crate::bridge::js;
use crate::error::msg;
use crate::isolate::flavor::Flavor;
use crate::transfer::thrown::Thrown;
use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, JsValue};
use std::sync::Arc;

/// Wraps a function for transfer: `new Callback(fn, { async | sync | ignored })`.
#[napi_derive::napi]
pub struct Callback {
  pub(crate) handle: Arc<CallbackHandle>,
}

/// The callback form of a host function (name and length kept).
pub fn handle_for(
  env: sys::napi_env,
  f: sys::napi_value,
  mode: Flavor,
  awaits: bool,
) -> napi::Result<Arc<CallbackHandle>> {
  let name = js::get_named(env, f, "name")
    .ok()
    .and_then(|n| convert::rust_string(env, n))
    .unwrap_or_default();
  let length = js::get_named(env, f, "length")
    .ok()
    .and_then(|l| convert::primitive(env, l).ok().flatten())
    .and_then(|v| match v {
      crate::transfer::value::Value::Number(n) if n >= 0.0 => Some(n as u32),
      _ => None,
    })
    .unwrap_or(0);
  Ok(Arc::new(CallbackHandle {
    target: new_host_ref(env, f)?,
    mode,
    awaits,
    name,
    length,
  }))
}

impl Callback {
  /// `new Callback(fn, options)`, as the factory that `index.js` constructs with calls it
  /// (`api/fast.rs`).
  pub fn create(env: Env, f: Unknown, options: Option<Unknown>) -> napi::Result<Self> {
    let e = env.raw();
    if js::type_of(e, f.raw()) != sys::ValueType::napi_function {
      return Err(js::throw(
        e,
        Thrown::type_error("`Callback` requires parameter 1 to be a function"),
      ));
    }
    let o = options.map(|u| u.raw()).unwrap_or(std::ptr::null_mut());
    let mode: Flavor = options::parse(e, o, "Callback", 2).map_err(|f| f.throw(e))?;
    Ok(Callback {
      handle: handle_for(e, f.raw(), mode, false)?,
    })
  }
}

#[napi_derive::napi]
impl Callback {
  /// The registered class's own constructor, which `index.js` never exposes: objects are made
  /// by the factory (their finalizers must not be napi-rs's, which delete a Node-API reference
  /// and so may not run inside a garbage collection; see `bridge/api_version.rs`).
  #[napi(constructor, catch_unwind)]
  pub fn constructor(env: Env) -> napi::Result<Self> {
    Err(js::type_error(env.raw(), &msg::private_ctor("Callback")))
  }
}
