//! `Script`: compiled code that can run in any context of its isolate.

use crate::api::context::Context;
use crate::api::handle::Slot;
use crate::api::options;
use crate::api::reference::out_to_napi;
use crate::bridge::js::{self, Failure, Raw};
use crate::bridge::{self, Flavor};
use crate::error::msg;
use crate::isolate::ops::script;
use crate::isolate::options::RunOptions;
use crate::isolate::runner::holding;
use crate::isolate::IsolateHost;
use crate::transfer::thrown::Thrown;
use napi::bindgen_prelude::{ClassInstance, FromNapiValue, Unknown};
use napi::{sys, Env, JsValue};
use std::sync::Arc;

/// A compiled script. Created only by `compileScript*`.
#[napi_derive::napi]
pub struct Script {
  pub(crate) host: Arc<IsolateHost>,
  pub(crate) slot: Slot,
}

impl Drop for Script {
  fn drop(&mut self) {
    crate::api::fast::forget(&*self);
  }
}

fn raw(u: Option<Unknown>) -> sys::napi_value {
  u.map(|u| u.raw()).unwrap_or(std::ptr::null_mut())
}

/// Checks a Context argument as [`context_arg`] does, throwing its TypeError: `index.js`'s
/// `module.instantiate*` check it before their resolver argument, as isolated-vm does.
#[napi_derive::napi(js_name = "__checkContext", catch_unwind)]
pub fn check_context(env: Env, context: Unknown) -> napi::Result<()> {
  let e = env.raw();
  context_arg(e, context.raw())
    .map(|_| ())
    .map_err(|f| f.throw(e))
}

/// The Context behind a JS value, or TypeError.
pub fn context_arg<'a>(
  env: sys::napi_env,
  v: sys::napi_value,
) -> Result<ClassInstance<'a, Context>, Failure> {
  let bad = || Failure::from(Thrown::type_error(msg::CONTEXT_OTHER));
  if options::is_undefined(env, v) {
    return Err(Thrown::type_error(msg::CONTEXT_MISSING).into());
  }
  // A function is an object too ("something else" below), as in isolated-vm.
  if !matches!(
    js::type_of(env, v),
    sys::ValueType::napi_object | sys::ValueType::napi_function
  ) {
    return Err(Thrown::type_error(msg::CONTEXT_NOT_OBJECT).into());
  }
  // SAFETY: FromNapiValue checks the instance's class before unwrapping.
  unsafe { ClassInstance::<Context>::from_napi_value(env, v) }.map_err(|_| {
    // SAFETY: clear the exception napi-rs may have left pending.
    let mut e = std::ptr::null_mut();
    unsafe { sys::napi_get_and_clear_last_exception(env, &mut e) };
    bad()
  })
}

impl Script {
  pub(crate) fn run_impl(
    &self,
    env: Env,
    context: Unknown,
    opts: Option<Unknown>,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let e = env.raw();
    let parsed = (|| -> Result<_, Failure> {
      let handle = self.slot.get(msg::SCRIPT_RELEASED)?;
      let ctx = context_arg(e, context.raw())?;
      if !Arc::ptr_eq(&ctx.host, &self.host) {
        return Err(Thrown::error(msg::INVALID_CONTEXT).into());
      }
      let ctx = ctx.held()?;
      let o = options::method::<RunOptions>(e, raw(opts), 2)?;
      Ok((handle, ctx, o.timeout, o.transfer, o.release))
    })();
    let (script, ctx, timeout, t, release) = parsed.map_err(|f| f.throw(e))?;
    let host = self.host.clone();
    let (script_id, ctx_id) = (script.id, ctx.id);
    let v = bridge::run(
      &env,
      &self.host,
      flavor,
      holding((script, ctx), move |rt| {
        script::run(rt, script_id, ctx_id, timeout, t)
      }),
      move |env, out| out_to_napi(env, &host, out),
    )?;
    if release {
      self.slot.release();
    }
    Ok(Raw(v))
  }
}

#[napi_derive::napi]
impl Script {
  /// Scripts come only from `isolate.compileScript()`.
  #[napi(constructor, catch_unwind)]
  pub fn constructor(env: Env) -> napi::Result<Self> {
    Err(js::type_error(env.raw(), &msg::private_ctor("Script")))
  }

  /// Releases the script; later runs throw "Script has been released".
  #[napi(catch_unwind)]
  pub fn release(&self) {
    self.slot.release();
  }
}
