//! The per-isolate state that lives on the isolate's thread: the V8 isolate, handle tables, and
//! the [`Runtime::execute`] frame every script-running job goes through (context, TryCatch,
//! timeout, microtask checkpoint, unhandled rejections, classification of failures).

use super::limits::{self, MemoryState};
use super::thread::{IsolateOptions, SharedState};
use super::watchdog::Timer;
use crate::error::msg;
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_out;
use std::cell::RefCell;
use std::ffi::c_void;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A referenced guest value and the context it was created in.
pub struct RefEntry {
  /// The value (shared, so an operation holds it without a new V8 handle).
  pub value: Rc<v8::Global<v8::Value>>,
  /// The context operations on it run in.
  pub context: Rc<v8::Global<v8::Context>>,
  /// `unsafeInherit`: `get` walks the prototype chain; References it returns inherit this.
  pub inherit: bool,
}

/// Handle tables: the targets of remote handles held by other threads, by id.
#[derive(Default)]
pub struct Tables {
  /// Contexts by id (shared, so a run holds its context without a new V8 handle).
  pub contexts: crate::ids::IdMap<u32, Rc<v8::Global<v8::Context>>>,
  /// Compiled scripts by id.
  pub scripts: crate::ids::IdMap<u32, ScriptEntry>,
  /// Referenced values by id.
  pub references: crate::ids::IdMap<u32, RefEntry>,
  /// Compiled modules by id.
  pub modules: crate::ids::IdMap<u32, ModuleEntry>,
  /// Set by a body while it compiles; a failure then is a compile error (location appended).
  pub compiling: bool,
  /// Set when converting the result attached promise handlers (`promise: true`), so one more
  /// microtask checkpoint must run for already-settled promises.
  pub needs_checkpoint: bool,
}

/// A compiled script and its binding to the context it last ran in (runs in the same context
/// reuse it instead of binding the script anew each time, which allocates a new function).
pub struct ScriptEntry {
  /// The context-independent script.
  pub unbound: v8::Global<v8::UnboundScript>,
  /// The script bound to context `.0`, once it ran there.
  pub bound: Option<(u32, Rc<v8::Global<v8::Script>>)>,
}

/// A compiled module: the context it was instantiated in, whether `evaluate` ran (its
/// namespace is reachable from then on, as in isolated-vm), and its `meta` callback.
pub struct ModuleEntry {
  /// The module.
  pub module: v8::Global<v8::Module>,
  /// The context it was instantiated in (id and context), once it was.
  pub context: Option<(u32, Rc<v8::Global<v8::Context>>)>,
  /// Set once `evaluate` ran.
  pub evaluated: bool,
  /// The `meta` callback initialising `import.meta`.
  pub meta: Option<v8::Global<v8::Function>>,
}

type Rejections = Rc<RefCell<Vec<(v8::Global<v8::Promise>, v8::Global<v8::Value>)>>>;

/// The stack of synchronous callers waiting on this isolate.
pub type Waiters = Rc<RefCell<Vec<Arc<dyn std::any::Any + Send + Sync>>>>;

/// Per-isolate state shared by every job on the isolate's thread, including jobs that run
/// nested inside a V8 callback while the thread waits for the host (re-entrant sync calls).
/// Kept in an isolate slot; its cells are never borrowed across JavaScript execution.
pub struct Core {
  /// Handle tables.
  pub tables: RefCell<Tables>,
  default_context: RefCell<Option<v8::Global<v8::Context>>>,
  rejections: Rejections,
  /// Synchronous callers blocked on this isolate, innermost last (opaque to this module; the
  /// bridge pushes them and guest callbacks read them through the isolate slot).
  pub waiters: Waiters,
  /// State shared with other threads.
  pub state: Arc<SharedState>,
  /// Timeouts of the runs in progress (nested runs included), paused while the thread waits
  /// for another isolate.
  pub timers: RefCell<Vec<super::watchdog::Pauser>>,
  /// Time this isolate's calls spent in other code run inline on their thread with the isolate
  /// unlocked (host functions, other isolates' sync calls), in ns: not its CPU time.
  pub host_ns: std::cell::Cell<u64>,
  /// Run frames in progress on this isolate (a nested run is one inside another's JavaScript).
  pub frames: std::cell::Cell<u32>,
  /// The synchronous call running inline on its caller's thread, if any: when it started and
  /// `host_ns` then (for live `cpuTime` / `wallTime` read from a host function it calls).
  pub inline_call: std::cell::Cell<Option<(std::time::Instant, u64)>>,
  /// `importModuleDynamically`: the function a guest's `import()` calls.
  pub import_hook: Option<crate::isolate::handle::Handle>,
}

impl Core {
  /// Stops the clocks of every run in progress (the thread is about to wait for the host).
  pub fn pause_timers(&self) {
    for t in self.timers.borrow().iter() {
      t.pause();
    }
  }

  /// Restarts them.
  pub fn resume_timers(&self) {
    for t in self.timers.borrow().iter() {
      t.resume();
    }
  }

  /// Forgets the unhandled rejections collected outside any call (by V8's own tasks).
  pub fn forget_rejections(&self) {
    self.rejections.borrow_mut().clear();
  }

  /// Drops every V8 handle it holds (before the isolate goes away).
  pub fn clear(&self) {
    *self.tables.borrow_mut() = Tables::default();
    self.default_context.borrow_mut().take();
    self.rejections.borrow_mut().clear();
  }
}

/// A job's view of its isolate: the isolate (owned by the thread, or reached through the scope
/// of the callback a nested job runs in) and the shared [`Core`]. Isolate thread only.
pub struct Runtime<'a> {
  /// The V8 isolate.
  pub isolate: &'a mut v8::Isolate,
  /// Shared per-isolate state.
  pub core: Rc<Core>,
  /// Synchronous callers blocked on this isolate (same as `core.waiters`).
  pub waiters: Waiters,
  /// State shared with other threads (same as `core.state`).
  pub state: Arc<SharedState>,
}

/// ScriptOrigin options for compiling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
  /// Resource name (default `<isolated-vm>`).
  pub filename: String,
  /// Line offset.
  pub line_offset: i32,
  /// Column offset.
  pub column_offset: i32,
}

impl Origin {
  /// Builds the V8 ScriptOrigin of a script.
  pub fn to_v8<'s>(&self, scope: &mut v8::PinScope<'s, '_>) -> Option<v8::ScriptOrigin<'s>> {
    self.to_v8_as(scope, false)
  }

  /// Builds the V8 ScriptOrigin of a script, or of a module when `module`.
  pub fn to_v8_as<'s>(
    &self,
    scope: &mut v8::PinScope<'s, '_>,
    module: bool,
  ) -> Option<v8::ScriptOrigin<'s>> {
    let name = v8::String::new(scope, &self.filename)?;
    Some(v8::ScriptOrigin::new(
      scope,
      name.into(),
      self.line_offset,
      self.column_offset,
      false,
      -1,
      None,
      false,
      false,
      module,
      None,
    ))
  }
}

/// Creates the V8 isolate with limits and callbacks installed, and its [`Core`] (also kept in
/// an isolate slot). On the thread that calls `new Isolate()`, which hands it to the isolate's
/// thread.
pub fn create(state: Arc<SharedState>, options: IsolateOptions) -> (v8::OwnedIsolate, Rc<Core>) {
  let memory = state.memory.clone();
  // As isolated-vm: the old generation gets the limit, the young generation comes on top.
  let params = v8::CreateParams::default()
    .set_max_old_generation_size_in_bytes(options.memory_limit)
    .set_max_young_generation_size_in_bytes(limits::young_generation_bytes(options.memory_limit))
    .array_buffer_allocator(limits::allocator(&memory));
  let mut isolate = v8::Isolate::new(params);
  isolate.set_microtasks_policy(v8::MicrotasksPolicy::Explicit);
  let initial = isolate.get_heap_statistics().heap_size_limit();
  memory
    .threshold
    .store(initial.max(options.memory_limit), Ordering::Relaxed);
  let data = Arc::as_ptr(&memory) as *mut c_void;
  isolate.add_near_heap_limit_callback(limits::near_heap_limit, data);
  isolate.add_gc_epilogue_callback(limits::gc_epilogue, data, v8::GCType::kGCTypeAll);
  isolate.set_oom_error_handler(super::catastrophe::on_oom);
  isolate.set_promise_reject_callback(promise_reject);
  super::ops::module::install(&mut isolate);
  super::codegen::install(&mut isolate);
  let rejections: Rejections = Rc::new(RefCell::new(Vec::new()));
  isolate.set_slot(rejections.clone());
  isolate.set_slot(memory.clone());
  let waiters: Waiters = Rc::new(RefCell::new(Vec::new()));
  isolate.set_slot(waiters.clone());
  isolate.set_slot(state.clone());
  let core = Rc::new(Core {
    tables: RefCell::new(Tables::default()),
    default_context: RefCell::new(None),
    rejections,
    waiters,
    state,
    timers: RefCell::new(Vec::new()),
    host_ns: std::cell::Cell::new(0),
    frames: std::cell::Cell::new(0),
    inline_call: std::cell::Cell::new(None),
    import_hook: options.import_hook,
  });
  isolate.set_slot(core.clone());
  (isolate, core)
}

impl<'a> Runtime<'a> {
  /// A view of `isolate` with its core.
  pub fn new(isolate: &'a mut v8::Isolate, core: Rc<Core>) -> Runtime<'a> {
    Runtime {
      waiters: core.waiters.clone(),
      state: core.state.clone(),
      isolate,
      core,
    }
  }

  /// The handle tables (borrow briefly; never across JavaScript execution).
  pub fn tables(&self) -> std::cell::RefMut<'_, Tables> {
    self.core.tables.borrow_mut()
  }

  /// The memory accounting of this isolate.
  pub fn memory(&self) -> &Arc<MemoryState> {
    &self.state.memory
  }

  /// A context to compile unbound scripts and modules in (they are context-independent): one
  /// of the isolate's own contexts when it has one, else one made for compiling on first use
  /// (a context costs about a third of a millisecond to make).
  pub fn compile_context(&mut self) -> Rc<v8::Global<v8::Context>> {
    if let Some(c) = self.core.tables.borrow().contexts.values().next() {
      return c.clone();
    }
    Rc::new(self.default_context())
  }

  /// Takes the spare context (see [`Runtime::default_context`]) for a `createContext`.
  pub fn take_spare_context(&mut self) -> Option<v8::Global<v8::Context>> {
    self.core.default_context.borrow_mut().take()
  }

  /// The isolate's spare context: made with the isolate (isolated-vm makes one in
  /// `new Isolate()`), else on first use. Compiling uses it while the isolate has
  /// no context of its own, and the first `createContext` takes it over.
  pub fn default_context(&mut self) -> v8::Global<v8::Context> {
    if let Some(c) = &*self.core.default_context.borrow() {
      return c.clone();
    }
    let isolate = &mut *self.isolate;
    v8::scope!(let scope, isolate);
    let ctx = v8::Context::new(scope, Default::default());
    super::codegen::restrict(ctx);
    {
      let cs = &mut v8::ContextScope::new(scope, ctx);
      super::collect::install(cs);
    }
    let g = v8::Global::new(scope, ctx);
    *self.core.default_context.borrow_mut() = Some(g.clone());
    g
  }

  /// Runs `body` in `context` under a TryCatch with an optional timeout, then a microtask
  /// checkpoint; fails the run on an unhandled rejection; classifies termination (memory limit,
  /// disposal, timeout); finally converts the result with `convert` in the same scope. A run
  /// that starts in a disposed isolate (a call that was under way when `dispose()` came, see
  /// `IsolateHost::shutdown`) fails with "Isolate was disposed during execution" at once.
  pub fn execute<T>(
    &mut self,
    context: &v8::Global<v8::Context>,
    timeout_ms: u32,
    body: impl for<'s, 'i> FnOnce(
      &mut v8::PinScope<'s, 'i>,
      &RefCell<Tables>,
    ) -> Option<v8::Local<'s, v8::Value>>,
    convert: impl for<'s, 'i> FnOnce(
      &mut v8::PinScope<'s, 'i>,
      &RefCell<Tables>,
      v8::Local<'s, v8::Value>,
    ) -> Result<T, Thrown>,
  ) -> Result<T, Thrown> {
    if self.state.disposed.load(Ordering::SeqCst) {
      return Err(Thrown::error(msg::DISPOSED_DURING));
    }
    self.frame(context, timeout_ms, true, body, convert)
  }

  /// [`Runtime::execute`] for compiling (no guest code runs): it completes in a disposed
  /// isolate too, as compiling does in isolated-vm once under way.
  pub fn execute_compile<T>(
    &mut self,
    context: &v8::Global<v8::Context>,
    body: impl for<'s, 'i> FnOnce(
      &mut v8::PinScope<'s, 'i>,
      &RefCell<Tables>,
    ) -> Option<v8::Local<'s, v8::Value>>,
    convert: impl for<'s, 'i> FnOnce(
      &mut v8::PinScope<'s, 'i>,
      &RefCell<Tables>,
      v8::Local<'s, v8::Value>,
    ) -> Result<T, Thrown>,
  ) -> Result<T, Thrown> {
    self.frame(context, 0, false, body, convert)
  }

  fn frame<T>(
    &mut self,
    context: &v8::Global<v8::Context>,
    timeout_ms: u32,
    runs_js: bool,
    body: impl for<'s, 'i> FnOnce(
      &mut v8::PinScope<'s, 'i>,
      &RefCell<Tables>,
    ) -> Option<v8::Local<'s, v8::Value>>,
    convert: impl for<'s, 'i> FnOnce(
      &mut v8::PinScope<'s, 'i>,
      &RefCell<Tables>,
      v8::Local<'s, v8::Value>,
    ) -> Result<T, Thrown>,
  ) -> Result<T, Thrown> {
    let core = self.core.clone();
    let tables = &core.tables;
    let rejections = &core.rejections;
    let state = &core.state;
    // A nested run (inside a callback of an outer run) keeps the outer run's pending rejections.
    let outer_rejections = std::mem::take(&mut *rejections.borrow_mut());
    core.frames.set(core.frames.get() + 1);
    let out = Self::run_frame(
      self.isolate,
      context,
      timeout_ms,
      runs_js,
      &core,
      tables,
      rejections,
      state,
      body,
      convert,
    );
    core.frames.set(core.frames.get() - 1);
    rejections.borrow_mut().splice(0..0, outer_rejections);
    out
  }

  /// Like [`Runtime::execute`], for bodies that can also fail with a library error (a wrong
  /// target, a value that cannot be materialised): `Err` skips to that error, `Ok(None)` means a
  /// JavaScript exception is pending, as with `execute`.
  pub fn execute_checked<T>(
    &mut self,
    context: &v8::Global<v8::Context>,
    timeout_ms: u32,
    body: impl for<'s, 'i> FnOnce(
      &mut v8::PinScope<'s, 'i>,
      &RefCell<Tables>,
    ) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown>,
    convert: impl for<'s, 'i> FnOnce(
      &mut v8::PinScope<'s, 'i>,
      &RefCell<Tables>,
      v8::Local<'s, v8::Value>,
    ) -> Result<T, Thrown>,
  ) -> Result<T, Thrown> {
    let mut failure: Option<Thrown> = None;
    let slot = &mut failure;
    let out = self.execute(
      context,
      timeout_ms,
      move |scope, tables| match body(scope, tables) {
        Ok(v) => v,
        Err(e) => {
          *slot = Some(e);
          Some(v8::undefined(scope).into())
        }
      },
      convert,
    );
    match failure {
      Some(e) => Err(e),
      None => out,
    }
  }

  #[allow(clippy::too_many_arguments)]
  fn run_frame<T>(
    isolate: &mut v8::Isolate,
    context: &v8::Global<v8::Context>,
    timeout_ms: u32,
    runs_js: bool,
    core: &Core,
    tables: &RefCell<Tables>,
    rejections: &Rejections,
    state: &Arc<SharedState>,
    body: impl for<'s, 'i> FnOnce(
      &mut v8::PinScope<'s, 'i>,
      &RefCell<Tables>,
    ) -> Option<v8::Local<'s, v8::Value>>,
    convert: impl for<'s, 'i> FnOnce(
      &mut v8::PinScope<'s, 'i>,
      &RefCell<Tables>,
      v8::Local<'s, v8::Value>,
    ) -> Result<T, Thrown>,
  ) -> Result<T, Thrown> {
    v8::scope!(let hs, isolate);
    let ctx = v8::Local::new(hs, context);
    let cs = &mut v8::ContextScope::new(hs, ctx);
    v8::tc_scope!(let tc, cs);
    let timer = (timeout_ms > 0).then(|| Timer::arm(state.memory.clone(), timeout_ms, context));
    if let Some(t) = &timer {
      core.timers.borrow_mut().push(t.pauser());
    }
    tables.borrow_mut().compiling = false;
    let started = std::time::Instant::now();
    let mut result = body(tc, tables);
    let compile_error = std::mem::take(&mut tables.borrow_mut().compiling) && result.is_none();
    // A compile runs no JavaScript, so it queued no microtasks.
    if runs_js && result.is_some() && !tc.has_terminated() {
      tc.perform_microtask_checkpoint();
      if tc.has_terminated() || tc.has_caught() {
        result = None;
      }
    }
    let stopped = tc.has_terminated()
      || tc.is_execution_terminating()
      || state.memory.exceeded.load(Ordering::SeqCst)
      // Compiling that was under way when `dispose()` came completes (no guest code ran).
      || (runs_js && state.disposed.load(Ordering::SeqCst));
    if stopped {
      // Nothing is converted: the timer's work is done, and a refire now would reach the run
      // this one is nested in.
      if let Some(t) = &timer {
        t.disarm();
      }
    }
    // The result (or the error) is converted while the call's timeout still runs: getters
    // reached while copying, or an error's looping `message` getter, stop with it.
    let outcome = if stopped {
      None
    } else {
      Some(match result {
        None => {
          rejections.borrow_mut().clear();
          let exception = tc.exception();
          let message = if compile_error { tc.message() } else { None };
          Err(match exception {
            Some(e) => v8_out::thrown(tc, e, message),
            None => Thrown::error("Unknown error"),
          })
        }
        Some(value) => {
          tables.borrow_mut().needs_checkpoint = false;
          // The result is converted first: a `promise: true` result attaches its handlers, so
          // a promise it hands over rejected is no longer an unhandled rejection (isolated-vm).
          let converted = convert(tc, tables, value);
          let unhandled = rejections.borrow_mut().drain(..).next();
          match unhandled {
            Some((_, reason)) => {
              let reason = v8::Local::new(tc, reason);
              Err(v8_out::thrown(tc, reason, None))
            }
            None => converted,
          }
        }
      })
    };
    // A mark-compact that ended over the limit asked for a full GC that no interrupt check
    // ran (a builtin kept running): it runs now, and decides on what is alive.
    // A run long enough to have allocated a lot without a GC (one huge string) is measured.
    if started.elapsed() > limits::MEASURE_AFTER {
      limits::measure(tc, &state.memory);
    }
    limits::check_now(tc, &state.memory);
    let fired = timer.as_ref().map(|t| t.disarm()).unwrap_or(false);
    let timeout_stack = timer.as_ref().and_then(|t| t.stack());
    if timer.is_some() {
      core.timers.borrow_mut().pop();
    }
    let terminated = tc.has_terminated() || tc.is_execution_terminating();
    if state.memory.exceeded.load(Ordering::SeqCst) {
      state.disposed.store(true, Ordering::SeqCst);
      rejections.borrow_mut().clear();
      return Err(Thrown::error(msg::DISPOSED_MEMORY));
    }
    // Compiling that was under way when `dispose()` came completes (no guest code ran).
    if runs_js && state.disposed.load(Ordering::SeqCst) {
      rejections.borrow_mut().clear();
      return Err(Thrown::error(msg::DISPOSED_DURING));
    }
    if fired {
      if terminated || !matches!(outcome, Some(Ok(_))) {
        // Microtasks the interrupted run left queued (a job that re-queues itself) are
        // dropped, as isolated-vm does: a terminated checkpoint empties V8's queue. Only at the
        // outermost run: inside another run's JavaScript the termination would reach it too.
        if core.frames.get() == 1 {
          tc.terminate_execution();
          tc.perform_microtask_checkpoint();
        }
        tc.cancel_terminate_execution();
        rejections.borrow_mut().clear();
        return Err(timed_out(timeout_stack));
      }
      tc.cancel_terminate_execution();
    }
    if terminated {
      rejections.borrow_mut().clear();
      if core.timers.borrow().iter().any(|t| t.fired()) {
        // The timeout of a call this one runs inside stopped it: the termination goes on up
        // to that call, which reports it.
        return Err(Thrown::error(msg::TIMED_OUT));
      }
      tc.cancel_terminate_execution();
      return Err(Thrown::error(msg::DISPOSED_DURING));
    }
    let Some(out) = outcome else {
      rejections.borrow_mut().clear();
      return Err(Thrown::error(msg::DISPOSED_DURING));
    };
    let needs_checkpoint = std::mem::take(&mut tables.borrow_mut().needs_checkpoint);
    if needs_checkpoint {
      let timer = (timeout_ms > 0).then(|| Timer::arm(state.memory.clone(), timeout_ms, context));
      tc.perform_microtask_checkpoint();
      if timer.map(|t| t.disarm()).unwrap_or(false) || tc.has_terminated() {
        tc.cancel_terminate_execution();
      }
      rejections.borrow_mut().clear();
    }
    out
  }
}

/// "Script execution timed out." with the guest stack where the timeout stopped the call.
fn timed_out(stack: Option<String>) -> Thrown {
  match stack {
    Some(stack) => Thrown::Error {
      kind: crate::error::ErrorKind::Error,
      name: None,
      message: crate::transfer::value::JsString::from(msg::TIMED_OUT),
      stack: Some(crate::transfer::value::JsString::from(stack.as_str())),
    },
    None => Thrown::error(msg::TIMED_OUT),
  }
}

extern "C" fn promise_reject(message: v8::PromiseRejectMessage) {
  crate::unwind::contain((), || track_rejection(&message));
}

/// Records an unhandled rejection, or forgets it once a handler is added (SPEC §2.1).
fn track_rejection(message: &v8::PromiseRejectMessage) {
  // SAFETY: V8 calls the promise-reject callback on the isolate's thread, with the isolate
  // entered and the rejecting promise's context current.
  v8::callback_scope!(unsafe scope, message);
  let Some(tracker) = scope.get_slot::<Rejections>().cloned() else {
    return;
  };
  let promise = message.get_promise();
  match message.get_event() {
    v8::PromiseRejectEvent::PromiseRejectWithNoHandler => {
      let value = message
        .get_value()
        .unwrap_or_else(|| v8::undefined(scope).into());
      let entry = (
        v8::Global::new(scope, promise),
        v8::Global::new(scope, value),
      );
      tracker.borrow_mut().push(entry);
    }
    v8::PromiseRejectEvent::PromiseHandlerAddedAfterReject => {
      let mut list = tracker.borrow_mut();
      list.retain(|(p, _)| {
        let p = v8::Local::new(scope, p);
        p != promise
      });
    }
    _ => {}
  }
}
