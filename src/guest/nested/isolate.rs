//! `new ivm.Isolate(options)` inside a guest: a nested isolate on its own thread.

use super::{init, template, this, Nested, KIND_ISOLATE};
use crate::error::msg;
use crate::guest::options as o;
use crate::guest::remote;
use crate::guest::{dispatch, getter, method, Flavor};
use crate::isolate::handle::Handle;
use crate::isolate::options::{CompileOptions, ContextOptions};
use crate::isolate::remote::{compile, Answer, IsolateContext, Unit};
use crate::isolate::{IsolateHost, IsolateOptions, Runtime};
use crate::transfer::thrown::Thrown;
use crate::transfer::value::{Key, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn class_template<'s>(
  scope: &mut v8::PinScope<'s, '_>,
) -> Option<v8::Local<'s, v8::FunctionTemplate>> {
  template(scope, "Isolate", 2, |scope| {
    let t = v8::FunctionTemplate::new(scope, construct);
    let proto = t.prototype_template(scope);
    method(scope, proto, "createContextSync", create_context_sync)?;
    method(scope, proto, "createContext", create_context)?;
    method(scope, proto, "compileScriptSync", compile_script_sync)?;
    method(scope, proto, "compileScript", compile_script)?;
    method(scope, proto, "compileModuleSync", compile_module_sync)?;
    method(scope, proto, "compileModule", compile_module)?;
    method(scope, proto, "getHeapStatisticsSync", heap_statistics_sync)?;
    method(scope, proto, "getHeapStatistics", heap_statistics)?;
    method(scope, proto, "dispose", dispose)?;
    getter(scope, proto, "isDisposed", is_disposed)?;
    getter(scope, proto, "referenceCount", reference_count)?;
    getter(scope, proto, "cpuTime", cpu_time)?;
    getter(scope, proto, "wallTime", wall_time)?;
    // Declared, not built yet: each fails with an Error that says so.
    method(
      scope,
      proto,
      "createInspectorSession",
      create_inspector_session,
    )?;
    method(scope, proto, "startCpuProfiler", start_cpu_profiler)?;
    method(scope, proto, "stopCpuProfiler", stop_cpu_profiler)?;
    let key = v8::String::new(scope, "createSnapshot")?;
    let f = v8::FunctionTemplate::new(scope, create_snapshot);
    t.set(key.into(), f.into());
    Some(t)
  })
}

/// The Error of an isolated-vm API not built yet (the host's text).
fn not_yet(what: &str) -> Thrown {
  Thrown::error(format!("{what} is not implemented yet in isolated-vm-rs"))
}

/// A guest method of an isolated-vm API not built yet: it throws [`not_yet`]'s Error, or in the
/// async flavour returns a promise rejected with it.
macro_rules! planned {
  ($name:ident, $what:literal, $flavor:expr) => {
    fn $name<'s>(
      scope: &mut v8::PinScope<'s, '_>,
      args: v8::FunctionCallbackArguments<'s>,
      rv: v8::ReturnValue<'s, v8::Value>,
    ) {
      dispatch(scope, args, rv, |scope, _| {
        crate::guest::rejecting(scope, $flavor, Err(not_yet($what)))
      });
    }
  };
}

planned!(create_snapshot, "`Isolate.createSnapshot`", Flavor::Sync);
planned!(
  create_inspector_session,
  "`isolate.createInspectorSession`",
  Flavor::Sync
);
planned!(
  start_cpu_profiler,
  "`isolate.startCpuProfiler`",
  Flavor::Sync
);
planned!(
  stop_cpu_profiler,
  "`isolate.stopCpuProfiler`",
  Flavor::Async
);

/// The guest's `Isolate` class.
pub fn class<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::Function>> {
  let t = class_template(scope)?;
  crate::guest::frozen_class(scope, t)
}

/// A guest Isolate object for `host`.
pub fn new_instance<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  host: Arc<IsolateHost>,
) -> Option<v8::Local<'s, v8::Value>> {
  let t = class_template(scope)?;
  let obj = crate::guest::instance(scope, t)?;
  init(scope, obj, Nested::Isolate(host));
  Some(obj.into())
}

fn options<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
) -> Result<IsolateOptions, Thrown> {
  o::parse(scope, v, "Isolate", 1)
}

fn construct<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    crate::guest::require_new(args, "Isolate")?;
    let opts = options(scope, args.get(0))?;
    if let Ok(o) = v8::Local::<v8::Object>::try_from(args.get(0)) {
      let key = v8::String::new(scope, "importModuleDynamically")
        .ok_or_else(|| Thrown::error(msg::INTERNAL))?;
      if o.get(scope, key.into()).is_some_and(|v| v.is_function()) {
        return Err(Thrown::error(
          "`importModuleDynamically` is not implemented yet for isolates created inside a guest",
        ));
      }
    }
    let hook = super::on_catastrophe::hook(scope, args.get(0))?;
    let host = IsolateHost::spawn(opts, hook)?;
    init(scope, args.this(), Nested::Isolate(host));
    Ok(None)
  });
}

/// The isolate `this` holds, if it is not disposed.
fn live(
  scope: &mut v8::PinScope<'_, '_>,
  obj: v8::Local<v8::Object>,
) -> Result<Arc<IsolateHost>, Thrown> {
  match this(scope, obj, KIND_ISOLATE)? {
    Nested::Isolate(h) if !h.is_disposed() => Ok(h),
    _ => Err(Thrown::error(msg::DISPOSED)),
  }
}

/// The isolate `this` holds, disposed or not: a call on a disposed isolate then fails the way
/// its flavour does on the host ("Isolated is disposed" when synchronous, a rejection with
/// "Isolate is disposed" when asynchronous).
fn held(
  scope: &mut v8::PinScope<'_, '_>,
  obj: v8::Local<v8::Object>,
) -> Result<Arc<IsolateHost>, Thrown> {
  match this(scope, obj, KIND_ISOLATE)? {
    Nested::Isolate(h) => Ok(h),
    _ => Err(Thrown::error(msg::DISPOSED)),
  }
}

fn create_context_in<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let r = create_context_body(scope, args, mode);
  crate::guest::rejecting(scope, mode, r)
}

fn create_context_body<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let host = held(scope, args.this())?;
  let _: ContextOptions = o::method(scope, args.get(0), 1)?;
  let work = Box::new(|rt: &mut Runtime| {
    let c = IsolateContext::create(rt)?;
    Ok(Answer::Value(Value::Handle(Handle::Context(c))))
  });
  remote::run(scope, &host, work, mode)
}

fn compile_in<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Flavor,
  unit: Unit,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let r = compile_body(scope, args, mode, unit);
  crate::guest::rejecting(scope, mode, r)
}

fn compile_body<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Flavor,
  unit: Unit,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let host = held(scope, args.this())?;
  let code = o::string(scope, args.get(0), 1)?;
  let options: CompileOptions = o::method(scope, args.get(1), 2)?;
  let meta = match unit {
    Unit::Module => meta(scope, args.get(1), &host)?,
    Unit::Script => None,
  };
  let work = Box::new(move |rt: &mut Runtime| {
    let h = compile(rt, unit, code, options, meta.as_ref().map(|r| r.handle.id))?;
    drop(meta);
    Ok(Answer::Value(Value::Handle(h)))
  });
  remote::run(scope, &host, work, mode)
}

/// The `meta` option of `compileModule*`: a function of the isolate that compiles (a guest
/// compiling in its own isolate), kept as a Reference of it until the compile ran.
fn meta<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  options: v8::Local<'s, v8::Value>,
  host: &IsolateHost,
) -> Result<Option<crate::isolate::remote::IsolateRef>, Thrown> {
  let Ok(opts) = v8::Local::<v8::Object>::try_from(options) else {
    return Ok(None);
  };
  let key = v8::String::new(scope, "meta").ok_or_else(|| Thrown::error(msg::INTERNAL))?;
  let v = opts
    .get(scope, key.into())
    .ok_or_else(|| Thrown::error(msg::INTERNAL))?;
  if v.is_null_or_undefined() {
    return Ok(None);
  }
  if !v.is_function() {
    return Err(Thrown::type_error("`meta` must be a function"));
  }
  let own = scope
    .get_slot::<Arc<crate::isolate::thread::SharedState>>()
    .cloned();
  if !own.is_some_and(|s| Arc::ptr_eq(&s, &host.state)) {
    return Err(Thrown::error(msg::META_FOREIGN));
  }
  let info = crate::isolate::ops::register::Info {
    type_of: "function",
    inherit: false,
  };
  crate::isolate::ops::register::register(scope, v, info).map(Some)
}

fn heap_statistics_in<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let r = heap_statistics_body(scope, args, mode);
  crate::guest::rejecting(scope, mode, r)
}

fn heap_statistics_body<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let host = held(scope, args.this())?;
  let work = Box::new(|rt: &mut Runtime| {
    let props = crate::isolate::ops::heap::statistics(rt)
      .into_iter()
      .map(|(k, v)| (Key::Name(k.into()), Value::Number(v)))
      .collect();
    Ok(Answer::Value(Value::Object { id: 0, props }))
  });
  remote::run(scope, &host, work, mode)
}

crate::guest::methods! {
  heap_statistics_sync => heap_statistics_in(Flavor::Sync);
  heap_statistics => heap_statistics_in(Flavor::Async);
  create_context_sync => create_context_in(Flavor::Sync);
  create_context => create_context_in(Flavor::Async);
  compile_script_sync => compile_in(Flavor::Sync, Unit::Script);
  compile_script => compile_in(Flavor::Async, Unit::Script);
  compile_module_sync => compile_in(Flavor::Sync, Unit::Module);
  compile_module => compile_in(Flavor::Async, Unit::Module);
}

fn dispose<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let Nested::Isolate(h) = this(scope, args.this(), KIND_ISOLATE)? else {
      return Err(Thrown::type_error("Illegal invocation"));
    };
    h.dispose()?;
    Ok(None)
  });
}

fn is_disposed<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let Nested::Isolate(h) = this(scope, args.this(), KIND_ISOLATE)? else {
      return Err(Thrown::type_error("Illegal invocation"));
    };
    Ok(Some(v8::Boolean::new(scope, h.is_disposed()).into()))
  });
}

fn reference_count<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let h = live(scope, args.this())?;
    let n = h.state.handles.load(Ordering::Relaxed) as f64;
    Ok(Some(v8::Number::new(scope, n).into()))
  });
}

fn time<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  wall: bool,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let h = live(scope, args.this())?;
  let (cpu, wall_ns) = h.state.times();
  let ns = if wall { wall_ns } else { cpu };
  Ok(Some(v8::BigInt::new_from_u64(scope, ns).into()))
}

crate::guest::methods! {
  cpu_time => time(false);
  wall_time => time(true);
}
