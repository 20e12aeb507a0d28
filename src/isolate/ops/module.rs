//! ES modules (SPEC §1.2, §2.9): compiling, linking a graph that a resolver on the caller's
//! side already walked, evaluating, the namespace; `import.meta` (`meta`) and dynamic
//! `import()` (`importModuleDynamically`).
//!
//! Linking happens in two steps. The face that owns the resolver calls it for every
//! dependency of every module it reaches (synchronously or awaiting promises) and collects the
//! answers into a table of `(referrer, specifier) → module`. Then [`instantiate`] runs on the
//! isolate and hands V8 a resolve callback that only looks the table up. A failed link leaves
//! no state behind (V8 resets the modules it touched), so every module stays re-linkable, and
//! two linkers sharing a module do not interfere: whichever links first links it.

use super::code_cache::{self, CacheOut};
use super::export::{export, new_reference, Out};
use super::script::context;
use crate::error::msg;
use crate::isolate::handle::Handle;
use crate::isolate::options::CacheOptions;
use crate::isolate::remote::{answer, Answer, ModuleInfo};
use crate::isolate::runtime::{Core, ModuleEntry, Origin};
use crate::isolate::Runtime;
use crate::transfer::options::{Fallback, TransferOptions};
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_in;
use crate::transfer::value::{JsString, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A compiled module as the compile answers it.
pub struct Compiled {
  /// Table id.
  pub id: u32,
  /// `dependencySpecifiers`: static imports in source order, without duplicates.
  pub specifiers: Vec<String>,
  /// What became of the code cache.
  pub cache: CacheOut,
}

/// One answer of a resolver: `referrer` imports `specifier` as `module` (table ids).
pub struct Link {
  /// The importing module.
  pub referrer: u32,
  /// The specifier as written.
  pub specifier: String,
  /// The module it resolved to.
  pub module: u32,
}

/// Installs the isolate-wide module callbacks (`import.meta`, `import()`).
pub fn install(isolate: &mut v8::Isolate) {
  isolate.set_host_initialize_import_meta_object_callback(import_meta);
  isolate.set_host_import_module_dynamically_callback(dynamic_import);
}

/// Compiles a module. `meta` is the reference table id of the function that initialises its
/// `import.meta` (a value of this isolate).
pub fn compile(
  rt: &mut Runtime,
  code: JsString,
  origin: Origin,
  cache: CacheOptions,
  meta: Option<u32>,
) -> Result<Compiled, Thrown> {
  let ctx = rt.compile_context();
  let id = rt.state.new_id();
  let meta = match meta {
    Some(ref_id) => Some(
      rt.tables()
        .references
        .get(&ref_id)
        .map(|e| e.value.clone())
        .ok_or_else(|| Thrown::error(msg::REFERENCE_RELEASED))?,
    ),
    None => None,
  };
  let mut out = (Vec::new(), CacheOut::default());
  let slot = &mut out;
  rt.execute_compile(
    &ctx,
    move |scope, tables| {
      let source = v8_in::string(scope, &code)?;
      let origin = origin.to_v8_as(scope, true)?;
      let (mut src, options) = code_cache::source(source, &origin, &cache);
      tables.borrow_mut().compiling = true;
      let module = v8::script_compiler::compile_module2(
        scope,
        &mut src,
        options,
        v8::script_compiler::NoCacheReason::NoReason,
      )?;
      tables.borrow_mut().compiling = false;
      slot.1 = code_cache::outcome(&src, cache.produce, || {
        module.get_unbound_module_script(scope).create_code_cache()
      });
      let requests = module.get_module_requests();
      for i in 0..requests.length() {
        let request = requests.get(scope, i)?;
        let request = v8::Local::<v8::ModuleRequest>::try_from(request).ok()?;
        let specifier = request.get_specifier().to_rust_string_lossy(scope);
        if !slot.0.contains(&specifier) {
          slot.0.push(specifier);
        }
      }
      let meta = match &meta {
        Some(v) => {
          let v = v8::Local::new(scope, &**v);
          Some(v8::Global::new(
            scope,
            v8::Local::<v8::Function>::try_from(v).ok()?,
          ))
        }
        None => None,
      };
      let entry = ModuleEntry {
        module: v8::Global::new(scope, module),
        context: None,
        evaluated: false,
        meta,
      };
      tables.borrow_mut().modules.insert(id, entry);
      Some(v8::undefined(scope).into())
    },
    |_, _, _| Ok(()),
  )?;
  rt.state.handles.fetch_add(1, Ordering::Relaxed);
  let (specifiers, cache) = out;
  Ok(Compiled {
    id,
    specifiers,
    cache,
  })
}

/// The context a module was linked in.
type LinkedContext = Rc<v8::Global<v8::Context>>;

fn module_entry(
  rt: &Runtime,
  id: u32,
) -> Result<(v8::Global<v8::Module>, Option<LinkedContext>), Thrown> {
  let tables = rt.tables();
  let e = tables
    .modules
    .get(&id)
    .ok_or_else(|| Thrown::error(msg::MODULE_RELEASED))?;
  Ok((e.module.clone(), e.context.as_ref().map(|(_, c)| c.clone())))
}

/// The link table of the [`instantiate`] under way on this thread, read by [`resolve`].
struct Linking {
  /// The graph's modules by table id.
  modules: HashMap<u32, v8::Global<v8::Module>>,
  /// Table ids by V8's identity hash of the module (hashes may collide).
  by_hash: HashMap<i32, Vec<u32>>,
  /// `(referrer, specifier) → module`.
  links: HashMap<(u32, String), u32>,
}

thread_local! {
  static LINKING: RefCell<Option<Linking>> = const { RefCell::new(None) };
}

/// Links module `id` and the graph below it in context `context_id`, with the answers a
/// resolver gave. Linking a linked module does nothing.
pub fn instantiate(
  rt: &mut Runtime,
  id: u32,
  context_id: u32,
  links: Vec<Link>,
) -> Result<(), Thrown> {
  let ctx = context(rt, context_id)?;
  let (root, linked) = module_entry(rt, id)?;
  if linked.is_some() {
    return Ok(());
  }
  let mut modules = HashMap::from([(id, root.clone())]);
  let mut table = HashMap::with_capacity(links.len());
  for link in links {
    for m in [link.referrer, link.module] {
      if let std::collections::hash_map::Entry::Vacant(e) = modules.entry(m) {
        e.insert(module_entry(rt, m)?.0);
      }
    }
    table.insert((link.referrer, link.specifier), link.module);
  }
  let shared_ctx = ctx.clone();
  rt.execute_checked(
    &ctx,
    0,
    move |scope, tables| {
      let module = v8::Local::new(scope, &root);
      if module.get_status() != v8::ModuleStatus::Uninstantiated {
        return Ok(Some(v8::undefined(scope).into()));
      }
      let mut by_hash: HashMap<i32, Vec<u32>> = HashMap::with_capacity(modules.len());
      for (m, g) in &modules {
        let hash = v8::Local::new(scope, g).get_identity_hash().get();
        by_hash.entry(hash).or_default().push(*m);
      }
      let linking = Linking {
        modules,
        by_hash,
        links: table,
      };
      LINKING.with(|l| *l.borrow_mut() = Some(linking));
      let ok = module.instantiate_module(scope, resolve);
      let linking = LINKING.with(|l| l.borrow_mut().take());
      if ok.is_none() {
        return Ok(None);
      }
      // Every module of the graph is now bound to this context.
      let mut t = tables.borrow_mut();
      for (m, g) in linking.iter().flat_map(|l| &l.modules) {
        if v8::Local::new(scope, g).get_status() == v8::ModuleStatus::Uninstantiated {
          continue;
        }
        if let Some(e) = t.modules.get_mut(m) {
          if e.context.is_none() {
            e.context = Some((context_id, shared_ctx.clone()));
          }
        }
      }
      Ok(Some(v8::undefined(scope).into()))
    },
    |_, _, _| Ok(()),
  )
}

/// V8's resolve callback during [`instantiate`]: the module the resolver answered for
/// `(referrer, specifier)`.
fn resolve<'s>(
  context: v8::Local<'s, v8::Context>,
  specifier: v8::Local<'s, v8::String>,
  _attributes: v8::Local<'s, v8::FixedArray>,
  referrer: v8::Local<'s, v8::Module>,
) -> Option<v8::Local<'s, v8::Module>> {
  // SAFETY: V8 calls the resolve callback inside `instantiate_module`, on the isolate's
  // thread with the isolate entered and locked.
  v8::callback_scope!(unsafe scope, context);
  let found = crate::unwind::contain(Err(msg::INTERNAL.to_string()), || {
    let name = specifier.to_rust_string_lossy(scope);
    let hash = referrer.get_identity_hash().get();
    let found = LINKING.with(|l| {
      let l = l.borrow();
      let l = l.as_ref()?;
      let from = *l.by_hash.get(&hash)?.iter().find(|m| {
        l.modules
          .get(m)
          .is_some_and(|g| v8::Local::new(scope, g) == referrer)
      })?;
      let to = l.links.get(&(from, name.clone()))?;
      l.modules.get(to).map(|g| v8::Local::new(scope, g))
    });
    found.ok_or_else(|| format!("Module '{name}' was not resolved"))
  });
  match found {
    Ok(m) => Some(m),
    Err(text) => {
      let e = v8_in::thrown(scope, &Thrown::error(text));
      scope.throw_exception(e);
      None
    }
  }
}

/// Evaluates module `id` (in the context it was linked in). Its completion value is
/// `undefined`, as in isolated-vm; with `promise: true` the call settles when a module with
/// top-level await finishes, and rejects with its error.
pub fn evaluate(rt: &mut Runtime, id: u32, timeout: u32, promise: bool) -> Result<Out, Thrown> {
  if rt.state.disposed.load(Ordering::SeqCst) {
    return Err(Thrown::error(msg::DISPOSED_DURING));
  }
  let (module, ctx) = module_entry(rt, id)?;
  let ctx = ctx.ok_or_else(|| Thrown::error(msg::MODULE_UNINSTANTIATED))?;
  let state = rt.state.clone();
  rt.execute(
    &ctx,
    timeout,
    move |scope, tables| {
      let m = v8::Local::new(scope, &module);
      if let Some(e) = tables.borrow_mut().modules.get_mut(&id) {
        e.evaluated = true;
      }
      let result = m.evaluate(scope)?;
      if !promise && m.get_status() == v8::ModuleStatus::Errored {
        // A module that threw: the call throws its error (its rejected promise is dropped).
        let e = m.get_exception();
        scope.throw_exception(e);
        return None;
      }
      Some(result)
    },
    move |scope, tables, v| {
      if promise {
        let opts = TransferOptions {
          promise: true,
          ..TransferOptions::default()
        };
        export(scope, tables, &state, v, opts, Fallback::Undefined)
      } else {
        Ok(Out::Value(Value::Undefined))
      }
    },
  )
}

/// [`evaluate`], keeping the Reference to the namespace in `info` once the module ran (so that
/// `namespace` needs no call into the isolate, as in isolated-vm).
pub fn evaluate_keeping(
  rt: &mut Runtime,
  id: u32,
  timeout: u32,
  promise: bool,
  info: &ModuleInfo,
) -> Result<Out, Thrown> {
  let out = evaluate(rt, id, timeout, promise)?;
  if info.namespace.lock().is_none() {
    if let Ok(Answer::Value(Value::Handle(Handle::Reference(r)))) =
      namespace(rt, id).and_then(|ns| answer(rt, ns))
    {
      *info.namespace.lock() = Some(r);
    }
  }
  Ok(out)
}

/// A Reference to the namespace of module `id`, once `evaluate` ran.
pub fn namespace(rt: &mut Runtime, id: u32) -> Result<Out, Thrown> {
  let (module, ctx, evaluated) = {
    let tables = rt.tables();
    let e = tables
      .modules
      .get(&id)
      .ok_or_else(|| Thrown::error(msg::MODULE_RELEASED))?;
    (
      e.module.clone(),
      e.context.as_ref().map(|(_, c)| c.clone()),
      e.evaluated,
    )
  };
  let ctx = match ctx {
    Some(c) if evaluated => c,
    _ => return Err(Thrown::error(msg::MODULE_NOT_INSTANTIATED)),
  };
  let state = rt.state.clone();
  rt.execute_compile(
    &ctx,
    move |scope, _| Some(v8::Local::new(scope, &module).get_module_namespace()),
    move |scope, tables, v| Ok(new_reference(scope, tables, &state, v)),
  )
}

/// Initialises `import.meta` with the module's `meta` callback, if it has one.
unsafe extern "C" fn import_meta(
  context: v8::Local<v8::Context>,
  module: v8::Local<v8::Module>,
  meta: v8::Local<v8::Object>,
) {
  // SAFETY: V8 calls this on the isolate's thread, with the isolate entered, the first time a
  // module reads `import.meta`.
  v8::callback_scope!(unsafe scope, context);
  crate::unwind::contain((), || {
    let Some(core) = scope.get_slot::<Rc<Core>>().cloned() else {
      return;
    };
    let f = core
      .tables
      .borrow()
      .modules
      .values()
      .find(|e| v8::Local::new(scope, &e.module) == module)
      .and_then(|e| e.meta.clone());
    if let Some(f) = f {
      let f = v8::Local::new(scope, f);
      let undefined = v8::undefined(scope).into();
      // An exception of the callback stays pending: the `import.meta` access throws it.
      let _ = f.call(scope, undefined, &[meta.into()]);
    }
  });
}

/// `import()` in a guest: asks the isolate's `importModuleDynamically` hook for a module,
/// evaluates it, and settles with its namespace. Without a hook it rejects with "Not supported".
fn dynamic_import<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  _options: v8::Local<'s, v8::Data>,
  resource: v8::Local<'s, v8::Value>,
  specifier: v8::Local<'s, v8::String>,
  _attributes: v8::Local<'s, v8::FixedArray>,
) -> Option<v8::Local<'s, v8::Promise>> {
  let resolver = v8::PromiseResolver::new(scope)?;
  let promise = resolver.get_promise(scope);
  let outcome = crate::unwind::catch(|| {
    let hook = scope
      .get_slot::<Rc<Core>>()
      .and_then(|c| c.import_hook.clone());
    match hook {
      None => Err(Thrown::error(msg::IMPORT_NOT_SUPPORTED)),
      Some(h) => Ok(ask_hook(scope, &h, specifier, resource)),
    }
  });
  match outcome {
    Ok(Ok(Some(chained))) => {
      resolver.resolve(scope, chained.into())?;
    }
    // The hook threw, or the isolate is stopping: the exception is pending already.
    Ok(Ok(None)) => return None,
    Ok(Err(t)) => {
      let e = v8_in::thrown(scope, &t);
      resolver.reject(scope, e)?;
    }
    Err(internal) => {
      let e = v8_in::thrown(scope, &Thrown::error(internal));
      resolver.reject(scope, e)?;
    }
  }
  Some(promise)
}

/// Calls the hook with `(specifier, referrer filename)` and chains the evaluation of the module
/// it answers; `None` when an exception is pending.
fn ask_hook<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  hook: &Handle,
  specifier: v8::Local<'s, v8::String>,
  resource: v8::Local<'s, v8::Value>,
) -> Option<v8::Local<'s, v8::Promise>> {
  let f = match crate::transfer::guest_handles::materialize(scope, hook) {
    Ok(f) => f,
    Err(t) => {
      let e = v8_in::thrown(scope, &t);
      scope.throw_exception(e);
      return None;
    }
  };
  let f = v8::Local::<v8::Function>::try_from(f).ok()?;
  let undefined = v8::undefined(scope).into();
  let referrer = if resource.is_string() {
    resource
  } else {
    undefined
  };
  let answer = f.call(scope, undefined, &[specifier.into(), referrer])?;
  let wrapped = v8::PromiseResolver::new(scope)?;
  wrapped.resolve(scope, answer)?;
  let finish = v8::Function::new(scope, finish_import)?;
  wrapped.get_promise(scope).then(scope, finish)
}

/// The hook's module arrived: evaluate it and answer its namespace (a promise of it).
fn finish_import<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  mut rv: v8::ReturnValue<'s, v8::Value>,
) {
  let outcome = crate::unwind::catch(|| evaluate_for_import(scope, args.get(0)))
    .unwrap_or_else(|internal| Err(Thrown::error(internal)));
  match outcome {
    Ok(Some(v)) => rv.set(v.into()),
    Ok(None) => {}
    Err(t) => {
      let e = v8_in::thrown(scope, &t);
      scope.throw_exception(e);
    }
  }
}

fn evaluate_for_import<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  answer: v8::Local<'s, v8::Value>,
) -> Result<Option<v8::Local<'s, v8::Promise>>, Thrown> {
  let not_module = || Thrown::type_error(msg::NOT_MODULE);
  let handle =
    crate::transfer::guest_handles::handle_of(scope, answer).ok_or_else(not_module)??;
  let Handle::Module(m) = handle else {
    return Err(not_module());
  };
  let core = scope
    .get_slot::<Rc<Core>>()
    .cloned()
    .ok_or_else(|| Thrown::error(msg::DISPOSED))?;
  if !Arc::ptr_eq(&m.handle.host.state, &core.state) {
    return Err(Thrown::error(msg::INVALID_CONTEXT));
  }
  let (module, ctx) = {
    let mut tables = core.tables.borrow_mut();
    let e = tables
      .modules
      .get_mut(&m.handle.id)
      .ok_or_else(|| Thrown::error(msg::MODULE_RELEASED))?;
    let ctx = e
      .context
      .as_ref()
      .map(|(_, c)| c.clone())
      .ok_or_else(|| Thrown::error(msg::MODULE_UNINSTANTIATED))?;
    e.evaluated = true;
    (e.module.clone(), ctx)
  };
  let ctx = v8::Local::new(scope, &*ctx);
  let scope = &mut v8::ContextScope::new(scope, ctx);
  let module = v8::Local::new(scope, &module);
  let Some(done) = module.evaluate(scope) else {
    return Ok(None);
  };
  let namespace = module.get_module_namespace();
  let answer = v8::Function::builder(
    |_: &mut v8::PinScope,
     args: v8::FunctionCallbackArguments,
     mut rv: v8::ReturnValue<v8::Value>| { rv.set(args.data()) },
  )
  .data(namespace)
  .build(scope)
  .ok_or_else(|| Thrown::error(msg::INTERNAL))?;
  let done = v8::Local::<v8::Promise>::try_from(done).map_err(|_| Thrown::error(msg::INTERNAL))?;
  Ok(done.then(scope, answer))
}
