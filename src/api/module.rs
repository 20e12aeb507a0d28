//! `Module`: an ES module compiled in an isolate (SPEC §1.2, §2.9). `instantiate*` walk the
//! graph with the caller's resolver in `index.js` (the resolver is a function of Node's heap,
//! sync or promise-returning) and hand the answers to [`module_instantiate`], which links the
//! graph on the isolate.

use crate::api::handle::Slot;
use crate::api::options;
use crate::api::reference::out_to_napi;
use crate::api::script::context_arg;
use crate::bridge::js::{self, Failure, Raw};
use crate::bridge::{self, Flavor};
use crate::error::msg;
use crate::isolate::ops::module::{self, Link};
use crate::isolate::options::RunOptions;
use crate::isolate::remote::{IsolateModule, ModuleInfo};
use crate::isolate::IsolateHost;
use crate::transfer::thrown::Thrown;
use napi::bindgen_prelude::{ClassInstance, FromNapiValue, Unknown};
use napi::{sys, Env, JsValue};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A compiled module. Created only by `compileModule*` (or arriving from a guest).
#[napi_derive::napi]
pub struct Module {
  pub(crate) host: Arc<IsolateHost>,
  pub(crate) slot: Slot,
  pub(crate) info: Arc<ModuleInfo>,
}

impl Module {
  /// The object for a module handle.
  pub fn from_transfer(m: &IsolateModule) -> Module {
    Module {
      host: m.handle.host.clone(),
      slot: Slot::from_arc(m.handle.clone()),
      info: m.info.clone(),
    }
  }

  /// Its transfer handle ("Module has been released" once released).
  pub fn transfer(&self) -> Result<IsolateModule, Thrown> {
    Ok(IsolateModule {
      handle: self.slot.get(msg::MODULE_RELEASED)?,
      info: self.info.clone(),
    })
  }

  fn evaluate_impl(&self, env: Env, opts: Option<Unknown>, flavor: Flavor) -> napi::Result<Raw> {
    let e = env.raw();
    let parsed = (|| -> Result<_, Failure> {
      let handle = self.slot.get(msg::MODULE_RELEASED)?;
      let o = options::method::<RunOptions>(e, raw(opts), 1)?;
      Ok((handle.id, o.timeout, o.transfer.promise))
    })();
    let (id, timeout, promise) = parsed.map_err(|f| f.throw(e))?;
    let host = self.host.clone();
    let info = self.info.clone();
    let v = bridge::run(
      &env,
      &self.host,
      flavor,
      Box::new(move |rt| module::evaluate_keeping(rt, id, timeout, promise, &info)),
      move |env, out| out_to_napi(env, &host, out),
    )?;
    Ok(Raw(v))
  }
}

fn raw(u: Option<Unknown>) -> sys::napi_value {
  u.map(|u| u.raw()).unwrap_or(std::ptr::null_mut())
}

/// The Module behind a JS value (`None` for anything else).
fn module_of<'a>(env: sys::napi_env, v: sys::napi_value) -> Option<ClassInstance<'a, Module>> {
  if js::type_of(env, v) != sys::ValueType::napi_object {
    return None;
  }
  // SAFETY: FromNapiValue checks the instance's class before unwrapping.
  let m = unsafe { ClassInstance::<Module>::from_napi_value(env, v) };
  if m.is_err() {
    let mut e = std::ptr::null_mut();
    // SAFETY: clear the exception napi-rs may have left pending.
    unsafe { sys::napi_get_and_clear_last_exception(env, &mut e) };
  }
  m.ok()
}

#[napi_derive::napi]
impl Module {
  /// Modules come only from `isolate.compileModule()`.
  #[napi(constructor, catch_unwind)]
  pub fn constructor(env: Env) -> napi::Result<Self> {
    Err(js::type_error(env.raw(), &msg::private_ctor("Module")))
  }

  /// The static import specifiers, in source order, without duplicates.
  #[napi(getter, catch_unwind)]
  pub fn dependency_specifiers(&self, env: Env) -> napi::Result<Vec<String>> {
    self
      .slot
      .get(msg::MODULE_RELEASED)
      .map_err(|t| js::throw(env.raw(), t))?;
    Ok(self.info.specifiers.clone())
  }

  /// A Reference to the module's namespace, once `evaluate` ran.
  #[napi(getter, catch_unwind)]
  pub fn namespace(&self, env: Env) -> napi::Result<Raw> {
    let e = env.raw();
    let id = self
      .slot
      .get(msg::MODULE_RELEASED)
      .map_err(|t| js::throw(e, t))?
      .id;
    let kept = self.info.namespace.lock().clone();
    if let Some(r) = kept {
      let h = crate::isolate::handle::Handle::Reference(r);
      return Ok(Raw(
        crate::api::handles::to_object(e, &h).map_err(|f| f.throw(e))?,
      ));
    }
    let host = self.host.clone();
    let v = bridge::run(
      &env,
      &self.host,
      Flavor::Sync,
      Box::new(move |rt| module::namespace(rt, id)),
      move |env, out| out_to_napi(env, &host, out),
    )?;
    Ok(Raw(v))
  }

  /// Evaluates the module (Promise). `{ promise: true }` waits for top-level await.
  #[napi(catch_unwind)]
  pub fn evaluate(&self, env: Env, options: Option<Unknown>) -> napi::Result<Raw> {
    js::rejecting(env.raw(), self.evaluate_impl(env, options, Flavor::Async))
  }

  /// Evaluates the module.
  #[napi(catch_unwind)]
  pub fn evaluate_sync(&self, env: Env, options: Option<Unknown>) -> napi::Result<Raw> {
    self.evaluate_impl(env, options, Flavor::Sync)
  }

  /// Releases the module; later use throws "Module has been released".
  #[napi(catch_unwind)]
  pub fn release(&self) {
    self.slot.release();
  }
}

/// Whether a value is a Module that is linked already (for the linker in `index.js`). Throws
/// TypeError "Resolved dependency was not `Module`" for anything that is not a Module.
#[napi_derive::napi(js_name = "__moduleLinked", catch_unwind)]
pub fn module_linked(env: Env, m: Unknown) -> napi::Result<bool> {
  let e = env.raw();
  let m = module_of(e, m.raw()).ok_or_else(|| js::throw(e, Thrown::type_error(msg::NOT_MODULE)))?;
  m.slot
    .get(msg::MODULE_RELEASED)
    .map_err(|t| js::throw(e, t))?;
  Ok(m.info.linked.load(Ordering::SeqCst))
}

/// Links `module` and its graph in `context` with the answers the linker in `index.js`
/// collected (`links` is a flat array of `referrer, specifier, module` triples); a Promise
/// when `async`.
#[napi_derive::napi(js_name = "__moduleInstantiate", catch_unwind)]
pub fn module_instantiate(
  env: Env,
  module: Unknown,
  context: Unknown,
  links: Unknown,
  is_async: bool,
) -> napi::Result<Raw> {
  let flavor = if is_async {
    Flavor::Async
  } else {
    Flavor::Sync
  };
  let r = instantiate_impl(env, module, context, links, flavor);
  if is_async {
    js::rejecting(env.raw(), r)
  } else {
    r
  }
}

fn instantiate_impl(
  env: Env,
  module: Unknown,
  context: Unknown,
  links: Unknown,
  flavor: Flavor,
) -> napi::Result<Raw> {
  let e = env.raw();
  let parsed = (|| -> Result<_, Failure> {
    let root = module_of(e, module.raw()).ok_or_else(|| Thrown::error("Illegal invocation"))?;
    let id = root.slot.get(msg::MODULE_RELEASED)?.id;
    let ctx = context_arg(e, context.raw())?;
    if !Arc::ptr_eq(&ctx.host, &root.host) {
      return Err(Thrown::error(msg::INVALID_CONTEXT).into());
    }
    let ctx_id = ctx.id()?;
    let mut len = 0u32;
    // SAFETY: `links` is the array the linker in index.js made.
    js::check(unsafe { sys::napi_get_array_length(e, links.raw(), &mut len) })?;
    let element = |i: u32| -> Result<sys::napi_value, Failure> {
      let mut v = std::ptr::null_mut();
      // SAFETY: as above, i < len.
      js::check(unsafe { sys::napi_get_element(e, links.raw(), i, &mut v) })?;
      Ok(v)
    };
    let mut infos = vec![root.info.clone()];
    let mut table = Vec::with_capacity(len as usize / 3);
    let mut member = |v: sys::napi_value| -> Result<u32, Failure> {
      let m = module_of(e, v).ok_or_else(|| Thrown::type_error(msg::NOT_MODULE))?;
      if !Arc::ptr_eq(&m.host, &root.host) {
        return Err(Thrown::error(msg::INVALID_CONTEXT).into());
      }
      let id = m.slot.get(msg::MODULE_RELEASED)?.id;
      infos.push(m.info.clone());
      Ok(id)
    };
    for i in (0..len.saturating_sub(2)).step_by(3) {
      let referrer = member(element(i)?)?;
      let specifier = options::string_arg(e, element(i + 1)?, 1)?;
      let module = member(element(i + 2)?)?;
      table.push(Link {
        referrer,
        specifier: specifier.to_rust(),
        module,
      });
    }
    Ok((root.host.clone(), id, ctx_id, table, infos))
  })();
  let (host, id, ctx_id, table, infos) = parsed.map_err(|f| f.throw(e))?;
  let v = bridge::run(
    &env,
    &host,
    flavor,
    Box::new(move |rt| module::instantiate(rt, id, ctx_id, table)),
    move |env, ()| {
      for info in &infos {
        info.linked.store(true, Ordering::SeqCst);
      }
      Ok(js::undefined(env)?)
    },
  )?;
  Ok(Raw(v))
}
