//! `Isolate`: creation with limits, disposal, statistics, and the factories for contexts and
//! scripts.

use crate::api::context::Context;
use crate::api::handle::{RemoteHandle, Slot};
use crate::api::options;
use crate::api::script::Script;
use crate::bridge::env::EnvData;
use crate::bridge::js::{self, Failure, Raw};
use crate::bridge::{self, Flavor};
use crate::error::msg;
use crate::isolate::ops::{context, script};
use crate::isolate::{IsolateHost, IsolateOptions};
use crate::transfer::thrown::Thrown;
use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi::{sys, Env, JsValue};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A guest V8 isolate with its own heap and thread.
#[napi_derive::napi]
pub struct Isolate {
  pub(crate) host: Arc<IsolateHost>,
}

fn parse_options(env: sys::napi_env, v: sys::napi_value) -> Result<IsolateOptions, Failure> {
  if !options::is_undefined(env, v) && js::type_of(env, v) != sys::ValueType::napi_object {
    return Err(Thrown::type_error("`Isolate` requires parameter 1 to be an object").into());
  }
  let obj = (!options::is_undefined(env, v)).then_some(v);
  let limit_mb = match options::field(env, obj, "memoryLimit")? {
    None => 128.0,
    Some(x) => match crate::bridge::convert::primitive(env, x)? {
      Some(crate::transfer::value::Value::Number(n)) if !n.is_nan() => n,
      _ => return Err(Thrown::type_error("`memoryLimit` must be a number").into()),
    },
  };
  if limit_mb < 8.0 {
    return Err(Thrown::error("`memoryLimit` must be at least 8").into());
  }
  if let Some(f) = options::field(env, obj, "onCatastrophicError")? {
    if js::type_of(env, f) != sys::ValueType::napi_function {
      return Err(Thrown::type_error("`onCatastrophicError` must be a function").into());
    }
  }
  if options::field(env, obj, "snapshot")?.is_some() {
    return Err(Thrown::type_error("`snapshot` must be an ExternalCopy to ArrayBuffer").into());
  }
  // Cap at 1 TiB so the byte count stays representable; V8 clamps its own heap further.
  let bytes = (limit_mb.min(1024.0 * 1024.0) * 1024.0 * 1024.0) as usize;
  Ok(IsolateOptions {
    memory_limit: bytes,
  })
}

impl Isolate {
  fn live(&self, env: sys::napi_env) -> napi::Result<&Arc<IsolateHost>> {
    if self.host.is_disposed() {
      return Err(js::error(env, msg::DISPOSED));
    }
    Ok(&self.host)
  }

  fn create_context_impl(
    &self,
    env: Env,
    opts: Option<Unknown>,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let raw = env.raw();
    let o = opts.map(|u| u.raw()).unwrap_or(std::ptr::null_mut());
    options::object_arg(raw, o, "undefined", 1).map_err(|f| f.throw(raw))?;
    let host = self.host.clone();
    let v = bridge::run(
      &env,
      &self.host,
      flavor,
      Box::new(|rt| Ok(context::create(rt))),
      move |env, (id, global)| {
        let ctx = Context::new(host.clone(), id, global);
        // SAFETY: Node's thread, valid env.
        Ok(crate::bridge::js::frozen(env, unsafe {
          Context::to_napi_value(env, ctx)
        }?)?)
      },
    )?;
    Ok(Raw(v))
  }

  fn compile_impl(
    &self,
    env: Env,
    code: Unknown,
    opts: Option<Unknown>,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let raw = env.raw();
    let parsed = (|| -> Result<_, Failure> {
      let code = options::string_arg(raw, code.raw(), 1)?;
      let o = opts.map(|u| u.raw()).unwrap_or(std::ptr::null_mut());
      let o = options::object_arg(raw, o, "undefined", 2)?;
      Ok((code, options::origin(raw, o)?))
    })();
    let (code, origin) = parsed.map_err(|f| f.throw(raw))?;
    let host = self.host.clone();
    let v = bridge::run(
      &env,
      &self.host,
      flavor,
      Box::new(move |rt| script::compile(rt, code, origin)),
      move |env, id| {
        let s = Script {
          host: host.clone(),
          slot: Slot::new(RemoteHandle { host, id }),
        };
        // SAFETY: Node's thread, valid env.
        Ok(crate::bridge::js::frozen(env, unsafe {
          Script::to_napi_value(env, s)
        }?)?)
      },
    )?;
    Ok(Raw(v))
  }

  fn heap_impl(&self, env: Env, flavor: Flavor) -> napi::Result<Raw> {
    let v = bridge::run(
      &env,
      &self.host,
      flavor,
      Box::new(|rt| Ok(crate::isolate::ops::heap::statistics(rt))),
      |env, fields| {
        let mut obj = std::ptr::null_mut();
        // SAFETY: Node's thread, valid env.
        js::check(unsafe { sys::napi_create_object(env, &mut obj) })?;
        for (k, v) in fields {
          let mut n = std::ptr::null_mut();
          // SAFETY: as above.
          js::check(unsafe { sys::napi_create_double(env, v, &mut n) })?;
          js::set_named(env, obj, k, n)?;
        }
        Ok(obj)
      },
    )?;
    Ok(Raw(v))
  }

  fn time(&self, env: Env, ns: u64) -> napi::Result<Raw> {
    self.live(env.raw())?;
    let mut v = std::ptr::null_mut();
    // SAFETY: Node's thread, valid env.
    js::check(unsafe { sys::napi_create_bigint_uint64(env.raw(), ns, &mut v) })?;
    Ok(Raw(v))
  }
}

#[napi_derive::napi]
impl Isolate {
  /// `new Isolate({ memoryLimit, onCatastrophicError, inspector, snapshot })`.
  #[napi(constructor, catch_unwind)]
  pub fn new(env: Env, options: Option<Unknown>) -> napi::Result<Self> {
    let raw = env.raw();
    let v = options.map(|u| u.raw()).unwrap_or(std::ptr::null_mut());
    let opts = parse_options(raw, v).map_err(|f| f.throw(raw))?;
    let host = IsolateHost::spawn(opts).map_err(|t| js::throw(raw, t))?;
    EnvData::get(raw)?.track(&host);
    Ok(Isolate { host })
  }

  /// Disposes the isolate; a second call throws "Isolate is already disposed".
  #[napi(catch_unwind)]
  pub fn dispose(&self, env: Env) -> napi::Result<()> {
    self.host.dispose().map_err(|t| js::throw(env.raw(), t))
  }

  /// True once disposed (by `dispose()` or the memory limit).
  #[napi(getter, catch_unwind)]
  pub fn is_disposed(&self) -> bool {
    self.host.is_disposed()
  }

  /// Live remote handles owned by this isolate.
  #[napi(getter, catch_unwind)]
  pub fn reference_count(&self, env: Env) -> napi::Result<u32> {
    let host = self.live(env.raw())?;
    Ok(host.state.handles.load(Ordering::Relaxed) as u32)
  }

  /// CPU time spent in this isolate (bigint ns; time blocked elsewhere excluded).
  #[napi(getter, catch_unwind)]
  pub fn cpu_time(&self, env: Env) -> napi::Result<Raw> {
    self.time(env, self.host.state.cpu_ns.load(Ordering::Relaxed))
  }

  /// Wall time spent running in this isolate (bigint ns).
  #[napi(getter, catch_unwind)]
  pub fn wall_time(&self, env: Env) -> napi::Result<Raw> {
    self.time(env, self.host.state.wall_ns.load(Ordering::Relaxed))
  }

  /// Heap statistics (SPEC §1.4).
  #[napi(catch_unwind)]
  pub fn get_heap_statistics(&self, env: Env) -> napi::Result<Raw> {
    self.heap_impl(env, Flavor::Async)
  }

  /// Heap statistics, synchronously.
  #[napi(catch_unwind)]
  pub fn get_heap_statistics_sync(&self, env: Env) -> napi::Result<Raw> {
    self.heap_impl(env, Flavor::Sync)
  }

  /// A new context (Promise).
  #[napi(catch_unwind)]
  pub fn create_context(&self, env: Env, options: Option<Unknown>) -> napi::Result<Raw> {
    self.create_context_impl(env, options, Flavor::Async)
  }

  /// A new context.
  #[napi(catch_unwind)]
  pub fn create_context_sync(&self, env: Env, options: Option<Unknown>) -> napi::Result<Raw> {
    self.create_context_impl(env, options, Flavor::Sync)
  }

  /// Compiles a script (Promise).
  #[napi(catch_unwind)]
  pub fn compile_script(
    &self,
    env: Env,
    code: Unknown,
    options: Option<Unknown>,
  ) -> napi::Result<Raw> {
    self.compile_impl(env, code, options, Flavor::Async)
  }

  /// Compiles a script.
  #[napi(catch_unwind)]
  pub fn compile_script_sync(
    &self,
    env: Env,
    code: Unknown,
    options: Option<Unknown>,
  ) -> napi::Result<Raw> {
    self.compile_impl(env, code, options, Flavor::Sync)
  }
}
