//! The way into an isolate's V8 lock. Every thread that locks a guest isolate (its own thread,
//! a synchronous caller, a disposal) first passes this gate, and only then takes V8's lock,
//! which is then free or its own: so nobody ever blocks inside V8's lock, where nothing can
//! wake it. A thread waiting at the gate gives up when the isolate is lost to a catastrophe
//! (whose thread keeps V8's lock for good: see [`super::catastrophe::abandon`]), or at its
//! deadline.
//!
//! Like V8's lock, the gate is recursive: the thread that holds it may pass again (a host
//! function calling synchronously into the isolate that called it). An unlocked window (V8's
//! `Unlocker`) lets go of the gate entirely and takes it back at the same depth.

use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

/// How a thread fared at the gate.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
  /// The thread holds the gate; it may take V8's lock.
  Entered,
  /// The isolate was lost to a catastrophe: nobody may lock it again.
  Lost,
  /// Another thread still held the gate at the deadline.
  TimedOut,
}

/// This thread's token (never 0, which means "nobody").
fn token() -> u64 {
  static NEXT: AtomicU64 = AtomicU64::new(1);
  thread_local! {
    static TOKEN: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
  }
  TOKEN.with(|t| *t)
}

/// The gate of one isolate's lock (see the module documentation). Passing a free gate costs
/// one atomic exchange; only a thread that must wait takes the mutex.
#[derive(Default)]
pub struct Gate {
  /// The holder's token, 0 when free.
  owner: AtomicU64,
  /// How many times the holder passed (only the holder touches it).
  depth: AtomicU32,
  /// Threads waiting (they are woken when the gate frees).
  waiting: AtomicU32,
  lost: AtomicBool,
  sleep: Mutex<()>,
  freed: Condvar,
}

impl Gate {
  /// Waits until this thread holds the gate (no other thread does), then counts it in; gives
  /// up when the isolate is lost, or at `deadline` if one is given.
  pub fn enter(&self, deadline: Option<Instant>) -> Entry {
    self.enter_at_depth(1, deadline)
  }

  /// Takes the free gate. Not once the isolate is lost: its holder may have freed the gate on
  /// its way out after `lose` (V8's lock stays taken), between this thread's check of `lost`
  /// and the exchange.
  fn try_take(&self, me: u64, depth: u32) -> bool {
    let taken = self
      .owner
      .compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst)
      .is_ok();
    if !taken {
      return false;
    }
    if self.lost.load(Ordering::SeqCst) {
      self.owner.store(0, Ordering::SeqCst);
      return false;
    }
    self.depth.store(depth, Ordering::SeqCst);
    true
  }

  fn enter_at_depth(&self, depth: u32, deadline: Option<Instant>) -> Entry {
    if self.lost.load(Ordering::SeqCst) {
      return Entry::Lost;
    }
    let me = token();
    if self.owner.load(Ordering::SeqCst) == me {
      self.depth.fetch_add(depth, Ordering::SeqCst);
      return Entry::Entered;
    }
    if self.try_take(me, depth) {
      return Entry::Entered;
    }
    if self.lost.load(Ordering::SeqCst) {
      return Entry::Lost;
    }
    let mut g = self.sleep.lock();
    self.waiting.fetch_add(1, Ordering::SeqCst);
    let entry = loop {
      if self.lost.load(Ordering::SeqCst) {
        break Entry::Lost;
      }
      if self.try_take(me, depth) {
        break Entry::Entered;
      }
      match deadline {
        Some(at) => {
          if self.freed.wait_until(&mut g, at).timed_out() && !self.lost.load(Ordering::SeqCst) {
            if self.try_take(me, depth) {
              break Entry::Entered;
            }
            break Entry::TimedOut;
          }
        }
        None => self.freed.wait(&mut g),
      }
    };
    self.waiting.fetch_sub(1, Ordering::SeqCst);
    entry
  }

  /// Frees the gate and wakes the threads waiting for it.
  fn free(&self) {
    self.owner.store(0, Ordering::SeqCst);
    if self.waiting.load(Ordering::SeqCst) != 0 {
      let _g = self.sleep.lock();
      self.freed.notify_all();
    }
  }

  /// Counts this thread out once (after it let go of V8's lock).
  pub fn leave(&self) {
    if self.owner.load(Ordering::SeqCst) != token() {
      return;
    }
    if self.depth.fetch_sub(1, Ordering::SeqCst) <= 1 {
      self.depth.store(0, Ordering::SeqCst);
      self.free();
    }
  }

  /// Lets go of the gate entirely (an unlocked window, after V8's `Unlocker` let go of V8's
  /// lock); returns the depth to take it back at.
  pub fn suspend(&self) -> u32 {
    if self.owner.load(Ordering::SeqCst) != token() {
      return 0;
    }
    let depth = self.depth.swap(0, Ordering::SeqCst);
    self.free();
    depth
  }

  /// Takes the gate back at `depth` after [`Gate::suspend`], waiting as long as it takes;
  /// false if the isolate was lost meanwhile.
  pub fn resume(&self, depth: u32) -> bool {
    depth == 0 || self.enter_at_depth(depth, None) == Entry::Entered
  }

  /// The isolate is lost: every thread waiting at the gate gives up, and nobody passes again.
  pub fn lose(&self) {
    self.lost.store(true, Ordering::SeqCst);
    let _g = self.sleep.lock();
    self.freed.notify_all();
  }
}

/// This thread's pass through a gate, left when dropped: declare it before the V8 `Locker` it
/// guards, so that the locker goes first.
pub struct Pass<'a>(&'a Gate);

impl<'a> Pass<'a> {
  /// Enters `gate` ([`Gate::enter`]); the pass, or how the wait ended.
  pub fn new(gate: &'a Gate, deadline: Option<Instant>) -> Result<Pass<'a>, Entry> {
    match gate.enter(deadline) {
      Entry::Entered => Ok(Pass(gate)),
      other => Err(other),
    }
  }
}

impl Drop for Pass<'_> {
  fn drop(&mut self) {
    self.0.leave();
  }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
  use super::*;
  use std::sync::Arc;
  use std::time::Duration;

  #[test]
  fn recursive_for_its_holder_and_exclusive_for_others() {
    let gate = Arc::new(Gate::default());
    let outer = Pass::new(&gate, None).unwrap();
    let inner = Pass::new(&gate, None).unwrap();
    let g2 = gate.clone();
    let other = std::thread::spawn(move || {
      let soon = Instant::now() + Duration::from_millis(20);
      g2.enter(Some(soon))
    });
    assert_eq!(other.join().unwrap(), Entry::TimedOut);
    drop(inner);
    drop(outer);
    let g3 = gate.clone();
    assert_eq!(
      std::thread::spawn(move || g3.enter(None)).join().unwrap(),
      Entry::Entered
    );
  }

  #[test]
  fn waiters_give_up_when_the_isolate_is_lost() {
    let gate = Arc::new(Gate::default());
    let held = Pass::new(&gate, None).unwrap();
    let g2 = gate.clone();
    let waiter = std::thread::spawn(move || g2.enter(None));
    std::thread::sleep(Duration::from_millis(20));
    gate.lose();
    assert_eq!(waiter.join().unwrap(), Entry::Lost);
    std::mem::forget(held);
    assert_eq!(gate.enter(None), Entry::Lost);
  }

  #[test]
  fn an_unlocked_window_lets_others_in_and_comes_back_at_its_depth() {
    let gate = Arc::new(Gate::default());
    let _a = Pass::new(&gate, None).unwrap();
    let _b = Pass::new(&gate, None).unwrap();
    let depth = gate.suspend();
    assert_eq!(depth, 2);
    let g2 = gate.clone();
    let got = std::thread::spawn(move || {
      let p = Pass::new(&g2, None).map(|_| ());
      p.is_ok()
    });
    assert!(got.join().unwrap());
    assert!(gate.resume(depth));
  }
}
