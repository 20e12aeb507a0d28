//! A one-shot meeting point for a promise settled in one place and awaited in another
//! (`promise: true`): whichever side arrives second completes it. The settling side holds a
//! [`SettleGuard`] (a [`SettleOnce`] into the slot): if it goes away first (isolate disposed),
//! the awaiting side gets "Promise was abandoned".

use crate::transfer::once::{SettleOnce, Sink};
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Value;
use parking_lot::Mutex;
use std::sync::Arc;

/// Receives the outcome (on any thread).
pub type Waiter = Box<dyn FnOnce(Result<Value, Thrown>) + Send>;

enum State {
  Pending(Option<Waiter>),
  Settled(Result<Value, Thrown>),
  Done,
}

/// The shared slot.
pub struct SettleSlot(Mutex<State>);

impl std::fmt::Debug for SettleSlot {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("SettleSlot")
  }
}

impl SettleSlot {
  /// A pending slot.
  pub fn new() -> Arc<SettleSlot> {
    Arc::new(SettleSlot(Mutex::new(State::Pending(None))))
  }

  /// Settles it (first call wins).
  pub fn settle(&self, outcome: Result<Value, Thrown>) {
    let waiter = {
      let mut st = self.0.lock();
      match std::mem::replace(&mut *st, State::Done) {
        State::Pending(Some(w)) => Some((w, outcome)),
        State::Pending(None) => {
          *st = State::Settled(outcome);
          None
        }
        other => {
          *st = other;
          None
        }
      }
    };
    if let Some((w, outcome)) = waiter {
      w(outcome);
    }
  }

  /// Installs the waiter; runs it at once if already settled.
  pub fn wait(&self, waiter: Waiter) {
    let ready = {
      let mut st = self.0.lock();
      match std::mem::replace(&mut *st, State::Done) {
        State::Settled(outcome) => Some((waiter, outcome)),
        State::Pending(_) => {
          *st = State::Pending(Some(waiter));
          None
        }
        State::Done => None,
      }
    };
    if let Some((w, outcome)) = ready {
      w(outcome);
    }
  }
}

impl Sink<Result<Value, Thrown>> for Arc<SettleSlot> {
  fn put(self, outcome: Result<Value, Thrown>) {
    self.settle(outcome);
  }
}

/// Held by the settling side; dropping it unsettled abandons the promise.
pub type SettleGuard = SettleOnce<Result<Value, Thrown>, Arc<SettleSlot>>;

/// The outcome of a promise whose settling side went away.
fn abandoned() -> Result<Value, Thrown> {
  Err(Thrown::error("Promise was abandoned"))
}

/// The settling side's guard of `slot`.
pub fn guard(slot: Arc<SettleSlot>) -> SettleGuard {
  SettleOnce::new(slot, abandoned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
  use super::*;
  use std::sync::atomic::{AtomicU32, Ordering};

  #[test]
  fn settle_then_wait_and_wait_then_settle() {
    let hits = Arc::new(AtomicU32::new(0));
    for settle_first in [true, false] {
      let slot = SettleSlot::new();
      let h = hits.clone();
      let waiter: Waiter = Box::new(move |r| {
        assert_eq!(r.unwrap(), Value::Number(1.0));
        h.fetch_add(1, Ordering::SeqCst);
      });
      if settle_first {
        slot.settle(Ok(Value::Number(1.0)));
        slot.wait(waiter);
      } else {
        slot.wait(waiter);
        slot.settle(Ok(Value::Number(1.0)));
      }
      slot.settle(Ok(Value::Number(2.0)));
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);
  }

  #[test]
  fn dropped_guard_abandons() {
    let slot = SettleSlot::new();
    drop(guard(slot.clone()));
    let got = Arc::new(Mutex::new(None));
    let g = got.clone();
    slot.wait(Box::new(move |r| *g.lock() = Some(r)));
    let outcome = got.lock().take();
    match outcome {
      Some(Err(Thrown::Error { message, .. })) => {
        assert_eq!(message.to_rust(), "Promise was abandoned")
      }
      _ => panic!("not abandoned"),
    }
  }
}
