//! V8's foreground tasks, routed to the isolate they belong to.
//!
//! V8 posts foreground tasks (a finished WebAssembly compilation, an `Atomics.waitAsync`
//! wake-up, a FinalizationRegistry cleanup, GC work) from any thread. [`Router`] hands each one
//! to the [`Sink`] its isolate registered, which queues it for the isolate's thread; delayed
//! tasks wait in a timer heap on the platform thread first. Tasks for an isolate that has no
//! sink (not registered yet, or already gone) are dropped unrun: running them on another isolate
//! that reuses the address would be unsound.

use parking_lot::{Condvar, Mutex, RwLock};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::ffi::c_void;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A foreground task for an isolate's thread.
pub struct Task {
  /// V8's task; run it on the isolate's thread, with the isolate entered.
  pub task: v8::Task,
  /// False for non-nestable tasks: they must not run inside a nested wait loop.
  pub nestable: bool,
}

/// Where an isolate's tasks go. Called from any thread; must not block.
pub type Sink = Arc<dyn Fn(Task) + Send + Sync>;

fn sinks() -> &'static RwLock<HashMap<usize, Sink>> {
  static SINKS: OnceLock<RwLock<HashMap<usize, Sink>>> = OnceLock::new();
  SINKS.get_or_init(Default::default)
}

/// Routes the tasks posted for `isolate` to `sink` from now on. The isolate's thread calls it
/// right after creating the isolate.
pub fn register(isolate: &v8::Isolate, sink: Sink) {
  sinks().write().insert(key(isolate), sink);
}

/// Stops routing tasks to `isolate` (before it is dropped); later ones are dropped unrun.
pub fn unregister(isolate: &v8::Isolate) {
  let removed = sinks().write().remove(&key(isolate));
  drop(removed);
}

fn key(isolate: &v8::Isolate) -> usize {
  // SAFETY: the pointer is only used as a map key, never dereferenced.
  let raw = unsafe { isolate.as_raw_isolate_ptr() };
  // UnsafeRawIsolatePtr is a transparent wrapper of the isolate's address.
  // SAFETY: same size and layout (repr(transparent) over a raw pointer).
  unsafe { std::mem::transmute::<v8::UnsafeRawIsolatePtr, *mut c_void>(raw) as usize }
}

fn deliver(isolate: *mut c_void, task: Task) {
  let sink = sinks().read().get(&(isolate as usize)).cloned();
  if let Some(sink) = sink {
    sink(task);
  }
}

/// The platform hooks: every foreground task goes to its isolate's sink.
pub struct Router;

/// V8 calls these from C++ (any thread): a panic is contained, and the task it carried is
/// dropped unrun.
impl v8::PlatformImpl for Router {
  fn post_task(&self, isolate: *mut c_void, task: v8::Task) {
    crate::unwind::contain((), || {
      deliver(
        isolate,
        Task {
          task,
          nestable: true,
        },
      )
    });
  }

  fn post_non_nestable_task(&self, isolate: *mut c_void, task: v8::Task) {
    crate::unwind::contain((), || {
      deliver(
        isolate,
        Task {
          task,
          nestable: false,
        },
      )
    });
  }

  fn post_delayed_task(&self, isolate: *mut c_void, task: v8::Task, delay: f64) {
    crate::unwind::contain((), || delay_task(isolate, task, true, delay));
  }

  fn post_non_nestable_delayed_task(&self, isolate: *mut c_void, task: v8::Task, delay: f64) {
    crate::unwind::contain((), || delay_task(isolate, task, false, delay));
  }

  fn post_idle_task(&self, _isolate: *mut c_void, task: v8::IdleTask) {
    // Idle tasks are disabled when the platform is created; drop any that arrive anyway.
    crate::unwind::contain((), || drop(task));
  }
}

struct Delayed {
  due: Instant,
  seq: u64,
  isolate: usize,
  task: Task,
}

impl PartialEq for Delayed {
  fn eq(&self, other: &Self) -> bool {
    (self.due, self.seq) == (other.due, other.seq)
  }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
  fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
    Some(self.cmp(other))
  }
}
impl Ord for Delayed {
  fn cmp(&self, other: &Self) -> std::cmp::Ordering {
    (self.due, self.seq).cmp(&(other.due, other.seq))
  }
}

#[derive(Default)]
struct Heap {
  entries: Mutex<(BinaryHeap<Reverse<Delayed>>, u64)>,
  wake: Condvar,
}

fn heap() -> &'static Heap {
  static HEAP: OnceLock<Heap> = OnceLock::new();
  HEAP.get_or_init(Default::default)
}

fn delay_task(isolate: *mut c_void, task: v8::Task, nestable: bool, delay: f64) {
  let delay = if delay.is_finite() && delay > 0.0 {
    Duration::from_secs_f64(delay.min(1e9))
  } else {
    Duration::ZERO
  };
  let task = Task { task, nestable };
  if delay.is_zero() {
    deliver(isolate, task);
    return;
  }
  let h = heap();
  let mut guard = h.entries.lock();
  guard.1 += 1;
  let seq = guard.1;
  guard.0.push(Reverse(Delayed {
    due: Instant::now() + delay,
    seq,
    isolate: isolate as usize,
    task,
  }));
  h.wake.notify_one();
}

/// Serves delayed tasks forever: each goes to its isolate's sink when due. The platform thread
/// runs this after initialising V8.
pub fn serve_delayed() {
  let h = heap();
  let mut guard = h.entries.lock();
  loop {
    let now = Instant::now();
    match guard.0.peek().map(|Reverse(d)| d.due) {
      Some(due) if due <= now => {
        if let Some(Reverse(d)) = guard.0.pop() {
          // Deliver outside the heap's lock: a sink may take other locks.
          drop(guard);
          deliver(d.isolate as *mut c_void, d.task);
          guard = h.entries.lock();
        }
      }
      Some(due) => {
        h.wake.wait_for(&mut guard, due - now);
      }
      None => h.wake.wait(&mut guard),
    }
  }
}
