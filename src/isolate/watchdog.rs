//! The watchdog: one thread for all timeouts in the process (a timer heap).
//!
//! A [`Timer`] armed for a call terminates its isolate's execution when it expires, unless the
//! call finished first. Disarming and firing are serialised by the timer's lock, so a late fire
//! can never hit a later call.

use super::limits::MemoryState;
use parking_lot::{Condvar, Mutex};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

struct TimerState {
  armed: bool,
  fired: bool,
  /// Bumped on every pause, so a heap entry from before a pause cannot fire.
  epoch: u64,
  deadline: Instant,
  /// Time left while paused.
  paused: Option<Duration>,
  /// The guest stack where the timeout stopped the call (`Error: Script execution timed out.`
  /// and the frame lines), captured by the interrupt that terminates it.
  stack: Option<String>,
}

struct TimerInner {
  state: Mutex<TimerState>,
  /// The isolate's memory state, which terminates it (unless it was lost).
  memory: Arc<MemoryState>,
  /// The address of the context the timed call runs in (a `v8::Global<v8::Context>` that the
  /// call keeps alive while the timer is armed), for the interrupt's scope.
  context: usize,
}

struct Entry {
  deadline: Instant,
  seq: u64,
  epoch: u64,
  timer: Arc<TimerInner>,
}

impl PartialEq for Entry {
  fn eq(&self, other: &Self) -> bool {
    (self.deadline, self.seq) == (other.deadline, other.seq)
  }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
  fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
    Some(self.cmp(other))
  }
}
impl Ord for Entry {
  fn cmp(&self, other: &Self) -> std::cmp::Ordering {
    (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
  }
}

struct Watchdog {
  heap: Mutex<(BinaryHeap<Reverse<Entry>>, u64)>,
  wake: Condvar,
}

static WATCHDOG: OnceLock<Arc<Watchdog>> = OnceLock::new();

/// The watchdog, its thread started on first use.
fn dog() -> Option<&'static Arc<Watchdog>> {
  if let Some(d) = WATCHDOG.get() {
    return Some(d);
  }
  let mut started = false;
  let d = WATCHDOG.get_or_init(|| {
    started = true;
    Arc::new(Watchdog {
      heap: Mutex::new((BinaryHeap::new(), 0)),
      wake: Condvar::new(),
    })
  });
  if started {
    let thread_dog = d.clone();
    let spawned = std::thread::Builder::new()
      .name("ivm-watchdog".into())
      .spawn(move || run(&thread_dog));
    if spawned.is_err() {
      // Timeouts then never fire; nothing else depends on the thread.
      return None;
    }
  }
  Some(d)
}

/// How often a fired timer terminates its isolate's execution again until it is disarmed.
const REFIRE: Duration = Duration::from_millis(20);

fn run(dog: &Watchdog) {
  let mut guard = dog.heap.lock();
  loop {
    let now = Instant::now();
    let next = guard.0.peek().map(|Reverse(e)| e.deadline);
    match next {
      Some(deadline) if deadline <= now => {
        if let Some(Reverse(entry)) = guard.0.pop() {
          let mut st = entry.timer.state.lock();
          if st.armed && st.paused.is_none() && st.epoch == entry.epoch {
            let first = !st.fired;
            st.fired = true;
            drop(st);
            if first {
              // The first time through an interrupt that records the guest stack first.
              interrupt(&entry.timer);
            } else {
              entry.timer.memory.terminate();
            }
            // Again until the call disarms it: a termination can be swallowed (a TryCatch
            // around a getter that the copy of a result runs), and the call must still stop.
            guard.1 += 1;
            let seq = guard.1;
            guard.0.push(Reverse(Entry {
              deadline: now + REFIRE,
              seq,
              ..entry
            }));
          }
        }
      }
      Some(deadline) => {
        dog.wake.wait_for(&mut guard, deadline - now);
      }
      None => dog.wake.wait(&mut guard),
    }
  }
}

/// Stops the call of a timer that fired: an interrupt on the isolate's thread captures the guest
/// stack where the call stands, then terminates execution (isolated-vm's timeout errors carry
/// that stack). Should the interrupt not be taken (the isolate is gone), nothing runs there.
fn interrupt(timer: &Arc<TimerInner>) {
  let data = Arc::into_raw(timer.clone()) as *mut std::ffi::c_void;
  if !timer.memory.request_interrupt(on_timeout, data) {
    // SAFETY: the interrupt was not queued, so the reference leaked above is still ours.
    drop(unsafe { Arc::from_raw(data as *const TimerInner) });
  }
}

/// The interrupt [`interrupt`] requests: runs on the isolate's thread, inside the call's
/// JavaScript, with the isolate locked and entered.
unsafe extern "C" fn on_timeout(mut isolate: v8::UnsafeRawIsolatePtr, data: *mut std::ffi::c_void) {
  // SAFETY: `data` is the reference to the timer leaked by `interrupt` for this interrupt,
  // which V8 runs once.
  let timer = unsafe { Arc::from_raw(data as *const TimerInner) };
  crate::unwind::contain((), || {
    {
      // A call that finished first (its timer disarmed) is not stopped: the interrupt may run
      // at the next JavaScript of a later call.
      let st = timer.state.lock();
      if !st.armed || !st.fired {
        return;
      }
    }
    // SAFETY: V8 runs interrupts on the thread that has the isolate locked and entered.
    let isolate = unsafe { v8::Isolate::ref_from_raw_isolate_ptr_mut(&mut isolate) };
    let stack = {
      v8::scope!(let hs, &mut *isolate);
      // SAFETY: the timer is armed (checked above), so the call that armed it is still
      // running on this thread and keeps its context alive.
      let context = unsafe { &*(timer.context as *const v8::Global<v8::Context>) };
      let context = v8::Local::new(hs, context);
      let scope = &mut v8::ContextScope::new(hs, context);
      render_stack(scope)
    };
    timer.state.lock().stack.get_or_insert(stack);
    isolate.terminate_execution();
  });
}

/// The current guest stack as V8 and isolated-vm print it, under the timeout's message.
fn render_stack(scope: &mut v8::PinScope<'_, '_>) -> String {
  let mut out = format!("Error: {}", crate::error::msg::TIMED_OUT);
  let Some(trace) = v8::StackTrace::current_stack_trace(scope, 10) else {
    return out;
  };
  for i in 0..trace.get_frame_count() {
    let Some(frame) = trace.get_frame(scope, i) else {
      continue;
    };
    let name = frame
      .get_function_name(scope)
      .map(|n| n.to_rust_string_lossy(scope))
      .unwrap_or_default();
    let file = frame
      .get_script_name_or_source_url(scope)
      .map(|n| n.to_rust_string_lossy(scope))
      .filter(|n| !n.is_empty())
      .unwrap_or_else(|| {
        if frame.is_eval() {
          "[eval]".to_string()
        } else {
          "<anonymous>".to_string()
        }
      });
    let location = format!("{file}:{}:{}", frame.get_line_number(), frame.get_column());
    out.push_str("\n    at ");
    if frame.is_constructor() {
      let name = if name.is_empty() {
        "<anonymous>"
      } else {
        &name
      };
      out.push_str(&format!("new {name} ({location})"));
    } else if name.is_empty() {
      out.push_str(&location);
    } else {
      out.push_str(&format!("{name} ({location})"));
    }
  }
  out
}

/// A timeout for one call. Dropping it disarms it.
pub struct Timer {
  inner: Arc<TimerInner>,
}

fn schedule(timer: &Arc<TimerInner>, deadline: Instant, epoch: u64) {
  if let Some(dog) = dog() {
    let mut guard = dog.heap.lock();
    // The watchdog sleeps until the earliest deadline: it needs waking only for an earlier one
    // (a wake-up per call would cost a context switch each).
    let earliest = guard
      .0
      .peek()
      .is_none_or(|Reverse(e)| deadline < e.deadline);
    guard.1 += 1;
    let seq = guard.1;
    guard.0.push(Reverse(Entry {
      deadline,
      seq,
      epoch,
      timer: timer.clone(),
    }));
    if earliest {
      dog.wake.notify_one();
    }
  }
}

impl Timer {
  /// Arms a timer that terminates the execution of `memory`'s isolate after `ms` milliseconds.
  /// `context` is the context the call runs in; it must outlive the timer's armed time (the
  /// call disarms the timer before it lets go of the context).
  pub fn arm(memory: Arc<MemoryState>, ms: u32, context: &v8::Global<v8::Context>) -> Timer {
    let deadline = Instant::now() + Duration::from_millis(u64::from(ms));
    let inner = Arc::new(TimerInner {
      state: Mutex::new(TimerState {
        armed: true,
        fired: false,
        epoch: 0,
        deadline,
        paused: None,
        stack: None,
      }),
      memory,
      context: context as *const v8::Global<v8::Context> as usize,
    });
    schedule(&inner, deadline, 0);
    Timer { inner }
  }

  /// Disarms the timer; returns whether it had already fired.
  pub fn disarm(&self) -> bool {
    let mut st = self.inner.state.lock();
    st.armed = false;
    st.fired
  }

  /// Whether the timer has fired (without disarming).
  pub fn fired(&self) -> bool {
    self.inner.state.lock().fired
  }

  /// The guest stack captured where the timeout stopped the call, if it did.
  pub fn stack(&self) -> Option<String> {
    self.inner.state.lock().stack.clone()
  }

  /// A handle that can pause and resume this timer (time spent waiting for another isolate
  /// does not count, SPEC §2.1).
  pub fn pauser(&self) -> Pauser {
    Pauser(self.inner.clone())
  }
}

/// Pauses and resumes a [`Timer`].
#[derive(Clone)]
pub struct Pauser(Arc<TimerInner>);

impl Pauser {
  /// Whether the timer has fired.
  pub fn fired(&self) -> bool {
    self.0.state.lock().fired
  }

  /// Stops the clock.
  pub fn pause(&self) {
    let mut st = self.0.state.lock();
    if st.armed && !st.fired && st.paused.is_none() {
      st.paused = Some(st.deadline.saturating_duration_since(Instant::now()));
      st.epoch += 1;
    }
  }

  /// Restarts the clock with the time that was left.
  pub fn resume(&self) {
    let (deadline, epoch) = {
      let mut st = self.0.state.lock();
      let Some(left) = st.paused.take() else { return };
      if !st.armed {
        return;
      }
      st.deadline = Instant::now() + left;
      (st.deadline, st.epoch)
    };
    schedule(&self.0, deadline, epoch);
  }
}

impl Drop for Timer {
  fn drop(&mut self) {
    self.disarm();
  }
}
