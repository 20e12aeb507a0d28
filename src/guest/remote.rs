//! Guest Reference objects to values of *another* isolate, and the calls guests make into
//! other isolates (SPEC §2.1 rules 1, 3 and 4).
//!
//! A synchronous call posts a job to the owner and waits, serving the synchronous calls handed
//! to this isolate meanwhile, so the owner may call back synchronously. The job runs under this isolate's
//! innermost synchronous caller, so host requests made by the owner reach a host thread that is
//! blocked on this chain. A guest running asynchronously (nobody is blocked on it) may not call
//! another isolate synchronously: that could deadlock two isolates waiting on each other.

use super::{pending, state, Flavor, KIND_REMOTE_REFERENCE};
use crate::error::msg;
use crate::isolate::ref_op::RefOp;
use crate::isolate::remote::{self, Answer, IsolateRef};
use crate::isolate::runner::{self, Phase2};
use crate::isolate::runtime::Waiters;
use crate::isolate::thread::SharedState;
use crate::isolate::Runtime;
use crate::transfer::once::SettleOnce;
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_in;
use crate::transfer::value::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// SPEC §2.1 rule 4.
pub const ASYNC_TO_SYNC: &str = "Calling a synchronous isolated-vm function on a non-default isolate from within an asynchronous isolated-vm function is not allowed.";

/// A guest Reference object for a value of another isolate.
pub fn new_instance<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  target: IsolateRef,
) -> Option<v8::Local<'s, v8::Value>> {
  let obj = super::reference::blank_instance(scope)?;
  let st = state(scope);
  let id = st.borrow_mut().next_id();
  crate::isolate::collect::watch(scope, obj, id);
  st.borrow_mut().remotes.insert(id, target);
  super::mark(scope, obj, id, KIND_REMOTE_REFERENCE);
  Some(obj.into())
}

/// The target of `this` if it is a Reference to another isolate's value (`Err` once released).
pub fn target(
  scope: &mut v8::PinScope<'_, '_>,
  this: v8::Local<v8::Object>,
) -> Option<Result<IsolateRef, Thrown>> {
  let id = super::object_id(scope, this, KIND_REMOTE_REFERENCE)?;
  let found = state(scope).borrow().remotes.get(&id).cloned();
  Some(found.ok_or_else(|| Thrown::error(msg::REFERENCE_RELEASED)))
}

/// Settles a guest promise exactly once; dropped unsettled (the owner was disposed before the
/// job ran), it rejects with "Isolate is disposed".
type Once = SettleOnce<Result<Value, Thrown>, pending::Settle>;

fn disposed() -> Result<Value, Thrown> {
  Err(Thrown::error(msg::DISPOSED))
}

/// Settles `once` with an answer (a `promise: true` answer when its slot settles).
fn answer(once: Once, answer: Result<Answer, Thrown>) {
  match answer {
    Ok(Answer::Value(v)) => once.settle(Ok(v)),
    Ok(Answer::Promise(slot)) => slot.wait(Box::new(move |o| once.settle(o))),
    Err(e) => once.settle(Err(e)),
  }
}

/// Runs `work` on `target`'s isolate and waits for it (SPEC §2.1 rule 4 applies).
pub fn call_sync<T: Send + 'static>(
  scope: &mut v8::PinScope<'_, '_>,
  target: &crate::isolate::IsolateHost,
  work: Phase2<T>,
) -> Result<T, Thrown> {
  let waiters = scope
    .get_slot::<Waiters>()
    .map(|w| w.borrow().clone())
    .unwrap_or_default();
  let Some(inherited) = waiters.last().cloned() else {
    return Err(Thrown::error(ASYNC_TO_SYNC));
  };
  let shared = scope
    .get_slot::<Arc<SharedState>>()
    .cloned()
    .ok_or_else(|| Thrown::error(msg::DISPOSED))?;
  let isolate: &mut v8::Isolate = scope;
  let mut caller = GuestCaller { isolate, shared };
  runner::run_sync(target, inherited.clone(), inherited, work, &mut caller)
}

/// A guest as the caller of a synchronous call into another isolate: its own isolate is
/// unlocked while the call runs inline (so the target may call back into it; the time is not
/// this isolate's); while a call handed to the target's thread runs, it serves the synchronous
/// calls handed to its own isolate.
struct GuestCaller<'a> {
  isolate: &'a mut v8::Isolate,
  shared: Arc<SharedState>,
}

impl runner::Caller for GuestCaller<'_> {
  fn inline<R>(&mut self, f: impl FnOnce() -> R) -> R {
    crate::isolate::inline::run_unlocked(self.isolate, f)
  }

  fn wait<T>(
    &mut self,
    rx: &crossbeam_channel::Receiver<Result<T, Thrown>>,
  ) -> Result<Result<T, Thrown>, crossbeam_channel::RecvError> {
    // Marks this thread as blocked, so a disposal of this isolate does not wait for it.
    let previous = self
      .shared
      .waiting_on_host
      .swap(usize::MAX, Ordering::SeqCst);
    let answer = crate::isolate::thread::serve_while_waiting(self.isolate, rx);
    self
      .shared
      .waiting_on_host
      .store(previous, Ordering::SeqCst);
    answer
  }
}

/// Runs `work` on `target`'s isolate without waiting; `done` gets the answer (or "Isolate is
/// disposed").
pub fn call_async(
  target: &crate::isolate::IsolateHost,
  work: Phase2<Answer>,
  done: pending::Settle,
) {
  let once = Once::new(done, disposed);
  // A disposed owner drops the job, and with it `once`, which reports the disposal.
  runner::run_async(target, work, move |r| answer(once, r));
}

/// Brings an answer into the current context (a promise for `promise: true` answers).
pub fn receive<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  answer: Answer,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  match answer {
    Answer::Value(v) => v8_in::value(scope, &v),
    Answer::Promise(slot) => {
      let (promise, settle) =
        pending::promise(scope).ok_or_else(|| Thrown::error("Failed to create a promise"))?;
      slot.wait(settle);
      Ok(promise.into())
    }
  }
}

/// Whether `host` is the isolate this guest code runs in.
fn is_current(scope: &mut v8::PinScope<'_, '_>, host: &crate::isolate::IsolateHost) -> bool {
  scope
    .get_slot::<Arc<SharedState>>()
    .is_some_and(|s| Arc::ptr_eq(s, &host.state))
}

/// A synchronous call on a handle of the isolate the caller runs in (SPEC §2.1 rule 3: always
/// allowed, also while it runs asynchronously): phase 2 runs right here, nested in the running
/// call, as a job served while the isolate waits runs.
fn run_here<T>(scope: &mut v8::PinScope<'_, '_>, work: Phase2<T>) -> Result<T, Thrown> {
  let core = scope
    .get_slot::<std::rc::Rc<crate::isolate::runtime::Core>>()
    .cloned()
    .ok_or_else(|| Thrown::error(msg::DISPOSED_SYNC))?;
  let isolate: &mut v8::Isolate = scope;
  let mut rt = Runtime::new(isolate, core);
  work(&mut rt)
}

/// Runs `work` on `host`'s isolate in `mode`: its answer, a promise of it, or nothing.
pub fn run<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  host: &crate::isolate::IsolateHost,
  work: Phase2<Answer>,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  match mode {
    Flavor::Sync => {
      let answer = if is_current(scope, host) {
        run_here(scope, work)?
      } else {
        call_sync(scope, host, work)?
      };
      receive(scope, answer).map(Some)
    }
    Flavor::Async => {
      let (promise, settle) =
        pending::promise(scope).ok_or_else(|| Thrown::error("Failed to create a promise"))?;
      call_async(host, work, settle);
      Ok(Some(promise.into()))
    }
    Flavor::Ignored => {
      call_async(host, work, Box::new(|_| {}));
      Ok(None)
    }
  }
}

/// Performs `op` on another isolate's value in `mode`.
pub fn perform<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  target: &IsolateRef,
  op: RefOp,
  timeout: u32,
  mode: Flavor,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let id = target.handle.id;
  let work = runner::holding(target.handle.clone(), move |rt: &mut Runtime| {
    remote::perform(rt, id, op, timeout)
  });
  run(scope, &target.handle.host, work, mode)
}
