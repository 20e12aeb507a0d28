//! Handles to values that live in an isolate, held by another thread (Node's, or another
//! isolate's), and the jobs that operate on them from another isolate.

use super::ops::context;
use super::ops::export::Out;
use super::ops::reference as ops;
use super::thread::{Deliver, IsolateHost, SharedState};
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
    let id = self.id;
    let _ = self.host.post(Box::new(move |rt: &mut Runtime| -> Deliver {
      context::release(rt, id);
      Box::new(|| {})
    }));
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
}

impl IsolateModule {
  /// The handle of module table entry `id` of `host`.
  pub fn new(host: Arc<IsolateHost>, id: u32, specifiers: Vec<String>) -> IsolateModule {
    IsolateModule {
      handle: Arc::new(RemoteHandle { host, id }),
      info: Arc::new(ModuleInfo {
        specifiers,
        linked: std::sync::atomic::AtomicBool::new(false),
        namespace: parking_lot::Mutex::new(None),
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

/// Performs `op` on reference table entry `id` (on the owner's thread) for another isolate.
pub fn perform(rt: &mut Runtime, id: u32, op: RefOp, timeout: u32) -> Result<Answer, Thrown> {
  let out = ops::perform(rt, id, op, timeout)?;
  answer(rt, out)
}
