//! A guest `Module` object: an ES module compiled in some isolate (a nested one, or the guest's
//! own). `instantiate*` walk the graph with the guest's resolver here, in the guest, then link
//! it on the module's isolate (`isolate::ops::module`): synchronously, or through a chain of
//! promise reactions that waits for each answer of a promise-returning resolver.

use super::{init, private, template, this, Nested, KIND_MODULE};
use crate::error::msg;
use crate::guest::options as o;
use crate::guest::remote;
use crate::guest::{dispatch, getter, method, state, Flavor};
use crate::isolate::ops::module::{self, Link};
use crate::isolate::options::RunOptions;
use crate::isolate::remote::{answer, Answer, IsolateContext, IsolateModule};
use crate::isolate::runner::holding;
use crate::isolate::Runtime;
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_in;
use crate::transfer::value::Value;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn class_template<'s>(
  scope: &mut v8::PinScope<'s, '_>,
) -> Option<v8::Local<'s, v8::FunctionTemplate>> {
  template(scope, "Module", 2, |scope| {
    let t = v8::FunctionTemplate::new(scope, construct);
    let proto = t.prototype_template(scope);
    getter(scope, proto, "dependencySpecifiers", dependency_specifiers)?;
    getter(scope, proto, "namespace", namespace)?;
    method(scope, proto, "instantiateSync", instantiate_sync)?;
    method(scope, proto, "instantiate", instantiate)?;
    method(scope, proto, "evaluateSync", evaluate_sync)?;
    method(scope, proto, "evaluate", evaluate)?;
    method(scope, proto, "release", release)?;
    Some(t)
  })
}

fn construct<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |_, _| Err(private("Module")));
}

/// The guest's `Module` class (not exported on the library, as in isolated-vm).
pub fn class<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::Function>> {
  let t = class_template(scope)?;
  crate::guest::frozen_class(scope, t)
}

/// A guest Module object for `m` (with the compile's `cachedData` / `cachedDataRejected` when it
/// is the first object made for a freshly compiled handle).
pub fn new_instance<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  m: IsolateModule,
) -> Option<v8::Local<'s, v8::Value>> {
  let t = class_template(scope)?;
  let obj = crate::guest::instance(scope, t)?;
  super::set_fresh(scope, obj, &m.info.fresh)?;
  init(scope, obj, Nested::Module(m));
  Some(obj.into())
}

/// The module a guest value is, if it is a guest Module object.
fn module_of(
  scope: &mut v8::PinScope<'_, '_>,
  v: v8::Local<v8::Value>,
) -> Option<Result<IsolateModule, Thrown>> {
  let obj = v8::Local::<v8::Object>::try_from(v).ok()?;
  Some(match super::get(scope, obj, KIND_MODULE)? {
    Ok(Nested::Module(m)) => Ok(m),
    Ok(_) => Err(Thrown::type_error(msg::NOT_MODULE)),
    Err(e) => Err(e),
  })
}

fn this_module(
  scope: &mut v8::PinScope<'_, '_>,
  obj: v8::Local<v8::Object>,
) -> Result<IsolateModule, Thrown> {
  match this(scope, obj, KIND_MODULE)? {
    Nested::Module(m) => Ok(m),
    _ => Err(Thrown::type_error("Illegal invocation")),
  }
}

fn dependency_specifiers<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let m = this_module(scope, args.this())?;
    let mut items = Vec::with_capacity(m.info.specifiers.len());
    for s in &m.info.specifiers {
      items.push(
        v8_in::string(scope, &s.as_str().into())
          .ok_or_else(failed)?
          .into(),
      );
    }
    Ok(Some(v8::Array::new_with_elements(scope, &items).into()))
  });
}

fn failed() -> Thrown {
  Thrown::error("Failed to create a value")
}

fn namespace<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let m = this_module(scope, args.this())?;
    let kept = m.info.namespace.lock().clone();
    if let Some(r) = kept {
      let h = crate::isolate::handle::Handle::Reference(r);
      return crate::guest::materialize(scope, &h).map(Some);
    }
    let id = m.handle.id;
    let host = m.handle.host.clone();
    let work = holding(m, move |rt: &mut Runtime| {
      let out = module::namespace(rt, id)?;
      answer(rt, out)
    });
    remote::run(scope, &host, work, Flavor::Sync)
  });
}

fn evaluate_in<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let r = (|| {
    let m = this_module(scope, args.this())?;
    let RunOptions {
      timeout, transfer, ..
    } = o::method(scope, args.get(0), 1)?;
    let id = m.handle.id;
    let host = m.handle.host.clone();
    let info = m.info.clone();
    let work = holding(m, move |rt: &mut Runtime| {
      let out = module::evaluate_keeping(rt, id, timeout, transfer.promise, &info)?;
      answer(rt, out)
    });
    remote::run(scope, &host, work, mode)
  })();
  crate::guest::rejecting(scope, mode, r)
}

crate::guest::methods! {
  evaluate_sync => evaluate_in(Flavor::Sync);
  evaluate => evaluate_in(Flavor::Async);
}

fn release<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    // Releasing twice is harmless.
    if super::get(scope, args.this(), KIND_MODULE).is_none() {
      return Err(Thrown::type_error("Illegal invocation"));
    }
    crate::guest::forget(scope, args.this());
    Ok(None)
  });
}

/// A linker walking a module graph with a guest resolver.
pub struct Linker {
  root: IsolateModule,
  context: IsolateContext,
  resolver: v8::Global<v8::Function>,
  /// Modules still to resolve: the object (the resolver's `referrer`), the module, and the
  /// index of the next specifier.
  queue: VecDeque<(v8::Global<v8::Object>, IsolateModule, usize)>,
  /// Every module reached.
  seen: Vec<IsolateModule>,
  links: Vec<Link>,
  /// The question an asynchronous linker waits on.
  asked: Option<(v8::Global<v8::Object>, String)>,
}

impl Linker {
  fn new(
    scope: &mut v8::PinScope<'_, '_>,
    root_obj: v8::Local<v8::Object>,
    root: IsolateModule,
    context: IsolateContext,
    resolver: v8::Local<v8::Function>,
  ) -> Linker {
    let mut queue = VecDeque::new();
    if !root.is_linked() {
      queue.push_back((v8::Global::new(scope, root_obj), root.clone(), 0));
    }
    Linker {
      seen: vec![root.clone()],
      root,
      context,
      resolver: v8::Global::new(scope, resolver),
      queue,
      links: Vec::new(),
      asked: None,
    }
  }

  /// The next question for the resolver, `None` once the graph is walked.
  fn next(&mut self) -> Option<(v8::Global<v8::Object>, String)> {
    loop {
      let (obj, m, i) = self.queue.front_mut()?;
      if let Some(s) = m.info.specifiers.get(*i) {
        *i += 1;
        return Some((obj.clone(), s.clone()));
      }
      self.queue.pop_front();
    }
  }

  /// Records the resolver's answer for the question [`Linker::next`] asked last.
  fn answer(
    &mut self,
    scope: &mut v8::PinScope<'_, '_>,
    referrer: &v8::Global<v8::Object>,
    specifier: String,
    v: v8::Local<v8::Value>,
  ) -> Result<(), Thrown> {
    let dep = module_of(scope, v).unwrap_or_else(|| Err(Thrown::type_error(msg::NOT_MODULE)))?;
    if !Arc::ptr_eq(&dep.handle.host, &self.root.handle.host) {
      return Err(Thrown::error(msg::INVALID_CONTEXT));
    }
    let from = self
      .queue
      .iter()
      .find(|(o, _, _)| o == referrer)
      .map(|(_, m, _)| m.handle.id)
      .ok_or_else(|| Thrown::error(msg::INTERNAL))?;
    self.links.push(Link {
      referrer: from,
      specifier,
      module: dep.handle.id,
    });
    if !self
      .seen
      .iter()
      .any(|m| Arc::ptr_eq(&m.handle, &dep.handle))
    {
      self.seen.push(dep.clone());
      if !dep.is_linked() {
        let obj = v8::Local::<v8::Object>::try_from(v).map_err(|_| failed())?;
        self.queue.push_back((v8::Global::new(scope, obj), dep, 0));
      }
    }
    Ok(())
  }

  /// Calls the resolver with `(specifier, referrer)`.
  fn ask<'s>(
    &self,
    scope: &mut v8::PinScope<'s, '_>,
    referrer: &v8::Global<v8::Object>,
    specifier: &str,
  ) -> Result<v8::Local<'s, v8::Value>, Thrown> {
    let f = v8::Local::new(scope, &self.resolver);
    let referrer = v8::Local::new(scope, referrer);
    let s = v8_in::string(scope, &specifier.into()).ok_or_else(failed)?;
    let undefined = v8::undefined(scope).into();
    v8::tc_scope!(let tc, scope);
    match f.call(tc, undefined, &[s.into(), referrer.into()]) {
      Some(v) => Ok(v),
      None => Err(caught(tc)),
    }
  }

  /// The job that links the walked graph on the module's isolate.
  fn link(
    self,
  ) -> (
    Arc<crate::isolate::IsolateHost>,
    crate::isolate::runner::Phase2<Answer>,
  ) {
    let Linker {
      root,
      context,
      seen,
      links,
      ..
    } = self;
    let host = root.handle.host.clone();
    let work = Box::new(move |rt: &mut Runtime| {
      module::instantiate(rt, root.handle.id, context.handle.id, links)?;
      for m in &seen {
        m.info.linked.store(true, Ordering::SeqCst);
      }
      drop((root, context));
      Ok(Answer::Value(Value::Undefined))
    });
    (host, work)
  }
}

/// The exception a TryCatch caught (or the termination going on), as a [`Thrown`].
fn caught(tc: &mut v8::PinnedRef<'_, v8::TryCatch<v8::HandleScope>>) -> Thrown {
  match tc.exception() {
    Some(e) if !tc.has_terminated() => crate::transfer::v8_out::thrown(tc, e, None),
    _ => Thrown::error(msg::DISPOSED_DURING),
  }
}

/// `instantiate*(context, resolver)`: checks the arguments and starts a linker.
fn start<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<Linker, Thrown> {
  let m = this_module(scope, args.this())?;
  if args.length() < 2 {
    return Err(Thrown::type_error(
      "`undefined` requires at least 2 parameters",
    ));
  }
  let c = super::context::param(scope, args.get(0))?;
  let resolver = v8::Local::<v8::Function>::try_from(args.get(1))
    .map_err(|_| Thrown::type_error("`undefined` requires parameter 2 to be a function"))?;
  if !Arc::ptr_eq(&c.handle.host, &m.handle.host) {
    return Err(Thrown::error(msg::INVALID_CONTEXT));
  }
  Ok(Linker::new(scope, args.this(), m, c, resolver))
}

fn instantiate_sync<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let mut linker = start(scope, args)?;
    while let Some((referrer, specifier)) = linker.next() {
      let v = linker.ask(scope, &referrer, &specifier)?;
      linker.answer(scope, &referrer, specifier, v)?;
    }
    let (host, work) = linker.link();
    remote::run(scope, &host, work, Flavor::Sync)?;
    Ok(Some(v8::undefined(scope).into()))
  });
}

fn instantiate<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  dispatch(scope, args, rv, |scope, args| {
    let r = (|| {
      let linker = start(scope, args)?;
      let resolver = v8::PromiseResolver::new(scope).ok_or_else(failed)?;
      let promise = resolver.get_promise(scope);
      let id = {
        let st = state(scope);
        let mut st = st.borrow_mut();
        let id = st.next_id();
        st.linkers
          .insert(id, (linker, v8::Global::new(scope, resolver)));
        id
      };
      step(scope, id, None);
      Ok(Some(promise.into()))
    })();
    crate::guest::rejecting(scope, Flavor::Async, r)
  });
}

/// Runs linker `id` on: records `answer` (the awaited answer to its last question), asks
/// its next question, and links once the graph is walked. Failures reject its promise.
fn step(scope: &mut v8::PinScope<'_, '_>, id: u32, answer: Option<v8::Local<v8::Value>>) {
  let st = state(scope);
  let Some((mut linker, resolver)) = st.borrow_mut().linkers.remove(&id) else {
    return;
  };
  let outcome = match advance(scope, &mut linker, answer) {
    Ok(Some(wait)) => {
      st.borrow_mut().linkers.insert(id, (linker, resolver));
      let data = v8::Integer::new_from_unsigned(scope, id).into();
      let on_ok = v8::Function::builder(answered).data(data).build(scope);
      let on_err = v8::Function::builder(refused).data(data).build(scope);
      if let (Some(on_ok), Some(on_err)) = (on_ok, on_err) {
        let _ = wait.then2(scope, on_ok, on_err);
      }
      return;
    }
    Ok(None) => {
      let (host, work) = linker.link();
      remote::run(scope, &host, work, Flavor::Async).and_then(|p| p.ok_or_else(failed))
    }
    Err(t) => Err(t),
  };
  let resolver = v8::Local::new(scope, &resolver);
  match outcome {
    Ok(linked) => {
      let _ = resolver.resolve(scope, linked);
    }
    Err(t) => {
      let e = v8_in::thrown(scope, &t);
      let _ = resolver.reject(scope, e);
    }
  }
}

/// Records `answer` and asks the next question: the promise of its answer, or `None` once the
/// graph is walked.
fn advance<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  linker: &mut Linker,
  answer: Option<v8::Local<v8::Value>>,
) -> Result<Option<v8::Local<'s, v8::Promise>>, Thrown> {
  if let Some(v) = answer {
    let (referrer, specifier) = linker
      .asked
      .take()
      .ok_or_else(|| Thrown::error(msg::INTERNAL))?;
    linker.answer(scope, &referrer, specifier, v)?;
  }
  let Some((referrer, specifier)) = linker.next() else {
    return Ok(None);
  };
  let v = linker.ask(scope, &referrer, &specifier)?;
  // The answer, awaited (a promise, a thenable or a plain value alike).
  let wait = v8::PromiseResolver::new(scope).ok_or_else(failed)?;
  wait.resolve(scope, v).ok_or_else(failed)?;
  linker.asked = Some((referrer, specifier));
  Ok(Some(wait.get_promise(scope)))
}

fn answered<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  _rv: v8::ReturnValue<'s, v8::Value>,
) {
  let _ = crate::unwind::catch(|| {
    if let Some(id) = args.data().uint32_value(scope) {
      step(scope, id, Some(args.get(0)));
    }
  });
}

fn refused<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  _rv: v8::ReturnValue<'s, v8::Value>,
) {
  let _ = crate::unwind::catch(|| {
    let Some(id) = args.data().uint32_value(scope) else {
      return;
    };
    let st = state(scope);
    let Some((_, resolver)) = st.borrow_mut().linkers.remove(&id) else {
      return;
    };
    let resolver = v8::Local::new(scope, &resolver);
    let _ = resolver.reject(scope, args.get(0));
  });
}

/// The linkers under way in a guest, by id, with the resolver of each one's promise.
pub type Linkers = std::collections::HashMap<u32, (Linker, v8::Global<v8::PromiseResolver>)>;
