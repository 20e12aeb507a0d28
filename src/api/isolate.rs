//! `Isolate`: creation with limits, disposal, statistics, and the factories for contexts and
//! scripts.

use crate::api::context::Context;
use crate::api::options;
use crate::bridge::env::EnvData;
use crate::bridge::js::{self, Failure, Raw};
use crate::bridge::{self, Flavor};
use crate::error::msg;
use crate::isolate::ops::context;
use crate::isolate::options::{CompileOptions, ContextOptions, OptionSource, Schema};
use crate::isolate::remote::compile;
pub use crate::isolate::remote::Unit;
use crate::isolate::{IsolateHost, IsolateOptions};
use crate::transfer::thrown::Thrown;
use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, JsValue};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A guest V8 isolate with its own heap and thread.
#[napi_derive::napi]
pub struct Isolate {
  pub(crate) host: Arc<IsolateHost>,
}

fn parse_options(env: sys::napi_env, v: sys::napi_value) -> Result<IsolateOptions, Failure> {
  options::parse(env, v, "Isolate", 1)
}

/// `onCatastrophicError` of validated options, as the engine's hook: it may be called from any
/// thread (inside V8's fatal-error handler), and calls the function on Node's thread with V8's
/// message. The function is kept for the life of the process (an isolate lost to a catastrophe
/// is never freed either).
fn catastrophe_hook(
  env: sys::napi_env,
  options: sys::napi_value,
) -> napi::Result<Option<crate::isolate::catastrophe::Hook>> {
  if options.is_null() || js::type_of(env, options) != sys::ValueType::napi_object {
    return Ok(None);
  }
  let f = js::get_named(env, options, "onCatastrophicError")?;
  if js::type_of(env, f) != sys::ValueType::napi_function {
    return Ok(None);
  }
  let mut fref = std::ptr::null_mut();
  // SAFETY: Node's thread, valid env and function.
  js::check(unsafe { sys::napi_create_reference(env, f, 1, &mut fref) })?;
  let fref = bridge::NodePtr(fref);
  let bridge = EnvData::get(env)?.bridge.clone();
  Ok(Some(Box::new(move |message: String| {
    let fref = bridge::NodePtr(fref.get());
    bridge.post(Box::new(move |env| {
      let mut f = std::ptr::null_mut();
      // SAFETY: Node's thread of the environment that made the (never deleted) reference.
      unsafe { sys::napi_get_reference_value(env, fref.get(), &mut f) };
      if f.is_null() {
        return;
      }
      let (Ok(arg), Ok(this)) = (js::string(env, &message), js::undefined(env)) else {
        return;
      };
      let mut out = std::ptr::null_mut();
      // SAFETY: Node's thread of the environment that made the reference.
      let status = unsafe { sys::napi_call_function(env, this, f, 1, &arg, &mut out) };
      if status == sys::Status::napi_pending_exception {
        let mut e = std::ptr::null_mut();
        // SAFETY: as above; an exception of the handler is reported like any uncaught one.
        unsafe {
          sys::napi_get_and_clear_last_exception(env, &mut e);
          sys::napi_fatal_exception(env, e);
        }
      }
    }));
  })))
}

/// `compileModule*`'s `meta` from the host: it must be a function of the isolate that compiles,
/// so never one of Node's (SPEC §1.3).
fn check_meta(src: &mut options::Prefetched<'_>, options: sys::napi_value) -> Result<(), Failure> {
  let env = src.inner.0;
  if options.is_null() || js::type_of(env, options) != sys::ValueType::napi_object {
    return Ok(());
  }
  let meta = src.get(options, "meta")?;
  match js::type_of(env, meta) {
    sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(()),
    sys::ValueType::napi_function => Err(Thrown::error(msg::META_FOREIGN).into()),
    _ => Err(Thrown::type_error("`meta` must be a function").into()),
  }
}

/// The compile option fields `index.js` reads before calling a compile method, in the order it
/// passes them (after the code and the options object).
pub(crate) const COMPILE_FIELDS: &[&str] = &[
  "filename",
  "lineOffset",
  "columnOffset",
  "cachedData",
  "produceCachedData",
  "meta",
];

/// `importModuleDynamically` of validated options, as the handle a guest's `import()` calls
/// (asynchronously, awaiting a promise it returns).
fn import_hook(
  env: sys::napi_env,
  options: sys::napi_value,
) -> napi::Result<Option<crate::isolate::handle::Handle>> {
  if options.is_null() || js::type_of(env, options) != sys::ValueType::napi_object {
    return Ok(None);
  }
  let f = js::get_named(env, options, "importModuleDynamically")?;
  if js::type_of(env, f) != sys::ValueType::napi_function {
    return Ok(None);
  }
  // Its promise is awaited, unlike an async Callback's (see `CallbackHandle::awaits`).
  let h = crate::api::callback::handle_for(env, f, crate::isolate::flavor::Flavor::Async, true)?;
  Ok(Some(crate::isolate::handle::Handle::HostFunction(h)))
}

impl Drop for Isolate {
  fn drop(&mut self) {
    crate::api::fast::forget(&*self);
  }
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
    options::method::<ContextOptions>(raw, o, 1).map_err(|f| f.throw(raw))?;
    let host = self.host.clone();
    let v = bridge::run(
      &env,
      &self.host,
      flavor,
      Box::new(|rt| Ok(context::create(rt))),
      move |env, (id, global)| {
        let ctx = Context::new(host.clone(), id, global);
        let obj = crate::api::instance::new(env, "Context\0", ctx)?;
        Ok(crate::bridge::js::frozen(env, obj)?)
      },
    )?;
    Ok(Raw(v))
  }

  pub(crate) fn compile_impl(
    &self,
    env: Env,
    code: Unknown,
    opts: Option<Unknown>,
    prefetched: Option<&[sys::napi_value]>,
    flavor: Flavor,
    unit: Unit,
  ) -> napi::Result<Raw> {
    let raw = env.raw();
    let parsed = (|| -> Result<_, Failure> {
      let code = options::string_arg(raw, code.raw(), 1)?;
      let o = opts.map(|u| u.raw()).unwrap_or(std::ptr::null_mut());
      let mut src = options::Prefetched {
        inner: options::NapiSource(raw),
        names: COMPILE_FIELDS,
        values: prefetched.unwrap_or(&[]),
      };
      let parsed = CompileOptions::parse(&mut src, o, crate::isolate::options::METHOD, 2)?;
      if unit == Unit::Module {
        check_meta(&mut src, o)?;
      }
      Ok((code, parsed))
    })();
    let (code, o) = parsed.map_err(|f| f.throw(raw))?;
    let v = bridge::run(
      &env,
      &self.host,
      flavor,
      Box::new(move |rt| compile(rt, unit, code, o, None)),
      move |env, h| crate::api::handles::to_object(env, &h),
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
        // The object is an object literal of `index.js`'s `heapStatistics` helper, which
        // names the fields in this order: one call instead of a property store per field.
        let mut args = [std::ptr::null_mut(); 10];
        for (slot, (_, v)) in args.iter_mut().zip(fields) {
          // SAFETY: Node's thread, valid env.
          js::check(unsafe { sys::napi_create_double(env, v, slot) })?;
        }
        crate::bridge::convert::call_helper(env, "heapStatistics", &args)
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

impl Isolate {
  /// `new Isolate({ memoryLimit, onCatastrophicError, inspector, snapshot })`, as the factory
  /// that `index.js` constructs with calls it (`api/fast.rs`).
  pub fn create(env: Env, options: Option<Unknown>) -> napi::Result<Self> {
    let raw = env.raw();
    let v = options.map(|u| u.raw()).unwrap_or(std::ptr::null_mut());
    let mut opts = parse_options(raw, v).map_err(|f| f.throw(raw))?;
    opts.import_hook = import_hook(raw, v)?;
    let hook = catastrophe_hook(raw, v)?;
    let host = IsolateHost::spawn(opts, hook).map_err(|t| js::throw(raw, t))?;
    EnvData::get(raw)?.track(&host);
    Ok(Isolate { host })
  }
}

#[napi_derive::napi]
impl Isolate {
  /// The registered class's own constructor, which `index.js` never exposes: objects are made
  /// by the factory (their finalizers must not be napi-rs's, which delete a Node-API reference
  /// and so may not run inside a garbage collection; see `bridge/api_version.rs`).
  #[napi(constructor, catch_unwind)]
  pub fn constructor(env: Env) -> napi::Result<Self> {
    Err(js::type_error(env.raw(), &msg::private_ctor("Isolate")))
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

  /// CPU time spent in this isolate (bigint ns; time blocked elsewhere excluded), including
  /// the call in progress.
  #[napi(getter, catch_unwind)]
  pub fn cpu_time(&self, env: Env) -> napi::Result<Raw> {
    self.time(env, self.host.state.times().0)
  }

  /// Wall time spent running in this isolate (bigint ns), including the call in progress.
  #[napi(getter, catch_unwind)]
  pub fn wall_time(&self, env: Env) -> napi::Result<Raw> {
    self.time(env, self.host.state.times().1)
  }

  /// Heap statistics (SPEC §1.4).
  #[napi(catch_unwind)]
  pub fn get_heap_statistics(&self, env: Env) -> napi::Result<Raw> {
    js::rejecting(env.raw(), self.heap_impl(env, Flavor::Async))
  }

  /// Heap statistics, synchronously.
  #[napi(catch_unwind)]
  pub fn get_heap_statistics_sync(&self, env: Env) -> napi::Result<Raw> {
    self.heap_impl(env, Flavor::Sync)
  }

  /// A new context (Promise).
  #[napi(catch_unwind)]
  pub fn create_context(&self, env: Env, options: Option<Unknown>) -> napi::Result<Raw> {
    js::rejecting(
      env.raw(),
      self.create_context_impl(env, options, Flavor::Async),
    )
  }

  /// A new context.
  #[napi(catch_unwind)]
  pub fn create_context_sync(&self, env: Env, options: Option<Unknown>) -> napi::Result<Raw> {
    self.create_context_impl(env, options, Flavor::Sync)
  }
}
