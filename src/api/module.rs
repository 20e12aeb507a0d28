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
use crate::isolate::remote::{IsolateModule, ModuleInfo, RemoteHandle};
use crate::isolate::runner::holding;
use crate::isolate::IsolateHost;
use crate::transfer::thrown::Thrown;
use napi::bindgen_prelude::{ClassInstance, FromNapiValue, Unknown};
use napi::{sys, Env, JsValue};
use std::ffi::c_void;
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

  pub(crate) fn evaluate_impl(
    &self,
    env: Env,
    opts: Option<Unknown>,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let e = env.raw();
    let parsed = (|| -> Result<_, Failure> {
      let handle = self.slot.get(msg::MODULE_RELEASED)?;
      let o = options::method::<RunOptions>(e, raw(opts), 1)?;
      Ok((handle, o.timeout, o.transfer.promise))
    })();
    let (handle, timeout, promise) = parsed.map_err(|f| f.throw(e))?;
    let host = self.host.clone();
    let info = self.info.clone();
    let id = handle.id;
    let v = bridge::run(
      &env,
      &self.host,
      flavor,
      holding(handle, move |rt| {
        module::evaluate_keeping(rt, id, timeout, promise, &info)
      }),
      move |env, out| out_to_napi(env, &host, out),
    )?;
    Ok(Raw(v))
  }
}

impl Drop for Module {
  fn drop(&mut self) {
    crate::api::fast::forget(&*self);
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

  /// Releases the module; later use throws "Module has been released".
  #[napi(catch_unwind)]
  pub fn release(&self) {
    self.slot.release();
  }
}

/// What the linker in `index.js` still has to resolve for a module: `null` when it is linked
/// already, else its `dependencySpecifiers`. Throws TypeError "Resolved dependency was not
/// `Module`" for anything that is not a Module.
#[napi_derive::napi(js_name = "__moduleToLink", catch_unwind)]
pub fn module_to_link(env: Env, m: Unknown) -> napi::Result<Option<Vec<String>>> {
  let e = env.raw();
  let m = module_of(e, m.raw()).ok_or_else(|| js::throw(e, Thrown::type_error(msg::NOT_MODULE)))?;
  m.slot
    .get(msg::MODULE_RELEASED)
    .map_err(|t| js::throw(e, t))?;
  if m.info.linked.load(Ordering::SeqCst) {
    return Ok(None);
  }
  Ok(Some(m.info.specifiers.clone()))
}

/// The handles an async `module.instantiate(context, resolver)` uses, held from the moment of
/// the call: releasing the module or the context while the resolver runs does not make the
/// call fail, as in isolated-vm (the call keeps them until it ran, see `instantiate_impl`).
struct Held {
  module: Arc<RemoteHandle>,
  context: Arc<RemoteHandle>,
}

unsafe extern "C" fn drop_held(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
  // SAFETY: `data` is the box made in `module_hold`, finalised once; dropping it calls no
  // Node-API function (safe inside a garbage collection).
  drop(unsafe { Box::from_raw(data as *mut Held) });
}

/// Holds `module` and `context` for an async `instantiate` (an external value for the linker in
/// `index.js` to pass on to [`module_instantiate`]).
#[napi_derive::napi(js_name = "__moduleHold", catch_unwind)]
pub fn module_hold(env: Env, m: Unknown, context: Unknown) -> napi::Result<Raw> {
  let e = env.raw();
  let held = (|| -> Result<Held, Failure> {
    let m = module_of(e, m.raw()).ok_or_else(|| Thrown::type_error("Illegal invocation"))?;
    let module = m.slot.get(msg::MODULE_RELEASED)?;
    let context = context_arg(e, context.raw())?.held()?;
    Ok(Held { module, context })
  })()
  .map_err(|f| f.throw(e))?;
  let data = Box::into_raw(Box::new(held)) as *mut c_void;
  let mut v = std::ptr::null_mut();
  // SAFETY: valid env; `data` is a leaked box that `drop_held` reclaims.
  let status =
    unsafe { sys::napi_create_external(e, data, Some(drop_held), std::ptr::null_mut(), &mut v) };
  if status != sys::Status::napi_ok {
    // SAFETY: not handed to Node, so still owned here.
    drop(unsafe { Box::from_raw(data as *mut Held) });
    return Err(napi::Error::from_reason("napi_create_external failed"));
  }
  Ok(Raw(v))
}

/// The handles [`module_hold`] made for `v`, if `v` is that external value.
fn held_of<'a>(e: sys::napi_env, v: sys::napi_value) -> Option<&'a Held> {
  if v.is_null() || js::type_of(e, v) != sys::ValueType::napi_external {
    return None;
  }
  let mut data = std::ptr::null_mut();
  // SAFETY: an external value; only index.js makes them, through `module_hold`.
  let status = unsafe { sys::napi_get_value_external(e, v, &mut data) };
  if status != sys::Status::napi_ok || data.is_null() {
    return None;
  }
  // SAFETY: the box lives until the external value is collected, which the caller's argument
  // prevents for the duration of this call.
  Some(unsafe { &*(data as *const Held) })
}

/// Links `modules[0]` and its graph in `context` with the answers the linker in `index.js`
/// collected: `modules` are the graph's modules (each once); `links` (a Uint32Array) holds,
/// for each module resolved, its index and then the index of the module each of its
/// `dependencySpecifiers` resolved to, in their order. A Promise when `async`.
#[napi_derive::napi(js_name = "__moduleInstantiate", catch_unwind)]
pub fn module_instantiate(
  env: Env,
  modules: Unknown,
  context: Unknown,
  links: Unknown,
  is_async: bool,
  held: Option<Unknown>,
) -> napi::Result<Raw> {
  let flavor = if is_async {
    Flavor::Async
  } else {
    Flavor::Sync
  };
  let held = held.and_then(|h| held_of(env.raw(), h.raw()));
  let r = instantiate_impl(env, modules, context, links, flavor, held);
  if is_async {
    js::rejecting(env.raw(), r)
  } else {
    r
  }
}

/// Element `i` of array `a`.
fn element(e: sys::napi_env, a: sys::napi_value, i: u32) -> Result<sys::napi_value, Failure> {
  let mut v = std::ptr::null_mut();
  // SAFETY: `a` is an array the linker in index.js made.
  js::check(unsafe { sys::napi_get_element(e, a, i, &mut v) })?;
  Ok(v)
}

/// The contents of the Uint32Array `a`.
fn u32_array(e: sys::napi_env, a: sys::napi_value) -> Result<Vec<u32>, Failure> {
  let mut kind = sys::TypedarrayType::uint8_array;
  let mut len = 0usize;
  let mut data = std::ptr::null_mut();
  let mut buffer = std::ptr::null_mut();
  let mut offset = 0usize;
  // SAFETY: `a` is the Uint32Array the linker in index.js made.
  js::check(unsafe {
    sys::napi_get_typedarray_info(
      e,
      a,
      &mut kind,
      &mut len,
      &mut data,
      &mut buffer,
      &mut offset,
    )
  })?;
  if kind != sys::TypedarrayType::uint32_array || (data.is_null() && len > 0) {
    return Err(Thrown::error(msg::INTERNAL).into());
  }
  if len == 0 {
    return Ok(Vec::new());
  }
  // SAFETY: a Uint32Array's data holds `len` aligned u32 values, alive while `a` is.
  Ok(unsafe { std::slice::from_raw_parts(data as *const u32, len) }.to_vec())
}

/// The length of array `a`.
fn length(e: sys::napi_env, a: sys::napi_value) -> Result<u32, Failure> {
  let mut len = 0u32;
  // SAFETY: `a` is an array the linker in index.js made.
  js::check(unsafe { sys::napi_get_array_length(e, a, &mut len) })?;
  Ok(len)
}

fn instantiate_impl(
  env: Env,
  modules: Unknown,
  context: Unknown,
  links: Unknown,
  flavor: Flavor,
  pinned: Option<&Held>,
) -> napi::Result<Raw> {
  let e = env.raw();
  let parsed = (|| -> Result<_, Failure> {
    let (modules, links) = (modules.raw(), links.raw());
    let mut infos = Vec::new();
    let mut ids = Vec::new();
    // The modules and the context stay alive until the job ran (a release cannot overtake it).
    let mut held = Vec::new();
    let mut host: Option<Arc<IsolateHost>> = None;
    for i in 0..length(e, modules)? {
      let m =
        module_of(e, element(e, modules, i)?).ok_or_else(|| Thrown::type_error(msg::NOT_MODULE))?;
      let root = host.get_or_insert_with(|| m.host.clone());
      if !Arc::ptr_eq(&m.host, root) {
        return Err(Thrown::error(msg::INVALID_CONTEXT).into());
      }
      // The root module, released while the resolver ran, is still held since the call.
      let handle = match (m.slot.get(msg::MODULE_RELEASED), pinned) {
        (Ok(h), _) => h,
        (Err(_), Some(p)) if i == 0 => p.module.clone(),
        (Err(t), _) => return Err(t.into()),
      };
      ids.push(handle.id);
      held.push(handle);
      infos.push(m.info.clone());
    }
    let host = host.ok_or_else(|| Thrown::type_error("Illegal invocation"))?;
    let ctx = context_arg(e, context.raw())?;
    if !Arc::ptr_eq(&ctx.host, &host) {
      return Err(Thrown::error(msg::INVALID_CONTEXT).into());
    }
    let ctx = match (ctx.held(), pinned) {
      (Ok(h), _) => h,
      (Err(_), Some(p)) => p.context.clone(),
      (Err(t), _) => return Err(t.into()),
    };
    let ctx_id = ctx.id;
    held.push(ctx);
    let links = u32_array(e, links)?;
    let bad = || Failure::from(Thrown::error(msg::INTERNAL));
    let mut table = Vec::with_capacity(links.len());
    let mut at = 0;
    while at < links.len() {
      let from = links[at] as usize;
      let specifiers = &infos.get(from).ok_or_else(bad)?.specifiers;
      let deps = links
        .get(at + 1..at + 1 + specifiers.len())
        .ok_or_else(bad)?;
      for (specifier, &to) in specifiers.iter().zip(deps) {
        table.push(Link {
          referrer: ids[from],
          specifier: specifier.clone(),
          module: *ids.get(to as usize).ok_or_else(bad)?,
        });
      }
      at += 1 + specifiers.len();
    }
    Ok((host, ids[0], ctx_id, table, infos, held))
  })();
  let (host, id, ctx_id, table, infos, held) = parsed.map_err(|f| f.throw(e))?;
  let v = bridge::run(
    &env,
    &host,
    flavor,
    holding(held, move |rt| module::instantiate(rt, id, ctx_id, table)),
    move |env, ()| {
      for info in &infos {
        info.linked.store(true, Ordering::SeqCst);
      }
      Ok(js::undefined(env)?)
    },
  )?;
  Ok(Raw(v))
}
