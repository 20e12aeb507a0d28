//! Synchronous calls run on the caller's thread, under the isolate's `v8::Locker`.
//!
//! A `*Sync` call from a thread that has no isolate of ours entered (Node's thread, a worker's,
//! or Node's thread inside a host function that a guest called) takes the isolate's lock and
//! runs its phase 2 right there: no hand-off to the isolate's thread, so its cost does not depend
//! on the OS scheduler. Async jobs take the same lock on the isolate's own thread, so the two
//! never run at once. A guest → host call made during such a call runs inline too, with the
//! isolate unlocked around it ([`run_unlocked`]), so the host may call into this isolate or any
//! other one; the isolate's thread may run synchronous calls handed to it meanwhile, as it does
//! while any job waits for the host (SPEC §2.1); async calls keep their FIFO order.

use super::runtime::{Core, Runtime};
use super::thread::IsolateHost;
use crate::error::msg;
use crate::transfer::thrown::Thrown;
use std::ffi::c_void;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Instant;

pub use crate::platform::can_lock_here;

unsafe extern "C" {
  fn v8__Isolate__Enter(isolate: *mut c_void);
  fn v8__Isolate__Exit(isolate: *mut c_void);
  fn v8__Unlocker__CONSTRUCT(buf: *mut [usize; 1], isolate: *mut c_void);
  fn v8__Unlocker__DESTRUCT(buf: *mut [usize; 1]);
}

/// Why a call could not run inline.
pub enum Refused<F> {
  /// The isolate is disposed.
  Disposed,
  /// This thread has another isolate entered (a guest calling into a nested isolate): the
  /// call must go to the isolate's thread. The work comes back unrun.
  Elsewhere(F),
}

impl IsolateHost {
  /// Runs `f` on this thread under the isolate's lock (phase 2 of a synchronous call), with
  /// the same accounting as a job on the isolate's thread: wall time, CPU time (wall time less
  /// the time spent in host functions), failure and memory-limit disposal. Refused while async
  /// jobs wait in the queue (the call then queues behind them), unless `queue_checked`.
  pub fn run_inline<T, F>(&self, f: F, queue_checked: bool) -> Result<Result<T, Thrown>, Refused<F>>
  where
    F: FnOnce(&mut Runtime) -> Result<T, Thrown>,
  {
    if !can_lock_here() || (!queue_checked && self.state.queued_jobs() != 0) {
      return Err(Refused::Elsewhere(f));
    }
    // Disposed already (a catastrophe marks the isolate before its thread lets go of it): the
    // call was issued after the disposal.
    if self.state.disposed.load(Ordering::SeqCst) {
      return Err(Refused::Disposed);
    }
    let Some(shared) = self.shared() else {
      return Err(Refused::Disposed);
    };
    // Waits while another thread holds the isolate (its own thread running an async call,
    // say); gives up if that one loses it to a catastrophe.
    let Ok(_pass) = super::gate::Pass::new(&self.state.gate, None) else {
      return Ok(Err(Thrown::error(msg::DISPOSED_MEMORY)));
    };
    let mut locker = shared.lock();
    let Some(core) = locker.get_slot::<Rc<Core>>().cloned() else {
      return Err(Refused::Disposed);
    };
    let state = core.state.clone();
    if state.disposed.load(Ordering::SeqCst) {
      drop(core);
      return Err(Refused::Disposed);
    }
    let host0 = core.host_ns.get();
    let start = Instant::now();
    state.inline_callers.fetch_add(1, Ordering::SeqCst);
    let outer_call = core.inline_call.replace(Some((start, host0)));
    let out = std::panic::catch_unwind(AssertUnwindSafe(|| {
      // Under the call's landing point, so that a catastrophe there is this isolate's.
      super::catastrophe::guarded(&state, || {
        // Handles dropped since the isolate last ran are released first (they are not jobs).
        super::thread::run_releases(&mut locker, &core);
        let mut rt = Runtime::new(&mut locker, core.clone());
        f(&mut rt)
      })
      .unwrap_or_else(|_| Err(Thrown::error(msg::DISPOSED_MEMORY)))
    }));
    core.inline_call.set(outer_call);
    // V8's tasks posted meanwhile (GC follow-ups, say) run here, under the lock this call
    // holds, rather than waking the isolate's thread to contend for it.
    state.inline_callers.fetch_sub(1, Ordering::SeqCst);
    let lost = super::catastrophe::is_lost(&state);
    if !lost && out.is_ok() && state.has_tasks() && !state.disposed.load(Ordering::SeqCst) {
      let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
        super::thread::run_tasks(&mut locker, &core, true)
      }));
      state.wake_for_tasks();
    }
    let wall = start.elapsed().as_nanos() as u64;
    let host = core.host_ns.get().saturating_sub(host0);
    state.wall_ns.fetch_add(wall, Ordering::Relaxed);
    state
      .cpu_ns
      .fetch_add(wall.saturating_sub(host), Ordering::Relaxed);
    if super::catastrophe::is_lost(&state) {
      drop(core);
      super::catastrophe::abandon(&state, locker);
      drop(shared);
      self.shutdown();
      return Ok(Err(Thrown::error(msg::DISPOSED_MEMORY)));
    }
    let failed = out.is_err() || state.memory.exceeded.load(Ordering::SeqCst);
    if failed {
      state.disposed.store(true, Ordering::SeqCst);
    }
    drop(core);
    drop(locker);
    drop(shared);
    if failed {
      // The isolate's thread tears it down.
      self.shutdown();
    }
    Ok(out.unwrap_or_else(|_| Err(Thrown::error(msg::DISPOSED))))
  }
}

/// Runs `f` (a host function called by the guest during an inline call) with the isolate
/// unlocked and exited, so `f` may lock this isolate again or any other; the call's timeouts
/// are paused meanwhile and the time is not the guest's CPU time. `isolate` is the one this
/// thread has locked and entered.
pub fn run_unlocked<R>(isolate: &mut v8::Isolate, f: impl FnOnce() -> R) -> R {
  let core = isolate.get_slot::<Rc<Core>>().cloned();
  let start = Instant::now();
  let mut published = false;
  if let Some(c) = &core {
    c.pause_timers();
    // The host function may read `cpuTime` / `wallTime`: they include this call so far.
    if let Some((since, host0)) = c.inline_call.get() {
      let wall = start.saturating_duration_since(since).as_nanos() as u64;
      let cpu = wall.saturating_sub(c.host_ns.get().saturating_sub(host0));
      c.state.live.publish(since, cpu);
      published = true;
    }
  }
  let out = unlocked(isolate, f);
  if let Some(c) = &core {
    if published {
      c.state.live.stop();
    }
    c.host_ns
      .set(c.host_ns.get() + start.elapsed().as_nanos() as u64);
    c.resume_timers();
  }
  out
}

/// Runs `f` with `isolate` (locked and entered by this thread) unlocked and exited, then takes
/// it back: for waits, so that other threads can use the isolate meanwhile. `f` must not touch
/// the isolate through anything but a new lock.
///
/// If the isolate was lost to a catastrophe meanwhile (on another thread, or by a call `f`
/// made into it), it is not taken back: this thread jumps to its innermost landing point
/// instead (see [`super::catastrophe::escape`]).
pub fn unlocked<R>(isolate: &mut v8::Isolate, f: impl FnOnce() -> R) -> R {
  let state = isolate
    .get_slot::<std::sync::Arc<super::thread::SharedState>>()
    .cloned();
  // SAFETY: only the address is taken; it is passed back to V8's own functions below.
  let raw = unsafe { isolate.as_raw_isolate_ptr() };
  // SAFETY: UnsafeRawIsolatePtr is a transparent wrapper of the isolate's address.
  let ptr = unsafe { std::mem::transmute::<v8::UnsafeRawIsolatePtr, *mut c_void>(raw) };
  let mut relock = Relock::new(ptr, state);
  // A panic in `f` is caught and resumed once the isolate is taken back, so that a jump to a
  // landing point (the isolate lost meanwhile) never happens while a panic unwinds.
  let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
  if !relock.take_gate_back() {
    std::mem::forget(relock);
    drop(out);
    super::catastrophe::escape();
  }
  drop(relock);
  match out {
    Ok(out) => out,
    Err(panic) => std::panic::resume_unwind(panic),
  }
}

/// An unlocked window: exits and unlocks the isolate on creation, locks and re-enters it when
/// dropped (also while unwinding). The isolate's gate ([`super::gate`]) is let go of with V8's
/// lock and taken back before it.
struct Relock {
  raw: Box<[usize; 1]>,
  isolate: *mut c_void,
  /// The isolate's state and the depth this thread held its gate at, until taken back.
  gate: Option<(std::sync::Arc<super::thread::SharedState>, u32)>,
}

impl Relock {
  fn new(
    isolate: *mut c_void,
    state: Option<std::sync::Arc<super::thread::SharedState>>,
  ) -> Relock {
    let mut raw = Box::new([0usize; 1]);
    // SAFETY: this thread holds the isolate's lock and has it entered (the caller's contract);
    // V8 requires the isolate to be exited before an Unlocker is constructed. `raw` has the
    // size of a v8::Unlocker (checked by the crate's own static_assert for its RawUnlocker).
    unsafe {
      v8__Isolate__Exit(isolate);
      v8__Unlocker__CONSTRUCT(&mut *raw, isolate);
    }
    let gate = state.map(|s| {
      let depth = s.gate.suspend();
      (s, depth)
    });
    Relock { raw, isolate, gate }
  }

  /// Takes the gate back (waiting while another thread holds the isolate); false if the
  /// isolate was lost to a catastrophe, meanwhile or while waiting: then V8's lock must not
  /// be taken again.
  fn take_gate_back(&mut self) -> bool {
    match self.gate.take() {
      Some((state, depth)) => state.gate.resume(depth) && !super::catastrophe::is_lost(&state),
      None => true,
    }
  }
}

impl Drop for Relock {
  fn drop(&mut self) {
    // The gate was taken back by `unlocked` (which catches panics in the window); if not, it
    // is taken back here first.
    if !self.take_gate_back() {
      super::catastrophe::escape();
    }
    // SAFETY: undoes `new` in reverse: the Unlocker's destructor takes the lock again, then
    // the isolate is entered again, as the caller had it.
    unsafe {
      v8__Unlocker__DESTRUCT(&mut *self.raw);
      v8__Isolate__Enter(self.isolate);
    }
  }
}
