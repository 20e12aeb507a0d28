//! Handles to values that live in an isolate, held by another thread (Node's, or another
//! isolate's), and the jobs that operate on them from another isolate.

use super::ops::context;
use super::ops::export::Out;
use super::ops::reference as ops;
use super::thread::{IsolateHost, SharedState};
use super::Runtime;
use crate::error::msg;
use crate::isolate::handle::Handle;
use crate::isolate::ref_op::RefOp;
use crate::transfer::settle::SettleSlot;
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Value;
use std::sync::Arc;

/// Owns one table entry of an isolate. Dropping it releases the entry on the owner's thread
/// (a no-op after dispose). Any thread.
pub struct RemoteHandle {
  /// The owning isolate.
  pub host: Arc<IsolateHost>,
  /// Table id.
  pub id: u32,
}

impl Drop for RemoteHandle {
  fn drop(&mut self) {
    // Not a job: it does not make the next synchronous call wait behind it (see
    // `SharedState::release_later`).
    self.host.state.release_later(self.id);
  }
}

/// A Reference to a value of an isolate as it travels between threads (a transfer handle).
#[derive(Clone)]
pub struct IsolateRef {
  /// The reference table entry.
  pub handle: Arc<RemoteHandle>,
  /// `typeof` of the value.
  pub type_of: &'static str,
}

impl IsolateRef {
  /// The transfer handle for it.
  pub fn into_handle(self) -> Handle {
    Handle::Reference(self)
  }

  /// Whether the value lives in the isolate with shared state `state`.
  pub fn is_in(&self, state: &Arc<SharedState>) -> bool {
    Arc::ptr_eq(&self.handle.host.state, state)
  }
}

/// A guest function of an isolate travelling as a callable function (SPEC §2.2 rule 2).
#[derive(Clone)]
pub struct IsolateFunction {
  /// The Reference to the function.
  pub target: IsolateRef,
  /// Its `name`.
  pub name: String,
  /// Its `length`.
  pub length: u32,
  /// How calls wait for it.
  pub mode: crate::isolate::flavor::Flavor,
}

/// A context of an isolate as it travels between threads.
#[derive(Clone)]
pub struct IsolateContext {
  /// The context table entry.
  pub handle: Arc<RemoteHandle>,
  /// The Reference to its global object.
  pub global: IsolateRef,
}

impl IsolateContext {
  /// A new context in `rt`'s isolate (on its thread).
  pub fn create(rt: &mut Runtime) -> Result<IsolateContext, Thrown> {
    let host = own_host(&rt.state).ok_or_else(|| Thrown::error(msg::DISPOSED))?;
    let (id, global) = context::create(rt);
    Ok(IsolateContext {
      handle: Arc::new(RemoteHandle {
        host: host.clone(),
        id,
      }),
      global: IsolateRef {
        handle: Arc::new(RemoteHandle { host, id: global }),
        type_of: "object",
      },
    })
  }
}

/// A compiled script of an isolate as it travels between threads.
#[derive(Clone)]
pub struct IsolateScript {
  /// The script table entry.
  pub handle: Arc<RemoteHandle>,
  /// What its compile did with the code cache, for the first object made for it.
  pub fresh: Option<Arc<Fresh>>,
}

/// The code-cache outcome of a compile (`cachedData`, `cachedDataRejected`), carried by the
/// compiled handle until the first object made for it takes it: the compile's result object
/// has those own properties, later objects for the same handle do not (as in isolated-vm).
#[derive(Default)]
pub struct Fresh(parking_lot::Mutex<Option<super::ops::code_cache::CacheOut>>);

impl Fresh {
  /// A handle's carrier of `cache` (`None` when the compile has nothing to report).
  pub fn carry(cache: super::ops::code_cache::CacheOut) -> Option<Arc<Fresh>> {
    (!cache.is_empty()).then(|| Arc::new(Fresh(parking_lot::Mutex::new(Some(cache)))))
  }

  /// The properties to set on the first object (empty afterwards).
  pub fn take(fresh: &Option<Arc<Fresh>>) -> Vec<(&'static str, Value)> {
    fresh
      .as_ref()
      .and_then(|f| f.0.lock().take())
      .map(|c| c.properties())
      .unwrap_or_default()
  }
}

/// A compiled module of an isolate as it travels between threads.
#[derive(Clone)]
pub struct IsolateModule {
  /// The module table entry.
  pub handle: Arc<RemoteHandle>,
  /// What every handle of the module knows of it.
  pub info: Arc<ModuleInfo>,
}

/// What the faces know of a module without asking its isolate.
pub struct ModuleInfo {
  /// `dependencySpecifiers`: static imports in source order, without duplicates.
  pub specifiers: Vec<String>,
  /// Set once it is linked (a linker then resolves nothing more for it).
  pub linked: std::sync::atomic::AtomicBool,
  /// The Reference to its namespace, once `evaluate` ran (isolated-vm's `namespace`).
  pub namespace: parking_lot::Mutex<Option<IsolateRef>>,
  /// What its compile did with the code cache, for the first object made for it.
  pub fresh: Option<Arc<Fresh>>,
}

impl IsolateModule {
  /// The handle of module table entry `id` of `host`, carrying its compile's cache outcome.
  pub fn new(
    host: Arc<IsolateHost>,
    id: u32,
    specifiers: Vec<String>,
    fresh: Option<Arc<Fresh>>,
  ) -> IsolateModule {
    IsolateModule {
      handle: Arc::new(RemoteHandle { host, id }),
      info: Arc::new(ModuleInfo {
        specifiers,
        linked: std::sync::atomic::AtomicBool::new(false),
        namespace: parking_lot::Mutex::new(None),
        fresh,
      }),
    }
  }

  /// Whether it is linked.
  pub fn is_linked(&self) -> bool {
    self.info.linked.load(std::sync::atomic::Ordering::SeqCst)
  }
}

/// What an operation on an isolate's value answers, as it leaves the owner's thread.
pub enum Answer {
  /// A value (handles inside it included).
  Value(Value),
  /// `promise: true`: settles later.
  Promise(Arc<SettleSlot>),
}

/// The owner's own [`IsolateHost`], for references it hands out (`None` while disposing).
pub fn own_host(state: &SharedState) -> Option<Arc<IsolateHost>> {
  state.host.get().and_then(std::sync::Weak::upgrade)
}

/// Turns an operation's result into what leaves the owner isolate (on its thread).
pub fn answer(rt: &Runtime, out: Out) -> Result<Answer, Thrown> {
  answer_from(&rt.state, out)
}

/// [`answer`] for the isolate with shared state `state` (its thread, under its lock; also
/// from a guest callback answering a Reference to a value of its own isolate).
pub fn answer_from(state: &SharedState, out: Out) -> Result<Answer, Thrown> {
  let host = || own_host(state).ok_or_else(|| Thrown::error(msg::DISPOSED));
  Ok(match out {
    Out::Value(v) => Answer::Value(v),
    Out::Promise(slot) => Answer::Promise(slot),
    Out::Reference { id, type_of } => Answer::Value(Value::Handle(
      IsolateRef {
        handle: Arc::new(RemoteHandle { host: host()?, id }),
        type_of,
      }
      .into_handle(),
    )),
    Out::Function { id, name, length } => {
      Answer::Value(Value::Handle(Handle::Function(Arc::new(IsolateFunction {
        target: IsolateRef {
          handle: Arc::new(RemoteHandle { host: host()?, id }),
          type_of: "function",
        },
        name,
        length,
        mode: crate::isolate::flavor::Flavor::Sync,
      }))))
    }
  })
}

/// What `compileScript*` / `compileModule*` compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
  /// A script.
  Script,
  /// An ES module.
  Module,
}

/// Compiles `code` as `unit` (on the isolate's thread) into the handle of the compiled script
/// or module, carrying the code-cache outcome for its first object. `meta` (modules only) is
/// the reference table id of the module's `import.meta` initialiser.
pub fn compile(
  rt: &mut Runtime,
  unit: Unit,
  code: crate::transfer::value::JsString,
  options: crate::isolate::options::CompileOptions,
  meta: Option<u32>,
) -> Result<Handle, Thrown> {
  let state = rt.state.clone();
  let host = || own_host(&state).ok_or_else(|| Thrown::error(msg::DISPOSED));
  let crate::isolate::options::CompileOptions { origin, cache } = options;
  Ok(match unit {
    Unit::Script => {
      let (id, cache) = super::ops::script::compile(rt, code, origin, cache)?;
      Handle::Script(IsolateScript {
        handle: Arc::new(RemoteHandle { host: host()?, id }),
        fresh: Fresh::carry(cache),
      })
    }
    Unit::Module => {
      let c = super::ops::module::compile(rt, code, origin, cache, meta)?;
      Handle::Module(IsolateModule::new(
        host()?,
        c.id,
        c.specifiers,
        Fresh::carry(c.cache),
      ))
    }
  })
}

/// Performs `op` on reference table entry `id` (on the owner's thread) for another isolate.
pub fn perform(rt: &mut Runtime, id: u32, op: RefOp, timeout: u32) -> Result<Answer, Thrown> {
  let out = ops::perform(rt, id, op, timeout)?;
  answer(rt, out)
}
