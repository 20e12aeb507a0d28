//! The memory V8 keeps for reuse after a heap gave it up, handed back to the system.
//!
//! V8 pools the pages of a torn-down isolate for the next isolate to take (an isolate created
//! after a disposal then skips mapping and faulting in fresh memory), and returns pooled pages
//! to the system only from tasks that the garbage collections of live isolates post. With no
//! isolate left collecting garbage, the pages of every torn-down isolate stayed resident for
//! good (about 3 MB for each isolate that had held 3 MB). They are handed back here: at once
//! when an isolate that Node's garbage collector collected has been freed, so that collection
//! frees its memory, and after a pause in disposals otherwise, so that a loop creating and
//! disposing isolates keeps reusing them.
//!
//! V8 frees its whole pool under memory pressure, so the release is a critical memory-pressure
//! notification to the platform's anchor isolate, which is empty: its garbage collection is
//! short. The C library's heap is not trimmed here: `malloc_trim` holds each arena's lock while
//! it walks it, and with a large fragmented heap (Node's own Buffers) that stalled Node's thread
//! for 100 ms.

use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long disposals must pause before the pool is handed back.
const IDLE: Duration = Duration::from_millis(250);

/// How much freed heap may wait in the pool for the next pause (see [`freed`]).
const BATCH: usize = 64 << 20;

static ANCHOR: OnceLock<v8::SharedIsolate> = OnceLock::new();

/// Bytes of heap freed into the pool since the last release (an estimate: the freed isolates'
/// physical heap sizes).
static POOLED: AtomicUsize = AtomicUsize::new(0);

#[derive(Default)]
struct Timer {
  due: Mutex<Option<Instant>>,
  wake: Condvar,
}

fn timer() -> &'static Timer {
  static TIMER: OnceLock<Timer> = OnceLock::new();
  TIMER.get_or_init(Default::default)
}

/// Keeps `anchor`, the isolate that lives as long as the process, for the releases, and serves
/// the delayed ones on a thread of its own.
pub(super) fn set_anchor(anchor: v8::SharedIsolate) {
  if ANCHOR.set(anchor).is_err() {
    return;
  }
  let _ = std::thread::Builder::new()
    .name("ivm-pool".into())
    .stack_size(256 << 10)
    .spawn(serve);
}

/// Hands V8's pooled memory back to the system now, on this thread. Does nothing on a thread
/// that is inside an isolate of this library (the anchor cannot be entered on top of it): the
/// release then comes after the next pause.
pub fn release_now() {
  let Some(anchor) = ANCHOR.get() else {
    return;
  };
  if !super::can_lock_here() {
    release_when_idle();
    return;
  }
  POOLED.store(0, Ordering::Relaxed);
  let mut locker = anchor.lock();
  locker.memory_pressure_notification(v8::MemoryPressureLevel::Critical);
}

/// An isolate of `bytes` of physical heap was freed on this thread, its pages going to the
/// pool, for the last of its handles going away (Node's garbage collector collected them): the
/// pool is handed back now once [`BATCH`] bytes wait (a release costs about half a millisecond,
/// too much to pay for every isolate that one collection frees), otherwise after the next pause.
pub fn freed(bytes: usize) {
  if POOLED.fetch_add(bytes, Ordering::Relaxed) + bytes >= BATCH {
    release_now();
  } else {
    release_when_idle();
  }
}

/// Hands V8's pooled memory back once no isolate has been torn down for a moment.
pub fn release_when_idle() {
  let t = timer();
  *t.due.lock() = Some(Instant::now() + IDLE);
  t.wake.notify_one();
}

fn serve() {
  let t = timer();
  let mut due = t.due.lock();
  loop {
    match *due {
      Some(at) if at <= Instant::now() => {
        *due = None;
        drop(due);
        crate::unwind::contain((), release_now);
        due = t.due.lock();
      }
      Some(at) => {
        let now = Instant::now();
        t.wake.wait_for(&mut due, at - now);
      }
      None => t.wake.wait(&mut due),
    }
  }
}
