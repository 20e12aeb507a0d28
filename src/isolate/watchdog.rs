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
}

struct TimerInner {
  state: Mutex<TimerState>,
  /// The isolate's memory state, which terminates it (unless it was lost).
  memory: Arc<MemoryState>,
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
            st.fired = true;
            entry.timer.memory.terminate();
            drop(st);
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

/// A timeout for one call. Dropping it disarms it.
pub struct Timer {
  inner: Arc<TimerInner>,
}

fn schedule(timer: &Arc<TimerInner>, deadline: Instant, epoch: u64) {
  if let Some(dog) = dog() {
    let mut guard = dog.heap.lock();
    guard.1 += 1;
    let seq = guard.1;
    guard.0.push(Reverse(Entry {
      deadline,
      seq,
      epoch,
      timer: timer.clone(),
    }));
    dog.wake.notify_one();
  }
}

impl Timer {
  /// Arms a timer that terminates the execution of `memory`'s isolate after `ms` milliseconds.
  pub fn arm(memory: Arc<MemoryState>, ms: u32) -> Timer {
    let deadline = Instant::now() + Duration::from_millis(u64::from(ms));
    let inner = Arc::new(TimerInner {
      state: Mutex::new(TimerState {
        armed: true,
        fired: false,
        epoch: 0,
        deadline,
        paused: None,
      }),
      memory,
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
