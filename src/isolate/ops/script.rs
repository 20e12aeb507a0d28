//! Compiling and running code: `compileScript`, `script.run`, `context.eval`, `evalClosure`.

use crate::error::msg;
use crate::isolate::ops::code_cache::{self, CacheOut};
use crate::isolate::ops::export::{export, Out};
use crate::isolate::options::CacheOptions;
use crate::isolate::runtime::{Origin, ScriptEntry};
use crate::isolate::Runtime;
use crate::transfer::options::{Fallback, TransferOptions};
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_in;
use crate::transfer::value::{JsString, Value};
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// Context `id` for a run. A run that starts in a disposed isolate (it was under way when
/// `dispose()` came) fails as such a run does.
pub fn context(rt: &Runtime, id: u32) -> Result<Rc<v8::Global<v8::Context>>, Thrown> {
  if rt.state.disposed.load(Ordering::SeqCst) {
    return Err(Thrown::error(msg::DISPOSED_DURING));
  }
  rt.tables()
    .contexts
    .get(&id)
    .cloned()
    .ok_or_else(|| Thrown::error(msg::CONTEXT_RELEASED))
}

/// Compiles an unbound script, consuming and producing V8's code cache per `cache`; returns
/// its table id and what became of the cache.
pub fn compile(
  rt: &mut Runtime,
  code: JsString,
  origin: Origin,
  cache: CacheOptions,
) -> Result<(u32, CacheOut), Thrown> {
  let ctx = rt.compile_context();
  let id = rt.state.new_id();
  let mut cache_out = CacheOut::default();
  let slot = &mut cache_out;
  rt.execute_compile(
    &ctx,
    move |scope, tables| {
      let source = v8_in::string(scope, &code)?;
      let origin = origin.to_v8(scope)?;
      let (mut src, options) = code_cache::source(source, &origin, &cache);
      tables.borrow_mut().compiling = true;
      let unbound = v8::script_compiler::compile_unbound_script(
        scope,
        &mut src,
        options,
        v8::script_compiler::NoCacheReason::NoReason,
      )?;
      tables.borrow_mut().compiling = false;
      *slot = code_cache::outcome(&src, cache.produce, || unbound.create_code_cache());
      let g = v8::Global::new(scope, unbound);
      let entry = ScriptEntry {
        unbound: g,
        bound: None,
      };
      tables.borrow_mut().scripts.insert(id, entry);
      Some(v8::undefined(scope).into())
    },
    |_, _, _| Ok(()),
  )?;
  rt.state.handles.fetch_add(1, Ordering::Relaxed);
  Ok((id, cache_out))
}

/// Runs a compiled script in a context.
pub fn run(
  rt: &mut Runtime,
  script: u32,
  context_id: u32,
  timeout: u32,
  opts: TransferOptions,
) -> Result<Out, Thrown> {
  let ctx = context(rt, context_id)?;
  enum Compiled {
    Bound(Rc<v8::Global<v8::Script>>),
    Unbound(v8::Global<v8::UnboundScript>),
  }
  let compiled = {
    let tables = rt.tables();
    let entry = tables
      .scripts
      .get(&script)
      .ok_or_else(|| Thrown::error(msg::SCRIPT_RELEASED))?;
    match &entry.bound {
      Some((c, bound)) if *c == context_id => Compiled::Bound(bound.clone()),
      _ => Compiled::Unbound(entry.unbound.clone()),
    }
  };
  let state = rt.state.clone();
  rt.execute(
    &ctx,
    timeout,
    move |scope, tables| {
      let script_local = match compiled {
        Compiled::Bound(bound) => v8::Local::new(scope, &*bound),
        Compiled::Unbound(unbound) => {
          let unbound = v8::Local::new(scope, &unbound);
          let bound = unbound.bind_to_current_context(scope);
          if let Some(entry) = tables.borrow_mut().scripts.get_mut(&script) {
            entry.bound = Some((context_id, Rc::new(v8::Global::new(scope, bound))));
          }
          bound
        }
      };
      script_local.run(scope)
    },
    move |scope, tables, v| export(scope, tables, &state, v, opts, Fallback::Undefined),
  )
}

/// `context.eval(code)`.
pub fn eval(
  rt: &mut Runtime,
  context_id: u32,
  code: JsString,
  origin: Origin,
  timeout: u32,
  opts: TransferOptions,
) -> Result<Out, Thrown> {
  let ctx = context(rt, context_id)?;
  let state = rt.state.clone();
  rt.execute(
    &ctx,
    timeout,
    move |scope, tables| {
      let source = v8_in::string(scope, &code)?;
      let origin = origin.to_v8(scope)?;
      tables.borrow_mut().compiling = true;
      let script = v8::Script::compile(scope, source, Some(&origin))?;
      tables.borrow_mut().compiling = false;
      script.run(scope)
    },
    move |scope, tables, v| export(scope, tables, &state, v, opts, Fallback::Undefined),
  )
}

/// `context.evalClosure(code, args)`: the body becomes a function of `$0…$N` called with the
/// global object as `this`.
#[allow(clippy::too_many_arguments)]
pub fn eval_closure(
  rt: &mut Runtime,
  context_id: u32,
  code: JsString,
  args: Vec<Value>,
  origin: Origin,
  timeout: u32,
  result: TransferOptions,
) -> Result<Out, Thrown> {
  let ctx = context(rt, context_id)?;
  let state = rt.state.clone();
  rt.execute_checked(
    &ctx,
    timeout,
    move |scope, tables| {
      let Some(source) = v8_in::string(scope, &code) else {
        return Ok(None);
      };
      let Some(origin) = origin.to_v8(scope) else {
        return Ok(None);
      };
      let mut src = v8::script_compiler::Source::new(source, Some(&origin));
      let mut params = Vec::with_capacity(args.len());
      for i in 0..args.len() {
        let Some(p) = v8::String::new(scope, &format!("${i}")) else {
          return Ok(None);
        };
        params.push(p);
      }
      tables.borrow_mut().compiling = true;
      let Some(f) = v8::script_compiler::compile_function(
        scope,
        &mut src,
        &params,
        &[],
        v8::script_compiler::CompileOptions::NoCompileOptions,
        v8::script_compiler::NoCacheReason::NoReason,
      ) else {
        return Ok(None);
      };
      tables.borrow_mut().compiling = false;
      let mut values = Vec::with_capacity(args.len());
      for a in &args {
        values.push(v8_in::value(scope, a)?);
      }
      let global = scope.get_current_context().global(scope);
      Ok(f.call(scope, global.into(), &values))
    },
    move |scope, tables, v| export(scope, tables, &state, v, result, Fallback::Throw),
  )
}
