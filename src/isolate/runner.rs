//! The three-phase runner both faces call: phase 2 of a call in its flavour. Phase 1 (reading
//! arguments) and phase 3 (materialising the result) belong to the calling face; what differs
//! between the faces while a synchronous call runs (how to step out of the caller's own isolate,
//! how to wait) is the [`Caller`].

use super::inline::Refused;
use super::runtime::{Runtime, Waiters};
use super::thread::{Deliver, IsolateHost, Job};
use crate::error::msg;
use crate::transfer::thrown::Thrown;

/// Phase 2 of a call: runs under the target isolate's lock, on whichever thread runs it.
pub type Phase2<T> = Box<dyn FnOnce(&mut Runtime) -> Result<T, Thrown> + Send>;

/// `work` as phase 2 of a call that keeps `held` (the handles it uses) alive until it ran:
/// releasing them after the call was issued (`release()`, Node collecting the objects) never
/// overtakes the call. `held` goes after `work`, whose answer is made by then (it may hold the
/// isolate's last handle).
pub fn holding<K, T>(
  held: K,
  work: impl FnOnce(&mut Runtime) -> Result<T, Thrown> + Send + 'static,
) -> Phase2<T>
where
  K: Send + 'static,
{
  Box::new(move |rt: &mut Runtime| {
    let out = work(rt);
    drop(held);
    out
  })
}

/// An entry of an isolate's [`Waiters`] stack: who is blocked on a synchronous call into it
/// (opaque here; the bridge reads it for guest → host calls).
pub type Waiter = std::sync::Arc<dyn std::any::Any + Send + Sync>;

/// The calling side of a synchronous call.
pub trait Caller {
  /// Runs `f`, which takes the target isolate's lock on this thread (the guest face unlocks
  /// its own isolate around it; the host face just runs it).
  fn inline<R>(&mut self, f: impl FnOnce() -> R) -> R;
  /// Waits for the answer of a call handed to the isolate's thread, serving whatever this
  /// side must serve meanwhile.
  fn wait<T>(
    &mut self,
    rx: &crossbeam_channel::Receiver<Result<T, Thrown>>,
  ) -> Result<Result<T, Thrown>, crossbeam_channel::RecvError>;
}

fn with_waiter<T>(waiters: &Waiters, waiter: Waiter, f: impl FnOnce() -> T) -> T {
  waiters.borrow_mut().push(waiter);
  let r = f();
  waiters.borrow_mut().pop();
  r
}

/// Runs `work` with a landing point for a catastrophe (see [`super::catastrophe`]), so that
/// the caller's completer, held outside it, still settles: with the memory-limit error.
fn guarded<T>(
  rt: &mut Runtime,
  work: impl FnOnce(&mut Runtime) -> Result<T, Thrown>,
) -> Result<T, Thrown> {
  let state = rt.state.clone();
  super::catastrophe::guarded(&state, || work(rt))
    .unwrap_or_else(|_| Err(Thrown::error(msg::DISPOSED_MEMORY)))
}

/// A synchronous call: inline on this thread under the isolate's lock when possible, else
/// handed to the isolate's thread (behind async calls queued earlier, or when this thread
/// cannot take the lock) while the caller waits. `inline_waiter` / `handed_waiter` are pushed
/// on the isolate's waiter stack for the duration, depending on where it runs. A disposed
/// isolate gives "Isolated is disposed" (SPEC's text for synchronous calls).
pub fn run_sync<T: Send + 'static>(
  target: &IsolateHost,
  inline_waiter: Waiter,
  handed_waiter: Waiter,
  work: Phase2<T>,
  caller: &mut impl Caller,
) -> Result<T, Thrown> {
  let here = std::thread::current().id();
  let attempt = caller.inline(|| {
    target.run_inline(
      move |rt: &mut Runtime| {
        // Handed to the isolate's thread instead (below), it runs under that call's waiter.
        if std::thread::current().id() == here {
          let waiters = rt.waiters.clone();
          with_waiter(&waiters, inline_waiter, || work(rt))
        } else {
          work(rt)
        }
      },
      false,
    )
  });
  let work = match attempt {
    Ok(r) => return r,
    Err(Refused::Disposed) => return Err(Thrown::error(msg::DISPOSED_SYNC)),
    Err(Refused::Elsewhere(work)) => work,
  };
  let (tx, rx) = crossbeam_channel::bounded::<Result<T, Thrown>>(1);
  let job: Job = Box::new(move |rt: &mut Runtime| -> Deliver {
    let waiters = rt.waiters.clone();
    let r = with_waiter(&waiters, handed_waiter, || guarded(rt, work));
    Box::new(move || {
      let _ = tx.send(r);
    })
  });
  if target.post_sync(job).is_err() {
    return Err(Thrown::error(msg::DISPOSED_SYNC));
  }
  caller
    .wait(&rx)
    .unwrap_or_else(|_| Err(Thrown::error(msg::DISPOSED)))
}

/// An async call: queued on the isolate's thread (FIFO); `deliver` gets the outcome there.
/// If the isolate is disposed first, the job and `deliver` are dropped unrun: callers settle
/// through a settle-once sink whose drop reports the disposal.
pub fn run_async<T: Send + 'static>(
  target: &IsolateHost,
  work: Phase2<T>,
  deliver: impl FnOnce(Result<T, Thrown>) + Send + 'static,
) {
  let job: Job = Box::new(move |rt: &mut Runtime| -> Deliver {
    let r = guarded(rt, work);
    Box::new(move || deliver(r))
  });
  let _ = target.post(job);
}

/// An ignored call: queued like an async one; its outcome is dropped.
pub fn run_ignored<T: Send + 'static>(target: &IsolateHost, work: Phase2<T>) {
  run_async(target, work, |_| {});
}
